// Matrix products. Every product in the model goes through `sgemm`, which
// runs ckpt's own kernels (Sources/CKernels) — AVX-512F where the CPU has it,
// else AVX2 with FMA — and OpenBLAS's cblas_sgemm elsewhere; the naive version
// beside it is the reference the tests compare them all against.
//
// Shapes: row-major, `(rows, cols)`; `ld` is the distance between rows.

import CKernels
import COpenBLAS
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

/// The single-precision matrix product behind every layer.
///
/// Chosen once per process: ``avx512`` when the CPU and the OS support
/// AVX-512F, else ``avx2`` when they support AVX2 and FMA, else ``openblas``.
/// The environment variable `CKPT_SGEMM` forces any kernel this CPU runs (to
/// compare them, to measure the AVX2 path on an AVX-512 machine, or to match
/// another machine's rounding); the command line refuses values other than
/// `avx512`, `avx2`, `openblas` and `auto`. Products run single-threaded
/// inside; ckpt splits them across cores itself.
public enum SgemmKernel: String, Sendable, CaseIterable {
    /// ckpt's blocked GEMM with an AVX-512F micro-kernel (6 × 64 tiles).
    case avx512
    /// ckpt's blocked GEMM with an AVX2/FMA micro-kernel (6 × 16 tiles).
    case avx2
    /// `cblas_sgemm` from the system OpenBLAS.
    case openblas
    /// ckpt's blocked GEMM on AVX512_BF16 (6 × 64 tiles): the operands are
    /// rounded to bfloat16, the sums are float. Never chosen by default nor
    /// through `CKPT_SGEMM`: it is what ``Precision/bf16`` runs products on.
    case avx512bf16

    /// The kernels that compute in float; `CKPT_SGEMM` picks among these.
    public static let float32: [SgemmKernel] = [.avx512, .avx2, .openblas]

    /// The id CKernels knows the kernel by; nil for OpenBLAS.
    var cKernel: Int32? {
        switch self {
        case .avx512: Int32(CKPT_KERNEL_AVX512)
        case .avx2: Int32(CKPT_KERNEL_AVX2)
        case .avx512bf16: Int32(CKPT_KERNEL_AVX512_BF16)
        case .openblas: nil
        }
    }

    /// Whether this machine can run `kernel`.
    public static func isSupported(_ kernel: SgemmKernel) -> Bool {
        kernel.cKernel.map { ckpt_sgemm_supported($0) != 0 } ?? true
    }

    /// The kernel a `CKPT_SGEMM` value asks for: nil for the default (unset,
    /// empty or `auto`).
    ///
    /// - Throws: `ModelError.config` naming the variable for any other value.
    public static func requested(by value: String?) throws -> SgemmKernel? {
        guard let value, !value.isEmpty, value.lowercased() != "auto" else { return nil }
        guard let kernel = SgemmKernel(rawValue: value.lowercased()), float32.contains(kernel) else {
            throw ModelError.config(path: "CKPT_SGEMM", reason: "\"\(value)\" is not avx512, avx2, openblas or auto"
                                    + (value.lowercased() == "avx512bf16" ? " (bf16 is chosen with --precision bf16)" : ""))
        }
        return kernel
    }

    /// The kernel this process uses: the one `CKPT_SGEMM` asks for where this
    /// machine runs it, else the first of ``avx512``, ``avx2`` this machine
    /// runs, else ``openblas``.
    public static let current: SgemmKernel = {
        let asked = (try? requested(by: getenv("CKPT_SGEMM").map { String(cString: $0) })) ?? nil
        if let asked, isSupported(asked) { return asked }
        return float32.first(where: isSupported)!
    }()
}

