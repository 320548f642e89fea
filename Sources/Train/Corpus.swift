// Corpus — training examples from plain text or JSONL: documents, sentence
// splitting, tokenization, truncation or group_texts blocks, and the eval split.

import Formats
import Model
import Tokenizers

/// A corpus file that cannot be used, with where and why.
public struct CorpusError: Error, Equatable, CustomStringConvertible {
    public let path: String
    /// 1-based line, when the problem is on one line.
    public let line: Int?
    public let reason: String
    public init(path: String, line: Int? = nil, reason: String) { self.path = path; self.line = line; self.reason = reason }
    public var description: String { line.map { "\(path):\($0): \(reason)" } ?? "\(path): \(reason)" }
}

/// One training sequence: token ids with their special-token flags, and
/// labels when the data came already masked.
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

/// Reads corpus files into examples.
public enum Corpus {
    /// Loads and tokenizes `paths`. Plain text unless a file ends in `.jsonl`,
    /// whose lines are objects with `text`, or with `input_ids` (and
    /// optionally `labels`) already tokenized.
    ///
    /// - Throws: `CorpusError` naming the file and line: binary data, invalid
    ///   UTF-8, invalid JSON, ids outside the vocabulary, no examples at all.
    public static func load(_ paths: [String], tokenizer: Tokenizer, vocabSize: Int, options: CorpusOptions,
                            threads: Int = 1) throws -> [Example] {
        try load(contents: paths.map { ($0, try readFile($0, limit: 1 << 34)) }, tokenizer: tokenizer, vocabSize: vocabSize,
                 options: options, threads: threads)
    }

    /// `load` over files already read.
    static func load(contents: [(path: String, bytes: [UInt8])], tokenizer: Tokenizer, vocabSize: Int, options: CorpusOptions,
                     threads: Int) throws -> [Example] {
        var examples: [Example] = []
        for (path, bytes) in contents {
            if bytes.contains(0) {
                let line = bytes.prefix(upTo: bytes.firstIndex(of: 0)!).reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
                throw CorpusError(path: path, line: line, reason: "binary data (a NUL byte): not a text corpus")
            }
            let lines = try utf8Lines(bytes, path: path)
            if path.hasSuffix(".jsonl") {
                examples += try jsonl(lines, path: path, tokenizer: tokenizer, vocabSize: vocabSize, options: options, threads: threads)
            } else {
                let docs = documents(lines, separator: options.documentSeparator)
                examples += texts(docs, tokenizer: tokenizer, options: options, threads: threads)
            }
        }
        guard !examples.isEmpty else {
            throw CorpusError(path: contents.map(\.path).joined(separator: ", "), reason: "no examples: the corpus is empty")
        }
        return examples
    }

    /// Lines of a file, each checked to be UTF-8.
    static func utf8Lines(_ bytes: [UInt8], path: String) throws -> [String] {
        try lineRanges(bytes).enumerated().map { number, range in
            guard let s = String(validating: bytes[range], as: UTF8.self) else {
                throw CorpusError(path: path, line: number + 1, reason: "invalid UTF-8")
            }
            return s
        }
    }

