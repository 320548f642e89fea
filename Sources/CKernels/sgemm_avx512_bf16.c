// ckpt's bf16 kernel for the blocked GEMM in sgemm_blocked.c, for CPUs with
// AVX512_BF16 (Intel Cooper Lake and Sapphire Rapids onward, AMD Zen 4 onward).
//
// Operands are float in memory. Packing rounds them to bfloat16 (round to
// nearest even; the instruction treats subnormal inputs as zero, and the
// scalar edges do the same) and stores pairs of consecutive values along the
// shared dimension in one 32-bit slot. The micro-kernel's VDPBF16PS multiplies
// such pairs and adds both products into float accumulators, so the result is
// float: the operands of the product lose precision, its sums do not — the
// contract of PyTorch's CPU autocast for matmul and linear.
//
// MR × NR = 6 × 64, as the float AVX-512 kernel: 24 accumulators, 4 loads and
// 6 broadcasts per 24 instructions, each doing twice the float kernel's work.

#include "ckernels.h"
#include "sgemm_blocked.h"
#include "avx512_tiles.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define CKPT_HAVE_BF16_KERNEL 1
#include <immintrin.h>
#endif

#ifdef CKPT_HAVE_BF16_KERNEL

#ifndef CKPT_BF16_KC
#define CKPT_BF16_KC 384
#define CKPT_BF16_MC 240
#define CKPT_BF16_NC 3072
#endif
enum { MR = 6, NR = 64, KC = CKPT_BF16_KC, MC = CKPT_BF16_MC, NC = CKPT_BF16_NC };
_Static_assert(MC % MR == 0 && NC % NR == 0 && KC % 2 == 0, "block sizes must be whole panels and pairs");

#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

/// x rounded to bfloat16 as VCVTNE2PS2BF16 does: to nearest even, subnormals
/// to a signed zero, NaN kept quiet.
static inline uint32_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0) return (u >> 16) & 0x8000u;
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    u += 0x7fffu + ((u >> 16) & 1u);
    return u >> 16;
}

/// The slot of a pair: the value at the even index of the shared dimension in
/// the low half.
static inline uint32_t pair(float even, float odd) { return bf16_bits(even) | bf16_bits(odd) << 16; }

