// Tasks against the real tools (goldens from tools/fixtures/make_task_goldens.py):
// truncation and overflow windows as `tokenizers` builds them, scikit-learn's
// metrics (zero division included), sentence-transformers' embeddings, and
// pooling arithmetic on fixed logits.

import Formats
import Model
import Tasks
import Testing
import TestSupport
import Tokenizers

private func ints(_ v: JSONValue?) -> [[Int]] { (v?.array ?? []).map { ($0.array ?? []).compactMap(\.int) } }

@Suite struct WindowTests {
    let chunks: JSONValue
    let tokenizer: Tokenizer

    init() throws {
        chunks = try Fixtures.json("task-goldens/chunks.json")
        tokenizer = try Tokenizer(path: Fixtures.path("model-goldens/bert-gelu"))
    }

    var texts: [String] { (chunks["texts"]?.array ?? []).compactMap(\.string) }

    @Test func overflowWindowsEqualTokenizers() throws {
        let cases = chunks["overflow"]?.array ?? []
        try #require(cases.count >= 5)
        let lengths = (chunks["content_lengths"]?.array ?? []).compactMap(\.int)
        #expect(lengths.contains(14) && lengths.contains(15), "texts of exactly L−2 and L−1 tokens for L = 16")
        for c in cases {
            let L = try #require(c["max_length"]?.int), S = try #require(c["stride"]?.int)
            var ids: [[Int]] = [], types: [[Int]] = [], mapping: [Int] = []
            for (i, text) in texts.enumerated() {
                for w in try tokenizer.windows(text, maxLength: L, stride: S) {
                    ids.append(w.ids); types.append(w.typeIDs); mapping.append(i)
                }
            }
            #expect(ids == ints(c["input_ids"]), "L \(L) S \(S): windows")
            #expect(types == ints(c["token_type_ids"]), "L \(L) S \(S): token types")
            #expect(mapping == (c["overflow_to_sample_mapping"]?.array ?? []).compactMap(\.int), "L \(L) S \(S): text of each window")
        }
    }

    @Test func strideMustBeBelowTheWindowsText() throws {
        for c in chunks["overflow_errors"]?.array ?? [] {
            let L = try #require(c["max_length"]?.int), S = try #require(c["stride"]?.int)
            #expect(throws: TruncationError.self, "tokenizers refuses L \(L) S \(S)") { try tokenizer.windows(texts[4], maxLength: L, stride: S) }
        }
        #expect(throws: TruncationError.self) { try tokenizer.windows("a", maxLength: 2, stride: 0) }
    }

    @Test func truncationEqualsTokenizers() throws {
        for c in chunks["truncation_single"]?.array ?? [] {
            let L = try #require(c["max_length"]?.int)
            let side: TruncationSide = c["truncation_side"]?.string == "left" ? .tail : .head
            #expect(texts.map { tokenizer.encode($0, maxLength: L, keep: side).ids } == ints(c["input_ids"]), "single, \(side)")
        }
        let pairs = (chunks["pairs"]?.array ?? []).map { ($0.array ?? []).compactMap(\.string) }
        try #require(pairs.count >= 5)
        for c in chunks["truncation_pairs"]?.array ?? [] {
            let L = try #require(c["max_length"]?.int)
            let side: TruncationSide = c["truncation_side"]?.string == "left" ? .tail : .head
            let got = pairs.map { tokenizer.encode($0[0], pair: $0[1], maxLength: L, keep: side) }
            #expect(got.map(\.ids) == ints(c["input_ids"]), "pairs L \(L), \(side)")
            #expect(got.map(\.typeIDs) == ints(c["token_type_ids"]), "pairs L \(L), \(side): token types")
        }
    }

    /// Head+tail keeps Sun et al.'s 128 + 382 of 510 tokens, scaled.
    @Test func headAndTail() throws {
        #expect(TruncationSide.headTail.kept(1000, budget: 510) == [0..<128, 618..<1000])
        let text = texts[4]
        let full = tokenizer.encode(text, maxLength: 1000, keep: .head).ids
        let e = tokenizer.encode(text, maxLength: 10, keep: .headTail).ids
        #expect(e.count == 10 && e.first == full.first && e.last == full.last)
        #expect(Array(e[1..<3]) == Array(full[1..<3]) && Array(e[3..<9]) == Array(full[(full.count - 7)..<(full.count - 1)]))
    }
}

@Suite struct MetricsTests {
    let m: JSONValue
    init() throws { m = try Fixtures.json("task-goldens/metrics.json") }

    func close(_ a: Double?, _ b: Double?, _ what: String) {
        guard let a, let b else { Issue.record("\(what): missing (\(String(describing: a)), \(String(describing: b)))"); return }
        #expect(abs(a - b) <= 1e-12, "\(what): \(a), scikit-learn \(b)")
    }

