// A blocked single-precision GEMM with an AVX-512F micro-kernel.
//
// The structure is the usual one for cache-aware GEMM (Goto and van de Geijn,
// "Anatomy of high-performance matrix multiplication", 2008):
//
//   for each (KC × NC) block of op(b):   packed into NR-wide column panels
//     for each (MC × KC) block of op(a): packed into MR-tall row panels
//       for each NR panel of b:          (its KC × NR slice stays in L1)
//         for each MR panel of a:        (the a block stays in L2)
//           the MR × NR micro-kernel: KC rank-1 updates held in 24 registers
//
// MR × NR = 6 × 64: four zmm columns per row, 24 accumulators, 4 loads and
// 6 broadcasts per 24 fused multiply-adds. Edges are packed with zeros and
// written through a small tile, so every shape takes the same path. `alpha`
// is applied while packing a.

#include "ckernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CKPT_HAVE_AVX512_KERNEL 1
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#endif

#ifdef CKPT_HAVE_AVX512_KERNEL

#ifndef CKPT_KC
#define CKPT_KC 192
#define CKPT_MC 240
#define CKPT_NC 3072
#endif
enum { MR = 6, NR = 64, KC = CKPT_KC, MC = CKPT_MC, NC = CKPT_NC };
// pack_a fills whole MR-row panels of an MC block, pack_b whole NR-column panels.
_Static_assert(MC % MR == 0 && NC % NR == 0 && KC > 0, "block sizes must be whole panels");

#define TARGET __attribute__((target("avx512f,fma")))

static int detect_avx512(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0;  // OSXSAVE: xgetbv is usable
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    // XMM, YMM, opmask, upper halves of zmm0-15, zmm16-31: all saved by the OS.
    if ((lo & 0xE6u) != 0xE6u) return 0;
    if (!(c & (1u << 12))) return 0;  // FMA, which the kernels are also compiled for
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b & (1u << 16)) != 0 && (b & (1u << 5)) != 0;  // AVX512F, and AVX2 beside it
}

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static int avx512_supported;
static void run_detect(void) { avx512_supported = detect_avx512(); }

int ckpt_sgemm_avx512_supported(void) {
    pthread_once(&detect_once, run_detect);
    return avx512_supported;
}

// Packing buffers, one pair per thread, kept for the thread's life.
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static int buffer_key_ok;
static void make_buffer_key(void) { buffer_key_ok = pthread_key_create(&buffer_key, free) == 0; }

static float *thread_buffer(size_t floats) {
    pthread_once(&buffer_once, make_buffer_key);
    if (!buffer_key_ok) return NULL;  // no key to hold a buffer: the caller falls back
    // Layout: [capacity (64 bytes)] [floats ...], 64-byte aligned.
    float *block = pthread_getspecific(buffer_key);
    if (block && *(size_t *)block >= floats) return block + 16;
    free(block);
    // aligned_alloc wants a size that is a multiple of the alignment.
    block = aligned_alloc(64, (floats + 16 + 15) / 16 * 16 * sizeof(float));
    if (!block) {
        pthread_setspecific(buffer_key, NULL);
        return NULL;
    }
    *(size_t *)block = floats;
    pthread_setspecific(buffer_key, block);
    return block + 16;
}

