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

/// A Fisher–Yates permutation of `0..<n` (n < 2³²).
public func permutation(_ n: Int, rng: inout SplitMix64) -> [UInt32] {
    var p = (0..<n).map { UInt32(truncatingIfNeeded: $0) }
    if n < 2 { return p }
    for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(rng.next() % UInt64(i + 1))
        p.swapAt(i, j)
    }
    return p
}

/// Derives an independent seed from a base seed and stream identifiers.
public func mix(_ seed: UInt64, _ parts: UInt64...) -> UInt64 {
    var rng = SplitMix64(seed: seed)
    var h = rng.next()
    for p in parts {
        var r = SplitMix64(seed: h ^ p)
        h = r.next()
    }
    return h
}

/// The positions of a train and an eval part, each in order: eval is a
/// seeded choice of ⌈count × ratio⌉ (at least one, and one short of all at most).
public func seededSplit(count: Int, ratio: Double, seed: UInt64) -> (train: [UInt32], eval: [UInt32]) {
    guard ratio > 0, count > 1 else { return (Array(0..<UInt32(truncatingIfNeeded: count)), []) }
    let n = min(count - 1, max(1, Int((Double(count) * ratio).rounded(.up))))
    var rng = SplitMix64(seed: mix(seed, 0x4556_414C))
    let order = permutation(count, rng: &rng)
    var chosen = [UInt64](repeating: 0, count: (count + 63) / 64)
    for i in order.prefix(n) { chosen[Int(i) / 64] |= 1 << (UInt64(i) % 64) }
    var train: [UInt32] = [], eval: [UInt32] = []
    train.reserveCapacity(count - n)
    eval.reserveCapacity(n)
    for i in 0..<count {
        if chosen[i / 64] & (1 << (UInt64(i) % 64)) != 0 { eval.append(UInt32(i)) } else { train.append(UInt32(i)) }
    }
    return (train, eval)
}