    static func documents(_ lines: [String], separator: CorpusOptions.DocumentSeparator) -> [String] {
        func blank(_ s: String) -> Bool { s.unicodeScalars.allSatisfy { $0.properties.isWhitespace } }
        switch separator {
        case .line:
            return lines.filter { !blank($0) }
        case .blank:
            var docs: [String] = [], current: [String] = []
            for l in lines {
                if blank(l) {
                    if !current.isEmpty { docs.append(current.joined(separator: " ")); current = [] }
                } else {
                    current.append(l)
                }
            }
            if !current.isEmpty { docs.append(current.joined(separator: " ")) }
            return docs
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

    static func texts(_ docs: [String], tokenizer: Tokenizer, options: CorpusOptions, threads: Int) -> [Example] {
        var pieces = docs
        if options.split == .sentences {
            var seen = Set<String>()
            pieces = []
            for d in docs {
                for s in sentences(d) where seen.insert(s).inserted { pieces.append(s) }
            }
        }
        let encodings = tokenizer.encodeBatch(pieces, addSpecialTokens: true, threads: threads)
        if let block = options.groupTexts {
            return groupTexts(encodings.map(\.ids), block: block)
        }
        return encodings.map { e in Example(ids: truncate(e.ids, specials: e.specialTokensMask, to: options.maxLength)) }
    }

    /// Keeps the first `n` tokens, and the closing special token when the
    /// sequence had one (as a tokenizer's truncation does).
    static func truncate(_ ids: [Int], specials: [Int], to n: Int) -> [Int] {
        guard ids.count > n else { return ids }
        if let last = specials.last, last == 1, n >= 2 { return Array(ids.prefix(n - 1)) + [ids[ids.count - 1]] }
        return Array(ids.prefix(n))
    }

    /// Concatenates and cuts blocks of `block` tokens; the remainder is dropped.
    static func groupTexts(_ sequences: [[Int]], block: Int) -> [Example] {
        let all = sequences.flatMap { $0 }
        let total = (all.count / block) * block
        return stride(from: 0, to: total, by: block).map { Example(ids: Array(all[$0..<($0 + block)])) }
    }

    static func jsonl(_ lines: [String], path: String, tokenizer: Tokenizer, vocabSize: Int, options: CorpusOptions,
                      threads: Int) throws -> [Example] {
        var texts: [String] = [], examples: [Example] = []
        for (n, line) in lines.enumerated() where !line.allSatisfy(\.isWhitespace) {
            let value: JSONValue
            do { value = try JSONParser.parse(line, path: path, mode: .strict) } catch {
                throw CorpusError(path: path, line: n + 1, reason: "invalid JSON")
            }
            guard let obj = value.object else { throw CorpusError(path: path, line: n + 1, reason: "not a JSON object") }
            if let text = obj["text"] {
                guard let s = text.string else { throw CorpusError(path: path, line: n + 1, reason: "\"text\" is not a string") }
                texts.append(s)
                continue
            }
            guard let idsValue = obj["input_ids"]?.array else {
                throw CorpusError(path: path, line: n + 1, reason: "needs a \"text\" string or an \"input_ids\" array")
            }
            let ids = idsValue.compactMap(\.int)
            guard ids.count == idsValue.count, !ids.isEmpty else {
                throw CorpusError(path: path, line: n + 1, reason: "\"input_ids\" must be a non-empty array of integers")
            }
            if let bad = ids.first(where: { $0 < 0 || $0 >= vocabSize }) {
                throw CorpusError(path: path, line: n + 1, reason: "token id \(bad) is outside the vocabulary (\(vocabSize))")
            }
            var labels: [Int]? = nil
            if let l = obj["labels"] {
                let values = l.array?.compactMap(\.int) ?? []
                guard values.count == ids.count, values.count == l.array?.count else {
                    throw CorpusError(path: path, line: n + 1, reason: "\"labels\" must be integers, one per input id")
                }
                if let bad = values.first(where: { $0 != MaskedLMBatch.ignoreIndex && ($0 < 0 || $0 >= vocabSize) }) {
                    throw CorpusError(path: path, line: n + 1, reason: "label \(bad) is outside the vocabulary (\(vocabSize))")
                }
                labels = values
            }
            guard ids.count <= options.maxLength else {
                throw CorpusError(path: path, line: n + 1, reason: "\(ids.count) input ids exceed --max-length \(options.maxLength)")
            }
            examples.append(Example(ids: ids, labels: labels))
        }
        if !texts.isEmpty {
            guard examples.isEmpty else {
                throw CorpusError(path: path, reason: "mixes \"text\" lines with \"input_ids\" lines")
            }
            return self.texts(texts, tokenizer: tokenizer, options: options, threads: threads)
        }
        return examples
    }

    /// Splits off the eval examples: a seeded choice of `ratio` of them.
    public static func evalSplit(_ examples: [Example], ratio: Double, seed: UInt64) -> (train: [Example], eval: [Example]) {
        guard ratio > 0, examples.count > 1 else { return (examples, []) }
        let n = min(examples.count - 1, max(1, Int((Double(examples.count) * ratio).rounded(.up))))
        var rng = SplitMix64(seed: mix(seed, 0x4556_414C))
        let order = permutation(examples.count, rng: &rng)
        let evalSet = Set(order.prefix(n))
        var train: [Example] = [], eval: [Example] = []
        for (i, e) in examples.enumerated() { if evalSet.contains(i) { eval.append(e) } else { train.append(e) } }
        return (train, eval)
    }
}

/// A Fisher–Yates permutation of `0..<n`.
func permutation(_ n: Int, rng: inout SplitMix64) -> [Int] {
    var p = Array(0..<n)
    if n < 2 { return p }
    for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(rng.next() % UInt64(i + 1))
        p.swapAt(i, j)
    }
    return p
}

/// Derives an independent seed from a base seed and stream identifiers.
func mix(_ seed: UInt64, _ parts: UInt64...) -> UInt64 {
    var rng = SplitMix64(seed: seed)
    var h = rng.next()
    for p in parts {
        var r = SplitMix64(seed: h ^ p)
        h = r.next()
    }
    return h
}

extension Corpus {
    /// `load`, with the tokenized examples cached in `cacheDirectory` under a
    /// digest of the corpus bytes, the tokenizer files and the options: a
    /// second run on the same inputs reads the cache instead of tokenizing.
    /// A cache file that cannot be read is ignored and rewritten.
    public static func loadCached(_ paths: [String], tokenizer: Tokenizer, tokenizerFiles: [(name: String, bytes: [UInt8])],
                                  vocabSize: Int, options: CorpusOptions, cacheDirectory: String,
                                  threads: Int = 1) throws -> (examples: [Example], fromCache: Bool) {
        var d = Digest()
        for b in Array("ckpt-corpus-cache-1".utf8) { d.add(Int(b)) }
        let contents = try paths.map { ($0, try readFile($0, limit: 1 << 34)) }
        for (path, bytes) in contents {
            d.add(bytes.count)
            for b in bytes { d.add(byte: b) }
            d.add(path.hasSuffix(".jsonl") ? 1 : 0)
        }
        for f in tokenizerFiles { d.add(f.bytes.count); for b in f.bytes { d.add(byte: b) } }
        for v in [options.documentSeparator == .line ? 0 : 1, options.split == .none ? 0 : 1, options.groupTexts ?? -1,
                  options.maxLength, vocabSize] { d.add(v) }
        let path = FileSystem.join(cacheDirectory, "corpus-\(d.hex).safetensors")
        if FileSystem.isFile(path), let cached = try? readCache(path) { return (cached, true) }
        let examples = try load(contents: contents, tokenizer: tokenizer, vocabSize: vocabSize, options: options, threads: threads)
        try FileSystem.makeDirectories(cacheDirectory)
        try writeCache(examples, to: path)
        return (examples, false)
    }

