// The branch-free erf behind GELU against libm's erff.

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
}
