// The part of ckpt's blocked GEMM that every instruction set shares: the
// loops over cache blocks, the packing of a, the per-thread buffers and the
// layout of a prepacked b. Each kernel file (sgemm_avx512.c, sgemm_avx2.c)
// supplies its tile size, block sizes, its pack_b and its micro-kernel.
#ifndef CKPT_SGEMM_BLOCKED_H
#define CKPT_SGEMM_BLOCKED_H

#include <stddef.h>

typedef struct {
    /// The micro-kernel's tile: MR rows of a against NR columns of b.
    long mr, nr;
    /// Cache blocks: KC of the shared dimension (a multiple of kpack), MC
    /// rows of a (a multiple of mr), NC columns of b (a multiple of nr).
    long kc, mc, nc;
    /// Values of the shared dimension per packed 32-bit slot: 1 for float
    /// operands, 2 for bf16 pairs. A packed panel over kc takes
    /// MR (or NR) · ceil(kc / kpack) slots.
    long kpack;
    /// op(a)[i][p], scaled by alpha, into MR-tall panels (NULL: the float
    /// packing in sgemm_blocked.c): panel r holds rows r·MR ..< r·MR + MR,
    /// ceil(kc / kpack) groups of MR slots (zeros past mc and kc).
    void (*pack_a)(int trans, const float *a, long lda, long mc, long kc, float alpha, float *out);
    /// op(b)[p][j] for p < kc, j < nc into NR-wide panels: panel s holds
    /// columns s·NR ..< s·NR + NR as ceil(kc / kpack) groups of NR slots
    /// (zeros past nc and kc). `out` is 64-byte aligned.
    void (*pack_b)(int trans, const float *b, long ldb, long kc, long nc, float *out);
    /// c (MR × NR, row stride ldc) = acc, or beta · c + acc when beta is
    /// non-zero, where acc is the product of an MR-panel of a and an NR-panel
    /// of b over kc, accumulated in float.
    void (*micro)(long kc, const float *a, const float *b, float *c, long ldc, float beta);
} ckpt_blocked_kernel;

/// cblas_sgemm's row-major product through `kernel`; 0, or -1 when the
/// packing buffers cannot be allocated.
int ckpt_blocked_sgemm(const ckpt_blocked_kernel *kernel, int trans_a, int trans_b, long m, long n, long k,
                       float alpha, const float *a, long lda, const float *b, long ldb,
                       float beta, float *c, long ldc);

/// Floats a prepacked op(b) of shape (k, n) takes.
long ckpt_blocked_packed_floats(const ckpt_blocked_kernel *kernel, long k, long n);

/// Packs columns j0 ..< j1 (j0 a multiple of NR) of op(b) (k, n) into the
/// layout of the whole: for each KC block of rows, its NR-wide panels over all
/// n columns (zeros past n), the block starting at slot
/// pc / kpack · round_up(n, NR) and panel j at j · ceil(kc / kpack) in it.
void ckpt_blocked_pack(const ckpt_blocked_kernel *kernel, int trans_b, long k, long n,
                       const float *b, long ldb, long j0, long j1, float *out);

/// Columns j0 ..< j1 of alpha · op(a) · B + beta · c, where B is a prepacked
/// (k, n) and j0 is a multiple of NR; `c` points at column j0 of row 0.
int ckpt_blocked_sgemm_packed(const ckpt_blocked_kernel *kernel, int trans_a, long m, long n, long k,
                              float alpha, const float *a, long lda, const float *packed, long j0, long j1,
                              float beta, float *c, long ldc);

/// CPU feature checks (cpuid and xgetbv), computed once.
int ckpt_cpu_has_avx2_fma(void);
int ckpt_cpu_has_avx512f(void);
int ckpt_cpu_has_avx512_bf16(void);

#endif
