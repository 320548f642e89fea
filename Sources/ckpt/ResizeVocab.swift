// ckpt resize-vocab — move a model onto a domain tokenizer.

import ArgumentParser
import Convert
import Formats

extension VocabInit: ExpressibleByArgument {}

struct ResizeVocab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resize-vocab",
        abstract: "Move a model onto another tokenizer: rows found by token string, new tokens initialised, output self-checked.")

    @Argument(help: "A model directory or weights file with its config and tokenizer.")
    var model: String

    @Option(help: "The new tokenizer's directory (tokenizer.json or vocab.txt).")
    var tokenizer: String

    @Option(help: "Output: a model directory (or a .h5 store with --to hdf5).")
    var out: String

    @Option(name: .customLong("init"), help: "New tokens: subword-mean (default), mean (transformers' mean_resizing) or normal.")
    var initialization: VocabInit = .subwordMean

    @Option(help: "Round the vocabulary rows up to a multiple of N.")
    var padToMultipleOf: Int?

    @Option(help: "Seed for the mean and normal initialisations.")
    var seed: UInt64 = 0

    @Option(help: "Write the report as JSON to this file.")
    var report: String?

    @Option(help: "Output format: safetensors or hdf5 (default: the source's).")
    var to: ConvertOptions.Target?

    @Option(parsing: .upToNextOption, help: "Text files: coverage of their tokens by copied rows; their first lines also feed the self-check.")
    var corpus: [String] = []

    @Flag(help: "Replace an existing output.")
    var force = false

    func validate() throws {
        if let m = padToMultipleOf, m < 1 || m > 1 << 16 { throw ValidationError("--pad-to-multiple-of must be between 1 and 65536") }
    }

    func run() throws {
        let r = try reportingErrors { () -> ResizeReport in
            let ckpt = try Checkpoint(path: model)
            var o = ResizeOptions()
            o.initialization = initialization
            o.padToMultipleOf = padToMultipleOf
            o.seed = seed
            o.target = to
            o.overwrite = force
            o.corpus = corpus
            for path in corpus {
                o.sampleTexts += textLines(try readFile(path, limit: 1 << 32)).filter { !$0.isEmpty }.prefix(32)
            }
            let r = try VocabResizer.resize(ckpt, tokenizerDirectory: tokenizer, to: out, options: o)
            if let path = report {
                let file = try AtomicFile(path: path, overwrite: true)
                try file.write(Array(json(r).serialized(indent: 2).utf8) + [0x0A], at: 0)
                try file.commit()
            }
            return r
        }
        print("vocabulary       \(r.oldRows) → \(r.newRows) rows (tokenizer: \(r.tokenizerSize)\(r.paddingRows > 0 ? ", \(r.paddingRows) padding rows" : ""))")
        print("copied           \(r.copied) tokens by string, \(r.specials) special tokens by role")
        print("new              \(r.added) tokens, initialised by \(initialization.rawValue)")
        if initialization == .subwordMean && !r.piecesHistogram.isEmpty {
            let h = r.piecesHistogram.keys.sorted().map { k in k == 0 ? "\(r.piecesHistogram[k]!) with no known piece (mean)" : "\(r.piecesHistogram[k]!) from \(k) piece\(k == 1 ? "" : "s")" }
            print("                 " + h.joined(separator: ", "))
        }
        for m in r.movedSpecials { print("moved            \(m.role) \(m.old) → \(m.new)") }
        print("tensors          " + r.vocabTensors.joined(separator: ", "))
        if let c = r.coverage { print("corpus coverage  \(String((c * 1000).rounded() / 10)) % of \(r.corpusTokens) tokens have a copied row") }
        if r.checkedSequences == 0 {
            print("self-check       nothing to check: no token of the new tokenizer has a row in the old model, so every row is new")
        } else {
            print("self-check       OK: \(r.checkedSequences) sequences, \(r.checkedValues) hidden-state values and logits at copied tokens, largest difference \(r.maxDifference)")
        }
        print("wrote            \(r.outputs.joined(separator: ", "))")
    }

    func json(_ r: ResizeReport) -> JSONValue {
        func n(_ v: Int) -> JSONValue { .number(JSONNumber(v)) }
        return .object(JSONObject([
            ("old_vocab_size", n(r.oldRows)), ("new_vocab_size", n(r.newRows)), ("tokenizer_size", n(r.tokenizerSize)),
            ("padding_rows", n(r.paddingRows)), ("copied", n(r.copied)), ("special", n(r.specials)), ("new", n(r.added)),
            ("init", .string(initialization.rawValue)),
            ("pieces_histogram", .object(JSONObject(r.piecesHistogram.keys.sorted().map { (String($0), n(r.piecesHistogram[$0]!)) }))),
            ("moved_special_tokens", .array(r.movedSpecials.map { .object(JSONObject([("role", .string($0.role)), ("old", n($0.old)), ("new", n($0.new))])) })),
            ("vocab_tensors", .array(r.vocabTensors.map { .string($0) })),
            ("corpus_tokens", n(r.corpusTokens)), ("coverage", r.coverage.map { .number(JSONNumber($0)) } ?? .null),
            ("self_check", .object(JSONObject([("checked", .bool(r.checkedSequences > 0)),
                                               ("sequences", n(r.checkedSequences)), ("values", n(r.checkedValues)),
                                               ("max_relative_difference", .number(JSONNumber(Double(r.maxDifference))))]))),
            ("outputs", .array(r.outputs.map { .string($0) })),
        ]))
    }
}
