// BPETrainer — Hugging Face `tokenizers`' BpeTrainer, step for step, made
// deterministic: word counts → alphabet → merges by count. WordPiece training
// is the same with a `##` continuing-subword prefix.
//
// Steps (HF names in parentheses):
//  1. special tokens get ids 0… in the given order;
//  2. alphabet (compute_alphabet): each character counted with its word's count,
//     initial-alphabet characters counted as maximal; beyond `limitAlphabet` the
//     least frequent are dropped (ties: the higher code point first — HF leaves
//     ties to an unstable sort); kept characters get ids in code-point order;
//  3. words become symbols (tokenize_words): characters outside the alphabet are
//     dropped, non-initial ones take the prefix, the last one the suffix; new
//     symbols get ids as first met, words taken in code-point order (HF takes
//     them in hash-map order, which is why its WordPiece training is not
//     reproducible);
//  4. pairs are counted, and the most frequent pair is merged, ties to the
//     smallest (left id, right id), with HF's lazy re-validation of stale
//     counts, until the vocabulary is full, no pair is left, or the best count
//     is below `minFrequency`. A merge whose token already exists reuses its id.

import Formats

/// What to train.
public struct BPETrainingOptions: Sendable, Equatable {
    public var vocabSize = 30000
    public var minFrequency = 0
    public var specialTokens: [String] = []
    public var limitAlphabet: Int? = nil
    public var initialAlphabet: [Unicode.Scalar] = []
    public var continuingSubwordPrefix: String? = nil
    public var endOfWordSuffix: String? = nil
    /// Longest merged token, in characters.
    public var maxTokenLength: Int? = nil
    public init() {}

    /// The byte-level pre-tokenizer's 256 byte symbols, in byte order (the
    /// initial alphabet of a byte-level BPE).
    public static var byteLevelAlphabet: [Unicode.Scalar] { ByteLevel.byteToScalar }
}

/// A trained vocabulary (ids in order) and its merges (in rank order).
public struct BPETrainingResult: Sendable, Equatable {
    public var vocabulary: [String]
    public var merges: [(String, String)]
    /// Tokens before the first merge: special tokens, alphabet and its prefixed forms.
    public var initialSize = 0
    public static func == (a: BPETrainingResult, b: BPETrainingResult) -> Bool {
        a.vocabulary == b.vocabulary && a.merges.map { [$0.0, $0.1] } == b.merges.map { [$0.0, $0.1] }
    }
}

public enum BPETrainer {
    typealias Pair = UInt64  // left id << 32 | right id: orders as (left, right)

    /// Trains on `wordCounts` (word → occurrences; words compare by code points).
    public static func train(_ wordCounts: [ExactString: Int], options o: BPETrainingOptions) -> BPETrainingResult {
        var vocab: [String] = []
        var ids: [ExactString: UInt32] = [:]
        func add(_ s: String) {
            guard ids[ExactString(s)] == nil else { return }
            ids[ExactString(s)] = UInt32(vocab.count)
            vocab.append(s)
        }
        // 1. Special tokens.
        for s in o.specialTokens { add(s) }
        // 2. The alphabet.
        let words = wordCounts.keys.sorted { $0.string.unicodeScalars.lexicographicallyPrecedes($1.string.unicodeScalars) }
        var alphabet: [Unicode.Scalar: Int] = [:]
        for key in words {
            let w = key.string, c = wordCounts[key]!
            for u in w.unicodeScalars { alphabet[u, default: 0] &+= c }
        }
        for u in o.initialAlphabet { alphabet[u] = Int.max }
        var kept = Array(alphabet)
        if let limit = o.limitAlphabet, kept.count > limit {
            kept.sort { $0.value != $1.value ? $0.value < $1.value : $0.key.value > $1.key.value }
            kept.removeFirst(kept.count - limit)
        }
        kept.sort { $0.key.value < $1.key.value }
        for (u, _) in kept { add(String(u)) }
        let inAlphabet = Set(kept.map(\.key))
        // 3. Words as symbol ids.
        var symbols: [[Symbol]] = []
        var counts: [Int] = []
        symbols.reserveCapacity(words.count)
        for key in words {
            let scalars = Array(key.string.unicodeScalars)
            var word: [Symbol] = []
            for (i, u) in scalars.enumerated() where inAlphabet.contains(u) {
                var s = String(u)
                if i > 0, let p = o.continuingSubwordPrefix { s = p + s }
                if i == scalars.count - 1, let x = o.endOfWordSuffix { s += x }
                add(s)
                word.append(Symbol(id: ids[ExactString(s)]!, length: 1))
            }
            symbols.append(word)
            counts.append(wordCounts[key]!)
        }
        // 4. Pair counts and the merge loop.
        let initialSize = vocab.count
        var state = MergeState(vocab: vocab, ids: ids, symbols: symbols, counts: counts)
        let merges = state.run(until: o.vocabSize, minFrequency: o.minFrequency, stopBelowMinimum: true,
                               prefix: o.continuingSubwordPrefix, maxLength: o.maxTokenLength ?? Int.max) { count, _ in Double(count) }
        vocab = state.vocab
        // A pair merged twice (its token reached again through another merge) keeps its last rank, as in HF.
        var lastRank: [Pair: Int] = [:]
        for (r, m) in merges.enumerated() { lastRank[m.pair] = r }
        let ranked = merges.enumerated().filter { lastRank[$0.element.pair] == $0.offset }.map(\.element.pair)
        return BPETrainingResult(vocabulary: vocab,
                                 merges: ranked.map { (vocab[Int($0 >> 32)], vocab[Int($0 & 0xFFFF_FFFF)]) }, initialSize: initialSize)
    }

