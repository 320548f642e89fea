// The backward pass against finite differences of the loss, the packed
// training forward against the (transformers-checked) inference forward,
// and determinism of steps with dropout.

import Formats
import Model
import Testing
import TestSupport
import Train

#if canImport(Glibc)
import Glibc
#endif

func loadTrainingModel(_ name: String) throws -> TrainingModel {
    let encoder = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("model-goldens/\(name)")))
    return try TrainingModel(encoder: encoder)
}

/// Two sequences of different lengths, a few labelled tokens each, token types in the first.
func sampleBatch(tokenTypes: Bool = true) -> TrainingBatch {
    var b = TrainingBatch()
    b.append(ids: [2, 17, 4, 33, 91, 4, 120, 3], labels: [-100, -100, 55, -100, -100, 77, -100, -100],
             tokenTypes: tokenTypes ? [0, 0, 0, 0, 1, 1, 1, 1] : nil)
    b.append(ids: [2, 8, 150, 4, 3], labels: [-100, 9, -100, 140, -100])
    return b
}

@Suite struct GradientCheckTests {
    /// Central differences at the largest gradient entry of several tensors.
    /// (Not the key biases: adding a constant to every key of a query shifts
    /// its scores uniformly, which softmax ignores, so their gradient is 0.)
    func finiteDifferences(_ name: String, dropout: DropoutRates) throws {
        let model = try loadTrainingModel(name)
        model.workerCount = 1
        let batch = sampleBatch(tokenTypes: model.config.kind == .bert)
        let scale = 1 / Float(batch.labelledCount)
        model.zeroGradients()
        try model.accumulateGradients(batch, lossScale: scale, dropout: dropout, seed: 7)
        let picks = model.parameters.filter { p in
            ["word_embeddings", "position_embeddings", "query.weight", "key.weight", "value.bias", "q_lin.weight", "k_lin.weight",
             "v_lin.weight", "LayerNorm.weight", "layer_norm.weight", "output.dense.weight", "lin2.weight", "intermediate.dense.bias",
             "lin1.bias", "transform.dense.weight", "vocab_transform.weight", "decoder.bias", "projector.bias", "decoder.weight",
             "projector.weight", "token_type"].contains { p.name.contains($0) }
        }
        #expect(picks.count >= 12, "\(picks.map(\.name))")
        var worst = 0.0
        for p in picks {
            let grad = model.gradient(of: p)
            guard let (i, g) = grad.enumerated().max(by: { abs($0.1) < abs($1.1) }), g != 0 else { continue }
            let at = p.offset + i
            let original = model.weights[at]
            let h: Float = 1e-2 * max(1, abs(original))
            func lossAt(_ w: Float) throws -> Double {
                model.weights[at] = w
                return try model.accumulateGradients(batch, lossScale: 0, dropout: dropout, seed: 7) * Double(scale)
            }
            let plus = try lossAt(original + h), minus = try lossAt(original - h)
            model.weights[at] = original
            let numeric = (plus - minus) / Double(2 * h)
            let rel = abs(numeric - Double(g)) / max(abs(numeric), abs(Double(g)))
            worst = max(worst, rel)
            #expect(rel < 2e-2, "\(name) \(p.name)[\(i)]: backward \(g), finite difference \(numeric)")
        }
        #expect(worst < 2e-2)
    }

    @Test func bertFiniteDifferences() throws { try finiteDifferences("bert-gelu", dropout: .none) }
    @Test func bertUntiedGeluNewFiniteDifferences() throws { try finiteDifferences("bert-gelu-new-untied", dropout: .none) }
    @Test func distilBertFiniteDifferences() throws { try finiteDifferences("distilbert", dropout: .none) }
    /// With a fixed seed the dropout masks are fixed, so the loss is a plain
    /// function of the weights and its gradient can be checked the same way.
    @Test func bertWithDropoutFiniteDifferences() throws { try finiteDifferences("bert-gelu", dropout: DropoutRates(hidden: 0.2, attention: 0.3)) }
    @Test func distilBertWithDropoutFiniteDifferences() throws { try finiteDifferences("distilbert", dropout: DropoutRates(hidden: 0.2, attention: 0.3)) }

    /// The packed training forward gives the loss of the padded inference forward.
    @Test func packedLossMatchesInferenceForward() throws {
        for name in ["bert-gelu", "bert-gelu-new-untied", "distilbert"] {
            let encoder = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("model-goldens/\(name)")))
            let model = try TrainingModel(encoder: encoder)
            let B = 2, T = 9
            let ids = [2, 17, 4, 33, 91, 4, 120, 3, 0, 2, 8, 150, 4, 3, 0, 0, 0, 0]
            let mask = ids.enumerated().map { i, id in (i % T == 0 || id != 0) ? 1 : 0 }
            let types = encoder.config.kind == .bert ? [0, 0, 0, 0, 1, 1, 1, 1, 0] + [Int](repeating: 0, count: T) : nil
            var labels = [Int](repeating: -100, count: B * T)
            labels[2] = 55; labels[5] = 77; labels[T + 1] = 9; labels[T + 3] = 140
            let out = try encoder.forward(inputIDs: ids, attentionMask: mask, tokenTypeIDs: types, batch: B, length: T)
            let logits = try #require(out.logits)
            let V = encoder.config.vocabSize
            var expected = 0.0
            for (i, label) in labels.enumerated() where label != -100 {
                let row = logits[(i * V)..<((i + 1) * V)].map(Double.init)
                let mx = row.max()!
                expected += mx + log(row.reduce(0) { $0 + exp($1 - mx) }) - row[label]
            }
            let batch = try TrainingBatch(inputIDs: ids, attentionMask: mask, tokenTypeIDs: types, labels: labels, batch: B, length: T)
            #expect(batch.tokenCount == 13 && batch.sequences.count == 2)
            let loss = try model.loss(batch)
            #expect(abs(loss - expected) < 1e-4 * max(1, abs(expected)), "\(name): packed \(loss), padded \(expected)")
        }
    }

    /// Another seed: other dropout masks. (Identical bits for the same seed are
    /// checked by CLITests in processes of their own.)
    @Test func seedsChangeTheDropoutMasks() throws {
        func run(seed: UInt64) throws -> [Float] {
            let model = try loadTrainingModel("bert-gelu")
            let b = sampleBatch()
            try model.accumulateGradients(b, lossScale: 1 / Float(b.labelledCount), dropout: DropoutRates(hidden: 0.1, attention: 0.1), seed: seed)
            return Array(model.gradients)
        }
        #expect(try run(seed: 1) != (try run(seed: 2)))
    }

    @Test func badBatchesAreRefused() throws {
        let model = try loadTrainingModel("distilbert")
        var b = TrainingBatch()
        b.append(ids: [2, 500, 3], labels: [-100, 5, -100])
        #expect(throws: ModelError.self) { try model.loss(b) }
        var c = TrainingBatch()
        c.append(ids: [2, 5, 3], labels: [-100, 160, -100])
        #expect(throws: ModelError.self) { try model.loss(c) }
        var d = TrainingBatch()
        d.append(ids: [Int](repeating: 5, count: 65), labels: [Int](repeating: -100, count: 65))
        #expect(throws: ModelError.self) { try model.loss(d) }
        #expect(throws: ModelError.self) {
            try TrainingBatch(inputIDs: [1, 2, 3], attentionMask: nil, tokenTypeIDs: nil, labels: [1, 2], batch: 1, length: 3)
        }
    }
}
