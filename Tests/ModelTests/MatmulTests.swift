// The matrix products (each kernel, and the threaded splits) against the naive reference.

import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Model
import CKernels

/// Cancels the current test case, naming the kernel, when this CPU cannot run
/// it: the report lists it as skipped rather than leaving it out.
func skipUnlessSupported(_ kernel: SgemmKernel) throws {
    guard SgemmKernel.isSupported(kernel) else {
        print("skipped: the \(kernel.rawValue) kernel needs instructions this CPU lacks")
        try Test.cancel("the \(kernel.rawValue) kernel needs instructions this CPU lacks")
    }
}

@Suite struct MatmulTests {
    /// Every kernel this machine runs, against the naive product: both
    /// transpositions, strides wider than the rows, edge tiles on every side,
    /// alpha, and beta 0 (c not read: it holds NaN), 1 and 0.3.
    @Test(arguments: SgemmKernel.allCases)
    func sgemmAgreesWithNaive(kernel: SgemmKernel) throws {
        try skipUnlessSupported(kernel)
        var seed: UInt64 = 42
        func rnd() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2000) / 1000 - 1 }
        let shapes = [(1, 1, 1), (7, 5, 3), (33, 17, 64), (128, 96, 40), (6, 64, 192), (13, 200, 385), (250, 130, 70), (5, 3100, 9), (241, 65, 193), (240, 64, 384), (145, 17, 257), (150, 33, 520)]
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (0.7, 1), (0.125, 0.3)] {
                    let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2
                    let a = (0..<((ta ? k : m) * lda)).map { _ in rnd() }, b = (0..<((tb ? n : k) * ldb)).map { _ in rnd() }
                    // Columns past n are sentinels no product may touch.
                    var c1 = (0..<(m * ldc)).map { $0 % ldc >= n ? 42 : (beta == 0 ? Float.nan : rnd()) }
                    var c2 = c1
                    a.withUnsafeBufferPointer { ap in
                        b.withUnsafeBufferPointer { bp in
                            sgemm(kernel, transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: lda,
                                  b: bp.baseAddress!, ldb: ldb, beta: beta, c: &c1, ldc: ldc)
                        }
                    }
                    naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                              beta: beta, c: &c2, ldc: ldc, bf16: kernel == .avx512bf16)
                    for i in 0..<m {
                        for j in n..<ldc { c2[i * ldc + j] = 42 }
                    }
                    let diff = zip(c1, c2).map { abs($0 - $1) }.max()!
                    #expect(diff < 1e-4 * Float(max(1, k / 64)), "\(kernel) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) beta=\(beta): \(diff)")
                }
            }
        }
    }

    /// Random shapes around the tile and block edges, with every operand
    /// ending exactly at an inaccessible page: a read or write past the last
    /// element the product needs would crash the test.
    @Test(arguments: SgemmKernel.allCases)
    func noAccessPastTheOperands(kernel: SgemmKernel) throws {
        try skipUnlessSupported(kernel)
        let dims = [1, 5, 6, 7, 9, 15, 16, 17, 63, 64, 65, 145, 191, 193, 241, 257]
        var state: UInt64 = 99
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        var runs = 0
        while runs < 120 {
            let m = dims[next(dims.count)], n = dims[next(dims.count)], k = dims[next(dims.count)]
            guard m * n * k <= 300_000 else { continue }
            runs += 1
            let ta = next(2) == 1, tb = next(2) == 1
            let lda = (ta ? m : k) + next(3), ldb = (tb ? k : n) + next(3), ldc = n + next(3)
            let beta: Float = [0, 1, 0.25][next(3)]
            let a = try GuardedFloats((ta ? (k - 1) * lda + m : (m - 1) * lda + k))
            let b = try GuardedFloats((tb ? (n - 1) * ldb + k : (k - 1) * ldb + n))
            let c = try GuardedFloats((m - 1) * ldc + n)
            for i in 0..<a.count { a.base[i] = Float(next(2000) - 1000) / 1000 }
            for i in 0..<b.count { b.base[i] = Float(next(2000) - 1000) / 1000 }
            for i in 0..<c.count { c.base[i] = i % ldc >= n ? 42 : (beta == 0 ? .nan : Float(next(2000) - 1000) / 1000) }
            var expected = Array(UnsafeBufferPointer(start: c.base, count: c.count))
            naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a.base, lda: lda, b: b.base, ldb: ldb,
                      beta: beta, c: &expected, ldc: ldc, bf16: kernel == .avx512bf16)
            for i in 0..<c.count where i % ldc >= n { expected[i] = 42 }
            sgemm(kernel, transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a.base, lda: lda, b: b.base, ldb: ldb,
                  beta: beta, c: c.base, ldc: ldc)
            let diff = (0..<c.count).map { abs(c.base[$0] - expected[$0]) }.max()!
            #expect(diff < 1e-4 * Float(k / 64 + 1), "\(kernel) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) beta=\(beta): \(diff)")
        }
    }

    /// A product whose b was packed once (a layer's weight) equals the naive
    /// product, over whole and partial column ranges.
    @Test(arguments: SgemmKernel.allCases.filter { $0 != .openblas })
    func prepackedProductsAgree(kernel: SgemmKernel) throws {
        try skipUnlessSupported(kernel)
        let id = kernel.cKernel!, panel = ckpt_sgemm_panel_width(id)
        var seed: UInt64 = 11
        func rnd() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2000) / 1000 - 1 }
        for (m, n, k, tb) in [(7, 70, 9, true), (150, 200, 400, true), (13, 3100, 33, false), (64, 128, 385, false)] {
            let ldb = (tb ? k : n) + 1
            let a = (0..<(m * k)).map { _ in rnd() }, b = (0..<((tb ? n : k) * ldb)).map { _ in rnd() }
            let floats = ckpt_sgemm_packed_floats(id, k, n)
            let packed = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64).bindMemory(to: Float.self, capacity: floats)
            defer { packed.deallocate() }
            #expect(ckpt_sgemm_pack(id, tb ? 1 : 0, k, n, b, ldb, 0, min(n, panel), packed) == 0)
            #expect(ckpt_sgemm_pack(id, tb ? 1 : 0, k, n, b, ldb, min(n, panel), n, packed) == 0, "packed in two column ranges")
            #expect(ckpt_sgemm_pack(id, tb ? 1 : 0, k, n, b, ldb, 1, n, packed) == -1)
            var expected = [Float](repeating: 0, count: m * n)
            naiveGemm(transA: false, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: k, b: b, ldb: ldb,
                      beta: 0, c: &expected, ldc: n, bf16: kernel == .avx512bf16)
            var c = [Float](repeating: .nan, count: m * n)
            // Two column ranges, split at a whole panel.
            let split = min(n, panel * max(1, n / (2 * panel)))
            for (j0, j1) in [(0, split), (split, n)] where j0 < j1 {
                let status = c.withUnsafeMutableBufferPointer {
                    ckpt_sgemm_packed(id, 0, m, n, k, 0.5, a, k, packed, j0, j1, 0, $0.baseAddress! + j0, n)
                }
                #expect(status == 0)
            }
            #expect(ckpt_sgemm_packed(id, 0, m, n, k, 0.5, a, k, packed, 1, n, 0, &c, n) == -1, "a range not on a panel is refused")
            let diff = zip(c, expected).map { abs($0 - $1) }.max()!
            #expect(diff < 1e-4 * Float(k / 64 + 1), "\(kernel) m=\(m) n=\(n) k=\(k): \(diff)")
        }
    }

    /// The threaded splits (by rows, with `b` packed once for both threads,
    /// then by columns) give the naive product, with every kernel, in every
    /// transposition, and through `linear` with a bias.
    @Test(arguments: SgemmKernel.allCases)
    func threadedSplitsAgree(kernel: SgemmKernel) throws {
        try skipUnlessSupported(kernel)
        var seed: UInt64 = 7
        func rnd() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2000) / 1000 - 1 }
        let bf16 = kernel == .avx512bf16
        for (m, n, k) in [(300, 70, 50), (20, 300, 50), (257, 130, 400)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = (0..<(m * k)).map { _ in rnd() }, b = (0..<(n * k)).map { _ in rnd() }
                let lda = ta ? m : k, ldb = tb ? k : n
                var c1 = [Float](repeating: .nan, count: m * n), c2 = c1
                gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &c1, ldc: n,
                     threads: 2, kernel: kernel)
                naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: &c2, ldc: n,
                          bf16: bf16)
                let diff = zip(c1, c2).map { abs($0 - $1) }.max()!
                #expect(diff < 1e-4 * Float(k / 64 + 1), "\(kernel) m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb): \(diff)")
            }
            let x = (0..<(m * k)).map { _ in rnd() }, w = (0..<(n * k)).map { _ in rnd() }, bias = (0..<n).map { _ in rnd() }
            var out = [Float](repeating: .nan, count: m * n), expected = out
            linear(out: &out, ldOut: n, input: x, ldIn: k, weight: w, bias: bias, rows: m, outFeatures: n, inFeatures: k,
                   threads: 2, kernel: kernel)
            naiveGemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: w, ldb: k, beta: 0, c: &expected, ldc: n,
                      bf16: bf16)
            for i in 0..<(m * n) { expected[i] += bias[i % n] }
            let diff = zip(out, expected).map { abs($0 - $1) }.max()!
            #expect(diff < 1e-4 * Float(k / 64 + 1), "linear \(kernel) m=\(m) n=\(n) k=\(k): \(diff)")
        }
    }

    @Test func linearAddsBias() {
        let x: [Float] = [1, 2, 3, 4]          // (2, 2)
        let w: [Float] = [1, 0, 0, 1, 1, 1]    // (3, 2)
        let bias: [Float] = [10, 20, 30]
        var out = [Float](repeating: 0, count: 6)
        linear(out: &out, ldOut: 3, input: x, ldIn: 2, weight: w, bias: bias, rows: 2, outFeatures: 3, inFeatures: 2)
        #expect(out == [11, 22, 33, 13, 24, 37])
    }
}

/// `count` floats ending exactly where an inaccessible page begins (with
/// another one before them).
final class GuardedFloats {
    let base: UnsafeMutablePointer<Float>
    let count: Int
    private let mapping: UnsafeMutableRawPointer
    private let length: Int

    init(_ count: Int) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = count * 4, pages = (bytes + page - 1) / page
        length = (pages + 2) * page
        guard let m = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), m != MAP_FAILED else {
            throw GuardError()
        }
        mapping = m
        guard mprotect(m, page, PROT_NONE) == 0, mprotect(m + (pages + 1) * page, page, PROT_NONE) == 0 else { throw GuardError() }
        base = (m + (pages + 1) * page - bytes).bindMemory(to: Float.self, capacity: count)
        self.count = count
    }

    deinit { munmap(mapping, length) }

    struct GuardError: Error {}
}
