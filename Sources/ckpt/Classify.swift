// ckpt classify and ckpt eval — a fine-tuned classifier on texts of any
// length (overlapping windows, pooled), and its scores on labelled data.

import ArgumentParser
import Formats
import Model
import Tasks
import Tokenizers

extension ChunkPooling: ExpressibleByArgument {}

/// How texts become windows and windows one prediction.
struct WindowOptions: ParsableArguments {
    @Option(help: "Tokens per window, special tokens included (default: the model's maximum, at most 512).")
    var maxLength: Int?
    @Option(help: "Tokens shared by consecutive windows of a long text (transformers' stride).")
    var stride: Int = 0
    @Option(help: "How windows' predictions are pooled: mean-logits, mean-probs or max-probs.")
    var pool: ChunkPooling = .meanLogits
    @Option(help: "Truncate each text instead of cutting it into windows, keeping head, tail or head+tail (as ckpt train --truncate).")
    var truncate: TruncationSide?
    @Option(help: "Windows per forward pass.")
    var batchSize: Int = 16
    @OptionGroup var threads: ThreadOption

    func validate() throws {
        if let m = maxLength, m < 3 || m > 1 << 20 { throw ValidationError("--max-length must be between 3 and 1048576") }
        guard stride >= 0, batchSize >= 1, batchSize <= 1 << 16 else { throw ValidationError("--stride must be ≥ 0, --batch-size between 1 and 65536") }
    }

    func classifier(_ path: String) throws -> (TextClassifier, Int) {
        let c = try TextClassifier(checkpoint: try Checkpoint(path: path))
        c.encoder.workerCount = threads.count
        setMatmulThreads(threads.count)
        c.batchSize = batchSize
        return (c, min(maxLength ?? 512, c.encoder.config.maxLength))
    }
}

struct Classify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify texts with a fine-tuned classifier; long texts in overlapping windows.",
        discussion: "One line per text: the label and its probability (--json: label, probabilities, chunks).")

    @Argument(help: "A classifier (model directory or store), as ckpt train --task writes it.")
    var model: String
    @Argument(help: "A text to classify.")
    var text: String?
    @Option(help: "A file of texts, one per line.")
    var file: String?
    @OptionGroup var window: WindowOptions
    @Flag(help: "Print one JSON object per text.")
    var json = false

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give a TEXT or --file, not both") }
    }

    func run() throws {
        try reportingErrors {
            let (c, L) = try window.classifier(model)
            let texts: [String]
            if let file {
                texts = try textLines(try readFile(file)).enumerated().map { i, line in
                    guard !line.isEmpty else { throw CorpusError(path: file, line: i + 1, reason: "empty text") }
                    return line
                }
            } else {
                texts = [text!]
            }
            let results = try c.classify(texts, maxLength: L, stride: window.stride, pooling: window.pool, truncate: window.truncate)
            for r in results {
                if json {
                    print(classificationJSON(r, c).serialized())
                } else if c.task == .regression {
                    print(fmt(r.scores[0], 4) + (r.windows > 1 ? "  (\(r.windows) chunks)" : ""))
                } else {
                    let shown = r.labels.map { "\(c.labels[$0]) \(fmt(r.scores[$0], 4))" }.joined(separator: ", ")
                    print(printable(shown.isEmpty ? "(none)" : shown) + (r.windows > 1 ? "  (\(r.windows) chunks)" : ""))
                }
            }
        }
    }
}

