// Matrix products. Every product in the model goes through `sgemm`, which
// runs ckpt's AVX-512 kernel (Sources/CKernels) on CPUs that have AVX-512F and
// OpenBLAS's cblas_sgemm elsewhere; the naive version beside it is the
// reference the tests compare both against.
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
/// AVX-512F, else ``openblas``. The environment variable `CKPT_SGEMM=openblas`
/// forces OpenBLAS (to compare the two, or to match another machine's
/// rounding). Products run single-threaded inside; ckpt splits them across
/// cores itself.
public enum SgemmKernel: String, Sendable, CaseIterable {
    /// ckpt's blocked GEMM with an AVX-512F micro-kernel.
    case avx512
    /// `cblas_sgemm` from the system OpenBLAS.
    case openblas

    /// Whether this machine can run `kernel`.
    public static func isSupported(_ kernel: SgemmKernel) -> Bool {
        kernel == .openblas || ckpt_sgemm_avx512_supported() != 0
    }

    /// The kernel this process uses.
    public static let current: SgemmKernel = {
        if let v = getenv("CKPT_SGEMM"), String(cString: v).lowercased() == "openblas" { return .openblas }
        return isSupported(.avx512) ? .avx512 : .openblas
    }()
}

/// `c (M, N) = alpha · op(a) · op(b) + beta · c` on the calling thread, through `kernel`.
@inline(__always)
func sgemm(_ kernel: SgemmKernel = .current, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if kernel == .avx512,
       ckpt_sgemm_avx512(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0 {
        return
    }
    // OpenBLAS, also when the kernel could not allocate its packing buffers.
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// `out (M, N) = a (M, K) · bᵀ` where `b` is `(N, K)` — a Linear layer with
/// PyTorch's `(out_features, in_features)` weight — plus `bias (N)` if given.
/// `beta = 1` accumulates into `out`.
@inline(__always)
func linear(out: UnsafeMutablePointer<Float>, ldOut: Int,
            input: UnsafePointer<Float>, ldIn: Int,
            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
            rows m: Int, outFeatures n: Int, inFeatures k: Int, accumulate: Bool = false, threads: Int = 1) {
    guard m > 0 && n > 0 else { return }
    if threads > 1 && m >= 64 * threads {
        // Rows split among the workers, each product single-threaded (BLAS
        // must be at one thread): no BLAS thread pool spinning between calls.
        nonisolated(unsafe) let o = out, x = input, w = weight, b = bias
        let chunk = (m + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * chunk, hi = min(m, lo + chunk)
            if lo < hi {
                linear(out: o + lo * ldOut, ldOut: ldOut, input: x + lo * ldIn, ldIn: ldIn, weight: w, bias: b,
                       rows: hi - lo, outFeatures: n, inFeatures: k, accumulate: accumulate)
            }
        }
        return
    }
    if threads > 1 && n >= 64 * threads {
        // Few rows: split the output features instead.
        nonisolated(unsafe) let o = out, x = input, w = weight, b = bias
        let chunk = (n + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * chunk, hi = min(n, lo + chunk)
            if lo < hi {
                linear(out: o + lo, ldOut: ldOut, input: x, ldIn: ldIn, weight: w + lo * k, bias: b.map { $0 + lo },
                       rows: m, outFeatures: hi - lo, inFeatures: k, accumulate: accumulate)
            }
        }
        return
    }
    if let bias, !accumulate {
        for r in 0..<m { (out + r * ldOut).update(from: bias, count: n) }
    }
    sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: input, lda: ldIn, b: weight, ldb: k,
          beta: (bias != nil || accumulate) ? 1 : 0, c: out, ldc: ldOut)
    if let bias, accumulate {
        for r in 0..<m {
            let row = out + r * ldOut
            for c in 0..<n { row[c] += bias[c] }
        }
    }
}

/// `c (M, N) = alpha · op(a) · op(b) + beta · c`, row-major, with leading dimensions.
@inline(__always)
func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, threads: Int = 1, kernel: SgemmKernel = .current) {
    guard m > 0 && n > 0 else { return }
    if threads > 1 && m >= 64 * threads {
        // Rows of c split among the workers, each product single-threaded.
        nonisolated(unsafe) let ap = a, bp = b, cp = c
        let chunk = (m + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * chunk, hi = min(m, lo + chunk)
            if lo < hi {
                gemm(transA: transA, transB: transB, m: hi - lo, n: n, k: k, alpha: alpha, a: transA ? ap + lo : ap + lo * lda,
                     lda: lda, b: bp, ldb: ldb, beta: beta, c: cp + lo * ldc, ldc: ldc, kernel: kernel)
            }
        }
        return
    }
    if threads > 1 && n >= 64 * threads {
        // Few rows: split the columns of c instead.
        nonisolated(unsafe) let ap = a, bp = b, cp = c
        let chunk = (n + threads - 1) / threads
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let lo = t * chunk, hi = min(n, lo + chunk)
            if lo < hi {
                gemm(transA: transA, transB: transB, m: m, n: hi - lo, k: k, alpha: alpha, a: ap, lda: lda,
                     b: transB ? bp + lo * ldb : bp + lo, ldb: ldb, beta: beta, c: cp + lo, ldc: ldc, kernel: kernel)
            }
        }
        return
    }
    sgemm(kernel, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
          beta: beta, c: c, ldc: ldc)
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

/// The same product without BLAS, in Double accumulation: the reference for tests.
func naiveGemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
               a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
               beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k {
                let x = transA ? a[p * lda + i] : a[i * lda + p]
                let y = transB ? b[j * ldb + p] : b[p * ldb + j]
                s += Double(x) * Double(y)
            }
            c[i * ldc + j] = alpha * Float(s) + (beta == 0 ? 0 : beta * c[i * ldc + j])
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
