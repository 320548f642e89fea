// Corpus — training examples from plain text or JSONL, streamed: files are
// read in blocks of lines, parsed and tokenized in parallel, and the examples
// written in file order to memory or to a token cache (TokenCache). Memory
// depends on the block size, not on the corpus size.

import Formats
import Model
import Tokenizers

/// One training sequence: token ids, and labels when the data came already masked.
public struct Example: Sendable, Equatable {
    public var ids: [Int]
    /// Labels given by the data (−100 where no loss); masking is then skipped.
    public var labels: [Int]?
    public init(ids: [Int], labels: [Int]? = nil) { self.ids = ids; self.labels = labels }
}

/// How documents become examples.
public struct CorpusOptions: Sendable, Equatable, Codable {
    public enum DocumentSeparator: String, Sendable, Codable, CaseIterable {
        /// One document per line.
        case line
        /// Documents separated by blank lines (lines joined by a space).
        case blank
    }
    public enum Split: String, Sendable, Codable, CaseIterable {
        /// A document is one example (truncated to `maxLength`).
        case none
        /// Sentences, split after `.`, `!` or `?` followed by whitespace, duplicates dropped.
        case sentences
    }
    public var documentSeparator: DocumentSeparator = .line
    public var split: Split = .none
    /// Concatenate the tokenized documents and cut blocks of this many tokens
    /// (transformers' `group_texts`; the remainder is dropped).
    public var groupTexts: Int? = nil
    /// Longest example, special tokens included.
    public var maxLength: Int = 128
    public init() {}
}

/// How far a corpus pass has come.
public struct CorpusProgress: Sendable {
    /// Bytes read of all files.
    public var bytesDone: Int
    public var bytesTotal: Int
    public var examples: Int
    public var tokens: Int
}

/// Reads corpus files into examples.
public enum Corpus {
    /// Loads and tokenizes `paths` into memory. Plain text unless a file ends
    /// in `.jsonl`, whose lines are objects with `text`, or with `input_ids`
    /// (and optionally `labels`) already tokenized.
    ///
    /// - Throws: `CorpusError` naming the file and line: binary data, invalid
    ///   UTF-8, invalid JSON, ids outside the vocabulary, no examples at all.
    public static func load(_ paths: [String], tokenizer: Tokenizer, vocabSize: Int, options: CorpusOptions,
                            threads: Int = 1) throws -> [Example] {
        try load(paths, tokenizer: tokenizer, vocabSize: vocabSize, options: options, threads: threads, blockSize: 1 << 20)
    }

    /// `load` with another block size (tests make blocks tiny so that lines and
    /// documents straddle them).
    static func load(_ paths: [String], tokenizer: Tokenizer, vocabSize: Int, options: CorpusOptions, threads: Int,
                     blockSize: Int) throws -> [Example] {
        let writer = ExampleWriter(idWidth: 4)
        try stream(paths, tokenizer: tokenizer, vocabSize: vocabSize, options: options, threads: threads, into: writer,
                   blockSize: blockSize)
        let examples = TokenizedExamples(memory: writer)
        return (0..<examples.count).map { examples[$0] }
    }

    /// Streams `paths` into `writer`, file by file and block by block.
    static func stream(_ paths: [String], tokenizer: Tokenizer, vocabSize: Int, options: CorpusOptions, threads: Int,
                       into writer: ExampleWriter, progress: ((CorpusProgress) -> Void)? = nil, blockSize: Int = 1 << 20) throws {
        // Sizes first (for progress); each file is opened only when its turn comes.
        let total = try paths.reduce(0) { $0 + (try fileSize($1)) }
        var before = 0
        for path in paths {
            let reader = try TextBlockReader(path: path, blockSize: blockSize)
            var file = CorpusFile(path: reader.path, options: options, vocabSize: vocabSize)
            while let block = try reader.next() {
                try file.take(block, tokenizer: tokenizer, threads: threads, into: writer)
                progress?(CorpusProgress(bytesDone: before + block.endOffset, bytesTotal: total,
                                         examples: writer.count, tokens: writer.tokenCount))
            }
            try file.finish(tokenizer: tokenizer, into: writer)
            before += reader.size
        }
        guard writer.count > 0 else {
            throw CorpusError(path: paths.joined(separator: ", "), reason: "no examples: the corpus is empty")
        }
    }

    /// The seed's `re.split(r'(?<=[.!?])\s+', text)`, empty pieces dropped.
    static func sentences(_ text: String) -> [String] {
        var out: [String] = []
        let scalars = Array(text.unicodeScalars)
        var start = 0, i = 0
        while i < scalars.count {
            if i > 0, scalars[i].properties.isWhitespace, [".", "!", "?"].contains(scalars[i - 1]) {
                var j = i
                while j < scalars.count && scalars[j].properties.isWhitespace { j += 1 }
                out.append(String(String.UnicodeScalarView(scalars[start..<i])))
                start = j
                i = j
                continue
            }
            i += 1
        }
        if start < scalars.count { out.append(String(String.UnicodeScalarView(scalars[start...]))) }
        return out.filter { !$0.isEmpty }
    }

