// Added tokens: matched in the text before the model sees it, with the flags
// of tokenizer.json's `added_tokens` (special, single_word, lstrip, rstrip,
// normalized).

import Formats

/// A token added on top of the model's vocabulary.
public struct AddedToken: Sendable, Equatable {
    public let id: Int
    public let content: String
    public let special: Bool
    public let singleWord: Bool
    public let lstrip: Bool
    public let rstrip: Bool
    public let normalized: Bool
}

/// Finds added tokens in text: leftmost match first, longest at a position.
struct AddedTokenMatcher: Sendable {
    /// Patterns as scalars, and the token each stands for (same index).
    private let patterns: [[Unicode.Scalar]]
    private let tokens: [AddedToken]
    /// First scalars of all patterns, to skip positions quickly.
    private let firsts: Set<UInt32>

    init(_ entries: [([Unicode.Scalar], AddedToken)]) {
        let kept = entries.filter { !$0.0.isEmpty }
        patterns = kept.map(\.0)
        tokens = kept.map(\.1)
        firsts = Set(kept.map { $0.0[0].value })
    }

    /// Splits `t` into (piece, token?) parts; a matched part is the token's piece.
    func split(_ t: NormalizedText) -> [(NormalizedText, AddedToken?)] {
        guard !patterns.isEmpty, !t.isEmpty else { return [(t, nil)] }
        let s = t.scalars
        var out: [(NormalizedText, AddedToken?)] = []
        var startOffset = 0
        var i = 0
        while i < s.count {
            guard firsts.contains(s[i].value) else { i += 1; continue }
            var best = -1
            for k in patterns.indices {
                let n = patterns[k].count
                guard i + n <= s.count, best < 0 || n > patterns[best].count else { continue }
                var equal = true
                for j in 0..<n where s[i + j] != patterns[k][j] { equal = false; break }
                if equal { best = k }
            }
            guard best >= 0 else { i += 1; continue }
            let tok = tokens[best]
            let length = patterns[best].count
            var start = i
            var stop = i + length
            if tok.singleWord {
                let startOK = start == 0 || !s[start - 1].isWordChar
                let stopOK = stop == s.count || !s[stop].isWordChar
                // A discarded match is skipped whole, as the reference matcher does.
                if !(startOK && stopOK) { i += length; continue }
            }
            if tok.lstrip {
                var k = start
                while k > 0 && s[k - 1].isWhitespaceChar { k -= 1 }
                start = max(k, startOffset)
            }
            if tok.rstrip {
                while stop < s.count && s[stop].isWhitespaceChar { stop += 1 }
            }
            if startOffset < start { out.append((t.slice(startOffset..<start), nil)) }
            out.append((t.slice(start..<stop), tok))
            startOffset = stop
            i = stop
        }
        if startOffset == 0 { return [(t, nil)] }
        if startOffset < s.count { out.append((t.slice(startOffset..<s.count), nil)) }
        return out
    }
}
