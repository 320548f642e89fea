// What the trainer optimises: an objective is a value that turns examples
// into batches and evaluates the model. One loop (Trainer) runs any of them:
// masked LM on a corpus, or a task head on labelled examples.

import Formats
import Model
import Tasks

#if canImport(Glibc)
import Glibc
#endif

/// What one evaluation found: the mean loss and the task's metrics.
public struct Evaluation: Sendable {
    public var loss: Double
    public var report: MetricReport
    public init(loss: Double, report: MetricReport = MetricReport()) { self.loss = loss; self.report = report }

    /// The value of metric `name` (`loss` or one of the report's).
    public func value(_ name: String) -> Double? { name == "loss" ? loss : report[name] }
}

/// The examples a run trains and evaluates on, and how a batch is made.
public protocol TrainingObjective: AnyObject {
    var trainCount: Int { get }
    var evalCount: Int { get }
    /// Identifies the training and eval examples (resume refuses other data).
    var digest: String { get }
    /// The metrics an evaluation reports, besides `loss`.
    var metricNames: [String] { get }
    /// Run-record fields that decide the numbers (checked on resume).
    var record: [(String, JSONValue)] { get }
    /// The micro-batch of the training examples at `positions`, in epoch
    /// `epoch` and optimizer step `step` of `totalSteps`. Every random choice
    /// for an example (its masks, its dropout) comes from a stream of
    /// (`seed`, epoch or step, example), so it does not depend on how the
    /// step's examples are split into micro-batches or over processes.
    func trainBatch(_ positions: ArraySlice<UInt32>, epoch: Int, step: Int, totalSteps: Int, seed: UInt64) -> TrainingBatch
    /// Evaluates `model` on the eval examples (nil without any).
    func evaluate(_ model: TrainingModel, batchSize: Int) throws -> Evaluation?
}

// MARK: - Masked LM

/// Masked-LM on a corpus: examples masked at each step (80/10/10, optionally
/// whole words, optionally a schedule of probabilities); eval examples masked
/// once, seeded by their index.
public final class MaskedLMObjective: TrainingObjective {
    let train: ExampleSet, eval: ExampleSet
    let roles: TokenRoles
    let options: TrainingOptions

    public init(train: ExampleSet, eval: ExampleSet, roles: TokenRoles, options: TrainingOptions) {
        self.train = train; self.eval = eval; self.roles = roles; self.options = options
    }

    public var trainCount: Int { train.count }
    public var evalCount: Int { eval.count }
    public var metricNames: [String] { ["perplexity"] }
    public var digest: String {
        var h = Checksum64()
        h.update(train.digest)
        h.update(eval.digest)
        return h.hex
    }
    public var record: [(String, JSONValue)] {
        [("mlm_probability", .number(JSONNumber(options.mlmProbability))), ("whole_word_mask", .bool(options.wholeWordMask)),
         ("mlm_schedule", options.mlmSchedule.map { .array($0.map { .number(JSONNumber($0)) }) } ?? .null)]
    }

    /// The masking probability at optimizer step `step` (phases of the schedule).
    public func maskingProbability(step: Int, totalSteps: Int) -> Double {
        guard let phases = options.mlmSchedule, !phases.isEmpty else { return options.mlmProbability }
        let phase = min(phases.count - 1, step * phases.count / max(1, totalSteps))
        return phases[phase]
    }

    private func mask(_ example: Example, probability: Double, rng: inout SplitMix64) -> (inputs: [Int], labels: [Int]) {
        if let labels = example.labels { return (example.ids, labels) }
        let rule = MaskingRule(probability: probability, maskID: roles.maskID, vocabSize: roles.randomRange, specialIDs: roles.specialIDs)
        if options.wholeWordMask {
            return rule.applyWholeWord(example.ids, continuation: { self.roles.continuationIDs.contains($0) }, rng: &rng)
        }
        return rule.apply(example.ids, rng: &rng)
    }

    public func trainBatch(_ positions: ArraySlice<UInt32>, epoch: Int, step: Int, totalSteps: Int, seed: UInt64) -> TrainingBatch {
        let p = maskingProbability(step: step, totalSteps: totalSteps)
        var batch = TrainingBatch()
        for i in positions {
            var rng = SplitMix64(seed: mix(seed, 0x4D41_534B, UInt64(epoch), UInt64(i)))
            let (inputs, labels) = mask(train[Int(i)], probability: p, rng: &rng)
            batch.append(ids: inputs, labels: labels, seed: dropoutSeed(seed, step: step, example: i))
        }
        return batch
    }

    /// Mean cross-entropy over the eval set's masked tokens; batches are made
    /// one at a time from the (mapped) examples.
    public func evaluate(_ model: TrainingModel, batchSize: Int) throws -> Evaluation? {
        guard !eval.isEmpty else { return nil }
        var sum = 0.0, count = 0
        let p = options.mlmSchedule?.first ?? options.mlmProbability
        for start in stride(from: 0, to: eval.count, by: batchSize) {
            var batch = TrainingBatch()
            for i in start..<min(eval.count, start + batchSize) {
                var rng = SplitMix64(seed: mix(options.seed, 0x4556_414C, UInt64(i)))
                let (inputs, labels) = mask(eval[i], probability: p, rng: &rng)
                batch.append(ids: inputs, labels: labels)
            }
            guard batch.tokenCount > 0 else { continue }
            sum += try model.loss(batch)
            count += batch.labelledCount
        }
        guard count > 0 else { return nil }
        let loss = sum / Double(count)
        var report = MetricReport()
        report.scalars = [("perplexity", exp(loss))]
        return Evaluation(loss: loss, report: report)
    }
}

