// SplitMix64 — a small seeded generator (no global state), with normals by
// Box–Muller.

#if canImport(Glibc)
import Glibc
#endif

/// A seeded pseudo-random generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    private var spare: Float? = nil

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    public mutating func nextUniform() -> Float {
        Float((next() >> 40) + 1) / Float(1 << 24 + 1)
    }

    /// Standard normal.
    public mutating func nextNormal() -> Float {
        if let s = spare { spare = nil; return s }
        let u1 = nextUniform(), u2 = nextUniform()
        let r = (-2 * logf(u1)).squareRoot()
        spare = r * sinf(2 * Float.pi * u2)
        return r * cosf(2 * Float.pi * u2)
    }
}

/// A mutex for the encoder's buffer cache.
final class ScratchLock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() { m = .allocate(capacity: 1); pthread_mutex_init(m, nil) }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    func run<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return body()
    }
}
