// The RoBERTa family (RoBERTa, XLM-RoBERTa, CamemBERT) against transformers
// (goldens from tools/fixtures/make_model_goldens.py): right- and left-padded
// batches, so position ids that follow the padding are exercised; the tensor
// variants files hold; the positions the table allows.

import Formats
import Model
import Testing
import TestSupport
import Verify

@Suite struct RobertaGoldenTests {
    static let models = ["roberta", "xlm-roberta", "camembert"]

    @Test(arguments: models) func rightPaddedBatch(_ model: String) throws {
        try EncoderGoldenTests().check(model)
    }

    /// Left padding moves every real token's position: transformers counts
    /// positions from pad_token_id + 1 over the tokens that are not padding.
    @Test(arguments: models) func leftPaddedBatch(_ model: String) throws {
        let dir = Fixtures.path("model-goldens/\(model)")
        let encoder = try Encoder(checkpoint: try Checkpoint(path: dir))
        let file = try SafeTensorsFile(path: dir + "/golden.safetensors")
        func ints(_ name: String) throws -> [Int] {
            let d = try file.data(name)
            return d.withUnsafeBytes { raw in (0..<d.info.elementCount).map { Int(raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
        }
        let info = try #require(file.info("left.input_ids"))
        let (B, T) = (info.shape[0], info.shape[1])
        let ids = try ints("left.input_ids"), mask = try ints("left.attention_mask")
        #expect(mask.first == 0, "the first row should start with padding")
        let out = try encoder.forward(inputIDs: ids, attentionMask: mask, batch: B, length: T)
        let H = encoder.config.hidden, V = encoder.config.vocabSize
        let hidden = try file.data("left.last_hidden_state").floats(), logits = try file.data("left.logits").floats()
        var worstHidden: Float = 0, worstLogit: Float = 0
        for n in 0..<(B * T) where mask[n] == 1 {
            for c in 0..<H { worstHidden = max(worstHidden, abs(out.lastHiddenState[n * H + c] - hidden[n * H + c])) }
            for v in 0..<V { worstLogit = max(worstLogit, abs(out.logits![n * V + v] - logits[n * V + v])) }
        }
        #expect(worstHidden < 1e-4 && worstLogit < 1e-4, "\(model): hidden \(worstHidden), logits \(worstLogit)")
    }

    /// A file with a leftover pooler, the position_ids buffer and both names
    /// of the LM head's bias gives RoBERTa's logits.
    @Test func variantTensorsAreAccepted() throws {
        let base = Fixtures.path("model-goldens/roberta")
        let variant = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("model-goldens/roberta-variants")))
        let (batch, refs) = try Verifier.loadReference(base + "/golden.safetensors", config: variant.config)
        let results = try Verifier.run(variant, batch: batch, references: refs, layers: false, tolerance: 1e-4)
        #expect(!results.isEmpty && results.allSatisfy(\.ok), "\(results.map { "\($0.name) \($0.maxAbs)" })")
        #expect(variant.unusedTensors.contains { $0.hasPrefix("roberta.pooler.") })
    }

    /// The head at chosen positions and entries only (what a 250,002-piece
    /// vocabulary needs) gives the same values as the full logits.
    @Test func logitsAtChosenPositions() throws {
        let encoder = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("model-goldens/xlm-roberta")))
        let ids = [0, 17, 301, 40, 2, 0, 55, 56, 2, 1]
        let all = try #require(try encoder.forward(inputIDs: ids, batch: 2, length: 5).logits)
        let some = try encoder.forward(inputIDs: ids, batch: 2, length: 5, logitPositions: [2, 6])
        let V = encoder.config.vocabSize
        #expect(some.logitPositions == [2, 6] && some.logits?.count == 2 * V)
        // Other row counts may block the product differently: equal within rounding.
        let worst = (0..<V).map { max(abs(some.logits![$0] - all[2 * V + $0]), abs(some.logits![V + $0] - all[6 * V + $0])) }.max()!
        #expect(worst <= 1e-5, "\(worst)")
        #expect(try encoder.forward(inputIDs: ids, batch: 2, length: 5, logitPositions: []).logits == nil)
        // Chosen columns: the same entries.
        let cols = [301, 0, 17, 250]
        let picked = try #require(try encoder.forward(inputIDs: ids, batch: 2, length: 5, logitPositions: [2, 6], logitColumns: cols).logits)
        let worstColumn = (0..<2).flatMap { m in cols.indices.map { k in abs(picked[m * cols.count + k] - some.logits![m * V + cols[k]]) } }.max()!
        #expect(picked.count == 2 * cols.count && worstColumn <= 1e-5, "\(worstColumn)")
        #expect(throws: ModelError.self) { try encoder.forward(inputIDs: ids, batch: 2, length: 5, logitColumns: [V]) }
        #expect(throws: ModelError.self) { try encoder.forward(inputIDs: ids, batch: 2, length: 5, logitPositions: [10]) }
    }

    @Test func positionsStopBeforeThePadOffset() throws {
        let encoder = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("model-goldens/roberta")))
        let c = encoder.config
        #expect(c.kind == .roberta && c.positionOffset == (c.padTokenID ?? -1) + 1)
        #expect(c.maxLength == c.maxPositions - c.positionOffset)
        let ok = [Int](repeating: 5, count: c.maxLength)
        _ = try encoder.forward(inputIDs: ok, batch: 1, length: ok.count)
        #expect(throws: ModelError.self) { try encoder.forward(inputIDs: ok + [5], batch: 1, length: ok.count + 1) }
        // Pad tokens take the pad row, the others count from pad + 1.
        let pad = c.padTokenID!
        #expect(c.positionIDs([pad, 7, 8, pad, 9], batch: 1, length: 5) == [pad, pad + 1, pad + 2, pad, pad + 3])
    }
}
