// ScalarTables — per-scalar facts for the Basic Multilingual Plane, computed
// once per process from the Swift runtime's Unicode data (and Foundation's
// decompositions), so that normalizing non-ASCII text costs a table lookup per
// character rather than a property query or a String round trip. Scalars
// beyond the BMP (rare: emoji, historic scripts, CJK extensions) are computed
// as before. Each table is built on first use: a tokenizer that never
// decomposes never pays for the decomposition tables.

import Foundation

enum ScalarTables {
    // Character-class bits.
    static let whitespace: UInt8 = 1, control: UInt8 = 2, punctuation: UInt8 = 4, numeric: UInt8 = 8,
               word: UInt8 = 16, nonspacingMark: UInt8 = 32

    /// The class bits of every BMP scalar (0 for surrogates).
    static let flags: [UInt8] = (0..<0x10000).map { v in
        guard let c = Unicode.Scalar(UInt32(v)) else { return 0 }
        let p = c.properties
        var f: UInt8 = 0
        if p.isWhitespace { f |= whitespace }
        switch p.generalCategory {
        case .control, .format, .privateUse, .surrogate: f |= control
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: f |= punctuation
        default: break
        }
        switch p.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: f |= numeric
        default: break
        }
        var isWord = p.isAlphabetic || p.isJoinControl
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: isWord = true
        default: break
        }
        if isWord { f |= word }
        if p.generalCategory == .nonspacingMark { f |= nonspacingMark }
        return f
    }

    /// A scalar → scalars mapping of the BMP: `index[v]` is 0 when `v` maps to
    /// itself, else `offset << 8 | count` into `pool`.
    final class Mapping: Sendable {
        let index: [UInt32]
        let pool: [Unicode.Scalar]

        init(_ map: (Unicode.Scalar) -> [Unicode.Scalar]) {
            var index = [UInt32](repeating: 0, count: 0x10000), pool: [Unicode.Scalar] = []
            for v in 0..<0x10000 {
                guard let c = Unicode.Scalar(UInt32(v)) else { continue }
                let m = map(c)
                if m.count == 1 && m[0] == c { continue }
                index[v] = UInt32(pool.count) << 8 | UInt32(m.count)
                pool.append(contentsOf: m)
            }
            self.index = index
            self.pool = pool
        }

        /// Appends what `c` (a BMP scalar) maps to.
        @inline(__always)
        func append(_ c: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
            let e = index[Int(c.value)]
            if e == 0 { out.append(c); return }
            let start = Int(e >> 8)
            out.append(contentsOf: pool[start..<(start + Int(e & 0xFF))])
        }
    }

    static func decomposition(_ c: Unicode.Scalar, compatibility: Bool) -> [Unicode.Scalar] {
        let s = String(c)
        return Array((compatibility ? s.decomposedStringWithCompatibilityMapping : s.decomposedStringWithCanonicalMapping).unicodeScalars)
    }

    static let canonical = Mapping { decomposition($0, compatibility: false) }
    static let compatibility = Mapping { decomposition($0, compatibility: true) }
    static let lowercase = Mapping { Array($0.properties.lowercaseMapping.unicodeScalars) }

    /// Appends the (canonical or compatibility) decomposition of `c`.
    @inline(__always)
    static func appendDecomposition(_ c: Unicode.Scalar, compatibility: Bool, to out: inout [Unicode.Scalar]) {
        if c.value < 0xC0 { out.append(c); return }
        if c.value < 0x10000 { (compatibility ? ScalarTables.compatibility : canonical).append(c, to: &out); return }
        out.append(contentsOf: decomposition(c, compatibility: compatibility))
    }

    /// Appends the lowercase mapping of `c`.
    @inline(__always)
    static func appendLowercase(_ c: Unicode.Scalar, to out: inout [Unicode.Scalar]) {
        if c.isASCII { out.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c); return }
        if c.value < 0x10000 { lowercase.append(c, to: &out); return }
        out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
    }

    /// The class bits of a scalar past ASCII.
    @inline(__always)
    static func has(_ c: Unicode.Scalar, _ bit: UInt8) -> Bool? {
        c.value < 0x10000 ? flags[Int(c.value)] & bit != 0 : nil
    }
}
