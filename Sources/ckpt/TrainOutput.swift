// What `ckpt train` needs around the trainer: the Ctrl-C flag and the number
// formats of its progress lines.

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C during training: the first SIGINT asks the loop to save and stop; a
/// second one (or SIGTERM) exits at once, removing partial outputs.
final class StopFlag: @unchecked Sendable {
    static let shared = StopFlag()
    private let lock = NSLockLike()
    private var flag = false
    private var armed = false
    var requested: Bool { lock.run { flag } }
    func armForTraining() { lock.run { armed = true } }
    /// True when the signal was taken as a stop request.
    func request() -> Bool {
        lock.run {
            if armed && !flag { flag = true; return true }
            return false
        }
    }
}

final class NSLockLike: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func run<R>(_ body: () -> R) -> R { pthread_mutex_lock(&m); defer { pthread_mutex_unlock(&m) }; return body() }
}

func fmt(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "nan" }
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (v * p).rounded() / p
    var s = String(r)
    if let dot = s.firstIndex(of: "."), s.distance(from: dot, to: s.endIndex) - 1 < digits {
        s += String(repeating: "0", count: digits - (s.distance(from: dot, to: s.endIndex) - 1))
    }
    return s
}

func sci(_ v: Double) -> String {
    guard v != 0 else { return "0" }
    let e = Int(floor(log10(abs(v))))
    var m = v / pow(10, Double(e))
    m = (m * 100).rounded() / 100
    return "\(m)e\(e)"
}

func duration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600 ? "\(t / 3600)h\(t % 3600 / 60)m" : t >= 60 ? "\(t / 60)m\(t % 60)s" : "\(t)s"
}
