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
    /// - Parameters:
    ///   - domain: word counts of the domain corpus (`TrainingPipeline` of the base tokenizer).
    ///   - base: word counts of a general corpus, for `.divergence`.
    ///   - merges: the base BPE merges (BPE only).
    public static func extend(_ tokenizer: Tokenizer, domain: [ExactString: Int], base: [ExactString: Int]?, merges: [(String, String)],
                              options: ExtensionOptions) -> ExtensionResult {
        switch tokenizer.model {
        case let .wordPiece(m):
            var e = WordPieceExtension(m, options: options)
            return e.run(domain: domain, base: base)
        case let .bpe(m): return extendBPE(m, merges: merges, domain: domain, base: base, options: options)
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

// MARK: - WordPiece

/// The WordPiece extension: greedy longest-match segmentation over a
/// vocabulary that grows, as the WordPiece model encodes.
struct WordPieceExtension {
    var vocab: [String]
    var initial: Set<ExactString>
    var continuation: Set<ExactString>
    let prefix: String
    let maxInputChars: Int
    let options: ExtensionOptions
    let longest: Int

    init(_ m: WordPiece, options: ExtensionOptions) {
        vocab = m.tokens
        prefix = m.prefix
        maxInputChars = m.maxInputChars
        self.options = options
        initial = Set(m.vocab.keys)
        continuation = Set(m.vocab.keys.compactMap { k in
            k.string.hasPrefix(m.prefix) && k.string.unicodeScalars.count > m.prefix.unicodeScalars.count
                ? ExactString(String(k.string.unicodeScalars.dropFirst(m.prefix.unicodeScalars.count))) : nil
        })
        longest = m.vocab.keys.map { $0.string.unicodeScalars.count }.max() ?? 1
    }

    /// The word's pieces by greedy longest match (nil: the unknown token).
    func segment(_ w: [Unicode.Scalar]) -> [String]? {
        if w.count > maxInputChars { return nil }
        var out: [String] = []
        var start = 0
        while start < w.count {
            var end = min(w.count, start + longest + 8)
            var found: String? = nil
            while end > start {
                let piece = String(String.UnicodeScalarView(w[start..<end]))
                if start == 0 ? initial.contains(ExactString(piece)) : continuation.contains(ExactString(piece)) {
                    found = start == 0 ? piece : prefix + piece
                    break
                }
                end -= 1
            }
            guard let f = found else { return nil }
            out.append(f)
            start = end
        }
        return out
    }

    /// The text a piece stands for (without the prefix).
    func surface(_ piece: String) -> String {
        piece.hasPrefix(prefix) && piece.unicodeScalars.count > prefix.unicodeScalars.count
            ? String(String.UnicodeScalarView(piece.unicodeScalars.dropFirst(prefix.unicodeScalars.count))) : piece
    }

    mutating func run(domain: [ExactString: Int], base: [ExactString: Int]?) -> ExtensionResult {
        let words = domain.keys.sorted { $0.string.unicodeScalars.lexicographicallyPrecedes($1.string.unicodeScalars) }
        let scalars = words.map { Array($0.string.unicodeScalars) }
        let utf8 = words.map { Array($0.string.utf8) }
        let counts = words.map { domain[$0]! }
        var segs = scalars.map { segment($0) }
        var result = ExtensionResult(vocabulary: [])
        for (w, c) in zip(utf8, counts) { result.words += c; result.bytes += c * w.count }
        func length(_ s: [String]?) -> Int { s?.count ?? 1 }
        result.tokensBefore = zip(segs, counts).reduce(0) { $0 + length($1.0) * $1.1 }
        var baseTable: [String: Int] = [:]
        if let base {
            for (w, c) in base {
                guard let s = segment(Array(w.string.unicodeScalars)), s.count > 1 else { continue }
                for k in 0..<(s.count - 1) { baseTable[candidate(s[k], s[k + 1]), default: 0] += c }
            }
        }
        let baseTotal = baseTable.values.reduce(0, +)
        // Reused [unusedN] slots leave the vocabulary before anything is chosen.
        if options.reuseUnused { for i in VocabularyExtension.unusedSlots(vocab) { remove(vocab[i]) } }
        var tried = Set<String>()
        var kept: [AddedPiece] = []
        var book = PairBook(criterion: options.criterion, baseTable: baseTable, baseTotal: baseTotal)
        var ignored = Set<String>()
        for (s, c) in zip(segs, counts) { book.record(s, c, touched: &ignored, candidate: candidate) }
        book.domainTotal = book.count.values.reduce(0, +)
        for t in book.count.keys { book.push(t) }
        while kept.count < options.add {
            let before = kept.count
            while kept.count < options.add, let piece = nextPiece(words: words, scalars: scalars, utf8: utf8, counts: counts, segs: &segs,
                                                                   book: &book, tried: &tried, result: &result) {
                kept.append(piece)
            }
            // A token that a later, longer one superseded no longer fires: it
            // goes (greedy matching never chose it, so no word changes).
            var fired = Set<String>()
            for s in segs { for t in s ?? [] { fired.insert(t) } }
            let gone = kept.filter { !fired.contains($0.token) }
            for g in gone { remove(g.token) }
            result.rejected += gone.count
            kept.removeAll { !fired.contains($0.token) }
            if kept.count == before || kept.count >= options.add { break }
        }
        // Ids: [unusedN] slots first (with --reuse-unused), then appended.
        var unused = options.reuseUnused ? VocabularyExtension.unusedSlots(vocab) : []
        for var piece in kept {
            let id = unused.isEmpty ? vocab.count : unused.removeFirst()
            if id == vocab.count { vocab.append(piece.token) } else { vocab[id] = piece.token }
            piece.id = id
            result.added.append(piece)
        }
        result.vocabulary = vocab
        result.tokensAfter = zip(segs, counts).reduce(0) { $0 + length($1.0) * $1.1 }
        return result
    }

    /// The best candidate that fires and makes no word longer, added to the
    /// vocabulary, with the words' segmentations and the pair counts updated;
    /// nil when none is left.
    mutating func nextPiece(words: [ExactString], scalars: [[Unicode.Scalar]], utf8: [[UInt8]], counts: [Int], segs: inout [[String]?],
                            book: inout PairBook, tried: inout Set<String>, result: inout ExtensionResult) -> AddedPiece? {
        func length(_ s: [String]?) -> Int { s?.count ?? 1 }
        while let top = book.pop() {
            let current = book.count[top.token] ?? 0
            let score = book.score(top.token)
            if score != top.score {
                if current > 0 { book.push(top.token) }
                continue
            }
            if tried.contains(top.token) || current < max(1, options.minFrequency) { continue }
            tried.insert(top.token)
            if initial.contains(ExactString(top.token)) { continue }
            // Every word that holds its text may split differently.
            let text = Array(surface(top.token).utf8)
            add(top.token)
            var changed: [(Int, [String]?)] = []
            var fires = false, longer = false
            for i in words.indices where contains(utf8[i], text) {
                let s = segment(scalars[i])
                if length(s) > length(segs[i]) { longer = true; break }
                if let s, s.contains(top.token) { fires = true }
                if s != segs[i] { changed.append((i, s)) }
            }
            guard fires && !longer else {
                remove(top.token)
                result.rejected += 1
                continue
            }
            var touched = Set<String>()
            for (i, s) in changed {
                book.record(segs[i], -counts[i], touched: &touched, candidate: candidate)
                book.record(s, counts[i], touched: &touched, candidate: candidate)
                segs[i] = s
            }
            for t in touched where (book.count[t] ?? 0) > 0 { book.push(t) }
            let parts = book.parts[top.token] ?? (top.token, "")
            return AddedPiece(token: top.token, id: -1, oldPieces: [parts.0, parts.1], count: current)
        }
        return nil
    }

    /// The token two adjacent pieces make: the left's form (word-initial or
    /// continuation) with the right's text.
    func candidate(_ a: String, _ b: String) -> String { a + surface(b) }

    mutating func add(_ token: String) {
        initial.insert(ExactString(token))
        if token != surface(token) { continuation.insert(ExactString(surface(token))) }
    }

    mutating func remove(_ token: String) {
        initial.remove(ExactString(token))
        if token != surface(token) { continuation.remove(ExactString(surface(token))) }
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, needle.count <= haystack.count else { return needle.isEmpty }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                let last = h.count - n.count
                var i = 0
                while i <= last {
                    if h[i] == first {
                        var k = 1
                        while k < n.count && h[i + k] == n[k] { k += 1 }
                        if k == n.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}

/// Candidate tokens of adjacent pieces, counted over the words' current
/// segmentations and kept up to date as words change, with a max-heap by
/// score (then token) whose stale entries are re-validated when popped.
struct PairBook {
    var count: [String: Int] = [:]
    /// The two pieces a candidate was first seen as.
    var parts: [String: (String, String)] = [:]
    let criterion: ExtensionOptions.Criterion
    let baseTable: [String: Int]
    let baseTotal: Int
    /// All pairs of the domain corpus at the start (the divergence's denominator).
    var domainTotal = 1
    private var heap = PriorityHeap<(score: Double, token: String)> { a, b in
        a.score != b.score ? a.score > b.score : a.token.utf8.lexicographicallyPrecedes(b.token.utf8)
    }

    init(criterion: ExtensionOptions.Criterion, baseTable: [String: Int], baseTotal: Int) {
        self.criterion = criterion
        self.baseTable = baseTable
        self.baseTotal = baseTotal
    }

    func score(_ token: String) -> Double {
        VocabularyExtension.score(count[token] ?? 0, baseTable[token] ?? 0, domainTotal: domainTotal, baseTotal: baseTotal, criterion)
    }

    /// Adds (or with a negative count removes) a word's pairs.
    mutating func record(_ seg: [String]?, _ c: Int, touched: inout Set<String>, candidate: (String, String) -> String) {
        guard let seg, seg.count > 1 else { return }
        for k in 0..<(seg.count - 1) {
            let t = candidate(seg[k], seg[k + 1])
            count[t, default: 0] += c
            if parts[t] == nil { parts[t] = (seg[k], seg[k + 1]) }
            touched.insert(t)
        }
    }

    mutating func push(_ token: String) { heap.push((score(token), token)) }

    mutating func pop() -> (score: Double, token: String)? { heap.pop() }
}
