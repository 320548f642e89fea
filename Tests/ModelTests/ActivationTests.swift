// The branch-free erf and exp behind GELU against libm's erff and expf.

@testable import Model
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ActivationTests {
    @Test func fastErfMatchesLibm() {
        var worst: Float = 0
        var x: Float = -6
        while x <= 6 {
            worst = max(worst, abs(fastErf(x) - erff(x)))
            x += 1.0 / 4096
        }
        #expect(worst <= 5e-7, "max |fastErf − erff| = \(worst)")
        #expect(fastErf(0) == 0 && fastErf(10) == 1 && fastErf(-10) == -1)
    }

    @Test func fastExpMatchesLibm() {
        var worstUlps: Float = 0
        var x: Float = -87
        while x <= 0 {
            let e = expf(x)
            worstUlps = max(worstUlps, abs(fastExpNegative(x) - e) / e.ulp)
            x += 1.0 / 1024
        }
        #expect(worstUlps <= 1, "max |fastExpNegative − expf| = \(worstUlps) ulp")
        #expect(fastExpNegative(0) == 1 && fastExpNegative(-88) == 0 && fastExpNegative(-.infinity) == 0)
    }
}
