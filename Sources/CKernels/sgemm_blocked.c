// The blocked GEMM shared by ckpt's kernels.
//
// The structure is the usual one for cache-aware GEMM (Goto and van de Geijn,
// "Anatomy of high-performance matrix multiplication", 2008):
//
//   for each (KC × NC) block of op(b):   packed into NR-wide column panels
//     for each (MC × KC) block of op(a): packed into MR-tall row panels
//       for each NR panel of b:          (its KC × NR slice stays in L1)
//         for each MR panel of a:        (the a block stays in L2)
//           the MR × NR micro-kernel
//
// Edges are packed with zeros and written through a small tile, so every
// shape takes the same path. `alpha` is applied while packing a. A prepacked b
// (a layer's weight, packed once) skips the packing of b.

#include "sgemm_blocked.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <cpuid.h>
#define CKPT_X86 1
#endif
#include <pthread.h>

enum { MAX_MR = 8, MAX_NR = 64 };

// MARK: - CPU features

static int avx2_fma, avx512f, avx512_bf16;
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static void detect(void) {
#ifdef CKPT_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    // OSXSAVE (xgetbv is usable), AVX and FMA.
    if (!(c & (1u << 27)) || !(c & (1u << 28)) || !(c & (1u << 12))) return;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    if (__get_cpuid_max(0, NULL) < 7) return;
    unsigned b7, c7, d7, a7;
    __cpuid_count(7, 0, a7, b7, c7, d7);
    // XMM and YMM state saved by the OS, and AVX2.
    if ((lo & 0x6u) != 0x6u || !(b7 & (1u << 5))) return;
    avx2_fma = 1;
    // Opmask, upper halves of zmm0-15, zmm16-31 saved too, and AVX512F.
    if ((lo & 0xE6u) != 0xE6u || !(b7 & (1u << 16))) return;
    avx512f = 1;
    // AVX512_BF16 is leaf 7, sub-leaf 1, eax bit 5 (with AVX512BW beside it).
    if (a7 >= 1) {
        unsigned a71, b71, c71, d71;
        __cpuid_count(7, 1, a71, b71, c71, d71);
        avx512_bf16 = (a71 & (1u << 5)) != 0 && (b7 & (1u << 30)) != 0;
    }
#endif
}

int ckpt_cpu_has_avx2_fma(void) { pthread_once(&detect_once, detect); return avx2_fma; }
int ckpt_cpu_has_avx512f(void) { pthread_once(&detect_once, detect); return avx512f; }
int ckpt_cpu_has_avx512_bf16(void) { pthread_once(&detect_once, detect); return avx512_bf16; }

// MARK: - Packing buffers

// Packing buffers, one per thread, kept for the thread's life.
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static int buffer_key_ok;

// A second buffer per thread: a shared b packed by the thread that splits a
// product, read by every worker while its own buffer holds its packed a.
static pthread_key_t shared_key;
static int shared_key_ok;
static void make_buffer_key(void) {
    buffer_key_ok = pthread_key_create(&buffer_key, free) == 0;
    shared_key_ok = pthread_key_create(&shared_key, free) == 0;
}

static float *keyed_buffer(pthread_key_t key, size_t floats) {
    // Layout: [capacity (64 bytes)] [floats ...], 64-byte aligned.
    float *block = pthread_getspecific(key);
    if (block && *(size_t *)block >= floats) return block + 16;
    free(block);
    // aligned_alloc wants a size that is a multiple of the alignment.
    block = aligned_alloc(64, (floats + 16 + 15) / 16 * 16 * sizeof(float));
    if (!block) {
        pthread_setspecific(key, NULL);
        return NULL;
    }
    *(size_t *)block = floats;
    pthread_setspecific(key, block);
    return block + 16;
}

static float *thread_buffer(size_t floats) {
    pthread_once(&buffer_once, make_buffer_key);
    if (!buffer_key_ok) return NULL;  // no key to hold a buffer: the caller falls back
    return keyed_buffer(buffer_key, floats);
}

float *ckpt_sgemm_shared_buffer(long floats) {
    pthread_once(&buffer_once, make_buffer_key);
    if (!shared_key_ok || floats < 0) return NULL;
    return keyed_buffer(shared_key, (size_t)floats);
}

// op(a)[i][p], scaled by alpha, into MR-tall panels: panel r holds rows
// r·MR ..< r·MR + MR as kc consecutive groups of MR values (zeros past mc).
// Inlined with a constant `mr`, so the inner loops unroll.
static inline __attribute__((always_inline)) void pack_a_tiles(long mr, int trans, const float *a, long lda,
                                                               long mc, long kc, float alpha, float *out) {
    for (long i0 = 0; i0 < mc; i0 += mr) {
        long rows = mc - i0 < mr ? mc - i0 : mr;
        if (rows == mr && !trans) {
            const float *src[MAX_MR];
            for (long i = 0; i < mr; i++) src[i] = a + (i0 + i) * lda;
            for (long p = 0; p < kc; p++) {
                for (long i = 0; i < mr; i++) out[i] = alpha * src[i][p];
                out += mr;
            }
        } else if (rows == mr) {
            for (long p = 0; p < kc; p++) {
                const float *row = a + p * lda + i0;
                for (long i = 0; i < mr; i++) out[i] = alpha * row[i];
                out += mr;
            }
        } else {
            for (long p = 0; p < kc; p++) {
                for (long i = 0; i < mr; i++)
                    out[i] = i < rows ? alpha * (trans ? a[p * lda + i0 + i] : a[(i0 + i) * lda + p]) : 0.0f;
                out += mr;
            }
        }
    }
}

