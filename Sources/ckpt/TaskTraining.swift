// ckpt train --task: fine-tuning a sequence-classification head (single-label,
// multi-label, regression) on labelled CSV, TSV or JSONL files, with the same
// trainer as masked-LM training.

import ArgumentParser
import Formats
import Model
import Tasks
import Tokenizers
import Train

/// What `ckpt train` trains for.
enum TrainTask: String, ExpressibleByArgument, CaseIterable {
    case mlm, classification
    case multiLabel = "multi-label"
    case regression

    var kind: TaskKind? { TaskKind(rawValue: rawValue) }
}

extension TruncationSide: ExpressibleByArgument {}

struct TaskOptions: ParsableArguments {
    @Option(help: "mlm (masked-LM, the default), classification, multi-label or regression.")
    var task: TrainTask = .mlm
    @Option(help: "Column (CSV/TSV header, JSONL key) of the text.") var textColumn = "text"
    @Option(help: "Column of a second text (pairs: [CLS] A [SEP] B [SEP]).") var textPairColumn: String?
    @Option(help: "Column of the label (multi-label: a JSON array, or names separated by commas in CSV/TSV).") var labelColumn = "label"
    @Option(help: "The labels in order, separated by commas (default: the sorted labels of the training data).") var labels: String?
    @Option(help: "Which part of a too-long text is kept: head, tail or head+tail (Sun et al. 2019).") var truncate: TruncationSide = .head
    @Option(help: "Class weights of the loss: auto (n / (classes × count), scikit-learn's \"balanced\") or w1,w2,…") var classWeights: String?
    @Option(help: "Label smoothing of the cross-entropy (single-label).") var labelSmoothing: Double = 0

    func validate() throws {
        guard labelSmoothing >= 0 && labelSmoothing < 1 else { throw ValidationError("--label-smoothing must be in [0, 1)") }
        if task != .classification && (classWeights != nil || labelSmoothing > 0) {
            throw ValidationError("--class-weights and --label-smoothing apply to --task classification")
        }
        if let l = labels {
            let names = parsedLabels(l)
            if names.isEmpty { throw ValidationError("--labels needs at least one label") }
            if Set(names).count != names.count { throw ValidationError("--labels names a label twice") }
            if task == .regression { throw ValidationError("--labels does not apply to --task regression (one output)") }
        }
    }