    /// Keeps the first `n` tokens, and the closing special token when the
    /// sequence had one (as a tokenizer's truncation does).
    static func truncate(_ ids: [Int], specials: [Int], to n: Int) -> [Int] {
        guard ids.count > n else { return ids }
        if let last = specials.last, last == 1, n >= 2 { return Array(ids.prefix(n - 1)) + [ids[ids.count - 1]] }
        return Array(ids.prefix(n))
    }

    static func isBlank(_ s: String) -> Bool { s.unicodeScalars.allSatisfy { $0.properties.isWhitespace } }

    /// Splits off the eval examples: a seeded choice of `ratio` of them.
    public static func evalSplit(_ examples: [Example], ratio: Double, seed: UInt64) -> (train: [Example], eval: [Example]) {
        let (train, eval) = evalSplit(count: examples.count, ratio: ratio, seed: seed)
        return (train.map { examples[Int($0)] }, eval.map { examples[Int($0)] })
    }

    /// The positions of the train and eval examples, each in corpus order:
    /// eval is a seeded choice of ⌈count × ratio⌉ (at least one, and one
    /// short of all at most).
    public static func evalSplit(count: Int, ratio: Double, seed: UInt64) -> (train: [UInt32], eval: [UInt32]) {
        seededSplit(count: count, ratio: ratio, seed: seed)
    }
}

// MARK: - One file

/// A line of a JSONL file, parsed.
enum JSONLItem: Sendable {
    case blank
    case text(String)
    case ids([UInt32], labels: [Int32]?)
}

/// The state of one corpus file while its blocks stream through: the
/// document being assembled across blocks, the group_texts remainder, the
/// sentences seen, and which kind of JSONL lines the file holds.
struct CorpusFile {
    let path: String
    let options: CorpusOptions
    let vocabSize: Int
    let isJSONL: Bool
    /// Lines of a blank-line separated document not yet closed.
    private var pending: [String] = []
    /// group_texts: ids not yet cut into a block.
    private var carry: [UInt32] = []
    /// --split sentences: 128-bit hashes of the sentences kept (exact code points).
    private var seen = Set<SentenceHash>()
    /// JSONL: the first line with "text", and the first with "input_ids".
    private var firstText: Int? = nil, firstIDs: Int? = nil

    init(path: String, options: CorpusOptions, vocabSize: Int) {
        self.path = path
        self.options = options
        self.vocabSize = vocabSize
        self.isJSONL = path.hasSuffix(".jsonl")
    }

    /// Parses, tokenizes and writes one block.
    mutating func take(_ block: TextBlock, tokenizer: Tokenizer, threads: Int, into writer: ExampleWriter) throws {
        let runs = lineRuns(block, parts: max(1, threads) * 8)
        let path = self.path, vocab = vocabSize, maxLength = options.maxLength
        var texts: [String] = []
        if isJSONL {
            let parsed = parallelMap(runs.count, threads: threads) { r in
                try runs[r].map { try CorpusFile.parseJSONL(block, $0, path: path, vocabSize: vocab, maxLength: maxLength) }
            }
            var line = block.firstLine
            for result in parsed {
                for item in try result.get() {
                    defer { line += 1 }
                    switch item {
                    case .blank: continue
                    case let .text(s):
                        if firstText == nil { firstText = line }
                        try checkNotMixed(line)
                        texts.append(s)
                    case let .ids(ids, labels):
                        if firstIDs == nil { firstIDs = line }
                        try checkNotMixed(line)
                        try writer.append(ids: ids, labels: labels)
                    }
                }
            }
        } else {
            let parsed = parallelMap(runs.count, threads: threads) { r in
                try runs[r].map { i -> String? in
                    let s = try block.string(i, path: path)
                    return Corpus.isBlank(s) ? nil : s
                }
            }
            for result in parsed {
                for line in try result.get() {
                    switch options.documentSeparator {
                    case .line:
                        if let line { texts.append(line) }
                    case .blank:
                        if let line {
                            pending.append(line)
                        } else if !pending.isEmpty {
                            texts.append(pending.joined(separator: " "))
                            pending = []
                        }
                    }
                }
            }
        }
        try write(texts, tokenizer: tokenizer, threads: threads, into: writer)
    }

    /// The end of the file: the last document, and the group_texts remainder dropped.
    mutating func finish(tokenizer: Tokenizer, into writer: ExampleWriter) throws {
        if !pending.isEmpty {
            try write([pending.joined(separator: " ")], tokenizer: tokenizer, threads: 1, into: writer)
            pending = []
        }
        carry = []
    }

