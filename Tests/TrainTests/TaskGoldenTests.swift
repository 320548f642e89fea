// Sequence-classification heads against PyTorch (goldens from
// tools/fixtures/make_task_goldens.py): BERT and DistilBERT with single-label
// (plain, and class weights with label smoothing), multi-label and regression
// heads — logits within 1e-4, the accumulated-step loss, every gradient (1e-4
// relative to the tensor's largest), the gradient norm, and the weights after
// 3 AdamW steps with clipping and accumulation over micro-batches of unequal
// sizes. Also the "newly initialised / not used" report against transformers'
// loading info.

import Formats
import Model
import Testing
import TestSupport
import Train

struct TaskGolden {
    let golden: TrainGolden
    let info: JSONValue
    let name: String
    let head: ClassificationHead

    /// The hyperparameters file that holds case `name` (the RoBERTa-family
    /// cases have their own).
    static func hyperparameters(_ name: String) throws -> JSONValue {
        let main = try Fixtures.json("task-goldens/hyperparameters.json")
        return main["cases"]?[name] != nil ? main : try Fixtures.json("task-goldens/hyperparameters-roberta.json")
    }

    init(_ name: String) throws {
        self.name = name
        golden = try TrainGolden(path: Fixtures.path("task-goldens/\(name).safetensors"))
        let hp = try TaskGolden.hyperparameters(name)
        info = try #require(hp["cases"]?[name])
        let C = try #require(info["num_labels"]?.int)
        let loss: SequenceLoss
        switch info["problem_type"]?.string {
        case "multi_label_classification": loss = .binaryCrossEntropy
        case "regression": loss = .meanSquaredError
        default:
            let weights = info["classes_weight"]?.array?.compactMap(\.double).map { Float($0) }
            loss = .crossEntropy(classWeights: weights, labelSmoothing: Float(info["label_smoothing"]?.double ?? 0))
        }
        head = ClassificationHead(labels: C, loss: loss)
    }

