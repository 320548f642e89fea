// Tokenization models: WordPiece (BERT), BPE (byte-level, GPT-2/RoBERTa) and
// Unigram (SentencePiece: XLM-RoBERTa, CamemBERT; in Unigram.swift).

import Formats

/// A token produced by a model: id, text, and its scalar range within the word.
struct ModelToken: Sendable {
    let id: Int
    let value: String
    let range: Range<Int>
}

/// The vocabulary model of a tokenizer.
enum Model: Sendable {
    case wordPiece(WordPiece)
    case bpe(BPE)
    case unigram(Unigram)

    func tokenize(_ word: ArraySlice<Unicode.Scalar>) -> [ModelToken] {
        switch self {
        case let .wordPiece(m): return m.tokenize(word)
        case let .bpe(m): return m.tokenize(Array(word))
        case let .unigram(m): return m.tokenize(word)
        }
    }

    func id(of token: String) -> Int? {
        switch self {
        case let .wordPiece(m): return m.vocab[ExactString(token)]
        case let .bpe(m): return m.vocab[token]
        case let .unigram(m): return m.vocab[ExactString(token)]
        }
    }

    func token(of id: Int) -> String? {
        let tokens: [String]
        switch self {
        case let .wordPiece(m): tokens = m.tokens
        case let .bpe(m): tokens = m.tokens
        case let .unigram(m): return id >= 0 && id < m.pieces.count ? m.pieces[id].piece : nil
        }
        return id >= 0 && id < tokens.count ? tokens[id] : nil
    }

    /// Every id the model's vocabulary holds.
    var ids: [Int] {
        switch self {
        case let .wordPiece(m): return Array(m.vocab.values)
        case let .bpe(m): return Array(m.vocab.values)
        case let .unigram(m): return Array(m.pieces.indices)
        }
    }

    /// The id of the unknown token, if the model has one.
    var unknownID: Int? {
        switch self {
        case let .wordPiece(m): return m.unkID
        case let .bpe(m): return m.unkID
        case let .unigram(m): return m.unkID
        }
    }

}

// MARK: - WordPiece

/// Greedy longest-match-first WordPiece, as BERT tokenizes, in linear time per
/// word (two tries: word-initial pieces and continuation pieces).
struct WordPiece: Sendable {
    /// Token → id, tokens compared by their exact scalars.
    let vocab: [ExactString: Int]
    /// Tokens by id ("" for ids no token has).
    let tokens: [String]
    let unkToken: String
    let unkID: Int
    let prefix: String
    let maxInputChars: Int
    private let initial: ScalarTrie
    private let continuation: ScalarTrie

    /// `entries` are the vocabulary's (token, id) pairs as the file lists them;
    /// `ids`, when given, is token → id for entries that repeat no token.
    /// (Tokens are compared by their exact scalars, as Hugging Face compares
    /// them: "é" and "e\u{301}" are two tokens.)
    init(entries: [(String, Int)], ids: [ExactString: Int]? = nil, unkToken: String, prefix: String, maxInputChars: Int,
         path: String) throws {
        var vocab = ids ?? [:]
        if ids == nil {
            vocab.reserveCapacity(entries.count)
            // A token listed twice keeps its last id, as in the tries below and in
            // Hugging Face's WordPiece (vocab.txt files do repeat tokens).
            for (t, i) in entries { vocab[ExactString(t)] = i }
        }
        guard let unk = vocab[ExactString(unkToken)] else {
            throw TokenizerError.invalid(path: path, reason: "the unknown token \(JSONValue.string(unkToken).serialized()) is not in the vocabulary")
        }
        self.vocab = vocab
        let maxID = entries.map(\.1).max() ?? -1
        guard maxID < 4 * entries.count + 65_536 else {
            throw TokenizerError.invalid(path: path, reason: "vocabulary ids go up to \(maxID) for \(entries.count) tokens")
        }
        var tokens = [String](repeating: "", count: maxID + 1)
        for (t, i) in entries { tokens[i] = t }
        self.tokens = tokens
        self.unkToken = unkToken
        self.unkID = unk
        self.prefix = prefix
        self.maxInputChars = maxInputChars
        // Trie nodes are distinct prefixes: about two per token in BERT
        // vocabularies (64,582 for 30,522 tokens), far fewer than the tokens'
        // scalars (197,687). Tables sized by that stay in cache; they grow when
        // a vocabulary shares fewer prefixes.
        let prefixScalars = Array(prefix.unicodeScalars)
        let continuing = prefix.isEmpty ? entries.count
            : entries.reduce(0) { $0 + ($1.0.utf8.starts(with: prefix.utf8) ? 1 : 0) }
        var initial = ScalarTrie(capacity: 2 * entries.count), continuation = ScalarTrie(capacity: 2 * continuing)
        for (t, id) in entries {
            initial.insert(t.unicodeScalars, id: id)
            if prefixScalars.isEmpty {
                continuation.insert(t.unicodeScalars, id: id)
            } else if t.unicodeScalars.starts(with: prefixScalars), t.unicodeScalars.count > prefixScalars.count {
                continuation.insert(t.unicodeScalars.dropFirst(prefixScalars.count), id: id)
            }
        }
        self.initial = initial
        self.continuation = continuation
    }

