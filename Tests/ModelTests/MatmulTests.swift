// The BLAS path against the naive reference.

import Testing
@testable import Model

@Suite struct MatmulTests {
    @Test func sgemmAgreesWithNaive() {
        var seed: UInt64 = 42
        func rnd() -> Float { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: seed >> 11) % 2000) / 1000 - 1 }
        for (m, n, k) in [(1, 1, 1), (7, 5, 3), (33, 17, 64), (128, 96, 40)] {
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let a = (0..<(m * k)).map { _ in rnd() }, b = (0..<(k * n)).map { _ in rnd() }
                var c1 = [Float](repeating: 0.5, count: m * n), c2 = c1
                let lda = ta ? m : k, ldb = tb ? k : n
                gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb, beta: 0.3, c: &c1, ldc: n)
                naiveGemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb, beta: 0.3, c: &c2, ldc: n)
                let diff = zip(c1, c2).map { abs($0 - $1) }.max()!
                #expect(diff < 1e-4, "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb): \(diff)")
            }
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