static void pack_a(long mr, int trans, const float *a, long lda, long mc, long kc, float alpha, float *out) {
    if (mr == 6) pack_a_tiles(6, trans, a, lda, mc, kc, alpha, out);
    else pack_a_tiles(mr, trans, a, lda, mc, kc, alpha, out);
}

static long round_up(long x, long to) { return (x + to - 1) / to * to; }

// MARK: - The loops

// Columns j0 ..< j1 of the product; `c` points at column j0. b is packed per
// block into the thread buffer, or read from `packed` (the whole op(b) with
// `packed_width` columns, laid out by ckpt_blocked_pack).
static int run(const ckpt_blocked_kernel *kern, int trans_a, int trans_b, long m, long j0, long j1, long k,
               float alpha, const float *a, long lda, const float *b, long ldb,
               const float *packed, long packed_width, float beta, float *c, long ldc) {
    const long MR = kern->mr, NR = kern->nr, KC = kern->kc, MC = kern->mc, NC = kern->nc, KP = kern->kpack;
    if (MR > MAX_MR || NR > MAX_NR || MC % MR || NC % NR || KC % KP) return -1;
    long n = j1 - j0;
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0.0f) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return 0;
    }
    long kcMax = ((k < KC ? k : KC) + KP - 1) / KP;  // in packed slots
    long ncPadded = round_up(n < NC ? n : NC, NR);
    size_t aFloats = (size_t)MC * (size_t)kcMax, bFloats = packed ? 0 : (size_t)ncPadded * (size_t)kcMax;
    float *buffer = thread_buffer(aFloats + bFloats + MAX_MR * MAX_NR);
    if (!buffer) return -1;
    float *packedB = buffer, *packedA = buffer + bFloats, *tile = packedA + aFloats;

    for (long jc = 0; jc < n; jc += NC) {
        long nc = n - jc < NC ? n - jc : NC;
        for (long pc = 0; pc < k; pc += KC) {
            long kc = k - pc < KC ? k - pc : KC, slots = (kc + KP - 1) / KP;
            const float *bBlock;
            if (packed) {
                bBlock = packed + pc / KP * packed_width + (j0 + jc) * slots;
            } else {
                kern->pack_b(trans_b, trans_b ? b + (j0 + jc) * ldb + pc : b + pc * ldb + j0 + jc, ldb, kc, nc, packedB);
                bBlock = packedB;
            }
            float betaHere = pc == 0 ? beta : 1.0f;
            for (long ic = 0; ic < m; ic += MC) {
                long mc = m - ic < MC ? m - ic : MC;
                const float *aBlock = trans_a ? a + pc * lda + ic : a + ic * lda + pc;
                if (kern->pack_a) kern->pack_a(trans_a, aBlock, lda, mc, kc, alpha, packedA);
                else pack_a(MR, trans_a, aBlock, lda, mc, kc, alpha, packedA);
                for (long jr = 0; jr < nc; jr += NR) {
                    long nr = nc - jr < NR ? nc - jr : NR;
                    const float *bPanel = bBlock + jr * slots;
                    for (long ir = 0; ir < mc; ir += MR) {
                        long mr = mc - ir < MR ? mc - ir : MR;
                        float *cTile = c + (ic + ir) * ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            kern->micro(kc, packedA + ir * slots, bPanel, cTile, ldc, betaHere);
                        } else {
                            kern->micro(kc, packedA + ir * slots, bPanel, tile, NR, 0.0f);
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

int ckpt_blocked_sgemm(const ckpt_blocked_kernel *kernel, int trans_a, int trans_b, long m, long n, long k,
                       float alpha, const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc) {
    return run(kernel, trans_a, trans_b, m, 0, n, k, alpha, a, lda, b, ldb, NULL, 0, beta, c, ldc);
}

long ckpt_blocked_packed_floats(const ckpt_blocked_kernel *kernel, long k, long n) {
    if (k <= 0 || n <= 0) return 0;
    return (k + kernel->kpack - 1) / kernel->kpack * round_up(n, kernel->nr);
}

void ckpt_blocked_pack(const ckpt_blocked_kernel *kernel, int trans_b, long k, long n,
                       const float *b, long ldb, long j0, long j1, float *out) {
    if (j1 <= j0) return;
    long width = round_up(n, kernel->nr);
    for (long pc = 0; pc < k; pc += kernel->kc) {
        long kc = k - pc < kernel->kc ? k - pc : kernel->kc, slots = (kc + kernel->kpack - 1) / kernel->kpack;
        const float *src = trans_b ? b + j0 * ldb + pc : b + pc * ldb + j0;
        kernel->pack_b(trans_b, src, ldb, kc, j1 - j0, out + pc / kernel->kpack * width + j0 * slots);
    }
}

int ckpt_blocked_sgemm_packed(const ckpt_blocked_kernel *kernel, int trans_a, long m, long n, long k,
                              float alpha, const float *a, long lda, const float *packed, long j0, long j1,
                              float beta, float *c, long ldc) {
    if (j0 < 0 || j1 > n || j0 % kernel->nr) return -1;
    return run(kernel, trans_a, 0, m, j0, j1, k, alpha, a, lda, NULL, 0, packed, round_up(n, kernel->nr),
               beta, c, ldc);
}