    @inline(__always) static func pair(_ a: UInt32, _ b: UInt32) -> Pair { UInt64(a) << 32 | UInt64(b) }

    struct Symbol {
        var id: UInt32
        /// Characters (HF's trainer gives each symbol length 1 and adds them up).
        var length: Int
    }

    /// Merges every non-overlapping occurrence of `p` in `word`, left to right,
    /// and returns the pair-count changes (HF's Word::merge).
    static func merge(_ word: inout [Symbol], _ p: Pair, _ newID: UInt32, maxLength: Int) -> [(Pair, Int)] {
        let c1 = UInt32(p >> 32), c2 = UInt32(p & 0xFFFF_FFFF)
        var changes: [(Pair, Int)] = []
        var i = 0
        while i < word.count {
            if word[i].id == c1, i + 1 < word.count, word[i + 1].id == c2 {
                let first = word[i], second = word[i + 1]
                let merged = Symbol(id: newID, length: first.length + second.length)
                if i > 0 {
                    changes.append((pair(word[i - 1].id, first.id), -1))
                    if word[i - 1].length + merged.length < maxLength { changes.append((pair(word[i - 1].id, newID), 1)) }
                }
                word.replaceSubrange(i...(i + 1), with: [merged])
                if i < word.count - 1 {
                    changes.append((pair(second.id, word[i + 1].id), -1))
                    if word[i + 1].length + merged.length < maxLength { changes.append((pair(newID, word[i + 1].id), 1)) }
                }
            }
            i += 1
        }
        return changes
    }

    /// A pair with the count it had when queued and the words it was seen in.
    struct Candidate {
        var pair: Pair
        var count: UInt64
        /// The order of the queue: the count when training (HF's order), a
        /// criterion's score when extending.
        var score: Double
        var positions: Set<Int32>
        /// Pops first: the higher score, then the smaller pair.
        func before(_ o: Candidate) -> Bool { score != o.score ? score > o.score : pair < o.pair }
    }

    /// Words as symbol ids over a vocabulary, merged pair by pair.
    struct MergeState {
        var vocab: [String]
        var ids: [ExactString: UInt32]
        var symbols: [[Symbol]]
        let counts: [Int]

        /// Merges the best pair, again and again, until the vocabulary has
        /// `target` tokens, no pair is left, or (with `stopBelowMinimum`) the
        /// best count is below `minFrequency` (else such pairs are skipped).
        /// Returns the merges in order with their new ids and counts.
        mutating func run(until target: Int, minFrequency: Int, stopBelowMinimum: Bool, prefix: String?, maxLength: Int,
                          score: (Int, Pair) -> Double) -> [(pair: Pair, id: UInt32, count: Int)] {
            var pairCounts: [Pair: Int32] = [:]
            var positions: [Pair: Set<Int32>] = [:]
            for (i, word) in symbols.enumerated() where word.count > 1 {
                for k in 0..<(word.count - 1) {
                    let p = pair(word[k].id, word[k + 1].id)
                    pairCounts[p, default: 0] &+= Int32(truncatingIfNeeded: counts[i])
                    positions[p, default: []].insert(Int32(i))
                }
            }
            var queue = PriorityHeap<Candidate> { $0.before($1) }
            func candidate(_ p: Pair, _ pos: Set<Int32>) -> Candidate {
                let c = Int(pairCounts[p]!)
                return Candidate(pair: p, count: UInt64(c), score: score(c, p), positions: pos)
            }
            for (p, pos) in positions where pairCounts[p]! > 0 { queue.push(candidate(p, pos)) }
            positions = [:]
            var merges: [(pair: Pair, id: UInt32, count: Int)] = []
            while vocab.count < target, var top = queue.pop() {
                let current = UInt64(max(0, pairCounts[top.pair]!))
                if top.count != current {
                    top.count = current
                    top.score = score(Int(current), top.pair)
                    queue.push(top)
                    continue
                }
                if top.count < 1 { break }
                if UInt64(max(0, minFrequency)) > top.count {
                    if stopBelowMinimum { break }
                    continue
                }
                let a = vocab[Int(top.pair >> 32)]
                var b = vocab[Int(top.pair & 0xFFFF_FFFF)]
                if let p = prefix, b.unicodeScalars.starts(with: p.unicodeScalars) {
                    b = String(String.UnicodeScalarView(b.unicodeScalars.dropFirst(p.unicodeScalars.count)))
                }
                let token = a + b
                if ids[ExactString(token)] == nil {
                    ids[ExactString(token)] = UInt32(vocab.count)
                    vocab.append(token)
                }
                let newID = ids[ExactString(token)]!
                merges.append((top.pair, newID, Int(top.count)))
                var touched: [Pair: Set<Int32>] = [:]
                for i in top.positions {
                    for (p, change) in merge(&symbols[Int(i)], top.pair, newID, maxLength: maxLength) {
                        pairCounts[p, default: 0] &+= Int32(change) &* Int32(truncatingIfNeeded: counts[Int(i)])
                        if change > 0 { touched[p, default: []].insert(i) }
                    }
                }
                for (p, pos) in touched where pairCounts[p]! > 0 { queue.push(candidate(p, pos)) }
            }
            return merges
        }
    }

}