/// The precision of the model's matrix products.
///
/// ``fp32`` (the default, and the reference) runs every product in float.
/// ``bf16`` runs them on the ``SgemmKernel/avx512bf16`` kernel, as PyTorch's
/// CPU autocast runs `linear` and `matmul`: operands rounded to bfloat16,
/// products summed in float, float results. Everything else — embeddings,
/// layer norms, softmax, activations, losses, gradients' sums, the optimizer
/// and the weights it updates — stays float.
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16

    /// Whether this machine can run products at this precision.
    public var isSupported: Bool { self == .fp32 || SgemmKernel.isSupported(.avx512bf16) }

    /// The kernel products at this precision run on.
    public var kernel: SgemmKernel { self == .bf16 ? .avx512bf16 : .current }
}

/// `c (M, N) = alpha · op(a) · op(b) + beta · c` on the calling thread, through `kernel`.
@inline(__always)
func sgemm(_ kernel: SgemmKernel = .current, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if let id = kernel.cKernel,
       ckpt_sgemm(id, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
        return
    }
    // OpenBLAS, also when the kernel could not allocate its packing buffers.
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Runs an `(m, n)` product as `piece(rows, cols)` calls, one per worker,
/// each single-threaded (BLAS must be at one thread: no thread pool spinning
/// between calls): split by rows when every worker gets at least 64, else by
/// columns, else the whole product on the caller.
@inline(__always)
func splitProduct(m: Int, n: Int, threads: Int, _ piece: @Sendable (Range<Int>, Range<Int>) -> Void) {
    let byRows = splitsByRows(m: m, threads: threads)
    guard threads > 1, byRows || n >= 64 * threads else { piece(0..<m, 0..<n); return }
    let count = byRows ? m : n, chunk = (count + threads - 1) / threads
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        let part = min(count, t * chunk)..<min(count, t * chunk + chunk)
        if !part.isEmpty { byRows ? piece(part, 0..<n) : piece(0..<m, part) }
    }
}

/// Whether ``splitProduct`` gives every worker all the columns: then each
/// would pack the whole `b`, which is better packed once and shared.
@inline(__always)
func splitsByRows(m: Int, threads: Int) -> Bool { threads > 1 && m >= 64 * threads }

/// `out (M, N) = a (M, K) · bᵀ` where `b` is `(N, K)` — a Linear layer with
/// PyTorch's `(out_features, in_features)` weight — plus `bias (N)` if given.
/// `beta = 1` accumulates into `out`. The weight is packed once for all the
/// threads when they split by rows.
@inline(__always)
func linear(out: UnsafeMutablePointer<Float>, ldOut: Int,
            input: UnsafePointer<Float>, ldIn: Int,
            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
            rows m: Int, outFeatures n: Int, inFeatures k: Int, accumulate: Bool = false, threads: Int = 1,
            kernel: SgemmKernel = .current) {
    guard m > 0 && n > 0 else { return }
    let packed = splitsByRows(m: m, threads: threads)
        ? PackedMatrix.shared(kernel: kernel, transB: true, k: k, n: n, b: weight, ldb: k, threads: threads) : nil
    nonisolated(unsafe) let o = out, x = input, w = weight, bs = bias
    splitProduct(m: m, n: n, threads: threads) { rows, cols in
        let out = o + rows.lowerBound * ldOut + cols.lowerBound, bias = bs.map { $0 + cols.lowerBound }
        let m = rows.count, n = cols.count, beta: Float = (bias != nil || accumulate) ? 1 : 0
        if let bias, !accumulate {
            for r in 0..<m { (out + r * ldOut).update(from: bias, count: n) }
        }
        if packed?.product(transA: false, rows: rows, cols: cols, alpha: 1, a: x, lda: ldIn, beta: beta, c: o, ldc: ldOut) != true {
            sgemm(kernel, transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x + rows.lowerBound * ldIn, lda: ldIn,
                  b: w + cols.lowerBound * k, ldb: k, beta: beta, c: out, ldc: ldOut)
        }
        if let bias, accumulate {
            for r in 0..<m {
                let row = out + r * ldOut
                for c in 0..<n { row[c] += bias[c] }
            }
        }
    }
}

