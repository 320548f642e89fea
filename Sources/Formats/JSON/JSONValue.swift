// JSONValue — the one JSON value type of ckpt: ordered objects, numbers kept as
// their literal text, and a serializer that writes what Python's json writes.

/// A JSON number, kept as the text it was written with so it round-trips
/// verbatim.
public struct JSONNumber: Sendable, Equatable, CustomStringConvertible {
    /// The number's JSON text (`"1e-12"`, `"30522"`).
    public let literal: String

    /// Keeps `literal` as it is.
    public init(literal: String) { self.literal = literal }
    /// An integer number.
    public init(_ value: Int) { self.literal = String(value) }
    /// A floating-point number, written the way Python's `repr` writes floats.
    public init(_ value: Double) { self.literal = JSONNumber.format(value) }

    /// The value as a signed 64-bit integer, if the literal is one.
    public var int64: Int64? { Int64(literal) }
    /// The value as an unsigned 64-bit integer, if the literal is one.
    public var uint64: UInt64? { UInt64(literal) }
    /// The value as a `Double`.
    public var double: Double? {
        switch literal {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(literal)
        }
    }

    public var description: String { literal }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-Infinity" : "Infinity" }
        var s = "\(v)"
        // Swift writes 1e-05 style exponents like Python except for a missing
        // zero padding; Python pads the exponent to two digits.
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mantissa = String(s[..<e])
            var exp = String(s[s.index(after: e)...])
            var sign = "+"
            if exp.hasPrefix("-") { sign = "-"; exp.removeFirst() } else if exp.hasPrefix("+") { exp.removeFirst() }
            if exp.count < 2 { exp = "0" + exp }
            if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
            s = mantissa + "e" + sign + exp
        }
        return s
    }
}

/// A JSON object whose keys keep their insertion order. Keys are compared by
/// their exact scalars, as Python compares them ("é" and "e\u{301}" are two
/// keys; see `ExactString`).
public struct JSONObject: Sendable, Equatable, Sequence {
    /// Members in order.
    private var entries: [(key: String, value: JSONValue)] = []
    /// Position of each key in `entries`.
    private var index: [ExactString: Int] = [:]

    /// An empty object.
    public init() {}

    /// An empty object with room for `capacity` members.
    public init(capacity: Int) {
        entries.reserveCapacity(capacity)
        index.reserveCapacity(capacity)
    }

    /// An object with these members, in order (a repeated key keeps its first
    /// position and its last value).
    public init(_ members: [(String, JSONValue)]) {
        self.init(capacity: members.count)
        for (k, v) in members { self[k] = v }
    }

    /// Number of members.
    public var count: Int { entries.count }

    /// The keys, in order.
    public var keys: [String] { entries.map(\.key) }

    /// Reads or sets a member; setting `nil` removes it. A new key is appended.
    public subscript(key: String) -> JSONValue? {
        get { index[ExactString(key)].map { entries[$0].value } }
        set {
            let exact = ExactString(key)
            if let v = newValue {
                if let i = index[exact] {
                    entries[i].value = v
                } else {
                    index[exact] = entries.count
                    entries.append((key, v))
                }
            } else if let i = index.removeValue(forKey: exact) {
                entries.remove(at: i)
                for j in i..<entries.count { index[ExactString(entries[j].key)] = j }
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        entries.makeIterator()
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { ExactString($0.key) == ExactString($1.key) && $0.value == $1.value }
    }
}

/// A JSON value.
///
/// Not `indirect` (it recurses through arrays): an `indirect` enum keeps its
/// payloads in boxes whose addresses carry the case in spare bits, which
/// LeakSanitizer cannot follow, so values kept to a process's exit were
/// reported as leaks (docs/fuzzing.md, finding 10; `LeakVisibilityTests`).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    // MARK: Typed access

    /// The string, if this is a string.
    public var string: String? { if case let .string(s) = self { return s }; return nil }
    /// The Boolean, if this is a Boolean.
    public var bool: Bool? { if case let .bool(b) = self { return b }; return nil }
    /// The integer, if this is a number written as an integer within `Int`.
    public var int: Int? { if case let .number(n) = self, let v = n.int64 { return Int(exactly: v) }; return nil }
    /// The number as `Double`, if this is a number.
    public var double: Double? { if case let .number(n) = self { return n.double }; return nil }
    /// The elements, if this is an array.
    public var array: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    /// The members, if this is an object.
    public var object: JSONObject? { if case let .object(o) = self { return o }; return nil }
    /// True for `null`.
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// Member lookup on objects (`nil` otherwise).
    public subscript(key: String) -> JSONValue? { object?[key] }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    // MARK: Writing

    /// Serializes the value.
    ///
    /// - Parameters:
    ///   - indent: `nil` writes compactly with no spaces (`{"a":1}`), as
    ///     safetensors headers are written; a number writes Python's
    ///     `json.dumps(indent=N)` layout.
    ///   - sortKeys: sort object keys, as Python's `sort_keys=True`.
    ///   - asciiOnly: escape non-ASCII as `\uXXXX`, as Python's default
    ///     `ensure_ascii=True`.
    public func serialized(indent: Int? = nil, sortKeys: Bool = false, asciiOnly: Bool = false) -> String {
        var out = ""
        write(into: &out, indent: indent, level: 0, sortKeys: sortKeys, asciiOnly: asciiOnly)
        return out
    }

    private func write(into out: inout String, indent: Int?, level: Int, sortKeys: Bool, asciiOnly: Bool) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += n.literal
        case let .string(s): JSONValue.writeString(s, into: &out, asciiOnly: asciiOnly)
        case let .array(items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                item.write(into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, asciiOnly: asciiOnly)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "]"
        case let .object(obj):
            if obj.count == 0 { out += "{}"; return }
            out += "{"
            let keys = sortKeys ? obj.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : obj.keys
            for (i, key) in keys.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                JSONValue.writeString(key, into: &out, asciiOnly: asciiOnly)
                out += indent == nil ? ":" : ": "
                obj[key]!.write(into: &out, indent: indent, level: level + 1, sortKeys: sortKeys, asciiOnly: asciiOnly)
            }
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String, asciiOnly: Bool) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || (asciiOnly && scalar.value > 0x7F) {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }
}