    /// `ids` (I32, all examples end to end), `lengths` (I64), `labels` (I32,
    /// −100 where none) and `has_labels` (U8 per example).
    static func writeCache(_ examples: [Example], to path: String) throws {
        let ids = examples.flatMap { $0.ids.map(Int32.init) }
        let labels = examples.flatMap { e in (e.labels ?? [Int](repeating: -100, count: e.ids.count)).map(Int32.init) }
        let lengths = examples.map { Int64($0.ids.count) }
        let has = examples.map { $0.labels == nil ? UInt8(0) : 1 }
        func tensor<T>(_ name: String, _ dtype: DType, _ values: [T]) throws -> TensorData {
            guard let info = TensorInfo(name: name, dtype: dtype, shape: [values.count]) else {
                throw CorpusError(path: path, reason: "corpus too large to cache")
            }
            return TensorData(info: info) { dst in values.withUnsafeBytes { if $0.count > 0 { dst.copyMemory(from: $0) } } }
        }
        try SafeTensorsWriter.write([tensor("ids", .i32, ids), tensor("labels", .i32, labels), tensor("lengths", .i64, lengths),
                                     tensor("has_labels", .u8, has)], to: path, overwrite: true)
    }

    static func readCache(_ path: String) throws -> [Example] {
        let file = try SafeTensorsFile(path: path)
        func values<T>(_ name: String, _ type: T.Type) throws -> [T] {
            try file.data(name).withUnsafeBytes { raw in
                (0..<(raw.count / MemoryLayout<T>.size)).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
            }
        }
        let ids = try values("ids", Int32.self), labels = try values("labels", Int32.self)
        let lengths = try values("lengths", Int64.self), has = try values("has_labels", UInt8.self)
        var total = 0
        for n in lengths {
            guard n > 0, n <= Int64(ids.count), !total.addingReportingOverflow(Int(n)).overflow else {
                throw CorpusError(path: path, reason: "inconsistent cache")
            }
            total += Int(n)
        }
        guard ids.count == labels.count, lengths.count == has.count, total == ids.count else {
            throw CorpusError(path: path, reason: "inconsistent cache")
        }
        var out: [Example] = []
        var at = 0
        for (n, h) in zip(lengths, has) {
            let r = at..<(at + Int(n))
            out.append(Example(ids: ids[r].map(Int.init), labels: h != 0 ? labels[r].map(Int.init) : nil))
            at += Int(n)
        }
        guard !out.isEmpty else { throw CorpusError(path: path, reason: "empty cache") }
        return out
    }
}
