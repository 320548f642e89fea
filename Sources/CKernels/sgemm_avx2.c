// ckpt's AVX2/FMA kernel for the blocked GEMM in sgemm_blocked.c, for x86-64
// CPUs without AVX-512 (AMD Zen 2 and Zen 3, most Intel client parts).
//
// MR × NR = 6 × 16: two ymm columns per row, 12 accumulators, 2 loads and
// 6 broadcasts per 12 fused multiply-adds — 15 of the 16 ymm registers.

#include "ckernels.h"
#include "sgemm_blocked.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CKPT_HAVE_AVX2_KERNEL 1
#include <immintrin.h>
#endif

#ifdef CKPT_HAVE_AVX2_KERNEL

#ifndef CKPT_AVX2_KC
#define CKPT_AVX2_KC 256
#define CKPT_AVX2_MC 144
#define CKPT_AVX2_NC 3072
#endif
enum { MR = 6, NR = 16, KC = CKPT_AVX2_KC, MC = CKPT_AVX2_MC, NC = CKPT_AVX2_NC };
_Static_assert(MC % MR == 0 && NC % NR == 0 && KC > 0, "block sizes must be whole panels");

#define TARGET __attribute__((target("avx2,fma")))

// op(b)[p][j] into NR-wide panels (see ckpt_blocked_kernel.pack_b).
TARGET static void pack_b(int trans, const float *b, long ldb, long kc, long nc, float *out) {
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long cols = nc - j0 < NR ? nc - j0 : NR;
        if (!trans) {
            if (cols == NR) {
                for (long p = 0; p < kc; p++) {
                    const float *row = b + p * ldb + j0;
                    _mm256_store_ps(out + p * NR, _mm256_loadu_ps(row));
                    _mm256_store_ps(out + p * NR + 8, _mm256_loadu_ps(row + 8));
                }
            } else {
                for (long p = 0; p < kc; p++) {
                    const float *row = b + p * ldb + j0;
                    for (long j = 0; j < NR; j++) out[p * NR + j] = j < cols ? row[j] : 0.0f;
                }
            }
        } else {
            // b is (n, k): column j of op(b) is row j of b. Transpose 8 × 8
            // blocks through registers when whole, element by element otherwise.
            long p = 0;
            if (cols == NR) {
                for (; p + 8 <= kc; p += 8) {
                    for (long jb = 0; jb < NR; jb += 8) {
                        const float *src = b + (j0 + jb) * ldb + p;
                        __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + ldb);
                        __m256 r2 = _mm256_loadu_ps(src + 2 * ldb), r3 = _mm256_loadu_ps(src + 3 * ldb);
                        __m256 r4 = _mm256_loadu_ps(src + 4 * ldb), r5 = _mm256_loadu_ps(src + 5 * ldb);
                        __m256 r6 = _mm256_loadu_ps(src + 6 * ldb), r7 = _mm256_loadu_ps(src + 7 * ldb);
                        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
                        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                        __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                        __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                        __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                        __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                        // Row q of the result holds op(b)[p + q][j0 + jb ..< j0 + jb + 8].
                        float *dst = out + p * NR + jb;
                        _mm256_store_ps(dst + 0 * NR, _mm256_permute2f128_ps(s0, s4, 0x20));
                        _mm256_store_ps(dst + 1 * NR, _mm256_permute2f128_ps(s1, s5, 0x20));
                        _mm256_store_ps(dst + 2 * NR, _mm256_permute2f128_ps(s2, s6, 0x20));
                        _mm256_store_ps(dst + 3 * NR, _mm256_permute2f128_ps(s3, s7, 0x20));
                        _mm256_store_ps(dst + 4 * NR, _mm256_permute2f128_ps(s0, s4, 0x31));
                        _mm256_store_ps(dst + 5 * NR, _mm256_permute2f128_ps(s1, s5, 0x31));
                        _mm256_store_ps(dst + 6 * NR, _mm256_permute2f128_ps(s2, s6, 0x31));
                        _mm256_store_ps(dst + 7 * NR, _mm256_permute2f128_ps(s3, s7, 0x31));
                    }
                }
            }
            for (; p < kc; p++) {
                for (long j = 0; j < NR; j++) out[p * NR + j] = j < cols ? b[(j0 + j) * ldb + p] : 0.0f;
            }
        }
        out += kc * NR;
    }
}

// c (MR × NR, row stride ldc) = acc, or beta · c + acc when beta is non-zero.
TARGET static void micro_kernel(long kc, const float *restrict a, const float *restrict b,
                                float *restrict c, long ldc, float beta) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (long i = 0; i < MR; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    for (long p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x;
#define ROW(i)                                     \
        x = _mm256_broadcast_ss(a + i);            \
        c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0); \
        c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
        a += MR;
        b += NR;
    }
#define STORE(i)                                                                                   \
    if (beta == 0.0f) {                                                                            \
        _mm256_storeu_ps(c + i * ldc, c##i##0);                                                    \
        _mm256_storeu_ps(c + i * ldc + 8, c##i##1);                                                \
    } else {                                                                                       \
        __m256 bv = _mm256_set1_ps(beta);                                                          \
        _mm256_storeu_ps(c + i * ldc, _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + i * ldc), c##i##0));  \
        _mm256_storeu_ps(c + i * ldc + 8, _mm256_fmadd_ps(bv, _mm256_loadu_ps(c + i * ldc + 8), c##i##1)); \
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
#undef STORE
}

const ckpt_blocked_kernel ckpt_avx2_kernel = {MR, NR, KC, MC, NC, 1, 0, pack_b, micro_kernel};

#else

const ckpt_blocked_kernel ckpt_avx2_kernel = {0};

#endif