// op(a)[i][p], scaled by alpha, into MR-tall panels: panel r holds rows
// r·MR ..< r·MR + MR as kc consecutive groups of MR values (zeros past mc).
static void pack_a(int trans, const float *a, long lda, long mc, long kc, float alpha, float *out) {
    for (long i0 = 0; i0 < mc; i0 += MR) {
        long rows = mc - i0 < MR ? mc - i0 : MR;
        if (!trans) {
            const float *src[MR];
            for (long i = 0; i < MR; i++) src[i] = a + (i0 + (i < rows ? i : 0)) * lda;
            for (long p = 0; p < kc; p++) {
                for (long i = 0; i < MR; i++) out[i] = i < rows ? alpha * src[i][p] : 0.0f;
                out += MR;
            }
        } else {
            for (long p = 0; p < kc; p++) {
                const float *row = a + p * lda + i0;
                for (long i = 0; i < MR; i++) out[i] = i < rows ? alpha * row[i] : 0.0f;
                out += MR;
            }
        }
    }
}

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
                        // 16 × 16 transpose: 4 rounds of pairwise interleaves.
                        __m512 t[16];
                        for (int j = 0; j < 16; j += 2) {
                            t[j] = _mm512_unpacklo_ps(r[j], r[j + 1]);
                            t[j + 1] = _mm512_unpackhi_ps(r[j], r[j + 1]);
                        }
                        for (int j = 0; j < 16; j += 4) {
                            r[j] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
                            r[j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j]), _mm512_castps_pd(t[j + 2])));
                            r[j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
                            r[j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[j + 1]), _mm512_castps_pd(t[j + 3])));
                        }
                        for (int j = 0; j < 4; j++) {
                            t[j] = _mm512_shuffle_f32x4(r[j], r[j + 4], 0x88);
                            t[j + 4] = _mm512_shuffle_f32x4(r[j], r[j + 4], 0xDD);
                            t[j + 8] = _mm512_shuffle_f32x4(r[j + 8], r[j + 12], 0x88);
                            t[j + 12] = _mm512_shuffle_f32x4(r[j + 8], r[j + 12], 0xDD);
                        }
                        for (int j = 0; j < 4; j++) {
                            r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
                            r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
                            r[j + 4] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0x88);
                            r[j + 12] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0xDD);
                        }
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
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c43 = c00;
    __m512 c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    for (long i = 0; i < MR; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
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
#define STORE(i)                                                                            \
    if (beta == 0.0f) {                                                                     \
        _mm512_storeu_ps(c + i * ldc, c##i##0);                                             \
        _mm512_storeu_ps(c + i * ldc + 16, c##i##1);                                        \
        _mm512_storeu_ps(c + i * ldc + 32, c##i##2);                                        \
        _mm512_storeu_ps(c + i * ldc + 48, c##i##3);                                        \
    } else {                                                                                \
        __m512 bv = _mm512_set1_ps(beta);                                                   \
        _mm512_storeu_ps(c + i * ldc, _mm512_fmadd_ps(bv, _mm512_loadu_ps(c + i * ldc), c##i##0));      \
        _mm512_storeu_ps(c + i * ldc + 16, _mm512_fmadd_ps(bv, _mm512_loadu_ps(c + i * ldc + 16), c##i##1)); \
        _mm512_storeu_ps(c + i * ldc + 32, _mm512_fmadd_ps(bv, _mm512_loadu_ps(c + i * ldc + 32), c##i##2)); \
        _mm512_storeu_ps(c + i * ldc + 48, _mm512_fmadd_ps(bv, _mm512_loadu_ps(c + i * ldc + 48), c##i##3)); \
    }
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
#undef STORE
}

int ckpt_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *b, long ldb,
                      float beta, float *c, long ldc) {
    if (!ckpt_sgemm_avx512_supported()) return -1;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0.0f) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return 0;
    }
    long kcMax = k < KC ? k : KC;
    long ncMax = n < NC ? n : NC;
    long ncPadded = (ncMax + NR - 1) / NR * NR;
    size_t aFloats = (size_t)MC * (size_t)kcMax, bFloats = (size_t)ncPadded * (size_t)kcMax;
    float *buffer = thread_buffer(aFloats + bFloats + MR * NR);
    if (!buffer) return -1;
    float *packedB = buffer, *packedA = buffer + bFloats, *tile = packedA + aFloats;

    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC;
            const float *bBlock = trans_b ? b + jc * ldb + pc : b + pc * ldb + jc;
            pack_b(trans_b, bBlock, ldb, kc, nc, packedB);
            float betaHere = pc == 0 ? beta : 1.0f;
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                const float *aBlock = trans_a ? a + pc * lda + ic : a + ic * lda + pc;
                pack_a(trans_a, aBlock, lda, mc, kc, alpha, packedA);
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = nc - jr < NR ? nc - jr : NR;
                    const float *bPanel = packedB + jr * kc;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long mr = mc - ir < MR ? mc - ir : MR;
                        const float *aPanel = packedA + ir * kc;
                        float *cTile = c + (ic + ir) * ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            micro_kernel(kc, aPanel, bPanel, cTile, ldc, betaHere);
                        } else {
                            micro_kernel(kc, aPanel, bPanel, tile, NR, 0.0f);
                            for (long i = 0; i < mr; i++)
                                for (long j = 0; j < nr; j++) {
                                    float v = tile[i * NR + j];
                                    cTile[i * ldc + j] = betaHere == 0.0f ? v : betaHere * cTile[i * ldc + j] + v;
                                }
                        }
                    }
                }
            }
        }
    }
    return 0;
}

#else

int ckpt_sgemm_avx512_supported(void) { return 0; }

int ckpt_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *b, long ldb,
                      float beta, float *c, long ldc) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha;
    (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    return -1;
}

#endif
