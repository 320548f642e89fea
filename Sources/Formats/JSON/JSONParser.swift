// JSON parsing through json-c, into `JSONValue`.

import CJSONC

/// Why a JSON document could not be read.
public struct JSONError: Error, CustomStringConvertible, Equatable {
    /// The file (or `"<memory>"`) being parsed.
    public let path: String
    /// What is wrong, e.g. "unexpected character at byte 17".
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): invalid JSON: \(reason)" }
}

/// Parses JSON documents with json-c.
public enum JSONParser {
    /// How strictly to parse.
    public enum Mode: Sendable {
        /// RFC 8259 only (no comments, no `NaN`, valid UTF-8), no duplicate keys
        /// at any level. Used for safetensors headers and shard indexes.
        case strict
        /// What Python's `json.loads` accepts, as transformers reads its files:
        /// `NaN`/`Infinity` allowed, the last of duplicate keys wins.
        case python
    }

    /// Parses a whole document; trailing whitespace is allowed, anything else
    /// after the value is an error.
    ///
    /// - Throws: `JSONError` naming `path`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String, mode: Mode = .python) throws -> JSONValue {
        guard bytes.count < Int(Int32.max) else { throw JSONError(path: path, reason: "document larger than 2 GB") }
        guard let tok = json_tokener_new_ex(256) else { throw JSONError(path: path, reason: "out of memory") }
        defer { json_tokener_free(tok) }
        var flags = Int32(JSON_TOKENER_VALIDATE_UTF8)
        if mode == .strict { flags |= Int32(JSON_TOKENER_STRICT) }
        json_tokener_set_flags(tok, flags)
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        let empty: [CChar] = [0]
        let obj: OpaquePointer? = empty.withUnsafeBufferPointer { e in
            json_tokener_parse_ex(tok, base ?? e.baseAddress!, Int32(bytes.count))
        }
        defer { if let obj { json_object_put(obj) } }
        let err = json_tokener_get_error(tok)
        if err != json_tokener_success {
            if err == json_tokener_continue || bytes.isEmpty {
                throw JSONError(path: path, reason: "unexpected end of document")
            }
            let at = json_tokener_get_parse_end(tok)
            throw JSONError(path: path, reason: "\(String(cString: json_tokener_error_desc(err))) at byte \(at)")
        }
        let end = json_tokener_get_parse_end(tok)
        var i = end
        while i < bytes.count {
            let c = bytes[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else {
                throw JSONError(path: path, reason: "unexpected data after the JSON value at byte \(i)")
            }
            i += 1
        }
        if mode == .strict {
            if let dup = DuplicateKeyScanner.firstDuplicate(in: UnsafeRawBufferPointer(rebasing: bytes[0..<end])) {
                if dup.utf8.contains(0) {
                    throw JSONError(path: path, reason: "key \(JSONValue.string(dup).serialized()) contains NUL")
                }
                throw JSONError(path: path, reason: "duplicate key \"\(dup)\"")
            }
        }
        let value = convert(obj)
        if mode == .strict, let bad = firstNonRFCNumber(value) {
            throw JSONError(path: path, reason: "\(bad) is not a JSON number")
        }
        return value
    }

    /// json-c accepts NaN and Infinity even in strict mode; RFC 8259 does not.
    private static func firstNonRFCNumber(_ v: JSONValue) -> String? {
        switch v {
        case let .number(n):
            return isRFCNumber(n.literal) ? nil : n.literal
        case let .array(items):
            for i in items { if let b = firstNonRFCNumber(i) { return b } }
            return nil
        case let .object(o):
            for (_, i) in o { if let b = firstNonRFCNumber(i) { return b } }
            return nil
        default:
            return nil
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    static func isRFCNumber(_ s: String) -> Bool {
        let b = Array(s.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            return i - start
        }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "0") { i += 1 } else if digits() == 0 { return false }
        if i < b.count, b[i] == UInt8(ascii: ".") { i += 1; if digits() == 0 { return false } }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            if digits() == 0 { return false }
        }
        return i == b.count
    }