    /// Ranges in the result are indices of `word` (a slice keeps its parent's indices).
    /// With `asContinuation`, the first piece too comes from the `##` pieces
    /// (the word continues a previous one).
    func tokenize(_ word: ArraySlice<Unicode.Scalar>, asContinuation: Bool = false) -> [ModelToken] {
        let unk = [ModelToken(id: unkID, value: unkToken, range: word.startIndex..<word.endIndex)]
        if word.count > maxInputChars { return unk }
        var out: [ModelToken] = []
        var start = word.startIndex
        while start < word.endIndex {
            let trie = start == word.startIndex && !asContinuation ? initial : continuation
            guard let (end, id) = trie.longestMatch(word, from: start) else { return unk }
            out.append(ModelToken(id: id, value: tokens[id], range: start..<end))
            start = end
        }
        return out
    }
}

// MARK: - BPE

/// Byte-pair encoding with ranked merges (the byte-level variant maps bytes to
/// printable characters first, in the ByteLevel pre-tokenizer).
struct BPE: Sendable {
    let vocab: [String: Int]
    let tokens: [String]
    /// Merge rank by pair of token ids.
    let ranks: [Pair: Int]
    let unkID: Int?
    let unkToken: String?

    struct Pair: Hashable, Sendable {
        let a: Int
        let b: Int
    }

    init(vocab: [String: Int], merges: [(String, String)], unkToken: String?, path: String) throws {
        self.vocab = vocab
        let maxID = vocab.values.max() ?? -1
        guard maxID < 4 * vocab.count + 65_536 else {
            throw TokenizerError.invalid(path: path, reason: "vocabulary ids go up to \(maxID) for \(vocab.count) tokens")
        }
        var tokens = [String](repeating: "", count: maxID + 1)
        for (t, i) in vocab { tokens[i] = t }
        self.tokens = tokens
        var ranks: [Pair: Int] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[a], let ib = vocab[b] else {
                throw TokenizerError.invalid(path: path, reason: "merge \(rank) (\"\(a) \(b)\") uses a token missing from the vocabulary")
            }
            guard vocab[a + b] != nil else {
                throw TokenizerError.invalid(path: path, reason: "merge \(rank) (\"\(a) \(b)\") makes a token missing from the vocabulary")
            }
            if ranks[Pair(a: ia, b: ib)] == nil { ranks[Pair(a: ia, b: ib)] = rank }
        }
        self.ranks = ranks
        self.unkToken = unkToken
        self.unkID = unkToken.flatMap { vocab[$0] }
    }

    /// Merges the word's characters, lowest merge rank first (leftmost on
    /// ties), as the reference does: a heap of candidate pairs over a linked
    /// list of parts, O(n log n) in the word's length.
    func tokenize(_ word: [Unicode.Scalar]) -> [ModelToken] {
        let n = word.count
        guard n > 0 else { return [] }
        var ids = word.map { vocab[String($0)] }
        var texts = word.map { String($0) }
        let starts = Array(0..<n)
        var ends = Array(1...n)
        var prev = (0..<n).map { $0 - 1 }, next = (0..<n).map { $0 + 1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        func consider(_ i: Int) {
            let j = next[i]
            guard j < n, let a = ids[i], let b = ids[j], let r = ranks[Pair(a: a, b: b)] else { return }
            heap.push(rank: r, left: i, a: a, b: b)
        }
        for i in 0..<(n - 1) { consider(i) }
        while let c = heap.pop() {
            let i = c.left, j = next[i]
            guard alive[i], j < n, alive[j], ids[i] == c.a, ids[j] == c.b else { continue }
            texts[i] += texts[j]
            ids[i] = vocab[texts[i]]
            ends[i] = ends[j]
            alive[j] = false
            next[i] = next[j]
            if next[i] < n { prev[next[i]] = i }
            if prev[i] >= 0 { consider(prev[i]) }
            consider(i)
        }
        var out: [ModelToken] = []
        var i = 0
        while i < n {
            if let id = ids[i] {
                out.append(ModelToken(id: id, value: texts[i], range: starts[i]..<ends[i]))
            } else if let u = unkID, let t = unkToken {
                out.append(ModelToken(id: u, value: t, range: starts[i]..<ends[i]))
            }
            i = next[i]
        }
        return out
    }
}

/// A binary min-heap of merge candidates ordered by (rank, left position).
struct MergeHeap {
    struct Candidate { let rank: Int; let left: Int; let a: Int; let b: Int }
    private var items: [Candidate] = []

    private static func less(_ x: Candidate, _ y: Candidate) -> Bool {
        x.rank != y.rank ? x.rank < y.rank : x.left < y.left
    }

    mutating func push(rank: Int, left: Int, a: Int, b: Int) {
        items.append(Candidate(rank: rank, left: left, a: a, b: b))
        var k = items.count - 1
        while k > 0 {
            let parent = (k - 1) / 2
            guard MergeHeap.less(items[k], items[parent]) else { break }
            items.swapAt(k, parent)
            k = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && MergeHeap.less(items[l], items[m]) { m = l }
                if r < items.count && MergeHeap.less(items[r], items[m]) { m = r }
                if m == k { break }
                items.swapAt(k, m)
                k = m
            }
        }
        return top
    }
}