    private func checkNotMixed(_ line: Int) throws {
        if firstText != nil && firstIDs != nil {
            throw CorpusError(path: path, line: line, reason: "mixes \"text\" lines with \"input_ids\" lines (first \"text\" on line \(firstText!), first \"input_ids\" on line \(firstIDs!))")
        }
    }

    /// Tokenizes documents in parallel and writes their examples in order.
    private mutating func write(_ documents: [String], tokenizer: Tokenizer, threads: Int, into writer: ExampleWriter) throws {
        guard !documents.isEmpty else { return }
        let per = max(1, (documents.count + threads * 8 - 1) / (threads * 8))
        let parts = (documents.count + per - 1) / per
        let options = self.options
        let encoded = parallelMap(parts, threads: threads) { p -> [(hash: SentenceHash, ids: [UInt32])] in
            var out: [(hash: SentenceHash, ids: [UInt32])] = []
            for d in documents[(p * per)..<min(documents.count, (p + 1) * per)] {
                let pieces = options.split == .sentences ? Corpus.sentences(d) : [d]
                for piece in pieces {
                    var hash = SentenceHash(a: 0, b: 0)
                    if options.split == .sentences { hash = SentenceHash(piece) }
                    let e = tokenizer.encode(piece, addSpecialTokens: true)
                    let ids = options.groupTexts == nil
                        ? Corpus.truncate(e.ids, specials: e.specialTokensMask, to: options.maxLength) : e.ids
                    out.append((hash, ids.map { UInt32(truncatingIfNeeded: $0) }))
                }
            }
            return out
        }
        for result in encoded {
            for (hash, ids) in try result.get() {
                if options.split == .sentences && !seen.insert(hash).inserted { continue }
                if let block = options.groupTexts {
                    carry += ids
                    if carry.count >= block {
                        let whole = carry.count / block * block
                        for start in stride(from: 0, to: whole, by: block) { try writer.append(ids: Array(carry[start..<(start + block)]), labels: nil) }
                        carry.removeFirst(whole)
                    }
                } else {
                    try writer.append(ids: ids, labels: nil)
                }
            }
        }
    }

    /// One JSONL line: blank, a text, or ids (with labels) checked against the vocabulary.
    static func parseJSONL(_ block: TextBlock, _ i: Int, path: String, vocabSize: Int, maxLength: Int) throws -> JSONLItem {
        let line = block.firstLine + i
        let s = try block.string(i, path: path)
        if s.allSatisfy(\.isWhitespace) { return .blank }
        let value: JSONValue
        do { value = try JSONParser.parse(s, path: path, mode: .strict) } catch {
            throw CorpusError(path: path, line: line, reason: "invalid JSON")
        }
        guard let obj = value.object else { throw CorpusError(path: path, line: line, reason: "not a JSON object") }
        if let text = obj["text"] {
            guard let s = text.string else { throw CorpusError(path: path, line: line, reason: "\"text\" is not a string") }
            return .text(s)
        }
        guard let idsValue = obj["input_ids"]?.array else {
            throw CorpusError(path: path, line: line, reason: "needs a \"text\" string or an \"input_ids\" array")
        }
        let ids = idsValue.compactMap(\.int)
        guard ids.count == idsValue.count, !ids.isEmpty else {
            throw CorpusError(path: path, line: line, reason: "\"input_ids\" must be a non-empty array of integers")
        }
        if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
            throw CorpusError(path: path, line: line, reason: "token id \(bad) is outside the vocabulary (\(vocabSize))")
        }
        var labels: [Int32]? = nil
        if let l = obj["labels"] {
            let values = l.array?.compactMap(\.int) ?? []
            guard values.count == ids.count, values.count == l.array?.count else {
                throw CorpusError(path: path, line: line, reason: "\"labels\" must be integers, one per input id")
            }
            if let bad = values.first(where: { $0 != TrainingBatch.ignoreIndex && ($0 < 0 || $0 >= vocabSize) }) {
                throw CorpusError(path: path, line: line, reason: "label \(bad) is outside the vocabulary (\(vocabSize))")
            }
            labels = values.map { Int32($0) }
        }
        guard ids.count <= maxLength else {
            throw CorpusError(path: path, line: line, reason: "\(ids.count) input ids exceed --max-length \(maxLength)")
        }
        return .ids(ids.map { UInt32($0) }, labels: labels)
    }
}

/// A sentence's identity for de-duplication: two XXH64s of its UTF-8 bytes
/// (different seeds), 128 bits, so that a collision among even 10¹² sentences
/// is improbable (about 10⁻¹⁵).
struct SentenceHash: Hashable, Sendable {
    let a: UInt64, b: UInt64
    init(a: UInt64, b: UInt64) { self.a = a; self.b = b }
    init(_ s: String) {
        let bytes = Array(s.utf8)
        var x = Checksum64(seed: 0), y = Checksum64(seed: 0x9E37_79B9_7F4A_7C15)
        x.update(bytes); y.update(bytes)
        a = x.value; b = y.value
    }
}
