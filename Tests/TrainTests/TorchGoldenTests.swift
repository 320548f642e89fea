// Training steps against PyTorch (goldens from tools/fixtures/make_train_goldens.py):
// the accumulated-batch loss, every parameter's gradient (≤ 1e-4 relative to
// the tensor's largest gradient), the gradient norm, the learning rates of a
// linear warmup schedule, and the weights after 3 AdamW steps with clipping
// and gradient accumulation.

import Formats
import Model
import Testing
import TestSupport
import Train

#if canImport(Glibc)
import Glibc
#endif

struct TrainGolden {
    let file: SafeTensorsFile
    let path: String

    init(_ name: String) throws {
        try self.init(path: Fixtures.path("train-goldens/\(name).safetensors"))
    }

    init(path: String) throws {
        self.path = path
        file = try SafeTensorsFile(path: path)
    }

    func floats(_ name: String) throws -> [Float] { try file.data(name).floats() }

    func double(_ name: String) throws -> Double {
        let info = try #require(file.info(name))
        return try file.data(name).withUnsafeBytes { raw in
            info.dtype == .f64 ? raw.loadUnaligned(as: Double.self) : Double(raw.loadUnaligned(as: Float.self))
        }
    }

    func ints(_ name: String) throws -> (values: [Int], shape: [Int])? {
        guard let info = file.info(name) else { return nil }
        let values: [Int] = try file.data(name).withUnsafeBytes { raw in
            (0..<info.elementCount).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
        }
        return (values, info.shape)
    }

    func batch(step: Int, micro: Int) throws -> TrainingBatch {
        let p = "step\(step).micro\(micro)."
        let ids = try #require(try ints(p + "input_ids"))
        let (B, T) = (ids.shape[0], ids.shape[1])
        return try TrainingBatch(inputIDs: ids.values, attentionMask: try ints(p + "attention_mask")?.values,
                                 tokenTypeIDs: try ints(p + "token_type_ids")?.values, labels: try #require(try ints(p + "labels")).values,
                                 batch: B, length: T)
    }
}

/// The golden's name for one of ckpt's parameters: a tied BERT head stores
/// the decoder bias as `cls.predictions.bias`.
func goldenName(_ name: String, in golden: TrainGolden, prefix: String) -> String? {
    if golden.file.info(prefix + name) != nil { return prefix + name }
    // A tied head's bias is named after the head (transformers' parameter name).
    for (decoder, head) in [("cls.predictions.decoder.bias", "cls.predictions.bias"), ("lm_head.decoder.bias", "lm_head.bias")]
    where name == decoder && golden.file.info(prefix + head) != nil {
        return prefix + head
    }
    return nil
}

/// Each parameter's gradient against torch's, relative to the tensor's largest
/// gradient. A tensor whose gradient is zero in exact arithmetic (the key
/// biases: softmax ignores a shift shared by a query's scores) holds rounding
/// noise on both sides and is compared to the model's gradient scale.
func checkGradients(_ model: TrainingModel, _ refs: [[Float]], _ name: String) {
    let globalScale = refs.map { $0.map(abs).max() ?? 0 }.max() ?? 0
    var worst = 0.0
    for (p, ref) in zip(model.parameters, refs) {
        let got = model.gradient(of: p)
        let scale = ref.map(abs).max() ?? 0
        if scale < 1e-4 * globalScale {
            let noise = zip(got, ref).map { abs($0 - $1) }.max() ?? 0
            #expect(noise <= 1e-5 * globalScale, "\(name) \(p.name): gradient \(noise) from torch's ~0")
            continue
        }
        let err = relativeError(got, ref)
        worst = max(worst, err)
        #expect(err <= 1e-4, "\(name) \(p.name): gradient relative error \(err)")
    }
    print("\(name): worst gradient relative error \(worst)")
}

/// Largest difference relative to the reference tensor's largest magnitude.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var diff = 0.0, scale = 0.0
    for (x, y) in zip(a, b) {
        diff = max(diff, Double(abs(x - y)))
        scale = max(scale, Double(abs(y)))
    }
    return scale == 0 ? diff : diff / scale
}

