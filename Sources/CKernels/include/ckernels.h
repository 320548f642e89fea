// ckpt's own single-precision matrix product for x86-64 CPUs with AVX-512F.
//
// The system OpenBLAS may be pinned to an older kernel family (for instance
// with OPENBLAS_CORETYPE=Haswell on processors its build does not know), which
// leaves half of an AVX-512 core's multiply-add width unused. This kernel is
// selected at run time, only when the CPU and the operating system support
// AVX-512F; everything else goes to cblas_sgemm.
#ifndef CKPT_CKERNELS_H
#define CKPT_CKERNELS_H

/// 1 when the CPU has AVX-512F and the OS saves the zmm state, else 0.
int ckpt_sgemm_avx512_supported(void);

/// Row-major `c (m, n) = alpha · op(a) · op(b) + beta · c` on the calling
/// thread, like cblas_sgemm(CblasRowMajor, ...). `op(a)` is `(m, k)`: `a` is
/// `(m, k)` with row stride `lda`, or `(k, m)` when `trans_a` is non-zero;
/// likewise `op(b)` is `(k, n)`. When `beta` is 0, `c` is not read.
///
/// Returns 0, or -1 when AVX-512F is unavailable or the packing buffers
/// cannot be allocated (nothing is written then).
int ckpt_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *b, long ldb,
                      float beta, float *c, long ldc);

#endif
