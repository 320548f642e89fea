// Byte-level pieces of GPT-2/RoBERTa tokenizers: the byte ↔ printable-character
// map, the GPT-2 split pattern, and offset trimming.

enum ByteLevel {
    /// Byte → printable scalar (GPT-2's `bytes_to_unicode`).
    static let byteToScalar: [Unicode.Scalar] = {
        var printable = Set<UInt32>()
        for r in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] { for v in r { printable.insert(UInt32(v)) } }
        var out = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            if printable.contains(UInt32(b)) {
                out[b] = Unicode.Scalar(UInt32(b))!
            } else {
                out[b] = Unicode.Scalar(256 + extra)!
                extra += 1
            }
        }
        return out
    }()

    /// Printable scalar → byte.
    static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { m[s.value] = UInt8(b) }
        return m
    }()

    /// Splits a piece with the GPT-2 pattern and maps each piece's bytes to
    /// printable scalars (all aligned to the scalar they came from).
    static func preTokenize(_ t: NormalizedText, addPrefixSpace: Bool, useRegex: Bool) -> [NormalizedText] {
        var t = t
        if addPrefixSpace && t.scalars.first != " " {
            Normalizer.prepend([" "]).apply(&t)
        }
        let pieces = useRegex ? gpt2Split(t.scalars).map { t.slice($0) } : [t]
        return pieces.map { p in
            var q = p
            q.expand { c in Array(String(c).utf8).map { byteToScalar[Int($0)] } }
            return q
        }
    }

    /// The words of already normalized scalars as training counts them: the
    /// pieces' strings, byte-mapped, without building aligned text.
    static func trainingWords(_ scalars: [Unicode.Scalar], addPrefixSpace: Bool, useRegex: Bool) -> [String] {
        var s = scalars
        if addPrefixSpace && s.first != " " { s.insert(" ", at: 0) }
        let pieces = useRegex ? gpt2Split(s) : (s.isEmpty ? [] : [0..<s.count])
        return pieces.map { r in
            var word = String.UnicodeScalarView()
            for u in s[r] { UTF8.encode(u) { word.append(byteToScalar[Int($0)]) } }
            return String(word)
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2Split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        func isL(_ c: Unicode.Scalar) -> Bool {
            if c.value < 0x80 { return (c.value | 0x20) >= 0x61 && (c.value | 0x20) <= 0x7A }
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isN(_ c: Unicode.Scalar) -> Bool { c.isNumericChar }
        func isS(_ c: Unicode.Scalar) -> Bool { c.isWhitespaceChar }
        var out: [Range<Int>] = []
        var i = 0
        let n = s.count
        while i < n {
            // Contractions.
            if s[i] == "'" && i + 1 < n {
                let rest2 = i + 2 < n ? String(String.UnicodeScalarView(s[(i + 1)...(i + 2)])) : ""
                if ["re", "ve", "ll"].contains(rest2) { out.append(i..<(i + 3)); i += 3; continue }
                if ["s", "t", "m", "d"].contains(String(s[i + 1])) { out.append(i..<(i + 2)); i += 2; continue }
            }
            // Optional space, then a run of one class.
            var j = i
            if s[j] == " " && j + 1 < n && !isS(s[j + 1]) { j += 1 }
            if j < n && !isS(s[j]) {
                let cls: (Unicode.Scalar) -> Bool
                if isL(s[j]) { cls = isL } else if isN(s[j]) { cls = isN } else { cls = { !isS($0) && !isL($0) && !isN($0) } }
                var k = j + 1
                while k < n && cls(s[k]) { k += 1 }
                out.append(i..<k)
                i = k
                continue
            }
            // Whitespace: \s+(?!\S) takes all but the last space before a non-space.
            var k = i
            while k < n && isS(s[k]) { k += 1 }
            if k < n && k - i > 1 {
                out.append(i..<(k - 1))
                i = k - 1
            } else {
                out.append(i..<k)
                i = k
            }
        }
        return out
    }

    /// Bytes of byte-level tokens back to text (invalid UTF-8 replaced).
    static func decode(_ tokens: [String]) -> String {
        var bytes: [UInt8] = []
        for t in tokens {
            for c in t.unicodeScalars {
                if let b = scalarToByte[c.value] { bytes.append(b) } else { bytes.append(contentsOf: Array(String(c).utf8)) }
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
