// Decoders of tokenizer.json: tokens back into text, as the reference chains
// them (each decoder maps the token list to a new list; the result is joined).

import Formats

/// The decoder turning tokens back into text.
indirect enum Decoder: Sendable {
    case wordPiece(prefix: String, cleanup: Bool)
    case byteLevel
    /// SentencePiece's `▁` back to spaces; the first token's are dropped
    /// unless the prepend scheme is "never".
    case metaspace(replacement: Unicode.Scalar, dropFirst: Bool)
    /// `<0xXX>` tokens back to their bytes (U+FFFD per byte when not UTF-8).
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(pattern: [Unicode.Scalar], content: String)
    case replaceRegex(SimpleRegex, content: String)
    case sequence([Decoder])
    /// No decoder: tokens joined by spaces.
    case none

    func decode(_ tokens: [String]) -> String {
        if case .none = self { return tokens.joined(separator: " ") }
        return chain(tokens).joined()
    }

    func chain(_ tokens: [String]) -> [String] {
        switch self {
        case let .wordPiece(prefix, cleanup):
            return tokens.enumerated().map { i, token in
                var t = token
                if i != 0 {
                    // Compare scalars: "##" followed by a combining mark is one Character.
                    let scalars = t.unicodeScalars
                    let p = prefix.unicodeScalars
                    if scalars.starts(with: p) {
                        t = String(String.UnicodeScalarView(scalars.dropFirst(p.count)))
                    } else {
                        t = " " + t
                    }
                }
                return cleanup ? Decoder.cleanup(t) : t
            }
        case .byteLevel:
            return [ByteLevel.decode(tokens)]
        case let .metaspace(replacement, dropFirst):
            return tokens.enumerated().map { i, token in
                var out = String.UnicodeScalarView()
                for c in token.unicodeScalars {
                    if c == replacement {
                        if !(i == 0 && dropFirst) { out.append(" ") }
                    } else {
                        out.append(c)
                    }
                }
                return String(out)
            }
        case .byteFallback:
            var out: [String] = []
            var bytes: [UInt8] = []
            func flush() {
                guard !bytes.isEmpty else { return }
                if let s = String(validating: bytes, as: UTF8.self) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: bytes.count))
                }
                bytes.removeAll()
            }
            for token in tokens {
                if let b = Decoder.byteToken(token) { bytes.append(b); continue }
                flush()
                out.append(token)
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case let .strip(content, start, stop):
            return tokens.map { token in
                let chars = Array(token.unicodeScalars)
                var from = 0
                for i in 0..<min(start, chars.count) {
                    guard chars[i] == content else { break }
                    from = i + 1
                }
                var to = chars.count
                for i in 0..<min(stop, chars.count) {
                    let k = chars.count - i - 1
                    guard chars[k] == content else { break }
                    to = k
                }
                return from < to ? String(String.UnicodeScalarView(chars[from..<to])) : ""
            }
        case let .replace(pattern, content):
            return tokens.map { token in
                var t = NormalizedText(token)
                Normalizer.replace(&t, pattern, Array(content.unicodeScalars))
                return t.string
            }
        case let .replaceRegex(regex, content):
            return tokens.map { token in
                var t = NormalizedText(token)
                Normalizer.replace(&t, regex.matches(in: t.scalars), Array(content.unicodeScalars))
                return t.string
            }
        case let .sequence(steps):
            var out = tokens
            for step in steps { out = step.chain(out) }
            return out
        case .none:
            return tokens
        }
    }

    /// The byte of a `<0xXX>` token, read as the reference reads it.
    static func byteToken(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        // Rust's from_str_radix accepts a leading "+".
        if u[3] == UInt8(ascii: "+") { return hex(u[4]) }
        guard let hi = hex(u[3]), let lo = hex(u[4]) else { return nil }
        return hi << 4 | lo
    }

    /// The WordPiece decoder's cleanup of spaces before punctuation and contractions.
    static func cleanup(_ s: String) -> String {
        let rules = [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                     (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")]
        var out = s
        for (a, b) in rules { out = out.replacingAll(a, with: b) }
        return out
    }

    static func load(_ json: JSONValue, path: String) throws -> Decoder {
        guard let type = json["type"]?.string else {
            throw TokenizerError.invalid(path: path, reason: "decoder without a \"type\"")
        }
        switch type {
        case "WordPiece":
            return .wordPiece(prefix: json["prefix"]?.string ?? "##", cleanup: json["cleanup"]?.bool ?? true)
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            let (replacement, scheme, _) = try PrependScheme.metaspaceFields(json, path: path)
            return .metaspace(replacement: replacement, dropFirst: scheme != .never)
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            guard let c = json["content"]?.string, c.unicodeScalars.count == 1 else {
                throw TokenizerError.invalid(path: path, reason: "Strip decoder without a one-character \"content\"")
            }
            let start = json["start"]?.int ?? 0, stop = json["stop"]?.int ?? 0
            guard start >= 0, stop >= 0 else { throw TokenizerError.invalid(path: path, reason: "Strip decoder with a negative count") }
            return .strip(content: c.unicodeScalars.first!, start: start, stop: stop)
        case "Replace":
            guard let content = json["content"]?.string else {
                throw TokenizerError.invalid(path: path, reason: "Replace decoder without a \"content\" string")
            }
            if let p = json["pattern"]?["String"]?.string { return .replace(pattern: Array(p.unicodeScalars), content: content) }
            guard let p = json["pattern"]?["Regex"]?.string else {
                throw TokenizerError.invalid(path: path, reason: "Replace decoder without a \"String\" or \"Regex\" pattern")
            }
            return .replaceRegex(try Normalizer.regex(p, path: path), content: content)
        case "Sequence":
            guard let items = json["decoders"]?.array else {
                throw TokenizerError.invalid(path: path, reason: "Sequence decoder without \"decoders\"")
            }
            return .sequence(try items.map { try load($0, path: path) })
        default:
            throw TokenizerError.unsupported(path: path, what: "decoder \"\(type)\"")
        }
    }
}