    /// Micro-batch `micro` of step `step`, packed, with its labels.
    func batch(step: Int, micro: Int) throws -> TrainingBatch {
        let p = "step\(step).micro\(micro)."
        let ids = try #require(try golden.ints(p + "input_ids"))
        let mask = try #require(try golden.ints(p + "attention_mask")).values
        let types = try golden.ints(p + "token_type_ids")?.values
        let (B, T) = (ids.shape[0], ids.shape[1])
        let C = head.labels
        let integer = golden.file.info(p + "labels")?.dtype == .i64
        let classes = integer ? try golden.ints(p + "labels")?.values : nil
        let values = integer ? [] : try golden.floats(p + "labels")
        var batch = TrainingBatch()
        for b in 0..<B {
            let real = (0..<T).filter { mask[b * T + $0] != 0 }
            let rowIDs = real.map { ids.values[b * T + $0] }
            let rowTypes = types.map { t in real.map { t[b * T + $0] } }
            if case .crossEntropy = head.loss {
                batch.append(ids: rowIDs, tokenTypes: rowTypes, classLabel: try #require(classes)[b])
            } else {
                let row = C == 1 ? [values[b]] : Array(values[(b * C)..<((b + 1) * C)])
                batch.append(ids: rowIDs, tokenTypes: rowTypes, targets: row)
            }
        }
        return batch
    }
}

@Suite struct TaskGoldenTests {
    func check(_ name: String) throws {
        let hp = try TaskGolden.hyperparameters(name)
        let g = try TaskGolden(name)
        let base = name == "bert-single-weighted" ? "bert-single" : name
        let encoder = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("task-goldens/\(base)")))
        #expect(encoder.pooler != nil && encoder.classifier?.labels == g.head.labels, "the saved classifier binds its head")
        let model = try TrainingModel(encoder: encoder, head: .classification(g.head))
        let lr = try #require(hp["lr"]?.double), maxNorm = try #require(hp["max_grad_norm"]?.double)
        let betas = (hp["betas"]?.array ?? []).compactMap(\.double)
        let optimizer = AdamW(model: model, beta1: betas[0], beta2: betas[1], eps: try #require(hp["eps"]?.double),
                              weightDecay: try #require(hp["weight_decay"]?.double))
        let schedule = LearningRateSchedule(.linear, warmupSteps: try #require(hp["num_warmup_steps"]?.int),
                                            totalSteps: try #require(hp["num_training_steps"]?.int))
        let noDecay = Set((g.info["no_decay"]?.array ?? []).compactMap(\.string))
        try #require(!noDecay.isEmpty)
        for p in model.parameters {
            #expect(g.golden.file.info("after." + p.name) != nil, "\(name): \(p.name) is not a parameter of the transformers model")
            #expect(p.decay == !noDecay.contains(p.name), "\(name) \(p.name): decay \(p.decay)")
        }
        #expect(model.parameters.count == (g.golden.file.tensors.filter { $0.name.hasPrefix("after.") }.count))

        for step in 0..<(try #require(hp["steps"]?.int)) {
            let micro = try (0..<2).map { try g.batch(step: step, micro: $0) }
            // The forward's logits before the step's update.
            for (k, b) in micro.enumerated() {
                let logits = try model.evaluate(b).logits
                let expected = try g.golden.floats("step\(step).micro\(k).logits")
                let worst = zip(logits, expected).map { abs($0 - $1) }.max() ?? 1
                #expect(logits.count == expected.count && worst <= 1e-4, "\(name) step \(step) micro \(k): logits differ by \(worst)")
            }
            let denominator = micro.reduce(0.0) { $0 + model.lossDenominator($1) }
            let expectedDenominator = try #require(g.info["denominators"]?.array?[step].double)
            #expect(abs(denominator - expectedDenominator) <= 1e-6 * expectedDenominator, "\(name): denominator \(denominator)")
            model.zeroGradients()
            var loss = 0.0
            for b in micro { loss += try model.accumulateGradients(b, lossScale: Float(1 / denominator)) / denominator }
            let expectedLoss = try g.golden.double("step\(step).loss")
            #expect(abs(loss - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)), "\(name) step \(step): loss \(loss), torch \(expectedLoss)")
            if step == 0 {
                checkGradients(model, try model.parameters.map { try g.golden.floats("grad." + $0.name) }, name)
            }
            let norm = clipGradientNorm(model, maxNorm: maxNorm)
            let expectedNorm = try g.golden.double("step\(step).grad_norm")
            #expect(abs(norm - expectedNorm) <= 1e-5 * expectedNorm, "\(name) step \(step): norm \(norm), torch \(expectedNorm)")
            let rate = lr * schedule.factor(step: step)
            #expect(abs(rate - (try g.golden.double("step\(step).lr"))) <= 1e-15)
            optimizer.update(model, lr: rate)
        }
        var worstWeight: Float = 0
        for p in model.parameters {
            let expected = try g.golden.floats("after." + p.name)
            let worst = zip(model.values(of: p), expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 2e-5, "\(name) \(p.name): weights after 3 steps differ by \(worst)")
            worstWeight = max(worstWeight, worst)
        }
        print("\(name): weights after 3 steps within \(worstWeight) of torch")
    }

    @Test func bertSingleLabel() throws { try check("bert-single") }
    @Test func bertWeightedSmoothed() throws { try check("bert-single-weighted") }
    @Test func bertMultiLabel() throws { try check("bert-multi") }
    @Test func bertRegression() throws { try check("bert-regression") }
    @Test func distilBertSingleLabel() throws { try check("distilbert-single") }
    @Test func distilBertMultiLabel() throws { try check("distilbert-multi") }
    @Test func distilBertRegression() throws { try check("distilbert-regression") }
    @Test func robertaSingleLabel() throws { try check("roberta-single") }
    @Test func xlmRobertaMultiLabel() throws { try check("xlm-roberta-multi") }
    @Test func camembertRegression() throws { try check("camembert-regression") }

    /// The inference forward's classification logits equal the training forward's.
    @Test func inferenceLogitsMatchTraining() throws {
        let g = try TaskGolden("distilbert-single")
        let ckpt = try Checkpoint(path: Fixtures.path("task-goldens/distilbert-single"))
        let encoder = try Encoder(checkpoint: ckpt)
        let ids = try #require(try g.golden.ints("step0.micro0.input_ids"))
        let mask = try #require(try g.golden.ints("step0.micro0.attention_mask")).values
        let (B, T) = (ids.shape[0], ids.shape[1])
        let hidden = try encoder.forward(inputIDs: ids.values, attentionMask: mask, batch: B, length: T).lastHiddenState
        let logits = encoder.classificationLogits(hidden: hidden, batch: B, length: T)
        let expected = try g.golden.floats("step0.micro0.logits")
        let worst = zip(logits, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(logits.count == expected.count && worst <= 1e-4, "logits differ by \(worst)")
    }
}

/// The "newly initialised / not used" lists against transformers' loading info.
@Suite struct LoadingReportTests {
    @Test func equalsTransformers() throws {
        let entries = try Fixtures.json("task-goldens/loading.json").array ?? []
        var checked = 0
        for e in entries where e["error"] == nil && e["ignore_mismatched_sizes"]?.bool != true {
            let source = try #require(e["source"]?.string)
            let encoder = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path(source)))
            let labels = try #require(e["num_labels"]?.int)
            let report = encoder.loadingReport(for: .classification(ClassificationHead(labels: labels, loss: .binaryCrossEntropy)))
            #expect(report.missing == (e["missing_keys"]?.array ?? []).compactMap(\.string), "\(source): missing")
            #expect(report.unused == (e["unexpected_keys"]?.array ?? []).compactMap(\.string), "\(source): unexpected")
            checked += 1
        }
        #expect(checked >= 6)
    }
}