// MARK: - Sequence classification

/// A task head on labelled examples: classification, multi-label or
/// regression. The loss is the head's (`SequenceLoss`); evaluation computes
/// the metrics of `Metrics` from the eval examples' logits (multi-label:
/// a label is predicted when its sigmoid exceeds 0.5).
public final class ClassificationObjective: TrainingObjective {
    public let train: [LabelledExample], eval: [LabelledExample]
    public let kind: TaskKind
    public let labels: [String]
    let head: ClassificationHead

    public init(train: [LabelledExample], eval: [LabelledExample], kind: TaskKind, labels: [String], head: ClassificationHead) {
        self.train = train; self.eval = eval; self.kind = kind; self.labels = labels; self.head = head
    }

    public var trainCount: Int { train.count }
    public var evalCount: Int { eval.count }
    public var metricNames: [String] {
        switch kind {
        case .classification:
            return ["accuracy"] + (labels.count == 2 ? ["f1"] : []) + ["f1_macro", "f1_micro", "f1_weighted"]
        case .multiLabel: return ["accuracy", "f1_macro", "f1_micro", "f1_weighted", "f1_samples"]
        case .regression: return ["mse", "mae", "r2", "pearson"]
        }
    }
    public var digest: String {
        var h = Checksum64()
        for set in [train, eval] {
            h.update(set.count)
            for e in set {
                e.ids.withUnsafeBytes { h.update($0) }
                h.update(Int(e.pairStart))
                switch e.target {
                case let .classIndex(c): h.update(c)
                case let .values(v): v.withUnsafeBytes { h.update($0) }
                }
            }
        }
        return h.hex
    }
    public var record: [(String, JSONValue)] {
        var fields: [(String, JSONValue)] = [("task", .string(kind.rawValue)), ("labels", .array(labels.map { .string($0) }))]
        if case let .crossEntropy(weights, smoothing) = head.loss {
            fields.append(("class_weights", weights.map { .array($0.map { .number(JSONNumber(Double($0))) }) } ?? .null))
            fields.append(("label_smoothing", .number(JSONNumber(Double(smoothing)))))
        }
        return fields
    }

    func append(_ e: LabelledExample, to batch: inout TrainingBatch, seed: UInt64? = nil) {
        let ids = e.ids.map { Int($0) }
        let types = e.pairStart < Int32(e.ids.count) ? e.tokenTypes : nil
        switch e.target {
        case let .classIndex(c): batch.append(ids: ids, tokenTypes: types, classLabel: c, seed: seed)
        case let .values(v): batch.append(ids: ids, tokenTypes: types, targets: v, seed: seed)
        }
    }

    public func trainBatch(_ positions: ArraySlice<UInt32>, epoch: Int, step: Int, totalSteps: Int, seed: UInt64) -> TrainingBatch {
        var batch = TrainingBatch()
        for i in positions { append(train[Int(i)], to: &batch, seed: dropoutSeed(seed, step: step, example: i)) }
        return batch
    }

    public func evaluate(_ model: TrainingModel, batchSize: Int) throws -> Evaluation? {
        guard !eval.isEmpty else { return nil }
        var lossSum = 0.0, denominator = 0.0
        var logits: [Float] = []
        logits.reserveCapacity(eval.count * head.labels)
        for start in stride(from: 0, to: eval.count, by: batchSize) {
            var batch = TrainingBatch()
            for e in eval[start..<min(eval.count, start + batchSize)] { append(e, to: &batch) }
            let r = try model.evaluate(batch)
            lossSum += r.loss
            denominator += model.lossDenominator(batch)
            logits += r.logits
        }
        var r = report(logits: logits)
        if !r.perClass.isEmpty { r.labelNames = labels }
        return Evaluation(loss: lossSum / max(denominator, 1e-300), report: r)
    }

    /// The metrics of `logits` (one row per eval example).
    func report(logits: [Float]) -> MetricReport {
        let C = head.labels
        switch kind {
        case .classification:
            let truth = eval.map { e -> Int in if case let .classIndex(c) = e.target { return c }; return 0 }
            let predicted = (0..<eval.count).map { argmax(logits[($0 * C)..<(($0 + 1) * C)]) }
            return Metrics.classification(truth: truth, predicted: predicted, classes: C)
        case .multiLabel:
            let truth = eval.map { e -> [Bool] in if case let .values(v) = e.target { return v.map { $0 > 0.5 } }; return [] }
            let predicted = (0..<eval.count).map { i in (0..<C).map { logits[i * C + $0] > 0 } }
            return Metrics.multiLabel(truth: truth, predicted: predicted, classes: C)
        case .regression:
            let truth = eval.map { e -> Double in if case let .values(v) = e.target { return Double(v[0]) }; return 0 }
            return Metrics.regression(truth: truth, predicted: logits.map(Double.init))
        }
    }
}

/// The dropout stream of training example `example` at optimizer step `step`.
func dropoutSeed(_ seed: UInt64, step: Int, example: UInt32) -> UInt64 {
    mix(seed, 0x4452_4F50, UInt64(step), UInt64(example))
}

/// The index of the largest value (the first of equals, as torch's argmax).
public func argmax<C: Collection>(_ values: C) -> Int where C.Element == Float {
    var best = 0, bestValue = -Float.infinity
    for (k, v) in values.enumerated() where v > bestValue { best = k; bestValue = v }
    return best
}
