// What the AVX-512 kernels share: a 16 × 16 transpose of 32-bit values held
// in 16 zmm registers, and the accumulators and store of a 6 × 64 tile.
#ifndef CKPT_AVX512_TILES_H
#define CKPT_AVX512_TILES_H

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

/// On return r[q] holds element q of each of the 16 input rows, in order.
static inline __attribute__((target("avx512f"), always_inline)) void transpose16(__m512 r[16]) {
    // 4 rounds of pairwise interleaves.
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
}

/// Declares a micro-kernel's 6 × 64 accumulators c00 ... c53 (zero) and
/// prefetches the tile of `out` (row stride ldc) they will be stored to.
#define CKPT_OPEN_TILE_6x64(out, ldc)                                                              \
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;                            \
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;                                            \
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;                                            \
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;                                            \
    __m512 c40 = c00, c41 = c00, c42 = c00, c43 = c00;                                            \
    __m512 c50 = c00, c51 = c00, c52 = c00, c53 = c00;                                            \
    for (long row_ = 0; row_ < 6; row_++) _mm_prefetch((const char *)((out) + row_ * (ldc)), _MM_HINT_T0)

/// Stores the 6 × 64 accumulators c00 ... c53 of a micro-kernel into
/// out (row stride ldc): out = acc, or beta · out + acc when beta is non-zero.
#define CKPT_STORE_TILE_6x64(out, ldc, beta)                                                         \
    do {                                                                                          \
        CKPT_STORE_ROW_64(out, ldc, beta, 0) CKPT_STORE_ROW_64(out, ldc, beta, 1)                     \
        CKPT_STORE_ROW_64(out, ldc, beta, 2) CKPT_STORE_ROW_64(out, ldc, beta, 3)                     \
        CKPT_STORE_ROW_64(out, ldc, beta, 4) CKPT_STORE_ROW_64(out, ldc, beta, 5)                     \
    } while (0)
#define CKPT_STORE_ROW_64(out, ldc, beta, i)                                                        \
    if (beta == 0.0f) {                                                                           \
        _mm512_storeu_ps(out + i * ldc, c##i##0);                                                   \
        _mm512_storeu_ps(out + i * ldc + 16, c##i##1);                                              \
        _mm512_storeu_ps(out + i * ldc + 32, c##i##2);                                              \
        _mm512_storeu_ps(out + i * ldc + 48, c##i##3);                                              \
    } else {                                                                                      \
        __m512 bv = _mm512_set1_ps(beta);                                                         \
        _mm512_storeu_ps(out + i * ldc, _mm512_fmadd_ps(bv, _mm512_loadu_ps(out + i * ldc), c##i##0));           \
        _mm512_storeu_ps(out + i * ldc + 16, _mm512_fmadd_ps(bv, _mm512_loadu_ps(out + i * ldc + 16), c##i##1)); \
        _mm512_storeu_ps(out + i * ldc + 32, _mm512_fmadd_ps(bv, _mm512_loadu_ps(out + i * ldc + 32), c##i##2)); \
        _mm512_storeu_ps(out + i * ldc + 48, _mm512_fmadd_ps(bv, _mm512_loadu_ps(out + i * ldc + 48), c##i##3)); \
    }

#endif
#endif
