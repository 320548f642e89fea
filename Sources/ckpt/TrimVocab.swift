// ckpt trim-vocab — keep only the pieces a domain corpus uses.

import ArgumentParser
import Convert
import Formats

struct TrimVocab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trim-vocab",
        abstract: "Keep only the vocabulary pieces (and rows) a corpus uses, plus the special tokens; output self-checked.")

    @Argument(help: "A model directory or weights file with its config and tokenizer.json (Unigram or WordPiece).")
    var model: String

    @Option(parsing: .upToNextOption, help: "Text files (one text per line) whose pieces are kept.")
    var corpus: [String] = []

    @Option(help: "Output: a model directory (or a .h5 store with --to hdf5).")
    var out: String

    @Option(help: "Keep at most N of the pieces the corpus uses (the most frequent), besides the special tokens.")
    var keep: Int?

    @Option(help: "Output format: safetensors or hdf5 (default: the source's).")
    var to: ConvertOptions.Target?

    @Option(help: "Write the report as JSON to this file.")
    var report: String?

    @OptionGroup var threading: ThreadOption

    @Flag(help: "Replace an existing output.")
    var force = false

    func validate() throws {
        guard !corpus.isEmpty else { throw ValidationError("--corpus needs at least one file") }
        if let k = keep, k < 1 { throw ValidationError("--keep must be at least 1") }
    }

    func run() throws {
        let r = try reportingErrors { () -> TrimReport in
            let ckpt = try Checkpoint(path: model)
            var o = TrimOptions()
            o.keep = keep
            o.threads = threading.count
            o.target = to
            o.overwrite = force
            let r = try VocabTrimmer.trim(ckpt, corpus: corpus, to: out, options: o)
            if let path = report {
                let file = try AtomicFile(path: path, overwrite: true)
                try file.write(Array(json(r).serialized(indent: 2).utf8) + [0x0A], at: 0)
                try file.commit()
            }
            return r
        }
        let pct = { (x: Double) in String((x * 1000).rounded() / 10) + " %" }
        print("vocabulary       \(r.oldPieces) → \(r.keptPieces) pieces (\(r.resize.oldRows) → \(r.resize.newRows) rows)")
        print("kept             \(r.keptPieces - r.alwaysKept) of the \(r.usedPieces) pieces the corpus uses, \(r.alwaysKept) special and structural pieces")
        print("corpus           \(r.corpusTokens) tokens, \(pct(r.coverage)) of them keep their piece")
        print("tokenizer check  \(r.identicalLines) of \(r.checkedLines) corpus lines encode to the same tokens")
        let s = r.resize
        print("self-check       OK: \(s.checkedSequences) sequences, \(s.checkedValues) hidden-state values and logits, largest difference \(s.maxDifference)")
        print("wrote            \(s.outputs.joined(separator: ", "))")
    }

    func json(_ r: TrimReport) -> JSONValue {
        func n(_ v: Int) -> JSONValue { .number(JSONNumber(v)) }
        return .object(JSONObject([
            ("old_pieces", n(r.oldPieces)), ("kept_pieces", n(r.keptPieces)), ("used_pieces", n(r.usedPieces)),
            ("special_and_structural", n(r.alwaysKept)), ("corpus_tokens", n(r.corpusTokens)),
            ("coverage", .number(JSONNumber(r.coverage))),
            ("tokenizer_check", .object(JSONObject([("lines", n(r.checkedLines)), ("identical", n(r.identicalLines))]))),
            ("old_vocab_size", n(r.resize.oldRows)), ("new_vocab_size", n(r.resize.newRows)),
            ("vocab_tensors", .array(r.resize.vocabTensors.map { .string($0) })),
            ("self_check", .object(JSONObject([("sequences", n(r.resize.checkedSequences)), ("values", n(r.resize.checkedValues)),
                                               ("max_relative_difference", .number(JSONNumber(Double(r.resize.maxDifference))))]))),
            ("outputs", .array(r.resize.outputs.map { .string($0) })),
        ]))
    }
}
