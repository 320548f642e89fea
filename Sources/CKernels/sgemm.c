// The public entry points: a kernel id to its blocked-GEMM description.

#include "ckernels.h"
#include "sgemm_blocked.h"

extern const ckpt_blocked_kernel ckpt_avx512_kernel;
extern const ckpt_blocked_kernel ckpt_avx2_kernel;
extern const ckpt_blocked_kernel ckpt_avx512_bf16_kernel;

static const ckpt_blocked_kernel *lookup(int kernel) {
    switch (kernel) {
    case CKPT_KERNEL_AVX512:
        return ckpt_cpu_has_avx512f() && ckpt_avx512_kernel.micro ? &ckpt_avx512_kernel : 0;
    case CKPT_KERNEL_AVX2:
        return ckpt_cpu_has_avx2_fma() && ckpt_avx2_kernel.micro ? &ckpt_avx2_kernel : 0;
    case CKPT_KERNEL_AVX512_BF16:
        return ckpt_cpu_has_avx512_bf16() && ckpt_avx512_bf16_kernel.micro ? &ckpt_avx512_bf16_kernel : 0;
    default:
        return 0;
    }
}

int ckpt_sgemm_supported(int kernel) { return lookup(kernel) != 0; }

int ckpt_sgemm(int kernel, int trans_a, int trans_b, long m, long n, long k, float alpha,
               const float *a, long lda, const float *b, long ldb,
               float beta, float *c, long ldc) {
    const ckpt_blocked_kernel *kern = lookup(kernel);
    if (!kern) return -1;
    return ckpt_blocked_sgemm(kern, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

long ckpt_sgemm_panel_width(int kernel) {
    const ckpt_blocked_kernel *kern = lookup(kernel);
    return kern ? kern->nr : 0;
}

long ckpt_sgemm_packed_floats(int kernel, long k, long n) {
    const ckpt_blocked_kernel *kern = lookup(kernel);
    return kern ? ckpt_blocked_packed_floats(kern, k, n) : -1;
}

int ckpt_sgemm_pack(int kernel, int trans_b, long k, long n, const float *b, long ldb, long j0, long j1, float *out) {
    const ckpt_blocked_kernel *kern = lookup(kernel);
    if (!kern || j0 < 0 || j1 > n || j0 % kern->nr) return -1;
    ckpt_blocked_pack(kern, trans_b, k, n, b, ldb, j0, j1, out);
    return 0;
}

int ckpt_sgemm_packed(int kernel, int trans_a, long m, long n, long k, float alpha,
                      const float *a, long lda, const float *packed, long j0, long j1,
                      float beta, float *c, long ldc) {
    const ckpt_blocked_kernel *kern = lookup(kernel);
    if (!kern) return -1;
    return ckpt_blocked_sgemm_packed(kern, trans_a, m, n, k, alpha, a, lda, packed, j0, j1, beta, c, ldc);
}