/// `c (M, N) = alpha · op(a) · op(b) + beta · c`, row-major, with leading
/// dimensions. `b` is packed once for all the threads when they split by rows.
@inline(__always)
func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = 1, kernel: SgemmKernel = .current) {
    guard m > 0 && n > 0 else { return }
    let packed = splitsByRows(m: m, threads: threads) && k > 0 && alpha != 0
        ? PackedMatrix.shared(kernel: kernel, transB: transB, k: k, n: n, b: b, ldb: ldb, threads: threads) : nil
    nonisolated(unsafe) let ap = a, bp = b, cp = c
    splitProduct(m: m, n: n, threads: threads) { rows, cols in
        if packed?.product(transA: transA, rows: rows, cols: cols, alpha: alpha, a: ap, lda: lda, beta: beta, c: cp, ldc: ldc) == true {
            return
        }
        // Row i of op(a) starts at a + i·lda (or a + i when transposed); column j
        // of op(b) at b + j (or b + j·ldb when transposed).
        sgemm(kernel, transA: transA, transB: transB, m: rows.count, n: cols.count, k: k, alpha: alpha,
              a: ap + rows.lowerBound * (transA ? 1 : lda), lda: lda, b: bp + cols.lowerBound * (transB ? ldb : 1), ldb: ldb,
              beta: beta, c: cp + rows.lowerBound * ldc + cols.lowerBound, ldc: ldc)
    }
}

/// The best GFLOP/s of `iterations` `(size, size) · (size, size)ᵀ` products
/// through `kernel`, split across `threads` the way the model's products are.
public func sgemmThroughput(_ kernel: SgemmKernel, size: Int, threads: Int, iterations: Int) -> Double {
    let n = max(1, size)
    let a = (0..<(n * n)).map { Float($0 % 17) / 17 - 0.5 }
    var c = [Float](repeating: 0, count: n * n)
    setMatmulThreads(1)
    func run() {
        gemm(transA: false, transB: true, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: a, ldb: n, beta: 0, c: &c, ldc: n,
             threads: threads, kernel: kernel)
    }
    run()  // warm-up: packing buffers, caches
    let clock = ContinuousClock()
    var best = Double.infinity
    for _ in 0..<max(1, iterations) {
        let d = clock.measure(run).components
        best = min(best, Double(d.seconds) + Double(d.attoseconds) / 1e18)
    }
    return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
}

/// The same product without BLAS, in Double accumulation: the reference for
/// tests. With `bf16`, the operands are rounded as the bf16 kernel rounds
/// them (`alpha · a` and `b`), the sums stay exact.
func naiveGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
               a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, bf16: Bool = false) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = transA ? a[p * lda + i] : a[i * lda + p]
                let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += bf16 ? Double(ckpt_bf16_round(alpha * x)) * Double(ckpt_bf16_round(y)) : Double(x) * Double(y)
            }
            c[i * ldc + j] = (bf16 ? Float(s) : alpha * Float(s)) + (beta == 0 ? 0 : beta * c[i * ldc + j])
        }
    }
}

/// Sets OpenBLAS's thread count (its own pool; used by `gramMatrix` and by
/// callers' own BLAS work).
public func setMatmulThreads(_ n: Int) { openblas_set_num_threads(Int32(min(4096, max(1, n)))) }

/// `out (cols, cols) = xᵀ · x` for `x (rows, cols)`: the Gram matrix, e.g. of
/// centred embedding rows for their covariance. One call on OpenBLAS's own
/// thread pool.
public func gramMatrix(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, cols: Int) {
    guard rows > 0, cols > 0 else { return }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cols), Int32(cols), Int32(rows),
                1, x, Int32(cols), x, Int32(cols), 0, out, Int32(cols))
}

/// `out (m, n) = a (m, k) · bᵀ` for `b (n, k)`, on the calling thread.
public func matmulTransposed(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                             m: Int, n: Int, k: Int) {
    gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: k, beta: 0, c: out, ldc: n)
}
