// TokenizerError — tokenizer files that cannot be loaded.

/// A tokenizer that cannot be built from its files.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// A file is malformed.
    case invalid(path: String, reason: String)
    /// A file uses a component ckpt does not implement (named).
    case unsupported(path: String, what: String)
    /// The directory has no tokenizer files.
    case missing(path: String)

    public var description: String {
        switch self {
        case let .invalid(p, reason): return "\(p): invalid tokenizer: \(reason)"
        case let .unsupported(p, what): return "\(p): unsupported tokenizer component: \(what)"
        case let .missing(p): return "\(p): no tokenizer.json or vocab.txt"
        }
    }
}
