// EncodingOutput — an encoding written straight into a byte buffer as the
// JSON line or the two text lines of `ckpt tokenize`, without building JSON
// values or intermediate strings. The JSON is byte for byte what
// `JSONValue.serialized()` gives for the same object.

extension Encoding {
    /// Appends `{"ids":[…],"tokens":[…],"offsets":[[s,e],…],"word_ids":[…]}` and a newline.
    public func appendJSONLine(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"ids":["#.utf8)
        for (i, id) in ids.enumerated() {
            if i > 0 { out.append(0x2C) }
            appendDecimal(id, to: &out)
        }
        out.append(contentsOf: #"],"tokens":["#.utf8)
        for (i, t) in tokens.enumerated() {
            if i > 0 { out.append(0x2C) }
            appendJSONString(t, to: &out)
        }
        out.append(contentsOf: #"],"offsets":["#.utf8)
        for (i, o) in offsets.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x5B)
            appendDecimal(o.0, to: &out)
            out.append(0x2C)
            appendDecimal(o.1, to: &out)
            out.append(0x5D)
        }
        out.append(contentsOf: #"],"word_ids":["#.utf8)
        for (i, w) in wordIDs.enumerated() {
            if i > 0 { out.append(0x2C) }
            if let w { appendDecimal(w, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        out.append(contentsOf: "]}\n".utf8)
    }

    /// Appends the tokens separated by spaces (control characters written as
    /// `\u{HEX}`), a newline, the ids separated by spaces, and a newline.
    public func appendTextLines(to out: inout [UInt8]) {
        for (i, t) in tokens.enumerated() {
            if i > 0 { out.append(0x20) }
            var t = t
            t.withUTF8 { bytes in
                var k = 0
                while k < bytes.count {
                    let b = bytes[k]
                    // C0 controls and DEL are one byte; C1 controls (U+0080–U+009F) are C2 80–9F.
                    if b < 0x20 || b == 0x7F {
                        appendEscapedScalar(UInt32(b), to: &out)
                    } else if b == 0xC2, k + 1 < bytes.count, bytes[k + 1] >= 0x80, bytes[k + 1] <= 0x9F {
                        appendEscapedScalar(UInt32(bytes[k + 1]), to: &out)
                        k += 1
                    } else {
                        out.append(b)
                    }
                    k += 1
                }
            }
        }
        out.append(0x0A)
        for (i, id) in ids.enumerated() {
            if i > 0 { out.append(0x20) }
            appendDecimal(id, to: &out)
        }
        out.append(0x0A)
    }
}

/// Appends an integer's decimal digits.
@inline(__always)
func appendDecimal(_ v: Int, to out: inout [UInt8]) {
    if v < 0 { out.append(0x2D) }
    var m = v.magnitude
    if m < 10 { out.append(0x30 + UInt8(m)); return }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = 0
    withUnsafeMutableBytes(of: &digits) { d in
        while m > 0 { d[n] = 0x30 + UInt8(m % 10); m /= 10; n += 1 }
        for i in stride(from: n - 1, through: 0, by: -1) { out.append(d[i]) }
    }
}

/// Appends a JSON string literal, escaped as `JSONValue` escapes it.
func appendJSONString(_ s: String, to out: inout [UInt8]) {
    out.append(0x22)
    var s = s
    s.withUTF8 { bytes in
        for b in bytes {
            switch b {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
    }
    out.append(0x22)
}

/// `\u{HEX}`, upper-case hex, as `printable` writes a control character.
func appendEscapedScalar(_ v: UInt32, to out: inout [UInt8]) {
    out.append(contentsOf: "\\u{".utf8)
    out.append(contentsOf: String(v, radix: 16, uppercase: true).utf8)
    out.append(0x7D)
}
