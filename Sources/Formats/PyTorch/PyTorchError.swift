// PyTorchError — PyTorch checkpoints that cannot be read safely.

/// A PyTorch `.bin`/`.pt` file ckpt refuses.
public enum PyTorchError: Error, Equatable, CustomStringConvertible {
    /// The zip container is malformed.
    case zip(path: String, reason: String)
    /// The pickle is malformed or asks for something refused.
    case pickle(path: String, reason: String)
    /// The structure is not a state dict ckpt can read.
    case layout(path: String, reason: String)
    /// A tensor's view does not fit its storage, or a storage its bytes.
    case storage(path: String, tensor: String, reason: String)

    public var description: String {
        switch self {
        case let .zip(p, r): return "\(p): bad PyTorch zip archive: \(r)"
        case let .pickle(p, r): return "\(p): refused pickle: \(r)"
        case let .layout(p, r): return "\(p): \(r)"
        case let .storage(p, t, r): return "\(p): tensor '\(t)': \(r)"
        }
    }
}
