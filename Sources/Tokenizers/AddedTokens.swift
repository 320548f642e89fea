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
    /// Patterns (as scalars) with the token they stand for.
    let patterns: [([Unicode.Scalar], AddedToken)]

    /// Splits `t` into (piece, token?) parts; a matched part is the token's piece.
    func split(_ t: NormalizedText) -> [(NormalizedText, AddedToken?)] {
        guard !patterns.isEmpty, !t.isEmpty else { return [(t, nil)] }
        let s = t.scalars
        var out: [(NormalizedText, AddedToken?)] = []
        var startOffset = 0
        var i = 0
        while i < s.count {
            var best: ([Unicode.Scalar], AddedToken)? = nil
            for (p, tok) in patterns where !p.isEmpty && i + p.count <= s.count && (best == nil || p.count > best!.0.count) {
                if s[i..<(i + p.count)].elementsEqual(p) { best = (p, tok) }
            }
            guard let (p, tok) = best else { i += 1; continue }
            var start = i
            var stop = i + p.count
            if tok.singleWord {
                let startOK = start == 0 || !s[start - 1].isWordChar
                let stopOK = stop == s.count || !s[stop].isWordChar
                // A discarded match is skipped whole, as the reference matcher does.
                if !(startOK && stopOK) { i += p.count; continue }
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
        if startOffset < s.count { out.append((t.slice(startOffset..<s.count), nil)) }
        return out
    }
}
