// A dedicated reader for the `model.vocab` object of a tokenizer.json.
//
// The vocabulary is nearly all of the file (30,522 members of a 466 kB BERT
// tokenizer.json) and costs most of a generic parse: a json-c object per
// member, then a value tree. This reader takes the vocabulary straight from the
// bytes into (token, id) pairs and hands json-c the rest of the document, with
// the vocabulary's bytes turned into spaces (offsets in json-c's errors stay
// those of the file).
//
// It reads only the plain form: RFC 8259 strings (escapes decoded, valid
// UTF-8, no raw control characters, no lone surrogates, no NUL) and
// non-negative integer ids. For anything else it returns nil and the caller
// parses the whole file generically, so what is accepted and every error
// message stay those of the generic path.

import Formats

enum VocabularyReader {
    /// What the reader took out of a tokenizer.json.
    struct Split {
        /// The document with the vocabulary's members turned into spaces.
        var document: [UInt8]
        /// The vocabulary's members in file order.
        var entries: [(String, Int)]
        /// Token → id.
        var ids: [ExactString: Int]
    }

    /// The vocabulary, and the document without it; nil when the vocabulary
    /// is not in plain form, repeats a token, or cannot be located
    /// unambiguously.
    static func split(_ bytes: [UInt8]) -> Split? {
        var found: (span: Range<Int>, entries: [(String, Int)], ids: [ExactString: Int])? = nil
        let ok: Bool = bytes.withUnsafeBufferPointer { b in
            var i = 0
            skipSpace(b, &i)
            var sawModel = false
            // The top-level object, then `model`'s, then `vocab`'s members.
            return walkObject(b, at: i) { key, start in
                guard isKey(b, key, "model") else { return skipValue(b, start) }
                guard !sawModel else { return nil }
                sawModel = true
                return walkObject(b, at: start) { key, start in
                    guard isKey(b, key, "vocab") else { return skipValue(b, start) }
                    guard found == nil, let (entries, ids, end) = read(b, at: start) else { return nil }
                    found = (start..<end, entries, ids)
                    return end
                }
            } != nil
        }
        guard ok, let found else { return nil }
        var document = bytes
        for i in (found.span.lowerBound + 1)..<(found.span.upperBound - 1) { document[i] = 0x20 }
        return Split(document: document, entries: found.entries, ids: found.ids)
    }

    private static let space: UInt8 = 0x20, tab: UInt8 = 0x09, lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
    private static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    private static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    private static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    private static let colon = UInt8(ascii: ":"), comma = UInt8(ascii: ",")