    @Test func singleLabelEqualsScikitLearn() throws {
        let cases = m["single_label"]?.array ?? []
        try #require(cases.count >= 8)
        for c in cases {
            let name = c["name"]?.string ?? "?"
            let labels = (c["labels"]?.array ?? []).compactMap(\.int)
            let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($0.element, $0.offset) })
            let truth = (c["y_true"]?.array ?? []).compactMap(\.int).map { index[$0]! }
            let predicted = (c["y_pred"]?.array ?? []).compactMap(\.int).map { index[$0]! }
            let r = Metrics.classification(truth: truth, predicted: predicted, classes: labels.count)
            for key in ["accuracy", "f1_macro", "f1_micro", "f1_weighted", "precision_macro", "precision_micro", "precision_weighted",
                        "recall_macro", "recall_micro", "recall_weighted"] {
                close(r[key], c[key]?.double, "\(name) \(key)")
            }
            if let b = c["f1_binary"]?.double { close(r["f1"], b, "\(name) f1 (binary)") }
            let per = c["per_class"]
            for (k, s) in r.perClass.enumerated() {
                close(s.precision, per?["precision"]?.array?[k].double, "\(name) precision[\(k)]")
                close(s.recall, per?["recall"]?.array?[k].double, "\(name) recall[\(k)]")
                close(s.f1, per?["f1"]?.array?[k].double, "\(name) f1[\(k)]")
                #expect(s.support == per?["support"]?.array?[k].int)
            }
            #expect(r.confusion == ints(c["confusion_matrix"]), "\(name) confusion matrix")
        }
    }

    @Test func multiLabelEqualsScikitLearn() throws {
        for c in m["multi_label"]?.array ?? [] {
            let name = c["name"]?.string ?? "?"
            let truth = ints(c["y_true"]).map { $0.map { $0 != 0 } }, predicted = ints(c["y_pred"]).map { $0.map { $0 != 0 } }
            let r = Metrics.multiLabel(truth: truth, predicted: predicted, classes: truth[0].count)
            for key in ["accuracy", "f1_macro", "f1_micro", "f1_weighted", "f1_samples", "precision_macro", "recall_micro"] {
                close(r[key], c[key]?.double, "\(name) \(key)")
            }
            for (k, s) in r.perClass.enumerated() { close(s.f1, c["per_class"]?["f1"]?.array?[k].double, "\(name) f1[\(k)]") }
        }
    }

    @Test func directions() {
        #expect(!Metrics.greaterIsBetter("loss") && !Metrics.greaterIsBetter("perplexity") && !Metrics.greaterIsBetter("mse"))
        #expect(Metrics.greaterIsBetter("f1_macro") && Metrics.greaterIsBetter("r2"))
    }

    @Test func regressionEqualsScikitLearn() throws {
        let c = try #require(m["regression"])
        let r = Metrics.regression(truth: (c["y_true"]?.array ?? []).compactMap(\.double), predicted: (c["y_pred"]?.array ?? []).compactMap(\.double))
        for key in ["mse", "mae", "r2"] { close(r[key], c[key]?.double, key) }
        if let p = c["pearson"]?.double { #expect(abs(r["pearson"]! - p) <= 1e-12) }
    }
}

@Suite struct EmbeddingTests {
    @Test(arguments: ["st-mean-norm", "st-cls", "st-max"])
    func equalsSentenceTransformers(_ name: String) throws {
        let dir = Fixtures.path("task-goldens/\(name)")
        let info = try Fixtures.json("task-goldens/embedding_texts.json")
        let texts = (info["texts"]?.array ?? []).compactMap(\.string)
        let golden = try SafeTensorsFile(path: Fixtures.path("task-goldens/embeddings.safetensors"))
        let expected = try golden.data(name).floats()
        let ckpt = try Checkpoint(path: dir)
        let settings = try #require(try EmbeddingSettings.sentenceTransformers(dir))
        let model = info["models"]?[name]
        #expect(settings.maxLength == model?["max_seq_length"]?.int)
        #expect(settings.normalize == (model?["normalize"]?.bool ?? false))
        let embedder = SentenceEmbedder(encoder: try Encoder(checkpoint: ckpt), tokenizer: try Tokenizer(files: ckpt.files, path: dir),
                                        settings: settings)
        let H = embedder.dimension
        // Several batch sizes: padding must not change a text's vector.
        for batch in [1, 3, 32] {
            embedder.batchSize = batch
            let got = try embedder.embed(texts)
            for (i, v) in got.enumerated() {
                let e = Array(expected[(i * H)..<((i + 1) * H)])
                let dot = zip(v, e).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let cos = dot / (norm(v) * norm(e))
                #expect(cos > 0.99999, "\(name) text \(i) batch \(batch): cosine \(cos)")
                let worst = zip(v, e).map { abs($0 - $1) }.max() ?? 1
                #expect(worst <= 1e-4 * max(1, e.map(abs).max() ?? 1), "\(name) text \(i): differs by \(worst)")
            }
        }
    }

    /// all-MiniLM-L6-v2's older layout: pooling booleans and sentence_bert_config.json.
    @Test func legacyLayout() throws {
        let dir = ScratchDirectory()
        dir.write("modules.json", Array("""
            [{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
             {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
             {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]
            """.utf8))
        dir.write("sentence_bert_config.json", Array(#"{"max_seq_length": 256, "do_lower_case": false}"#.utf8))
        try FileSystem.makeDirectories(dir.file("1_Pooling"))
        dir.write("1_Pooling/config.json", Array(#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}"#.utf8))
        let s = try #require(try EmbeddingSettings.sentenceTransformers(dir.path))
        #expect(s.pooling == [.mean] && s.normalize && s.maxLength == 256 && !s.lowercase)
    }

    private func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
}
