// The AdamW update over a range of parameters, vectorised.
//
// The same operations, in the same order and without contraction into fused
// multiply-adds, as the scalar loop it replaces: IEEE division and square root
// are correctly rounded in every vector width, so every width gives the same
// bits, and so does the scalar fallback.

#include "ckernels.h"
#include "sgemm_blocked.h"

#pragma clang fp contract(off)
#pragma GCC optimize("fp-contract=off")

#define ADAMW_BODY                                                                         \
    for (long i = 0; i < n; i++) {                                                         \
        float pi = p[i];                                                                   \
        if (decay) pi = pi * decay_scale;                                                  \
        float gi = g[i];                                                                   \
        float mi = m[i] + w1 * (gi - m[i]);                                                \
        float vi = v[i] * b2 + (w2 * gi) * gi;                                             \
        float denom = __builtin_sqrtf(vi) / bc2_sqrt + eps;                                \
        m[i] = mi;                                                                         \
        v[i] = vi;                                                                         \
        p[i] = pi + (step_size * mi) / denom;                                              \
    }

#define ADAMW_SIGNATURE(name)                                                              \
    void name(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, long n, \
              int decay, float decay_scale, float w1, float b2, float w2, float bc2_sqrt, float eps, float step_size)

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
__attribute__((target("avx512f"))) static ADAMW_SIGNATURE(adamw_avx512) { ADAMW_BODY }
__attribute__((target("avx2,fma"))) static ADAMW_SIGNATURE(adamw_avx2) { ADAMW_BODY }
#endif
static ADAMW_SIGNATURE(adamw_generic) { ADAMW_BODY }

ADAMW_SIGNATURE(ckpt_adamw_update) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    if (ckpt_cpu_has_avx512f()) { adamw_avx512(p, g, m, v, n, decay, decay_scale, w1, b2, w2, bc2_sqrt, eps, step_size); return; }
    if (ckpt_cpu_has_avx2_fma()) { adamw_avx2(p, g, m, v, n, decay, decay_scale, w1, b2, w2, bc2_sqrt, eps, step_size); return; }
#endif
    adamw_generic(p, g, m, v, n, decay, decay_scale, w1, b2, w2, bc2_sqrt, eps, step_size);
}
