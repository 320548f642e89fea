// ckpt's own single-precision matrix products for x86-64 CPUs.
//
// The system OpenBLAS may be pinned to an older kernel family (for instance
// with OPENBLAS_CORETYPE=Haswell on processors its build does not know), and
// its generic loops pack a layer's weight again on every call and on every
// thread. These kernels are selected at run time, only when the CPU and the
// operating system support their instructions; everything else goes to
// cblas_sgemm.
#ifndef CKPT_CKERNELS_H
#define CKPT_CKERNELS_H

/// The kernels: AVX-512F (6 × 64 tiles), AVX2 with FMA (6 × 16 tiles), and
/// AVX512_BF16 (6 × 64 tiles; operands rounded to bfloat16, sums in float).
enum { CKPT_KERNEL_AVX512 = 1, CKPT_KERNEL_AVX2 = 2, CKPT_KERNEL_AVX512_BF16 = 3 };

/// 1 when the CPU has the kernel's instructions and the OS saves their
/// registers, else 0 (also for an unknown kernel).
int ckpt_sgemm_supported(int kernel);

/// `x` rounded to bfloat16 as the bf16 kernel rounds its operands (to
/// nearest even, subnormals to zero), widened back to float.
float ckpt_bf16_round(float x);

/// Row-major `c (m, n) = alpha · op(a) · op(b) + beta · c` on the calling
/// thread, like cblas_sgemm(CblasRowMajor, ...). `op(a)` is `(m, k)`: `a` is
/// `(m, k)` with row stride `lda`, or `(k, m)` when `trans_a` is non-zero;
/// likewise `op(b)` is `(k, n)`. When `beta` is 0, `c` is not read.
///
/// Returns 0, or -1 when the kernel is unavailable or the packing buffers
/// cannot be allocated (nothing is written then).
int ckpt_sgemm(int kernel, int trans_a, int trans_b, long m, long n, long k, float alpha,
               const float *a, long lda, const float *b, long ldb,
               float beta, float *c, long ldc);

/// The kernel's panel width: a prepacked product's column ranges start at
/// multiples of it. 0 when the kernel is unavailable.
long ckpt_sgemm_panel_width(int kernel);

/// Floats (64-byte aligned) that `op(b)` of shape `(k, n)` takes once packed
/// for `kernel`; -1 when the kernel is unavailable.
long ckpt_sgemm_packed_floats(int kernel, long k, long n);

/// Packs columns `j0 ..< j1` of `op(b)` (`(k, n)`; `b` is `(n, k)` when
/// `trans_b` is non-zero) into their place in `out`, which holds
/// ckpt_sgemm_packed_floats(kernel, k, n) floats and is 64-byte aligned;
/// `j0` is a multiple of the panel width (disjoint ranges can be packed by
/// different threads). Returns 0, or -1 when the kernel is unavailable or the
/// range is not whole panels.
int ckpt_sgemm_pack(int kernel, int trans_b, long k, long n, const float *b, long ldb, long j0, long j1, float *out);

/// A 64-byte aligned buffer of at least `floats` floats that belongs to the
/// calling thread and lives as long as it (grown as needed): where a product
/// split across threads packs its `b` once for all of them. NULL when it cannot
/// be allocated.
float *ckpt_sgemm_shared_buffer(long floats);

/// Columns `j0 ..< j1` of `alpha · op(a) · B + beta · c` for a `B` (k, n)
/// packed by ckpt_sgemm_pack; `c` points at column j0 of row 0 and `j0` is a
/// multiple of the panel width. Returns 0, or -1 when the kernel is
/// unavailable, the range is not whole panels, or the buffers cannot be
/// allocated (nothing is written then).
int ckpt_sgemm_packed(int kernel, int trans_a, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *packed, long j0, long j1,
                      float beta, float *c, long ldc);

/// One AdamW step over `n` parameters (torch.optim.AdamW's arithmetic, in
/// float): with `decay`, `p *= decay_scale`; then
/// `m += w1 · (g − m)`, `v = v · b2 + w2 · g · g`,
/// `p += step_size · m / (sqrt(v) / bc2_sqrt + eps)`. Vectorised for the CPU;
/// every path gives the same bits.
void ckpt_adamw_update(float *p, const float *g, float *m, float *v, long n, int decay, float decay_scale,
                       float w1, float b2, float w2, float bc2_sqrt, float eps, float step_size);

#endif
