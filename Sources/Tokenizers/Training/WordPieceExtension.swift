// WordPieceExtension — the WordPiece side of `extend-tokenizer`: greedy
// longest-match segmentation over a vocabulary that grows, candidates from
// adjacent pieces kept in a PairBook, each tried on every word holding its text.

import Formats

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