/// Interleaves two rows of 16 bf16 values held as one vector (lo in 0..15,
/// hi in 16..31) into 16 slots (lo[j], hi[j]).
TARGET static inline __m512i interleave(__m512 lo, __m512 hi) {
    const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                           23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(order, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// op(a) scaled by alpha into MR-tall panels of pairs (see ckpt_blocked_kernel.pack_a).
TARGET static void pack_a(int trans, const float *a, long lda, long mc, long kc, float alpha, float *outf) {
    uint32_t *out = (uint32_t *)outf;
    const long slots = (kc + 1) / 2;
    const __m512 scale = _mm512_set1_ps(alpha);
    for (long i0 = 0; i0 < mc; i0 += MR) {
        long rows = mc - i0 < MR ? mc - i0 : MR, p = 0;
        if (!trans) {
            // Row i's 32 values from p are 16 consecutive pairs: convert them
            // per row, then deal the slots out MR at a time.
            if (rows == MR) {
                for (; p + 32 <= kc; p += 32) {
                    uint32_t tmp[MR][16] __attribute__((aligned(64)));
                    for (long i = 0; i < MR; i++) {
                        const float *src = a + (i0 + i) * lda + p;
                        __m512 lo = _mm512_mul_ps(scale, _mm512_loadu_ps(src));
                        __m512 hi = _mm512_mul_ps(scale, _mm512_loadu_ps(src + 16));
                        _mm512_store_si512(tmp[i], (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
                    }
                    uint32_t *dst = out + p / 2 * MR;
                    for (long s = 0; s < 16; s++)
                        for (long i = 0; i < MR; i++) dst[s * MR + i] = tmp[i][s];
                }
            }
            for (; p < kc; p += 2)
                for (long i = 0; i < MR; i++) {
                    const float *row = a + (i0 + i) * lda;
                    out[p / 2 * MR + i] = i < rows ? pair(alpha * row[p], p + 1 < kc ? alpha * row[p + 1] : 0.0f) : 0;
                }
        } else {
            // op(a)[i][p] = a[p][i]: rows p and p + 1 of a give one slot per column.
            const __mmask16 mask = (__mmask16)((1u << rows) - 1);
            for (; p + 2 <= kc; p += 2) {
                __m512 even = _mm512_mul_ps(scale, _mm512_maskz_loadu_ps(mask, a + p * lda + i0));
                __m512 odd = _mm512_mul_ps(scale, _mm512_maskz_loadu_ps(mask, a + (p + 1) * lda + i0));
                _mm512_mask_storeu_epi32(out + p / 2 * MR, (__mmask16)0x3F, interleave(even, odd));
            }
            if (p < kc)
                for (long i = 0; i < MR; i++) out[p / 2 * MR + i] = i < rows ? pair(alpha * a[p * lda + i0 + i], 0.0f) : 0;
        }
        out += slots * MR;
    }
}

// op(b) into NR-wide panels of pairs (see ckpt_blocked_kernel.pack_b).
TARGET static void pack_b(int trans, const float *b, long ldb, long kc, long nc, float *outf) {
    uint32_t *out = (uint32_t *)outf;
    const long slots = (kc + 1) / 2;
    for (long j0 = 0; j0 < nc; j0 += NR) {
        long cols = nc - j0 < NR ? nc - j0 : NR, p = 0;
        if (!trans) {
            // Rows p and p + 1 of b, 16 columns at a time (masked past nc).
            for (; p < kc; p += 2) {
                for (long jb = 0; jb < NR; jb += 16) {
                    long left = cols - jb;
                    __mmask16 mask = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
                    __m512 even = _mm512_maskz_loadu_ps(mask, b + p * ldb + j0 + jb);
                    __m512 odd = p + 1 < kc ? _mm512_maskz_loadu_ps(mask, b + (p + 1) * ldb + j0 + jb) : _mm512_setzero_ps();
                    _mm512_store_si512(out + p / 2 * NR + jb, interleave(even, odd));
                }
            }
        } else {
            // b is (n, k): row j of b holds column j of op(b), its pairs
            // already consecutive. 32 values of 16 rows convert to 16 × 16
            // slots, transposed through registers when whole.
            if (cols == NR) {
                for (; p + 32 <= kc; p += 32) {
                    for (long jb = 0; jb < NR; jb += 16) {
                        __m512 r[16];
                        for (int j = 0; j < 16; j++) {
                            const float *src = b + (j0 + jb + j) * ldb + p;
                            r[j] = (__m512)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src));
                        }
                        transpose16(r);
                        // r[s] now holds pair s of columns j0 + jb ..< j0 + jb + 16.
                        for (int s = 0; s < 16; s++) _mm512_store_ps((float *)out + (p / 2 + s) * NR + jb, r[s]);
                    }
                }
            }
            for (; p < kc; p += 2)
                for (long j = 0; j < NR; j++) {
                    const float *row = b + (j0 + j) * ldb;
                    out[p / 2 * NR + j] = j < cols ? pair(row[p], p + 1 < kc ? row[p + 1] : 0.0f) : 0;
                }
        }
        out += slots * NR;
    }
}

// c (MR × NR, row stride ldc) = acc, or beta · c + acc when beta is non-zero.
TARGET static void micro_kernel(long kc, const float *restrict af, const float *restrict b,
                                float *restrict c, long ldc, float beta) {
    const uint32_t *a = (const uint32_t *)af;
    CKPT_OPEN_TILE_6x64(c, ldc);
    for (long s = 0, slots = (kc + 1) / 2; s < slots; s++) {
        __m512bh b0 = (__m512bh)_mm512_load_ps(b), b1 = (__m512bh)_mm512_load_ps(b + 16);
        __m512bh b2 = (__m512bh)_mm512_load_ps(b + 32), b3 = (__m512bh)_mm512_load_ps(b + 48);
        __m512bh x;
#define ROW(i)                                      \
        x = (__m512bh)_mm512_set1_epi32((int)a[i]); \
        c##i##0 = _mm512_dpbf16_ps(c##i##0, x, b0);   \
        c##i##1 = _mm512_dpbf16_ps(c##i##1, x, b1);   \
        c##i##2 = _mm512_dpbf16_ps(c##i##2, x, b2);   \
        c##i##3 = _mm512_dpbf16_ps(c##i##3, x, b3);
        ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5)
#undef ROW
        a += MR;
        b += NR;
    }
    CKPT_STORE_TILE_6x64(c, ldc, beta);
}

const ckpt_blocked_kernel ckpt_avx512_bf16_kernel = {MR, NR, KC, MC, NC, 2, pack_a, pack_b, micro_kernel};

float ckpt_bf16_round(float x) {
    uint32_t u = bf16_bits(x) << 16;
    float r;
    memcpy(&r, &u, 4);
    return r;
}

#else

const ckpt_blocked_kernel ckpt_avx512_bf16_kernel = {0};

float ckpt_bf16_round(float x) { return x; }

#endif
