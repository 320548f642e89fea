// The encoder against transformers (goldens from tools/fixtures/make_model_goldens.py):
// logits and every layer's hidden states within 1e-4 max-abs at real positions.

import Convert
import Formats
import Model
import Testing
import TestSupport
import Tokenizers
import Verify

#if canImport(Glibc)
import Glibc
#endif

@Suite struct EncoderGoldenTests {
    func check(_ model: String) throws {
        let dir = Fixtures.path("model-goldens/\(model)")
        let encoder = try Encoder(checkpoint: try Checkpoint(path: dir))
        let (batch, refs) = try Verifier.loadReference(dir + "/golden.safetensors", config: encoder.config)
        #expect(batch.mask.contains(0), "the goldens should include padding")
        let results = try Verifier.run(encoder, batch: batch, references: refs, layers: true, tolerance: 1e-4)
        #expect(results.count == refs.count, "\(model): compared \(results.map(\.name)) of \(refs.keys.sorted())")
        for r in results {
            #expect(r.ok, "\(model) \(r.name): max_abs \(r.maxAbs)")
            if let t1 = r.top1 { #expect(t1 == 1, "\(model) \(r.name): top-1 agreement \(t1)") }
        }
    }

    @Test func bertGeluTiedMLM() throws { try check("bert-gelu") }
    @Test func bertGeluNewUntiedMLM() throws { try check("bert-gelu-new-untied") }
    @Test func distilBertMLM() throws { try check("distilbert") }
    @Test func bertBaseModel() throws { try check("bert-base-model") }

    @Test func convertedCopiesGiveIdenticalOutputs() throws {
        // safetensors → h5 must be exact; a bf16 copy reports its real drift.
        let dir = Fixtures.path("model-goldens/bert-gelu")
        let s = ScratchDirectory()
        let src = try Checkpoint(path: dir)
        let original = try Encoder(checkpoint: src)
        let (batch, _) = try Verifier.loadReference(dir + "/golden.safetensors", config: original.config)
        let reference = try Verifier.outputs(original, batch: batch, layers: false)
        _ = try Converter.convert(src, to: s.file("m.h5"), options: ConvertOptions())
        let copy = try Encoder(checkpoint: try Checkpoint(path: s.file("m.h5")))
        let exact = try Verifier.run(copy, batch: batch, references: reference, layers: false, tolerance: 0)
        #expect(exact.allSatisfy { $0.ok && $0.maxAbs == 0 })
        _ = try Converter.convert(src, to: s.file("bf16"), options: ConvertOptions(dtype: .bf16))
        let low = try Encoder(checkpoint: try Checkpoint(path: s.file("bf16")))
        let drift = try Verifier.run(low, batch: batch, references: reference, layers: false, tolerance: 1e-4)
        #expect(drift.contains { !$0.ok && $0.maxAbs > 1e-4 && $0.cosine > 0.99 })
    }

    @Test func onePerturbedWeightIsFlagged() throws {
        let dir = Fixtures.path("model-goldens/distilbert")
        let src = try Checkpoint(path: dir)
        let s = ScratchDirectory()
        let target = "distilbert.transformer.layer.1.ffn.lin2.weight"
        try SafeTensorsWriter.write(src.tensors, to: s.file("model.safetensors")) { info in
            let d = try src.data(info.name)
            guard info.name == target else { return d }
            var values = try d.floats()
            values[5] += 0.01
            return TensorData(info: info) { b in values.withUnsafeBytes { b.copyMemory(from: $0) } }
        }
        for f in src.files { s.write(f.name, f.bytes) }
        let original = try Encoder(checkpoint: src)
        let perturbed = try Encoder(checkpoint: try Checkpoint(path: s.path))
        let (batch, _) = try Verifier.loadReference(dir + "/golden.safetensors", config: original.config)
        let reference = try Verifier.outputs(original, batch: batch, layers: false)
        let results = try Verifier.run(perturbed, batch: batch, references: reference, layers: false, tolerance: 1e-6)
        #expect(results.contains { !$0.ok })
        let same = try Verifier.run(original, batch: batch, references: reference, layers: false, tolerance: 0)
        #expect(same.allSatisfy { $0.ok })
    }

    @Test func missingAndMisshapedTensorsAreListedByName() throws {
        let dir = Fixtures.path("model-goldens/bert-gelu")
        let src = try Checkpoint(path: dir)
        let s = ScratchDirectory()
        let dropped = "bert.encoder.layer.1.output.dense.bias"
        let reshaped = "bert.embeddings.LayerNorm.weight"
        let infos = src.tensors.filter { $0.name != dropped }.map { $0.name == reshaped ? TensorInfo(name: reshaped, dtype: .f32, shape: [16])! : $0 }
        try SafeTensorsWriter.write(infos + [TensorInfo(name: "bert.extra.weight", dtype: .f32, shape: [1])!],
                                    to: s.file("model.safetensors")) { info in
            if info.name == reshaped || info.name == "bert.extra.weight" {
                return TensorData(info: info, copying: [UInt8](repeating: 0, count: info.byteCount))
            }
            return try src.data(info.name)
        }
        for f in src.files { s.write(f.name, f.bytes) }
        do {
            _ = try Encoder(checkpoint: try Checkpoint(path: s.path))
            Issue.record("bound a broken checkpoint")
        } catch let ModelError.binding(_, problems) {
            #expect(problems.contains("missing tensor \(dropped) [32]"))
            #expect(problems.contains("tensor \(reshaped) has shape [16], expected [32]"))
            #expect(problems.contains("unexpected tensor bert.extra.weight"))
        }
    }

    @Test func malformedReferencesAreRejected() throws {
        let config = try Encoder(checkpoint: try Checkpoint(path: Fixtures.path("model-goldens/bert-gelu"))).config
        let s = ScratchDirectory()
        let ids = TensorData(info: TensorInfo(name: "input_ids", dtype: .i64, shape: [1, 2])!, copying: [UInt8](repeating: 0, count: 16))
        try SafeTensorsWriter.write([ids], to: s.file("no-outputs.safetensors"))
        #expect(throws: VerifyError.self) { try Verifier.loadReference(s.file("no-outputs.safetensors"), config: config) }
        let bad = TensorData(info: TensorInfo(name: "logits", dtype: .f32, shape: [1, 2, 7])!, copying: [UInt8](repeating: 0, count: 56))
        try SafeTensorsWriter.write([ids, bad], to: s.file("wrong-shape.safetensors"))
        #expect(throws: VerifyError.self) { try Verifier.loadReference(s.file("wrong-shape.safetensors"), config: config) }
        let floatIDs = TensorData(info: TensorInfo(name: "input_ids", dtype: .f32, shape: [1, 2])!, copying: [UInt8](repeating: 0, count: 8))
        try SafeTensorsWriter.write([floatIDs], to: s.file("float-ids.safetensors"))
        #expect(throws: VerifyError.self) { try Verifier.loadReference(s.file("float-ids.safetensors"), config: config) }
    }
}

@Suite struct FillMaskTests {
    /// The candidates equal the top-k of transformers' own logits at the mask
    /// (golden row 2 is "is it [MASK] ?").
    @Test func matchesTheGoldenLogits() throws {
        let dir = Fixtures.path("model-goldens/bert-gelu")
        let ckpt = try Checkpoint(path: dir)
        let encoder = try Encoder(checkpoint: ckpt)
        let tokenizer = try Tokenizer(files: ckpt.files, path: dir)
        let (batch, refs) = try Verifier.loadReference(dir + "/golden.safetensors", config: encoder.config)
        let T = batch.length, V = encoder.config.vocabSize
        let maskID = try #require(tokenizer.id(of: "[MASK]"))
        let p = try #require((0..<T).first { batch.ids[2 * T + $0] == maskID })
        let row = Array(refs["logits"]![((2 * T + p) * V)..<((2 * T + p + 1) * V)]).map(Double.init)
        let m = row.max()!
        let z = row.reduce(0) { $0 + exp($1 - m) }
        let expected = row.indices.sorted { row[$0] > row[$1] }.prefix(5)
        let got = try FillMask.predict(model: encoder, tokenizer: tokenizer, text: "is it [MASK] ?", topK: 5)
        #expect(got.count == 1)
        #expect(got[0].map(\.token) == Array(expected))
        for c in got[0] { #expect(abs(c.score - exp(row[c.token] - m) / z) < 1e-5) }
    }
}

@Suite struct EncoderConfigTests {
    @Test func absurdSizesAreRefusedBeforeAnyAllocation() throws {
        let s = ScratchDirectory()
        var cfg = try ModelConfig(bytes: try readFile(Fixtures.path("model-goldens/bert-gelu/config.json")), path: "config.json")
        cfg.vocabSize = 1_000_000_000_000
        s.write("config.json", cfg.serialized())
        s.write("model.safetensors", try readFile(Fixtures.path("model-goldens/bert-gelu/model.safetensors")))
        #expect(throws: ModelError.self) { try Encoder(checkpoint: try Checkpoint(path: s.path)) }
    }
}