    /// Parses a document held in an array.
    public static func parse(_ bytes: [UInt8], path: String, mode: Mode = .python) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0, path: path, mode: mode) }
    }

    /// Parses a string.
    public static func parse(_ text: String, path: String = "<memory>", mode: Mode = .python) throws -> JSONValue {
        try parse(Array(text.utf8), path: path, mode: mode)
    }

    private static func convert(_ obj: OpaquePointer?) -> JSONValue {
        guard let obj else { return .null }
        switch json_object_get_type(obj) {
        case json_type_null:
            return .null
        case json_type_boolean:
            return .bool(json_object_get_boolean(obj) != 0)
        case json_type_int where json_object_get_int64(obj) != Int64.max:
            // Integers print as their value (json-c parsed them exactly); the
            // maximum also stands for an unsigned 64-bit value, written below.
            return .number(JSONNumber(literal: String(json_object_get_int64(obj))))
        case json_type_int, json_type_double:
            // json-c keeps a parsed number's original text; PLAIN writes it back.
            let text = String(cString: json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN))
            return .number(JSONNumber(literal: text))
        case json_type_string:
            let len = Int(json_object_get_string_len(obj))
            let p = json_object_get_string(obj)!
            let s = p.withMemoryRebound(to: UInt8.self, capacity: len) {
                String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self)
            }
            return .string(s)
        case json_type_array:
            let n = json_object_array_length(obj)
            var items: [JSONValue] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(convert(json_object_array_get_idx(obj, i))) }
            return .array(items)
        case json_type_object:
            var result = JSONObject(capacity: Int(json_object_object_length(obj)))
            var it = json_object_iter_begin(obj)
            var end = json_object_iter_end(obj)
            while json_object_iter_equal(&it, &end) == 0 {
                let key = String(cString: json_object_iter_peek_name(&it))
                result[key] = convert(json_object_iter_peek_value(&it))
                json_object_iter_next(&it)
            }
            return .object(result)
        default:
            return .null
        }
    }
}

/// Finds repeated keys inside one object of a JSON document that is already
/// known to be well formed.
enum DuplicateKeyScanner {
    /// The first key that appears twice in one object (or contains NUL), decoded.
    static func firstDuplicate(in bytes: UnsafeRawBufferPointer) -> String? {
        // Each open container: nil for arrays, the keys seen so far for objects.
        var stack: [Set<ExactString>?] = []
        var expectKey = false
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "{"):
                stack.append([]); expectKey = true; i += 1
            case UInt8(ascii: "["):
                stack.append(nil); expectKey = false; i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast(); expectKey = false; i += 1
            case UInt8(ascii: ","):
                expectKey = (stack.last ?? nil) != nil; i += 1
            case UInt8(ascii: "\""):
                let (s, next) = decodeString(bytes, from: i)
                if expectKey, var keys = stack.last ?? nil {
                    // json-c cuts keys at NUL, so "a\u0000x" and "a\u0000y" would merge.
                    if keys.contains(ExactString(s)) || s.utf8.contains(0) { return s }
                    keys.insert(ExactString(s))
                    stack[stack.count - 1] = keys
                    expectKey = false
                }
                i = next
            default:
                i += 1
            }
        }
        return nil
    }

    /// Decodes the string starting at the quote at `start`; returns it and the
    /// index after the closing quote.
    private static func decodeString(_ b: UnsafeRawBufferPointer, from start: Int) -> (String, Int) {
        var i = start + 1
        var out: [UInt8] = []
        var pendingHigh: UInt32? = nil
        func append(_ scalar: UInt32) {
            if let u = Unicode.Scalar(scalar) { UTF8.encode(u) { out.append($0) } }
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c == UInt8(ascii: "\\"), i + 1 < b.count {
                let e = b[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard let v = JSONEscape.hex4(b, at: i) else { continue }
                    i += 4
                    if (0xD800...0xDBFF).contains(v) { pendingHigh = v; continue }
                    if (0xDC00...0xDFFF).contains(v), let h = pendingHigh {
                        append(0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00))
                    } else {
                        append(v)
                    }
                default: out.append(e)
                }
                pendingHigh = nil
                continue
            }
            out.append(c)
            i += 1
        }
        return (String(decoding: out, as: UTF8.self), i)
    }
}

/// Pieces of JSON string escapes, for the readers that scan JSON bytes
/// themselves.
public enum JSONEscape {
    /// The value of the four hexadecimal digits of a `\uXXXX` escape at `at`,
    /// or nil when they are not four hex digits.
    public static func hex4(_ b: UnsafeRawBufferPointer, at: Int) -> UInt32? {
        guard at >= 0, at + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[at + k]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }
}
