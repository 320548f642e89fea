// ckpt's AVX-512F kernel for the blocked GEMM in sgemm_blocked.c.
//
// MR × NR = 6 × 64: four zmm columns per row, 24 accumulators, 4 loads and
// 6 broadcasts per 24 fused multiply-adds.

#include "ckernels.h"
#include "sgemm_blocked.h"
#include "avx512_tiles.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CKPT_HAVE_AVX512_KERNEL 1
#include <immintrin.h>
#endif

#ifdef CKPT_HAVE_AVX512_KERNEL

#ifndef CKPT_KC
#define CKPT_KC 192
#define CKPT_MC 240
#define CKPT_NC 3072
#endif
enum { MR = 6, NR = 64, KC = CKPT_KC, MC = CKPT_MC, NC = CKPT_NC };
_Static_assert(MC % MR == 0 && NC % NR == 0 && KC > 0, "block sizes must be whole panels");

#define TARGET __attribute__((target("avx512f,fma")))

// op(b)[p][j] into NR-wide panels: panel s holds columns s·NR ..< s·NR + NR as
// kc consecutive rows of NR values (zeros past nc).
TARGET static void pack_b(int trans, const float *b, long ldb, long kc, long nc, float *out) {
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long cols = nc - j0 < NR ? nc - j0 : NR;
        if (!trans) {
            if (cols == NR) {
                for (long p = 0; p < kc; p++) {
                    const float *row = b + p * ldb + j0;
                    float *dst = out + p * NR;
                    _mm512_store_ps(dst, _mm512_loadu_ps(row));
                    _mm512_store_ps(dst + 16, _mm512_loadu_ps(row + 16));
                    _mm512_store_ps(dst + 32, _mm512_loadu_ps(row + 32));
                    _mm512_store_ps(dst + 48, _mm512_loadu_ps(row + 48));
                }
            } else {
                for (long p = 0; p < kc; p++) {
                    const float *row = b + p * ldb + j0;
                    for (long j = 0; j < NR; j++) out[p * NR + j] = j < cols ? row[j] : 0.0f;
                }
            }
        } else {
            // b is (n, k): column j of op(b) is row j of b. Transpose 16 × 16
            // blocks through registers when whole, element by element otherwise.
            long p = 0;
            if (cols == NR) {
                for (; p + 16 <= kc; p += 16) {
                    for (long jb = 0; jb < NR; jb += 16) {
                        __m512 r[16];
                        for (int j = 0; j < 16; j++) r[j] = _mm512_loadu_ps(b + (j0 + jb + j) * ldb + p);
                        transpose16(r);
                        // r[q] now holds op(b)[p + q][j0 + jb ..< j0 + jb + 16].
                        float *dst = out + p * NR + jb;
                        _mm512_store_ps(dst + 0 * NR, r[0]);
                        _mm512_store_ps(dst + 1 * NR, r[1]);
                        _mm512_store_ps(dst + 2 * NR, r[2]);
                        _mm512_store_ps(dst + 3 * NR, r[3]);
                        _mm512_store_ps(dst + 4 * NR, r[4]);
                        _mm512_store_ps(dst + 5 * NR, r[5]);
                        _mm512_store_ps(dst + 6 * NR, r[6]);
                        _mm512_store_ps(dst + 7 * NR, r[7]);
                        _mm512_store_ps(dst + 8 * NR, r[8]);
                        _mm512_store_ps(dst + 9 * NR, r[9]);
                        _mm512_store_ps(dst + 10 * NR, r[10]);
                        _mm512_store_ps(dst + 11 * NR, r[11]);
                        _mm512_store_ps(dst + 12 * NR, r[12]);
                        _mm512_store_ps(dst + 13 * NR, r[13]);
                        _mm512_store_ps(dst + 14 * NR, r[14]);
                        _mm512_store_ps(dst + 15 * NR, r[15]);
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
    CKPT_OPEN_TILE_6x64(c, ldc);
    for (long p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        __m512 b2 = _mm512_load_ps(b + 32), b3 = _mm512_load_ps(b + 48);
        __m512 x;
#define ROW(i)                                   \
        x = _mm512_set1_ps(a[i]);                \
        c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0); \
        c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1); \
        c##i##2 = _mm512_fmadd_ps(x, b2, c##i##2); \
        c##i##3 = _mm512_fmadd_ps(x, b3, c##i##3);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
        a += MR;
        b += NR;
    }
    CKPT_STORE_TILE_6x64(c, ldc, beta);
}

const ckpt_blocked_kernel ckpt_avx512_kernel = {MR, NR, KC, MC, NC, 1, 0, pack_b, micro_kernel};

#else

const ckpt_blocked_kernel ckpt_avx512_kernel = {0};

#endif
