// Truncation and overlapping windows, as `tokenizers` builds them: the
// special tokens of the post-processor are counted inside the maximum length;
// pairs lose tokens longest first; a text longer than the window becomes
// windows of the same content length that overlap by `stride` tokens
// (`return_overflowing_tokens=True, stride=S`), each with its special tokens.

/// Which part of a too-long text is kept.
public enum TruncationSide: String, Sendable, Codable, CaseIterable {
    /// The first tokens (`truncation_side="right"`, the default).
    case head
    /// The last tokens (`truncation_side="left"`).
    case tail
    /// The first quarter and the last three quarters of the budget, the
    /// 128 + 382 split of Sun et al. 2019 ("How to Fine-Tune BERT for Text
    /// Classification?") scaled to the window.
    case headTail = "head+tail"

    /// The token positions kept out of `count` when `budget` fit.
    public func kept(_ count: Int, budget: Int) -> [Range<Int>] {
        guard count > budget else { return [0..<count] }
        switch self {
        case .head: return [0..<budget]
        case .tail: return [(count - budget)..<count]
        case .headTail:
            let head = (budget * 128 + 255) / 510
            return [0..<head, (count - (budget - head))..<count]
        }
    }
}

/// A window that cannot be built.
public struct TruncationError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

extension Encoding {
    /// The tokens at `ranges`, in order.
    func picking(_ ranges: [Range<Int>]) -> Encoding {
        var out = Encoding()
        for r in ranges {
            for k in r {
                out.append(id: ids[k], token: tokens[k], offsets: offsets[k], word: wordIDs[k],
                           special: specialTokensMask[k] != 0, typeID: typeIDs[k])
            }
        }
        return out
    }
}

extension Tokenizer {
    /// The special tokens the post-processor adds around one text or a pair.
    public func addedTokenCount(pair: Bool) -> Int {
        guard let post = postProcessor else { return 0 }
        return (pair ? post.pair : post.single).reduce(0) { n, piece in
            if case let .special(ids, _, _) = piece { return n + ids.count }
            return n
        }
    }

    /// Encodes `a` (and `b`) with special tokens, at most `maxLength` tokens in
    /// all: a pair loses tokens longest first (`tokenizers`' `longest_first`),
    /// and each text keeps the part `side` says.
    public func encode(_ a: String, pair b: String? = nil, maxLength: Int, keep side: TruncationSide) -> Encoding {
        encodeCounting(a, pair: b, maxLength: maxLength, keep: side).encoding
    }

    /// `encode(_:pair:maxLength:keep:)`, with the number of text tokens truncation dropped.
    public func encodeCounting(_ a: String, pair b: String? = nil, maxLength: Int, keep side: TruncationSide) -> (encoding: Encoding, dropped: Int) {
        var ea = trimmed(encodeSequence(a))
        let budget = max(0, maxLength - addedTokenCount(pair: b != nil))
        guard let b else {
            let dropped = max(0, ea.ids.count - budget)
            ea = ea.picking(side.kept(ea.ids.count, budget: budget))
            return (postProcessor.map { $0.process(ea, nil) } ?? ea, dropped)
        }
        var eb = trimmed(encodeSequence(b))
        for i in eb.typeIDs.indices { eb.typeIDs[i] = 1 }
        // tokenizers' longest_first: the shorter text keeps what it can of
        // half the budget, the longer one the rest.
        var n1 = ea.ids.count, n2 = eb.ids.count
        let dropped = max(0, n1 + n2 - budget)
        if n1 + n2 > budget {
            let swapped = n1 > n2
            if swapped { swap(&n1, &n2) }
            n2 = n1 > budget ? n1 : max(n1, budget - n1)
            if n1 + n2 > budget { n1 = budget / 2; n2 = n1 + budget % 2 }
            if swapped { swap(&n1, &n2) }
            ea = ea.picking(side.kept(ea.ids.count, budget: n1))
            eb = eb.picking(side.kept(eb.ids.count, budget: n2))
        }
        guard let post = postProcessor else { return (ea.appending(eb), dropped) }
        return (post.process(ea, eb), dropped)
    }

    /// The windows of one text: `maxLength` tokens each with the special
    /// tokens, content windows overlapping by `stride` tokens, the last one
    /// possibly shorter; one window when the text fits (as `tokenizers`'
    /// overflowing encodings, first window first).
    ///
    /// - Throws: `TruncationError` when `stride` is not below the content
    ///   length of a window (`maxLength` minus the special tokens).
    public func windows(_ text: String, maxLength: Int, stride: Int) throws -> [Encoding] {
        let content = maxLength - addedTokenCount(pair: false)
        guard content >= 1 else {
            throw TruncationError(reason: "a window of \(maxLength) tokens has no room for text after \(addedTokenCount(pair: false)) special tokens")
        }
        guard stride >= 0, stride < content else {
            throw TruncationError(reason: "the stride (\(stride)) must be less than a window's \(content) text tokens (maximum length \(maxLength) minus \(maxLength - content) special tokens)")
        }
        let e = trimmed(encodeSequence(text))
        var out: [Encoding] = []
        var start = 0
        repeat {
            let end = min(start + content, e.ids.count)
            let part = e.picking([start..<end])
            out.append(postProcessor.map { $0.process(part, nil) } ?? part)
            if end == e.ids.count { break }
            start += content - stride
        } while true
        return out
    }
}

extension Encoding {
    fileprivate func appending(_ other: Encoding) -> Encoding {
        var out = self
        for k in other.ids.indices {
            out.append(id: other.ids[k], token: other.tokens[k], offsets: other.offsets[k], word: other.wordIDs[k],
                       special: other.specialTokensMask[k] != 0, typeID: other.typeIDs[k])
        }
        return out
    }
}
