// ckpt extend-tokenizer — a base tokenizer kept whole, with domain tokens
// appended as real vocabulary pieces (WordPiece entries or BPE merges).

import ArgumentParser
import Formats
import Tokenizers
#if canImport(Glibc)
import Glibc
#endif

struct ExtendTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extend-tokenizer",
        abstract: "Append domain tokens to a tokenizer as vocabulary pieces (WordPiece entries or BPE merges), every old id kept.",
        discussion: """
            Candidates come from the base tokenizer's own segmentation of the corpus's words: the \
            most frequent adjacent pieces are merged (continued BPE training). Each added token \
            fires under the tokenizer's own encoding and makes no word, hence no line, longer. \
            Then `ckpt resize-vocab MODEL --tokenizer OUT` appends rows: old rows stay, new rows \
            start as the mean of their pieces.
            """)

    @Argument(help: "The base tokenizer: a model or tokenizer directory (tokenizer.json, or vocab.txt for BERT).")
    var base: String

    @Option(parsing: .upToNextOption, help: "Domain corpus files (text lines, or .jsonl with \"text\").")
    var corpus: [String] = []

    @Option(help: "Tokens to add.")
    var add: Int

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "compression (tokens saved on the corpus) or divergence (domain vs --base-corpus frequency, Adaptive Tokenization).")
    var criterion: ExtensionOptions.Criterion = .compression

    @Option(parsing: .upToNextOption, help: "General-domain corpus files, for --criterion divergence.")
    var baseCorpus: [String] = []

    @Option(help: "Smallest count of a merged pair.")
    var minFrequency: Int = 2

    @Flag(help: "Fill BERT's [unusedN] slots before appending.")
    var reuseUnused = false

    @Option(help: "Write the report as JSON to this file.")
    var report: String?

    @OptionGroup var threading: ThreadOption

    @Flag(help: "Replace an existing --out.")
    var force = false

    func validate() throws {
        guard !corpus.isEmpty else { throw ValidationError("--corpus needs at least one file") }
        guard add >= 1 && add <= 1 << 20 else { throw ValidationError("--add must be in 1...1048576") }
        guard minFrequency >= 1 else { throw ValidationError("--min-frequency must be at least 1") }
        if criterion == .divergence && baseCorpus.isEmpty { throw ValidationError("--criterion divergence needs --base-corpus") }
    }

    func run() throws {
        let n = threading.count
        try reportingErrors {
            let dir = FileSystem.isDirectory(base) ? base : FileSystem.dirname(base)
            let tok = try Tokenizer(path: dir)
            guard tok.modelType != "Unigram" else {
                throw TokenizerError.unsupported(path: dir, what: "extending a Unigram (SentencePiece) vocabulary")
            }
            let pipeline = TrainingPipeline(tok)
            let domain = try TokenizerTraining.countWords(corpus, pipeline: pipeline, threads: n, lineEnds: false)
            let general = baseCorpus.isEmpty ? nil : try TokenizerTraining.countWords(baseCorpus, pipeline: pipeline, threads: n, lineEnds: false)
            var merges: [(String, String)] = []
            let tjPath = FileSystem.join(dir, "tokenizer.json")
            if FileSystem.isFile(tjPath) {
                let json = try JSONParser.parse(try readFile(tjPath, limit: 1 << 28), path: tjPath)
                merges = (json["model"]?["merges"]?.array ?? []).compactMap { m in
                    if let s = m.string { let p = s.split(separator: " ", maxSplits: 1).map(String.init); return p.count == 2 ? (p[0], p[1]) : nil }
                    if let a = m.array?.compactMap(\.string), a.count == 2 { return (a[0], a[1]) }
                    return nil
                }
            }
            var o = ExtensionOptions()
            o.add = add; o.criterion = criterion; o.minFrequency = minFrequency; o.reuseUnused = reuseUnused
            let r = try VocabularyExtension.extend(tok, domain: domain, base: general, merges: merges, options: o, path: dir)
            guard !r.added.isEmpty else {
                throw TokenizerError.invalid(path: corpus.joined(separator: ", "), reason: "no token could be added (no pair of pieces is seen \(minFrequency) times)")
            }
            let files = try VocabularyExtension.files(base: dir, result: r)
            try FileSystem.makeDirectories(FileSystem.dirname(FileSystem.normalized(out)))
            let output = try AtomicDirectory(path: out, overwrite: force)
            for f in files { try output.writeFile(f.name, f.bytes) }
            if let report { try writeReport(r, to: report) }
            try output.commit()
            let reused = r.added.filter { $0.id < tok.idCount }.count
            print("base             \(dir): \(grouped(tok.idCount)) tokens")
            print("added            \(grouped(r.added.count)) tokens" + (reused > 0 ? " (\(reused) in [unused] slots)" : "")
                  + (r.added.count < add ? " of \(add) asked: no other candidate is seen \(minFrequency) times, fires and lengthens no word" : "")
                  + (r.rejected > 0 ? "; \(r.rejected) candidates dropped (they would not fire or would lengthen a word)" : ""))
            print("tokens per word  \(fmt(Double(r.tokensBefore) / Double(r.words), 3)) → \(fmt(Double(r.tokensAfter) / Double(r.words), 3))"
                  + "  (\(grouped(r.tokensBefore)) → \(grouped(r.tokensAfter)) tokens on the corpus, "
                  + "\(fmt(100 * (1 - Double(r.tokensAfter) / Double(max(1, r.tokensBefore))), 1)) % fewer)")
            print("bytes per token  \(fmt(Double(r.bytes) / Double(r.tokensBefore), 2)) → \(fmt(Double(r.bytes) / Double(r.tokensAfter), 2))")
            print("top added        " + r.added.prefix(8).map { "\($0.token) (\($0.oldPieces.joined(separator: " ")))" }.joined(separator: ", "))
            print("next             ckpt resize-vocab MODEL --tokenizer \(FileSystem.normalized(out)) appends rows: old rows stay, new rows are subword means")
            print("wrote            \(FileSystem.normalized(out)): " + files.map(\.name).joined(separator: ", "))
        }
    }

    func writeReport(_ r: ExtensionResult, to path: String) throws {
        func n(_ v: Int) -> JSONValue { .number(JSONNumber(v)) }
        let v = JSONValue.object(JSONObject([
            ("criterion", .string(criterion.rawValue)), ("added", n(r.added.count)), ("rejected", n(r.rejected)),
            ("corpus_words", n(r.words)), ("corpus_bytes", n(r.bytes)),
            ("tokens_before", n(r.tokensBefore)), ("tokens_after", n(r.tokensAfter)),
            ("tokens", .array(r.added.map { a in .object(JSONObject([("token", .string(a.token)), ("id", n(a.id)),
                                                                   ("old_pieces", .array(a.oldPieces.map { .string($0) })), ("count", n(a.count))])) })),
            ("merges", .array(r.newMerges.map { .array([.string($0.0), .string($0.1)]) })),
        ]))
        let f = try AtomicFile(path: path, overwrite: true)
        try f.write(Array(v.serialized(indent: 2).utf8) + [0x0A], at: 0)
        try f.commit()
    }
}

extension ExtensionOptions.Criterion: ExpressibleByArgument {}