@Suite struct TorchGoldenTests {
    func check(_ name: String) throws {
        let roberta = ["roberta", "xlm-roberta", "camembert"].contains(name)
        let hp = try Fixtures.json("train-goldens/hyperparameters\(roberta ? "-roberta" : "").json")
        let golden = try TrainGolden(name)
        let model = try loadTrainingModel(name)
        let lr = try #require(hp["lr"]?.double), maxNorm = try #require(hp["max_grad_norm"]?.double)
        let warmup = try #require(hp["num_warmup_steps"]?.int), total = try #require(hp["num_training_steps"]?.int)
        let steps = try #require(hp["steps"]?.int), accumulation = try #require(hp["grad_accum"]?.int)
        let betaValues = hp["betas"]?.array ?? []
        let betas = betaValues.compactMap(\.double)
        try #require(betas.count == 2)
        let optimizer = AdamW(model: model, beta1: betas[0], beta2: betas[1], eps: try #require(hp["eps"]?.double),
                              weightDecay: try #require(hp["weight_decay"]?.double))
        let schedule = LearningRateSchedule(.linear, warmupSteps: warmup, totalSteps: total)

        // The no-decay group is the one torch used.
        let noDecayList = hp["no_decay"]?[name]?.array ?? []
        let noDecay = Set(noDecayList.compactMap(\.string))
        try #require(!noDecay.isEmpty)
        for p in model.parameters {
            let gname = try #require(goldenName(p.name, in: golden, prefix: "after."), "\(p.name) is not in the goldens")
            #expect(p.decay == !noDecay.contains(String(gname.dropFirst("after.".count))), "\(p.name): decay \(p.decay)")
        }

        for step in 0..<steps {
            let micro = try (0..<accumulation).map { try golden.batch(step: step, micro: $0) }
            let labelled = micro.reduce(0) { $0 + $1.labelledCount }
            model.zeroGradients()
            var loss = 0.0
            for b in micro { loss += try model.accumulateGradients(b, lossScale: 1 / Float(labelled)) / Double(labelled) }
            let expectedLoss = try golden.double("step\(step).loss")
            #expect(abs(loss - expectedLoss) < 1e-5 * max(1, abs(expectedLoss)), "\(name) step \(step): loss \(loss), torch \(expectedLoss)")
            if step == 0 {
                let refs = try model.parameters.map { p in
                    try golden.floats(try #require(goldenName(p.name, in: golden, prefix: "grad."), "no gradient for \(p.name)"))
                }
                checkGradients(model, refs, name)
            }
            let norm = clipGradientNorm(model, maxNorm: maxNorm)
            let expectedNorm = try golden.double("step\(step).grad_norm")
            #expect(abs(norm - expectedNorm) <= 1e-5 * expectedNorm, "\(name) step \(step): norm \(norm), torch \(expectedNorm)")
            let rate = lr * schedule.factor(step: step)
            #expect(abs(rate - (try golden.double("step\(step).lr"))) <= 1e-15, "\(name) step \(step): lr \(rate)")
            optimizer.update(model, lr: rate)
        }
        var worstWeight: Float = 0
        for p in model.parameters {
            let gname = try #require(goldenName(p.name, in: golden, prefix: "after."))
            let expected = try golden.floats(gname)
            let got = model.values(of: p)
            var worst: Float = 0
            for (x, y) in zip(got, expected) { worst = max(worst, abs(x - y)) }
            #expect(worst <= 2e-5, "\(name) \(p.name): weights after \(steps) steps differ by \(worst)")
            worstWeight = max(worstWeight, worst)
        }
        print("\(name): weights after \(steps) steps within \(worstWeight) of torch")
    }

    @Test func bertTiedGelu() throws { try check("bert-gelu") }
    @Test func bertUntiedGeluNew() throws { try check("bert-gelu-new-untied") }
    @Test func distilBert() throws { try check("distilbert") }
    @Test func roberta() throws { try check("roberta") }

    /// Pad tokens that take part in attention (padding-idx.safetensors):
    /// RoBERTa's positions skip them, and torch's padding_idx gives the pad
    /// rows of the word and position tables no gradient.
    @Test func robertaPadRowsGetNoGradient() throws {
        let g = try TrainGolden(path: Fixtures.path("train-goldens/padding-idx.safetensors"))
        let model = try loadTrainingModel("camembert")
        let ids = try #require(try g.ints("input_ids")), labels = try #require(try g.ints("labels")).values
        let (B, T) = (ids.shape[0], ids.shape[1])
        var batch = TrainingBatch()
        for b in 0..<B {
            batch.append(ids: Array(ids.values[(b * T)..<((b + 1) * T)]), labels: Array(labels[(b * T)..<((b + 1) * T)]))
        }
        let positions = try #require(try g.ints("position_ids")).values
        let pad = try #require(model.config.padTokenID)
        #expect(model.positionRows(batch) == positions)
        model.zeroGradients()
        let n = Double(batch.labelledCount)
        let loss = try model.accumulateGradients(batch, lossScale: Float(1 / n)) / n
        let expected = try g.double("loss")
        #expect(abs(loss - expected) <= 1e-5 * max(1, abs(expected)), "loss \(loss), torch \(expected)")
        checkGradients(model, try model.parameters.map { p in try g.floats(try #require(goldenName(p.name, in: g, prefix: "grad."))) }, "padding-idx")
        let H = model.config.hidden
        for name in ["roberta.embeddings.word_embeddings.weight", "roberta.embeddings.position_embeddings.weight"] {
            let p = try #require(model.parameters.first { $0.name == name })
            #expect(model.gradient(of: p)[(pad * H)..<((pad + 1) * H)].allSatisfy { $0 == 0 }, "\(name): the pad row has a gradient")
        }
    }
    @Test func xlmRoberta() throws { try check("xlm-roberta") }
    @Test func camembert() throws { try check("camembert") }
}
