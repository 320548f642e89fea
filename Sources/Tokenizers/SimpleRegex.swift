// SimpleRegex — the regular expressions tokenizer.json files use in `Replace`
// normalizers and decoders (`" {2,}"` in the XLM-RoBERTa and CamemBERT
// pipelines, `"\A +| +\z"` and `"\A▁"` in SentencePiece byte-fallback ones):
// alternatives separated by `|`, each a sequence of atoms — a character, an
// escape (\s \S \d \D \w \W \t \n \r \f \v and escaped punctuation), `.`, or a
// bracket set with ranges and negation — each with a greedy quantifier
// (? * + {n} {n,} {n,m}), and the anchors \A (start) and \z (end).
// Matches are leftmost; at one position the first alternative that matches
// wins, greedy with backtracking (Oniguruma's order); matches never overlap,
// as the reference's `find_iter`. Groups, other anchors, lazy quantifiers and
// alternatives that can match the empty string are refused by name.

struct SimpleRegex: Sendable {
    enum Atom: Sendable {
        case scalar(Unicode.Scalar)
        case any
        case space(Bool), digit(Bool), word(Bool)       // true: negated (\S \D \W)
        case set([(Unicode.Scalar, Unicode.Scalar)], classes: [Atom], negated: Bool)
        /// Zero-width: the start (\A) or the end (\z) of the text.
        case start, end

        func matches(_ c: Unicode.Scalar) -> Bool {
            switch self {
            case let .scalar(s): return c == s
            case .any: return c != "\n"
            case let .space(neg): return c.properties.isWhitespace != neg
            case let .digit(neg): return (c.properties.generalCategory == .decimalNumber) != neg
            case let .word(neg): return c.isRegexWordChar != neg
            case let .set(ranges, classes, negated):
                let inside = ranges.contains { $0.0 <= c && c <= $0.1 } || classes.contains { $0.matches(c) }
                return inside != negated
            case .start, .end: return false
            }
        }
    }

    struct Piece: Sendable {
        let atom: Atom
        let min: Int
        let max: Int
    }

    /// The alternatives, each a sequence of pieces.
    let branches: [[Piece]]
    /// Where each alternative's pieces start in a numbering of all pieces,
    /// and (last) their total.
    private let pieceBase: [Int]
    let pattern: String
    /// Where a match can start, to skip positions fast: every alternative
    /// starts with this scalar (nil: anything), or only at the text's start.
    private let firstScalars: Set<Unicode.Scalar>?
    private let onlyAtStart: Bool

    /// - Throws: a reason when the pattern uses what is not supported.
    init(_ pattern: String) throws(SimpleRegexError) {
        self.pattern = pattern
        let s = Array(pattern.unicodeScalars)
        var i = 0
        var branches: [[Piece]] = []
        var pieces: [Piece] = []
        func escape(_ c: Unicode.Scalar) throws(SimpleRegexError) -> Atom {
            switch c {
            case "s": return .space(false)
            case "S": return .space(true)
            case "d": return .digit(false)
            case "D": return .digit(true)
            case "w": return .word(false)
            case "W": return .word(true)
            case "t": return .scalar("\t")
            case "n": return .scalar("\n")
            case "r": return .scalar("\r")
            case "f": return .scalar("\u{0C}")
            case "v": return .scalar("\u{0B}")
            default:
                guard c.isASCII, !c.properties.isAlphabetic, !("0"..."9").contains(c) else {
                    throw .unsupported("escape \\\(c)")
                }
                return .scalar(c)
            }
        }
        while i < s.count {
            let c = s[i]
            i += 1
            var atom: Atom
            switch c {
            case "\\":
                guard i < s.count else { throw .unsupported("a trailing backslash") }
                if s[i] == "A" || s[i] == "z" {
                    pieces.append(Piece(atom: s[i] == "A" ? .start : .end, min: 1, max: 1))
                    i += 1
                    continue
                }
                atom = try escape(s[i])
                i += 1
            case ".": atom = .any
            case "[":
                var negated = false
                if i < s.count, s[i] == "^" { negated = true; i += 1 }
                var ranges: [(Unicode.Scalar, Unicode.Scalar)] = [], classes: [Atom] = []
                var first = true
                while true {
                    guard i < s.count else { throw .unsupported("an unclosed [") }
                    var lo = s[i]
                    i += 1
                    if lo == "]" && !first { break }
                    first = false
                    if lo == "[" { throw .unsupported("nested sets") }
                    if lo == "\\" {
                        guard i < s.count else { throw .unsupported("a trailing backslash") }
                        let e = try escape(s[i])
                        i += 1
                        guard case let .scalar(x) = e else { classes.append(e); continue }
                        lo = x
                    }
                    var hi = lo
                    if i + 1 < s.count, s[i] == "-", s[i + 1] != "]" {
                        hi = s[i + 1]
                        i += 2
                        if hi == "\\" {
                            guard i < s.count, case let .scalar(x) = try escape(s[i]) else { throw .unsupported("a class as a range end") }
                            hi = x
                            i += 1
                        }
                        guard lo <= hi else { throw .unsupported("the empty range \(lo)-\(hi)") }
                    }
                    ranges.append((lo, hi))
                }
                atom = .set(ranges, classes: classes, negated: negated)
            case "|":
                branches.append(pieces)
                pieces = []
                continue
            case "(", ")", "^", "$", "*", "+", "?", "{":
                throw .unsupported("\"\(c)\" here")
            default: atom = .scalar(c)
            }
            var lo = 1, hi = 1
            if i < s.count {
                switch s[i] {
                case "?": lo = 0; hi = 1; i += 1
                case "*": lo = 0; hi = Int.max; i += 1
                case "+": lo = 1; hi = Int.max; i += 1
                case "{":
                    func number() -> Int? {
                        var v = 0, digits = 0
                        while i < s.count, let d = Int(String(s[i])), ("0"..."9").contains(s[i]), digits < 6 {
                            v = v * 10 + d; digits += 1; i += 1
                        }
                        return digits > 0 ? v : nil
                    }
                    i += 1
                    guard let a = number() else { throw .unsupported("a { without a count") }
                    lo = a; hi = a
                    if i < s.count, s[i] == "," {
                        i += 1
                        hi = number() ?? Int.max
                    }
                    guard i < s.count, s[i] == "}", lo <= hi else { throw .unsupported("the quantifier") }
                    i += 1
                default: break
                }
                if i < s.count, s[i] == "?" || s[i] == "+" { throw .unsupported("lazy or possessive quantifiers") }
            }
            pieces.append(Piece(atom: atom, min: lo, max: hi))
        }
        branches.append(pieces)
        // Matching recurses once per piece: a bound keeps the stack small.
        guard branches.reduce(0, { $0 + $1.count }) <= 256 else { throw .unsupported("more than 256 atoms") }
        for b in branches {
            guard b.contains(where: { p in
                if case .start = p.atom { return false }
                if case .end = p.atom { return false }
                return p.min > 0
            }) else { throw .unsupported("an alternative that matches the empty string") }
        }
        self.branches = branches
        pieceBase = branches.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        // An alternative that begins with a literal (after \A) can start only there.
        var firsts = Set<Unicode.Scalar>(), anyFirst = false, allAnchored = true
        for b in branches {
            var k = 0
            var anchored = false
            if case .start = b[0].atom { anchored = true; k = 1 }
            allAnchored = allAnchored && anchored
            if k < b.count, b[k].min > 0, case let .scalar(c) = b[k].atom { firsts.insert(c) } else { anyFirst = true }
        }
        firstScalars = anyFirst ? nil : firsts
        onlyAtStart = allAnchored
    }