func classificationJSON(_ r: Classification, _ c: TextClassifier) -> JSONValue {
    var fields: [(String, JSONValue)] = []
    if c.task == .regression {
        fields.append(("value", .number(JSONNumber(r.scores[0]))))
    } else {
        let names = r.labels.map { JSONValue.string(c.labels[$0]) }
        fields.append(("label", c.task == .classification ? names[0] : .array(names)))
        fields.append(("probabilities", .object(JSONObject(c.labels.indices.map { (c.labels[$0], .number(JSONNumber(r.scores[$0]))) }))))
    }
    fields.append(("chunks", .number(JSONNumber(r.windows))))
    return .object(JSONObject(fields))
}

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a fine-tuned classifier on labelled data: accuracy, F1 (binary, macro, micro, weighted), per-class scores, confusion matrix.")

    @Argument(help: "A classifier (model directory or store), as ckpt train --task writes it.")
    var model: String
    @Option(help: "Labelled data: .csv, .tsv or .jsonl.")
    var data: String
    @Option(help: "Column of the text.") var textColumn = "text"
    @Option(help: "Column of a second text.") var textPairColumn: String?
    @Option(help: "Column of the label.") var labelColumn = "label"
    @OptionGroup var window: WindowOptions
    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func run() throws {
        let (c, report) = try reportingErrors { () -> (TextClassifier, MetricReport) in
            let (c, L) = try window.classifier(model)
            var columns = LabelledColumns()
            columns.text = textColumn; columns.textPair = textPairColumn; columns.label = labelColumn
            let records = try LabelledData.read(data, columns: columns, kind: c.task)
            // Labels outside the model's are named with their line.
            let examples = try LabelledData.examples(records, labels: c.labels, kind: c.task, tokenizer: c.tokenizer,
                                                     maxLength: L, keep: .head, threads: window.threads.count)
            let results = try c.classify(records.map(\.text), pairs: textPairColumn == nil ? nil : records.map { $0.pair ?? "" },
                                         maxLength: L, stride: window.stride, pooling: window.pool, truncate: window.truncate)
            switch c.task {
            case .classification:
                let truth = examples.map { e -> Int in if case let .classIndex(k) = e.target { return k }; return 0 }
                return (c, Metrics.classification(truth: truth, predicted: results.map { $0.labels[0] }, classes: c.labels.count))
            case .multiLabel:
                let truth = examples.map { e -> [Bool] in if case let .values(v) = e.target { return v.map { $0 > 0.5 } }; return [] }
                let predicted = results.map { r in c.labels.indices.map { r.labels.contains($0) } }
                return (c, Metrics.multiLabel(truth: truth, predicted: predicted, classes: c.labels.count))
            case .regression:
                let truth = examples.map { e -> Double in if case let .values(v) = e.target { return Double(v[0]) }; return 0 }
                return (c, Metrics.regression(truth: truth, predicted: results.map { $0.scores[0] }))
            }
        }
        if json {
            var fields: [(String, JSONValue)] = report.scalars.map { ($0.name, .number(JSONNumber($0.value))) }
            if !report.perClass.isEmpty {
                fields.append(("per_class", .object(JSONObject(zip(c.labels, report.perClass).map { name, s in
                    (name, .object(JSONObject([("precision", .number(JSONNumber(s.precision))), ("recall", .number(JSONNumber(s.recall))),
                                               ("f1", .number(JSONNumber(s.f1))), ("support", .number(JSONNumber(s.support)))])))
                }))))
            }
            if !report.confusion.isEmpty {
                fields.append(("labels", .array(c.labels.map { .string($0) })))
                fields.append(("confusion_matrix", .array(report.confusion.map { .array($0.map { .number(JSONNumber($0)) }) })))
            }
            print(JSONValue.object(JSONObject(fields)).serialized())
            return
        }
        for s in report.scalars { print(pad(s.name, 20) + fmt(s.value, 4)) }
        if !report.perClass.isEmpty {
            let w = max(12, c.labels.map(\.count).max() ?? 0)
            print("\n" + pad("label", w) + "  precision  recall  f1      support")
            for (name, s) in zip(c.labels, report.perClass) {
                print(pad(printable(name), w) + "  " + pad(fmt(s.precision, 4), 9) + "  " + pad(fmt(s.recall, 4), 6) + "  "
                      + pad(fmt(s.f1, 4), 6) + "  \(s.support)")
            }
        }
        if !report.confusion.isEmpty {
            print("\nconfusion matrix (rows: true label, columns: predicted, in the order above)")
            for row in report.confusion { print(row.map { pad(String($0), 6) }.joined()) }
        }
    }
}
