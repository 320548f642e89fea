// Strings compared as Python and Rust compare them.

/// A `String` compared and hashed by its exact Unicode scalars (its UTF-8
/// bytes), as Python's `str` and Rust's `String` compare. Swift's own `String`
/// equality is canonical equivalence: "é" (U+00E9) equals "e\u{301}", so a
/// dictionary keyed by `String` would merge two distinct vocabulary tokens or
/// JSON keys.
public struct ExactString: Hashable, Sendable, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }

    public static func == (a: ExactString, b: ExactString) -> Bool {
        a.string.utf8.elementsEqual(b.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public var description: String { string }
}
