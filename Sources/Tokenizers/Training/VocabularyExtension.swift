// VocabularyExtension — a base tokenizer kept whole and extended with domain
// tokens as real vocabulary pieces: WordPiece entries (word-initial or `##`
// continuations) or BPE merges, never added tokens. Candidates come from the
// base tokenizer's own segmentation of the domain words: the most frequent
// adjacent pieces are merged, as in continued BPE training.
//
// BPE: the base merges are kept and new merges appended, so a new token fires
// wherever its pair remains after the base merges, and no text can get longer.
// WordPiece encodes by greedy longest match, where a new entry can change how
// other words split: each candidate is tried on every domain word that holds
// its text, and kept only if it fires and makes no word longer.

import Formats
import Foundation

/// How to choose the new tokens.
public struct ExtensionOptions: Sendable {
    public enum Criterion: String, Sendable, CaseIterable {
        /// Tokens saved on the domain corpus (pair count).
        case compression
        /// Adaptive Tokenization's score: how much more frequent the pair is in
        /// the domain than in the base corpus, weighted by its domain count.
        case divergence
    }
    public var add = 1000
    public var criterion = Criterion.compression
    /// Pairs seen fewer times are not merged.
    public var minFrequency = 2
    /// Fill BERT's `[unusedN]` slots first (their ids are reused).
    public var reuseUnused = false
    public init() {}
}

/// One token added.
public struct AddedPiece: Sendable {
    public var token: String
    public var id: Int
    /// How the base tokenizer split it.
    public var oldPieces: [String]
    /// Its count on the domain corpus when it was chosen.
    public var count: Int
}

/// What an extension did.
public struct ExtensionResult: Sendable {
    /// The extended vocabulary, by id ("" for ids no token has).
    public var vocabulary: [String]
    /// BPE: the merges appended.
    public var newMerges: [(String, String)] = []
    public var added: [AddedPiece] = []
    /// Corpus statistics: word occurrences, their UTF-8 bytes, tokens before and after.
    public var words = 0, bytes = 0, tokensBefore = 0, tokensAfter = 0
    /// Candidates dropped because they would have made a word longer or never fired (WordPiece).
    public var rejected = 0
}

public enum VocabularyExtension {
    /// Extends `tokenizer` (WordPiece or BPE) with tokens for `domain` words.
    ///
    /// - Throws: `TokenizerError.unsupported` for a Unigram tokenizer (at `path`):
    ///   its pieces have scores that new pieces would need.
    /// - Parameters:
    ///   - domain: word counts of the domain corpus (`TrainingPipeline` of the base tokenizer).
    ///   - base: word counts of a general corpus, for `.divergence`.
    ///   - merges: the base BPE merges (BPE only).
    public static func extend(_ tokenizer: Tokenizer, domain: [ExactString: Int], base: [ExactString: Int]?, merges: [(String, String)],
                              options: ExtensionOptions, path: String) throws -> ExtensionResult {
        switch tokenizer.model {
        case let .wordPiece(m):
            var e = WordPieceExtension(m, options: options)
            return e.run(domain: domain, base: base)
        case let .bpe(m): return extendBPE(m, merges: merges, domain: domain, base: base, options: options)
        case .unigram: throw TokenizerError.unsupported(path: path, what: "extending a Unigram (SentencePiece) vocabulary")
        }
    }

    /// The score of a pair seen `count` times in the domain and `baseCount` in the base corpus.
    static func score(_ count: Int, _ baseCount: Int, domainTotal: Int, baseTotal: Int, _ c: ExtensionOptions.Criterion) -> Double {
        switch c {
        case .compression: return Double(count)
        case .divergence:
            let p = (Double(count) + 0.5) / Double(max(1, domainTotal)), q = (Double(baseCount) + 0.5) / Double(max(1, baseTotal))
            return Double(count) * log(p / q)
        }
    }

    // MARK: - BPE