    func parsedLabels(_ s: String) -> [String] { s.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty } }

    /// A trainer for the task: labelled examples read and tokenized, the
    /// label set fixed, the head bound or initialised (and reported as
    /// transformers reports it), config.json given the task's fields.
    func trainer(encoder: Encoder, config: ModelConfig, source: String, resuming: Bool, tokenizer: Tokenizer,
                 tokenizerFiles: [(name: String, bytes: [UInt8])], corpus: [String], evalFiles: [String], evalRatio: Double,
                 maxLength: Int, options: TrainingOptions, cadence: TrainingCadence, output: String, threads: Int,
                 world: Communicator) throws -> Trainer {
        guard let kind = task.kind else { throw ValidationError("not a task") }
        var columns = LabelledColumns()
        columns.text = textColumn; columns.textPair = textPairColumn; columns.label = labelColumn
        let records = try corpus.flatMap { try LabelledData.read($0, columns: columns, kind: kind) }
        // The label set: --labels, else the checkpoint's own (a classifier
        // being trained further or resumed), else the training data's.
        let labelNames: [String]
        if kind == .regression {
            labelNames = ["LABEL_0"]
        } else if let l = labels {
            labelNames = parsedLabels(l)
        } else if let own = TaskConfig.labels(config), encoder.classifier != nil || resuming, own.count > 1 || kind != .classification {
            labelNames = own
        } else {
            labelNames = LabelledData.labelSet(records, given: nil)
        }
        if kind == .classification && labelNames.count < 2 {
            throw TrainingError(path: corpus.joined(separator: ", "), reason: "classification needs at least two labels; the data has \(labelNames.count)")
        }
        if kind == .multiLabel && labelNames.isEmpty {
            throw TrainingError(path: corpus.joined(separator: ", "), reason: "no row has a label: multi-label training needs at least one")
        }
        let window = min(maxLength, encoder.config.maxLength)
        func examples(_ rs: [LabelledRecord]) throws -> [LabelledExample] {
            try LabelledData.examples(rs, labels: labelNames, kind: kind, tokenizer: tokenizer, maxLength: window,
                                      keep: truncate, threads: threads)
        }
        let all = try examples(records)
        if let bad = all.lazy.flatMap(\.ids).first(where: { Int($0) >= encoder.config.vocabSize }) {
            throw TrainingError(path: source, reason: "the tokenizer produces id \(bad), past the model's vocabulary (\(encoder.config.vocabSize)); resize the model first (ckpt resize-vocab)")
        }
        var train = all, eval: [LabelledExample] = []
        if !evalFiles.isEmpty {
            eval = try examples(try evalFiles.flatMap { try LabelledData.read($0, columns: columns, kind: kind) })
        } else if evalRatio > 0 {
            let (t, e) = LabelledData.stratifiedSplit(all, ratio: evalRatio, seed: options.seed)
            train = t.map { all[$0] }
            eval = e.map { all[$0] }
        }
        let tokens = all.reduce(0) { $0 + $1.ids.count } + (evalFiles.isEmpty ? 0 : eval.reduce(0) { $0 + $1.ids.count })
        let truncated = all.filter { $0.dropped > 0 }.count
        print("labelled data: \(grouped(records.count)) examples, \(grouped(tokens)) tokens, \(labelNames.count) labels"
              + (truncated > 0 ? "; \(grouped(truncated)) training texts longer than \(window) tokens, truncated (\(truncate.rawValue))" : ""))
        let loss: SequenceLoss
        switch kind {
        case .classification:
            loss = .crossEntropy(classWeights: try weights(train, labelNames: labelNames), labelSmoothing: Float(labelSmoothing))
        case .multiLabel: loss = .binaryCrossEntropy
        case .regression: loss = .meanSquaredError
        }
        let head = ClassificationHead(labels: labelNames.count, loss: loss)
        if !resuming { TaskConfig.reportBinding(encoder: encoder, head: .classification(head), source: source) }
        let model = try TrainingModel(encoder: encoder, head: .classification(head),
                                      initializerRange: Float(config.initializerRange ?? 0.02), seed: options.seed)
        model.workerCount = threads
        let objective = ClassificationObjective(train: train, eval: eval, kind: kind, labels: labelNames, head: head)
        let written = TaskConfig.classifierConfig(config, encoder: encoder.config, task: kind, labels: labelNames)
        return try Trainer(model: model, objective: objective,
                           files: CheckpointFiles(config: written, tokenizerFiles: tokenizerFiles, extraTensors: []),
                           options: options, cadence: cadence, output: output, world: world)
    }

    /// The class weights of `--class-weights`.
    private func weights(_ train: [LabelledExample], labelNames: [String]) throws -> [Float]? {
        let classes = labelNames.count
        guard let spec = classWeights else { return nil }
        if spec == "auto" {
            var counts = [Int](repeating: 0, count: classes)
            for e in train { if case let .classIndex(c) = e.target { counts[c] += 1 } }
            if let missing = counts.firstIndex(of: 0) {
                throw ValidationError("--class-weights auto: label \"\(labelNames[missing])\" has no training example")
            }
            return counts.map { Float(Double(train.count) / (Double(classes) * Double($0))) }
        }
        let values = spec.split(separator: ",").map { Float(String($0).trimmingSpaces()) }
        guard values.count == classes, values.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
            throw ValidationError("--class-weights needs \(classes) positive numbers (one per label) or auto")
        }
        return values.map { $0! }
    }
}

/// The task fields of config.json, as transformers writes and reads them.
enum TaskConfig {
    /// `id2label` in id order, when the config has one.
    static func labels(_ config: ModelConfig) -> [String]? {
        guard let map = config.json["id2label"]?.object, map.count > 0 else { return nil }
        var out = [String?](repeating: nil, count: map.count)
        for (k, v) in map {
            guard let i = Int(k), i >= 0, i < out.count, let name = v.string else { return nil }
            out[i] = name
        }
        return out.allSatisfy { $0 != nil } ? out.map { $0! } : nil
    }

    /// The task of a config (`problem_type`, else single-label when it has labels).
    static func task(_ config: ModelConfig) -> TaskKind? {
        if let p = config.json["problem_type"]?.string { return TaskKind(problemType: p) }
        return labels(config).map { $0.count == 1 ? .regression : .classification }
    }

    /// `config` with `architectures`, `id2label`/`label2id` (string keys) and `problem_type`.
    static func classifierConfig(_ config: ModelConfig, encoder: EncoderConfig, task: TaskKind, labels: [String]) -> ModelConfig {
        var c = config
        c.set("architectures", .array([.string(TrainingHead.classification(ClassificationHead(labels: labels.count, loss: .meanSquaredError)).architecture(encoder))]))
        c.set("id2label", .object(JSONObject(labels.enumerated().map { (String($0.offset), .string($0.element)) })))
        c.set("label2id", .object(JSONObject(labels.enumerated().map { ($0.element, .number(JSONNumber($0.offset))) })))
        c.set("problem_type", .string(task.problemType))
        return c
    }

    static func reportBinding(encoder: Encoder, head: TrainingHead, source: String) {
        let (new, unused) = encoder.loadingReport(for: head)
        let arch = head.architecture(encoder.config)
        if !new.isEmpty {
            print("note: weights of \(arch) not in \(source), newly initialised (as transformers does): " + new.joined(separator: ", "))
        }
        if !unused.isEmpty {
            print("note: weights of \(source) not used by \(arch): " + unused.joined(separator: ", "))
        }
    }
}
