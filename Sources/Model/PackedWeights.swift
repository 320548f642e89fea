// `b` operands packed once per product. The kernels rearrange a product's `b`
// into their panels (and, for bf16, round it) before the micro-kernel reads
// it. Split by rows across threads, every thread would do that same work for
// the whole `b`: instead the splitting thread packs it once, the workers
// packing disjoint panels, and all of them read it.
//
// Keeping a layer's weights packed across calls (once per load) was measured
// and left out: on BERT-base inference it gained 2 % more (fp32; nothing in
// bf16) for 65 % more resident memory (BENCHMARKS.md, section 13). In training
// each weight is read once forward and once backward per micro-batch, in two
// layouts, so per step there is nothing to reuse.

import CKernels
import Dispatch

/// `op(b)` of shape `(k, n)` in `kernel`'s packed layout, in the buffer of the
/// thread that packed it.
struct PackedMatrix: @unchecked Sendable {
    let kernel: SgemmKernel
    let k: Int, n: Int
    /// The kernel's panel width: column ranges of a product start on a multiple of it.
    let panel: Int
    /// The calling thread's shared buffer (see ``shared(kernel:transB:k:n:b:ldb:threads:)``).
    let storage: UnsafeMutablePointer<Float>

    /// Floats `op(b)` `(k, n)` takes packed for `kernel`; nil for OpenBLAS (it
    /// packs for itself) or a kernel this CPU cannot run.
    static func floats(kernel: SgemmKernel, k: Int, n: Int) -> Int? {
        guard let id = kernel.cKernel, k > 0, n > 0 else { return nil }
        let f = ckpt_sgemm_packed_floats(id, k, n)
        return f > 0 ? f : nil
    }

    /// Packs `op(b)` into the calling thread's shared buffer (valid until the
    /// thread's next shared pack); nil where ``floats(kernel:k:n:)`` is or the
    /// buffer cannot be had.
    static func shared(kernel: SgemmKernel, transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
                       threads: Int) -> PackedMatrix? {
        guard let floats = floats(kernel: kernel, k: k, n: n), let storage = ckpt_sgemm_shared_buffer(floats) else { return nil }
        let p = PackedMatrix(kernel: kernel, k: k, n: n, storage: storage)
        p.pack(transB: transB, b: b, ldb: ldb, threads: threads)
        return p
    }

    private init(kernel: SgemmKernel, k: Int, n: Int, storage: UnsafeMutablePointer<Float>) {
        self.kernel = kernel
        self.k = k; self.n = n
        panel = ckpt_sgemm_panel_width(kernel.cKernel!)
        self.storage = storage
    }

    /// Packs `op(b)`, whole panels per worker.
    private func pack(transB: Bool, b: UnsafePointer<Float>, ldb: Int, threads: Int) {
        let id = kernel.cKernel!, (k, n, panel) = (k, n, panel)
        nonisolated(unsafe) let out = storage, src = b
        let panels = (n + panel - 1) / panel, workers = max(1, min(threads, panels))
        let per = (panels + workers - 1) / workers
        let pack: @Sendable (Int) -> Void = { w in
            let j0 = w * per * panel, j1 = min(n, (w + 1) * per * panel)
            if j0 < j1 { _ = ckpt_sgemm_pack(id, transB ? 1 : 0, k, n, src, ldb, j0, j1, out) }
        }
        if workers == 1 { pack(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: pack) }
    }

    /// Rows `rows` and columns `cols` (starting on a panel) of
    /// `c = alpha · op(a) · self + beta · c` on the calling thread; `a` and `c`
    /// point at row 0. False when the kernel refused (nothing written).
    func product(transA: Bool, rows: Range<Int>, cols: Range<Int>, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
        ckpt_sgemm_packed(kernel.cKernel!, transA ? 1 : 0, rows.count, n, k, alpha, a + rows.lowerBound * (transA ? 1 : lda), lda,
                          storage, cols.lowerBound, cols.upperBound, beta, c + rows.lowerBound * ldc + cols.lowerBound, ldc) == 0
    }
}