    static func extendBPE(_ m: BPE, merges: [(String, String)], domain: [ExactString: Int], base: [ExactString: Int]?,
                          options o: ExtensionOptions) -> ExtensionResult {
        // Continued BPE training: the words as the base model splits them, then
        // the trainer's merge loop. No two adjacent pieces form a base merge any
        // more (the base model applied them all), so every merge found is new.
        var vocab = m.tokens
        var ids: [ExactString: UInt32] = [:]
        for (t, i) in m.vocab { ids[ExactString(t)] = UInt32(i) }
        func segment(_ w: String) -> [Int] { m.tokenize(Array(w.unicodeScalars)).map(\.id) }
        let words = domain.keys.sorted { $0.string.unicodeScalars.lexicographicallyPrecedes($1.string.unicodeScalars) }
        let counts = words.map { domain[$0]! }
        var result = ExtensionResult(vocabulary: [])
        for (w, c) in zip(words, counts) { result.words += c; result.bytes += c * w.string.utf8.count }
        let segs = words.map { segment($0.string) }
        result.tokensBefore = zip(segs, counts).reduce(0) { $0 + $1.0.count * $1.1 }
        // [unusedN] slots: filled after the loop (ids are only names to it).
        let unused = o.reuseUnused ? unusedSlots(vocab) : []
        let baseTable = base.map { pairTable(Dictionary(uniqueKeysWithValues: $0.map { ($0.key, segment($0.key.string)) }), $0) }
        let baseTotal = baseTable?.values.reduce(0, +) ?? 0
        let domainTotal = zip(segs, counts).reduce(0) { $0 + max(0, $1.0.count - 1) * $1.1 }
        var state = BPETrainer.MergeState(vocab: vocab, ids: ids,
                                          symbols: segs.map { $0.map { BPETrainer.Symbol(id: UInt32($0), length: 1) } }, counts: counts)
        let start = vocab.count
        let found = state.run(until: start + o.add, minFrequency: max(1, o.minFrequency), stopBelowMinimum: o.criterion == .compression,
                              prefix: nil, maxLength: Int.max) { count, pair in
            score(count, baseTable?[pair] ?? 0, domainTotal: domainTotal, baseTotal: baseTotal, o.criterion)
        }
        vocab = state.vocab
        var finalID: [Int: Int] = [:]
        for (k, i) in (start..<vocab.count).enumerated() { finalID[i] = k < unused.count ? unused[k] : i - min(unused.count, vocab.count - start) }
        var seenPairs = Set<UInt64>()
        for m in found where seenPairs.insert(m.pair).inserted {
            let a = Int(m.pair >> 32), b = Int(m.pair & 0xFFFF_FFFF)
            result.newMerges.append((vocab[a], vocab[b]))
            if Int(m.id) >= start, !result.added.contains(where: { $0.token == vocab[Int(m.id)] }) {
                result.added.append(AddedPiece(token: vocab[Int(m.id)], id: finalID[Int(m.id)]!, oldPieces: [vocab[a], vocab[b]], count: m.count))
            }
        }
        var out = Array(vocab[0..<start])
        for piece in result.added {
            if piece.id < out.count { out[piece.id] = piece.token } else { out.append(piece.token) }
        }
        result.vocabulary = out
        result.tokensAfter = state.symbols.enumerated().reduce(0) { $0 + $1.element.count * counts[$1.offset] }
        return result
    }

    static func pairTable(_ segs: [ExactString: [Int]], _ counts: [ExactString: Int]) -> [UInt64: Int] {
        var t: [UInt64: Int] = [:]
        for (w, s) in segs where s.count > 1 {
            for k in 0..<(s.count - 1) { t[UInt64(s[k]) << 32 | UInt64(s[k + 1]), default: 0] += counts[w]! }
        }
        return t
    }

    /// The ids of `[unusedN]` tokens, in id order.
    static func unusedSlots(_ vocab: [String]) -> [Int] {
        vocab.indices.filter { i in
            let t = vocab[i]
            return t.hasPrefix("[unused") && t.hasSuffix("]") && Int(t.dropFirst(7).dropLast()) != nil
        }
    }
}