    @inline(__always)
    private static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count, b[i] == space || b[i] == lf || b[i] == cr || b[i] == tab { i += 1 }
    }

    /// The end (past the closing quote) of the string starting at `i`.
    private static func skipString(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        var j = i + 1
        while j < b.count {
            if b[j] == backslash { j += 2; continue }
            if b[j] == quote { return j + 1 }
            j += 1
        }
        return nil
    }

    /// The end of the value starting at `i` (a well-formed document is
    /// assumed; json-c checks it afterwards). Comments make it give up.
    private static func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        guard i < b.count else { return nil }
        switch b[i] {
        case quote:
            return skipString(b, i)
        case openBrace, openBracket:
            var depth = 0, j = i
            while j < b.count {
                switch b[j] {
                case quote:
                    guard let e = skipString(b, j) else { return nil }
                    j = e
                    continue
                case openBrace, openBracket: depth += 1
                case closeBrace, closeBracket:
                    depth -= 1
                    if depth == 0 { return j + 1 }
                case UInt8(ascii: "/"): return nil
                default: break
                }
                j += 1
            }
            return nil
        default:
            var j = i
            while j < b.count, b[j] != comma, b[j] != closeBrace, b[j] != closeBracket,
                  b[j] != space, b[j] != lf, b[j] != cr, b[j] != tab {
                if b[j] == UInt8(ascii: "/") { return nil }
                j += 1
            }
            return j > i ? j : nil
        }
    }

    /// Whether the string token at `range` (quotes included) has exactly the bytes of `key`.
    private static func isKey(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ key: StaticString) -> Bool {
        guard range.count == key.utf8CodeUnitCount + 2 else { return false }
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        for n in 0..<k.count where b[range.lowerBound + 1 + n] != k[n] { return false }
        return true
    }

    /// Walks the members of the object at `i`: `visit` gets each key's range
    /// (quotes included) and where its value starts, and returns where the
    /// value ends (nil to stop). The end of the object, or nil.
    private static func walkObject(_ b: UnsafeBufferPointer<UInt8>, at i: Int,
                                   _ visit: (Range<Int>, Int) -> Int?) -> Int? {
        guard i < b.count, b[i] == openBrace else { return nil }
        var j = i + 1
        skipSpace(b, &j)
        if j < b.count, b[j] == closeBrace { return j + 1 }
        while true {
            guard j < b.count, b[j] == quote, let keyEnd = skipString(b, j) else { return nil }
            let key = j..<keyEnd
            j = keyEnd
            skipSpace(b, &j)
            guard j < b.count, b[j] == colon else { return nil }
            j += 1
            skipSpace(b, &j)
            guard let valueEnd = visit(key, j) else { return nil }
            j = valueEnd
            skipSpace(b, &j)
            guard j < b.count else { return nil }
            if b[j] == closeBrace { return j + 1 }
            guard b[j] == comma else { return nil }
            j += 1
            skipSpace(b, &j)
        }
    }

    /// The members of the plain object at `start`, and its end; nil when it
    /// is not an object, a member is not plain, or a token repeats.
    private static func read(_ b: UnsafeBufferPointer<UInt8>, at start: Int) -> ([(String, Int)], [ExactString: Int], Int)? {
        guard start < b.count, b[start] == openBrace else { return nil }
        var entries: [(String, Int)] = []
        var ids: [ExactString: Int] = [:]
        // BERT's vocabulary averages 15 bytes a member.
        let estimate = min(1 << 22, b.count / 12)
        entries.reserveCapacity(estimate)
        ids.reserveCapacity(estimate)
        var j = start + 1
        var scratch: [UInt8] = []
        skipSpace(b, &j)
        if j < b.count, b[j] == closeBrace { return (entries, ids, j + 1) }
        while true {
            guard j < b.count, b[j] == quote, let token = readString(b, &j, &scratch) else { return nil }
            skipSpace(b, &j)
            guard j < b.count, b[j] == colon else { return nil }
            j += 1
            skipSpace(b, &j)
            var id = 0, digits = 0
            while j < b.count, b[j] >= 0x30, b[j] <= 0x39 {
                id = id * 10 + Int(b[j] - 0x30)
                digits += 1
                j += 1
                if digits > 9 { return nil }
            }
            // One digit, or no leading zero (RFC 8259); fractions and exponents
            // are left to the generic path.
            guard digits >= 1, digits == 1 || b[j - digits] != 0x30 else { return nil }
            // A repeated token is left to the generic path.
            guard ids.updateValue(id, forKey: ExactString(token)) == nil else { return nil }
            entries.append((token, id))
            skipSpace(b, &j)
            guard j < b.count else { return nil }
            if b[j] == closeBrace { return (entries, ids, j + 1) }
            guard b[j] == comma else { return nil }
            j += 1
            skipSpace(b, &j)
        }
    }

    /// Decodes the string at `j` (its opening quote) and moves `j` past it.
    private static func readString(_ b: UnsafeBufferPointer<UInt8>, _ j: inout Int, _ scratch: inout [UInt8]) -> String? {
        let end = b.count
        let start = j + 1
        var k = start
        var plain = true
        while k < end, b[k] != quote {
            let c = b[k]
            if c < 0x20 { return nil }
            if c == backslash || c >= 0x80 { plain = false; break }
            k += 1
        }
        if plain {
            guard k < end else { return nil }
            j = k + 1
            return String(decoding: UnsafeBufferPointer(rebasing: b[start..<k]), as: UTF8.self)
        }
        // Escapes or non-ASCII bytes: decode into scratch, then validate.
        scratch.removeAll(keepingCapacity: true)
        k = start
        while true {
            guard k < end else { return nil }
            let c = b[k]
            if c == quote { break }
            if c < 0x20 { return nil }
            if c != backslash {
                scratch.append(c)
                k += 1
                continue
            }
            guard k + 1 < end else { return nil }
            let e = b[k + 1]
            k += 2
            switch e {
            case quote, backslash, UInt8(ascii: "/"): scratch.append(e)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                guard var unit = JSONEscape.hex4(UnsafeRawBufferPointer(b), at: k) else { return nil }
                k += 4
                if unit >= 0xD800 && unit < 0xDC00 {
                    guard k + 6 <= end, b[k] == backslash, b[k + 1] == UInt8(ascii: "u"),
                          let low = JSONEscape.hex4(UnsafeRawBufferPointer(b), at: k + 2), low >= 0xDC00, low < 0xE000 else { return nil }
                    k += 6
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else if unit >= 0xDC00 && unit < 0xE000 {
                    return nil
                }
                // NUL would be cut from keys by json-c: leave such files to it.
                guard unit != 0, let scalar = Unicode.Scalar(unit) else { return nil }
                UTF8.encode(scalar) { scratch.append($0) }
            default:
                return nil
            }
        }
        j = k + 1
        return String(validating: scratch, as: UTF8.self)
    }
}
