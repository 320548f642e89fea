// VocabTrimmer — keeps only the pieces a domain corpus uses (and their
// embedding rows): the usual way to make XLM-RoBERTa's 250,002-row vocabulary
// affordable for one language or domain.
//
// The corpus is tokenized with the model's own tokenizer and each piece
// counted. Kept: every added and special token, the unknown piece, the
// byte-fallback pieces, the lowest-scoring Unigram piece (the unknown
// penalty is relative to it), and the pieces the corpus uses (the `keep`
// most frequent, if given). Pieces keep their order, so the fairseq special
// ids (`<s> <pad> </s> <unk>` … `<mask>`) and the pad id stay where they are.
// The trimmed tokenizer is written, then the model is moved onto it by
// VocabResizer — rows found by token string, output self-checked — and the
// corpus's first lines must encode to the same tokens as before.

import Formats
import Tokenizers

public struct TrimOptions: Sendable {
    /// Keep at most this many of the used pieces (the most frequent).
    public var keep: Int? = nil
    /// Threads for tokenizing the corpus.
    public var threads = 1
    public var target: ConvertOptions.Target? = nil
    public var overwrite = false
    public init() {}
}

/// What a trim did.
public struct TrimReport: Sendable {
    public var oldPieces = 0, keptPieces = 0, usedPieces = 0, alwaysKept = 0
    public var corpusTokens = 0
    /// Share of the corpus's tokens whose piece was kept (1 without `keep`).
    public var coverage = 1.0
    /// Corpus lines re-encoded by the trimmed tokenizer, and how many encode
    /// to the same tokens (all of them without `keep`).
    public var checkedLines = 0, identicalLines = 0
    public var resize = ResizeReport()
}

public enum VocabTrimmer {
    /// Writes `source` with only the pieces `corpus` uses to `destination`.
    ///
    /// - Throws: `ConvertError` for a tokenizer that cannot be trimmed (BPE,
    ///   no tokenizer.json), a corpus line that is not UTF-8
    ///   (`CorpusError`), a failed self-check; nothing appears then.
    public static func trim(_ source: Checkpoint, corpus: [String], to destination: String, options: TrimOptions) throws -> TrimReport {
        guard let tjBytes = source.files.first(where: { $0.name == "tokenizer.json" })?.bytes else {
            throw ConvertError(path: source.path, reason: "no tokenizer.json: trim-vocab rewrites it")
        }
        let tjPath = FileSystem.join(source.path, "tokenizer.json")
        let tok = try Tokenizer(tokenizerJSON: tjBytes, path: tjPath)
        guard tok.modelType == "Unigram" || tok.modelType == "WordPiece" else {
            throw ConvertError(path: tjPath, reason: "a \(tok.modelType) vocabulary cannot be trimmed (its merges build pieces from other pieces); "
                + "train a smaller tokenizer (ckpt train-tokenizer --from) and move the model with ckpt resize-vocab")
        }
        let target = options.target ?? (source.format == .hdf5 ? .hdf5 : .safetensors)
        try VocabResizer.checkDestination(FileSystem.normalized(destination), target: target, overwrite: options.overwrite, source: source)
        var report = TrimReport()
        let n = tok.idCount
        report.oldPieces = n

        // Count the corpus's pieces.
        var counts = [Int](repeating: 0, count: n)
        var sample: [String] = []
        for path in corpus {
            let reader = try TextBlockReader(path: path)
            while let block = try reader.next() {
                var lines: [String] = []
                lines.reserveCapacity(block.lines.count)
                for i in block.lines.indices { lines.append(try block.string(i, path: path)) }
                lines.removeAll { $0.isEmpty }
                if sample.count < 2000 { sample += lines.prefix(2000 - sample.count) }
                for e in tok.encodeBatch(lines, addSpecialTokens: false, threads: options.threads) {
                    for id in e.ids where id < n { counts[id] += 1 }
                    report.corpusTokens += e.ids.count
                }
            }
        }
        guard report.corpusTokens > 0 else {
            throw ConvertError(path: corpus.joined(separator: ", "), reason: "the corpus has no tokens: nothing says which pieces to keep")
        }

        // What is kept.
        var always = Set(tok.addedTokens.map(\.id))
        if let u = tok.unknownID { always.insert(u) }
        always.formUnion(tok.structuralIDs)
        let editor = try TokenizerTrim(files: source.files, path: source.path)
        always.formUnion(editor.referencedIDs.filter { $0 >= 0 && $0 < n })
        var used = (0..<n).filter { counts[$0] > 0 && !always.contains($0) }
        report.usedPieces = used.count
        if let k = options.keep, used.count > k {
            used.sort { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
            used = Array(used.prefix(k))
            let keptTokens = used.reduce(0) { $0 + counts[$1] } + always.reduce(0) { $0 + counts[$1] }
            report.coverage = Double(keptTokens) / Double(report.corpusTokens)
        }
        let kept = always.union(used).filter { $0 < n }.sorted()
        report.keptPieces = kept.count
        report.alwaysKept = always.count

        // The trimmed tokenizer files, then the model moved onto them.
        let trimmedFiles = try editor.files(kept: kept)
        let dir = FileSystem.temporaryName(beside: FileSystem.normalized(destination) + "-tokenizer")
        try FileSystem.makeDirectories(dir)
        defer { try? FileSystem.removeDirectory(dir) }
        for f in trimmedFiles {
            let out = try AtomicFile(path: FileSystem.join(dir, f.name), overwrite: true)
            try out.write(f.bytes, at: 0)
            try out.commit()
        }
        let trimmed = try Tokenizer(path: dir)
        // The trimmed tokenizer encodes the corpus as before (with `keep`, the
        // share of lines that still do is reported).
        let before = tok.encodeBatch(sample, addSpecialTokens: true, threads: options.threads)
        let after = trimmed.encodeBatch(sample, addSpecialTokens: true, threads: options.threads)
        report.checkedLines = sample.count
        report.identicalLines = zip(before, after).filter { a, b in
            a.tokens.map { Array($0.unicodeScalars) } == b.tokens.map { Array($0.unicodeScalars) } && a.offsets.elementsEqual(b.offsets, by: ==)
        }.count
        if options.keep == nil && report.identicalLines != report.checkedLines {
            let bad = before.indices.first { before[$0].tokens != after[$0].tokens }.map { sample[$0] } ?? ""
            throw ConvertError(path: destination, reason: "self-check failed: the trimmed tokenizer encodes \(report.checkedLines - report.identicalLines) "
                + "of \(report.checkedLines) corpus lines differently, e.g. \(JSONValue.string(String(bad.prefix(80))).serialized())")
        }
        var o = ResizeOptions()
        o.target = options.target
        o.overwrite = options.overwrite
        o.sampleTexts = Array(sample.prefix(32))
        // Each kept row is the old row of the same id (not looked up by string:
        // a vocabulary may list a piece twice).
        o.sourceRows = kept
        report.resize = try VocabResizer.resize(source, tokenizerDirectory: dir, to: destination, options: o, loaded: (tok, trimmed))
        return report
    }
}