    /// The end of the greedy, backtracking match of branch `b`'s pieces from
    /// `k` on, at `pos`. Whether that tail matches depends only on `(k, pos)`
    /// (no groups, no back-references), so a pair that failed once fails
    /// again: `failed` remembers them, and each pair is tried at most once per
    /// text. Backtracking then takes at most pieces × positions tries of a
    /// greedy run each, polynomial where plain backtracking is exponential
    /// (`x*x*x*x*x*y` on a long run of x: Oniguruma gives up there with
    /// "retry-limit-in-match over"). Results are unchanged.
    private func match(_ b: Int, _ k: Int, _ pos: Int, _ s: [Unicode.Scalar], _ failed: inout FailedStates) -> Int? {
        let pieces = branches[b]
        if k == pieces.count { return pos }
        let state = (pieceBase[b] + k) * (s.count + 1) + pos
        if failed.contains(state) { return nil }
        let p = pieces[k]
        var end: Int? = nil
        switch p.atom {
        case .start: end = pos == 0 ? match(b, k + 1, pos, s, &failed) : nil
        case .end: end = pos == s.count ? match(b, k + 1, pos, s, &failed) : nil
        default:
            var n = 0
            while n < p.max, pos + n < s.count, p.atom.matches(s[pos + n]) { n += 1 }
            while n >= p.min {
                if let e = match(b, k + 1, pos + n, s, &failed) { end = e; break }
                n -= 1
            }
        }
        if end == nil { failed.insert(state) }
        return end
    }

    /// The non-overlapping matches in `s`, left to right.
    func matches(in s: [Unicode.Scalar]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var failed = FailedStates(count: (pieceBase.last ?? 0) * (s.count + 1))
        var i = 0
        let n = onlyAtStart ? min(1, s.count) : s.count
        while i < n {
            if let firsts = firstScalars, !firsts.contains(s[i]) { i += 1; continue }
            var found: Int? = nil
            for b in branches.indices { if let end = match(b, 0, i, s, &failed) { found = end; break } }
            if let end = found, end > i {
                out.append(i..<end)
                i = end
            } else {
                i += 1
            }
        }
        return out
    }
}

/// A bit per (piece, position) state of a regex on one text.
struct FailedStates {
    private var words: [UInt64]
    init(count: Int) { words = [UInt64](repeating: 0, count: (count + 63) / 64) }
    func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
    mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
}

enum SimpleRegexError: Error {
    case unsupported(String)
}

extension Unicode.Scalar {
    /// Oniguruma's Unicode `\w`: Alphabetic (letters, letter numbers, symbols
    /// such as ⓐ), marks, decimal digits, connector punctuation, and Latin-1's
    /// ¹ ² ³ ¼ ½ ¾.
    var isRegexWordChar: Bool {
        if properties.isAlphabetic { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return [0xB2, 0xB3, 0xB9, 0xBC, 0xBD, 0xBE].contains(value)
        }
    }
}
