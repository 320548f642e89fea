// `ckpt train --task`, `ckpt classify`, `ckpt eval` and `ckpt embed` end to end:
// the written classifier (config fields, tensor names), bit-exact resume with
// the best model and early stopping, long texts in windows, and bad input
// refused with the file and line named and nothing written.

import Formats
import Testing
import TestSupport

@Suite struct TaskCLITests {
    /// A learnable three-class task from the tiny vocabulary: the label is
    /// which word the text is about.
    func data(_ dir: ScratchDirectory) -> (train: String, test: String) {
        let topics = [("cat", "animal"), ("tree", "plant"), ("train", "vehicle")]
        let fillers = ["the", "we", "saw", "a", "on", "read", "the mat", "the token"]
        func rows(_ n: Int, _ offset: Int) -> String {
            var s = "text,label\n"
            for i in 0..<n {
                let (word, label) = topics[(i + offset) % 3]
                let a = fillers[(i * 3 + offset) % fillers.count], b = fillers[(i * 5 + 1) % fillers.count]
                s += "\"\(a) \(word), \(b) \(word)\",\(label)\n"
            }
            return s
        }
        dir.write("train.csv", Array(rows(48, 0).utf8))
        dir.write("test.csv", Array(rows(12, 1).utf8))
        return (dir.file("train.csv"), dir.file("test.csv"))
    }

    func args(_ train: String, _ out: String) -> [String] {
        ["train", "--task", "classification", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", train, "--out", out,
         "--eval-ratio", "0.25", "--max-steps", "12", "--eval-steps", "2", "--save-steps", "4", "--batch-size", "4",
         "--grad-accum", "2", "--lr", "2e-3", "--metric", "f1_macro", "--keep-best", "--scheduler", "plateau",
         "--plateau-patience", "1", "--label-smoothing", "0.1", "--class-weights", "auto", "--threads", "2"]
    }

    @Test func fineTunesResumesAndClassifies() throws {
        let dir = ScratchDirectory()
        let (train, test) = data(dir)
        let a = ckpt(args(train, dir.file("a")))
        #expect(a.status == 0, "\(a.err)")
        // transformers' loading report: a masked-LM checkpoint has no pooler or classifier.
        #expect(a.out.contains("newly initialised") && a.out.contains("bert.pooler.dense.weight") && a.out.contains("classifier.weight"), "\(a.out)")
        #expect(a.out.contains("not used") && a.out.contains("cls.predictions.transform.dense.weight"))
        #expect(a.out.contains("f1_macro") && a.out.contains("best f1_macro"), "\(a.out)")
        let config = try JSONParser.parse(try readFile(dir.file("a/final/config.json")), path: "config.json")
        #expect(config["architectures"]?.array?.first?.string == "BertForSequenceClassification")
        #expect(config["id2label"]?["0"]?.string == "animal" && config["id2label"]?["2"]?.string == "vehicle")
        #expect(config["label2id"]?["plant"]?.int == 1 && config["problem_type"]?.string == "single_label_classification")
        let names = Set(try SafeTensorsFile(path: dir.file("a/final/model.safetensors")).tensors.map(\.name))
        #expect(names.contains("bert.pooler.dense.weight") && names.contains("classifier.weight") && names.contains("classifier.bias"))
        #expect(!names.contains { $0.hasPrefix("cls.") })
        #expect(FileSystem.isFile(dir.file("a/best/model.safetensors")))
        let metrics = String(decoding: try readFile(dir.file("a/metrics.jsonl")), as: UTF8.self)
        #expect(metrics.contains("\"eval_f1_macro\"") && metrics.contains("\"eval_accuracy\"") && metrics.contains("\"eval_per_class\":{\"animal\""))

        // Killed after checkpoint-4; resumed: the same bits, and the same best model.
        let b = ckpt(args(train, dir.file("b")))
        #expect(b.status == 0, "\(b.err)")
        for name in ["final", "checkpoint-8", "checkpoint-12", "best"] { try FileSystem.removeDirectory(dir.file("b/\(name)")) }
        let r = ckpt(args(train, dir.file("b")) + ["--resume"])
        #expect(r.status == 0 && r.out.contains("from step 4"), "\(r.err)")
        #expect(try readFile(dir.file("b/final/model.safetensors")) == (try readFile(dir.file("a/final/model.safetensors"))))
        let stateA = try JSONParser.parse(try readFile(dir.file("a/checkpoint-12/trainer_state.json")), path: "a")
        let stateB = try JSONParser.parse(try readFile(dir.file("b/checkpoint-12/trainer_state.json")), path: "b")
        #expect(stateA["evaluation"] == stateB["evaluation"] && stateA["evaluation"]?["best_step"]?.int != nil)
        #expect(stateA["evaluation"]?["plateau_scale"]?.double.map { $0 < 1 } == true, "the plateau schedule reduced the rate")
        let bestStep = stateA["evaluation"]?["best_step"]?.int ?? -1
        if bestStep > 4 {
            #expect(try readFile(dir.file("b/best/model.safetensors")) == (try readFile(dir.file("a/best/model.safetensors"))))
        }

        // Inference: eval's scores, classify with windows, and the labels of the model.
        let e = ckpt(["eval", dir.file("a/final"), "--data", test, "--json"])
        #expect(e.status == 0, "\(e.err)")
        let report = try JSONParser.parse(e.out, path: "eval")
        #expect(report["accuracy"]?.double != nil && report["confusion_matrix"]?.array?.count == 3 && report["per_class"]?["plant"] != nil)
        let c = ckpt(["classify", dir.file("a/final"), "we saw the cat on the mat and the cat saw the token", "--max-length", "8",
                      "--stride", "2", "--json"])
        #expect(c.status == 0, "\(c.err)")
        let result = try JSONParser.parse(c.out, path: "classify")
        #expect(result["chunks"]?.int.map { $0 > 1 } == true && result["probabilities"]?["animal"] != nil, "\(c.out)")
        let emb = ckpt(["embed", dir.file("a/final"), "the cat", "--normalize"])
        #expect(emb.status == 0 && emb.out.hasPrefix("{\"embedding\":["), "\(emb.err)")
    }

    /// Pairs: BERT gets token types 0 and 1; DistilBERT has none (its
    /// tokenizer drops them in transformers) and trains on the same file.
    @Test func textPairs() throws {
        let dir = ScratchDirectory()
        var rows = "premise,hypothesis,label\n"
        for i in 0..<24 { rows += "the cat saw the mat,\(i % 2 == 0 ? "the cat saw" : "the tree read"),\(i % 2 == 0 ? "yes" : "no")\n" }
        dir.write("pairs.csv", Array(rows.utf8))
        for base in ["bert-gelu", "distilbert"] {
            let r = ckpt(["train", "--task", "classification", "--model", Fixtures.path("model-goldens/\(base)"), "--corpus", dir.file("pairs.csv"),
                          "--text-column", "premise", "--text-pair-column", "hypothesis", "--out", dir.file(base), "--max-steps", "3",
                          "--eval-ratio", "0.25", "--metric", "f1", "--eval-steps", "3", "--keep-best"])
            #expect(r.status == 0 && r.out.contains("f1 "), "\(base): \(r.err)")
            let e = ckpt(["eval", dir.file("\(base)/final"), "--data", dir.file("pairs.csv"), "--text-column", "premise",
                          "--text-pair-column", "hypothesis", "--json"])
            #expect(e.status == 0 && e.out.contains("\"f1\""), "\(base): \(e.err)")
        }
    }

    /// `ckpt eval --truncate` scores exactly what the trainer's evaluation scored.
    @Test func evalMatchesTheTrainersEvaluation() throws {
        let dir = ScratchDirectory()
        let (train, test) = data(dir)
        let r = ckpt(["train", "--task", "classification", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", train,
                      "--eval-file", test, "--out", dir.file("o"), "--max-steps", "4", "--max-length", "6", "--truncate", "tail",
                      "--lr", "2e-3"])
        #expect(r.status == 0 && r.out.contains("longer than 6 tokens, truncated (tail)"), "\(r.out)\(r.err)")
        let lines = String(decoding: try readFile(dir.file("o/metrics.jsonl")), as: UTF8.self).split(separator: "\n")
        let last = try JSONParser.parse(String(try #require(lines.last { $0.contains("eval_f1_macro") })), path: "metrics")
        let e = ckpt(["eval", dir.file("o/final"), "--data", test, "--max-length", "6", "--truncate", "tail", "--json"])
        #expect(e.status == 0, "\(e.err)")
        let report = try JSONParser.parse(e.out, path: "eval")
        for key in ["accuracy", "f1_macro", "f1_weighted"] {
            #expect(abs((report[key]?.double ?? -1) - (last["eval_" + key]?.double ?? -2)) < 1e-12, "\(key)")
        }
    }

    @Test func earlyStoppingSurvivesResume() throws {
        let dir = ScratchDirectory()
        let (train, _) = data(dir)
        // At learning rate 0 nothing improves after the first evaluation.
        let run = ["train", "--task", "classification", "--model", Fixtures.path("model-goldens/distilbert"), "--corpus", train,
                   "--out", dir.file("o"), "--eval-ratio", "0.25", "--max-steps", "20", "--eval-steps", "2", "--save-steps", "2",
                   "--early-stopping", "3", "--lr", "0", "--batch-size", "4", "--threads", "1"]
        let a = ckpt(run)
        #expect(a.status == 0 && a.out.contains("stopped early") && a.out.contains("done: 8 steps"), "\(a.out)\(a.err)")
        for name in ["final", "checkpoint-6", "checkpoint-8"] { try FileSystem.removeDirectory(dir.file("o/\(name)")) }
        let r = ckpt(run + ["--resume"])
        #expect(r.status == 0 && r.out.contains("done: 8 steps"), "the counter is restored: \(r.out)\(r.err)")
    }

    @Test func badInputIsNamedAndNothingIsWritten() throws {
        let dir = ScratchDirectory()
        let (train, _) = data(dir)
        func refused(_ file: String, _ content: String, _ extra: [String] = [], expect: String) {
            dir.write(file, Array(content.utf8))
            let out = dir.file("out-\(file)")
            let r = ckpt(["train", "--task", extra.contains("regression") ? "regression" : "classification",
                          "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", dir.file(file), "--out", out, "--max-steps", "1"]
                         + extra.filter { $0 != "regression" })
            #expect(r.status == 1 && r.err.contains(expect), "\(file): \(r.err)")
            #expect(!FileSystem.exists(out), "\(file): nothing written")
        }
        refused("nocol.csv", "sentence,label\nthe cat,a\n", expect: "nocol.csv:1: no column \"text\"")
        refused("empty.csv", "text,label\nthe cat,a\n  ,b\n", expect: "empty.csv:3: empty text")
        refused("labels.jsonl", "{\"text\": \"the cat\", \"label\": \"a\"}\n{\"text\": \"the dog\", \"label\": \"c\"}\n",
                ["--labels", "a,b"], expect: "labels.jsonl:2: label \"c\" is not one of the labels")
        refused("value.tsv", "text\tlabel\nthe cat\t0.5\nthe dog\thigh\n", ["regression"], expect: "value.tsv:3: regression label \"high\" is not a number")
        refused("quote.csv", "text,label\n\"the cat,a\n", expect: "quote.csv:2: a quoted field is never closed")
        // A label of the eval file the training data never had.
        dir.write("eval.csv", Array("text,label\nthe cat,animal\nthe dog,mammal\n".utf8))
        let r = ckpt(["train", "--task", "classification", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", train,
                      "--eval-file", dir.file("eval.csv"), "--out", dir.file("out-eval"), "--max-steps", "1"])
        #expect(r.status == 1 && r.err.contains("eval.csv:3: label \"mammal\""), "\(r.err)")
        #expect(!FileSystem.exists(dir.file("out-eval")))
        let dup = ckpt(["train", "--task", "classification", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", train,
                        "--labels", "animal,plant,animal", "--out", dir.file("out-dup")])
        #expect(dup.status != 0 && dup.err.contains("twice"), "\(dup.err)")
        let zero = ckpt(["train", "--task", "classification", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", train,
                         "--class-weights", "1,0,1", "--out", dir.file("out-zero")])
        #expect(zero.status != 0 && zero.err.contains("positive"), "\(zero.err)")
        #expect(!FileSystem.exists(dir.file("out-dup")) && !FileSystem.exists(dir.file("out-zero")))
        // Inference inputs: an empty line to classify, a label the classifier lacks,
        // a sentence-transformers module ckpt does not run.
        dir.write("texts.txt", Array("the cat\n\nthe dog\n".utf8))
        let empty = ckpt(["classify", Fixtures.path("task-goldens/bert-single"), "--file", dir.file("texts.txt")])
        #expect(empty.status == 1 && empty.err.contains("texts.txt:2: empty text"), "\(empty.err)")
        dir.write("unknown.csv", Array("text,label\nthe cat,l0\nthe dog,l9\n".utf8))
        let unknown = ckpt(["eval", Fixtures.path("task-goldens/bert-single"), "--data", dir.file("unknown.csv")])
        #expect(unknown.status == 1 && unknown.err.contains("unknown.csv:3: label \"l9\""), "\(unknown.err)")
        let st = dir.file("st")
        try FileSystem.makeDirectories(st)
        for f in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            dir.write("st/" + f, try readFile(Fixtures.path("task-goldens/st-cls/" + f)))
        }
        dir.write("st/modules.json", Array(#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#.utf8))
        let dense = ckpt(["embed", st, "the cat", "--format", "npy", "--out", dir.file("e.npy")])
        #expect(dense.status == 1 && dense.err.contains("modules.json") && dense.err.contains("Dense"), "\(dense.err)")
        #expect(!FileSystem.exists(dir.file("e.npy")))
        // A stride that does not fit the window.
        let s = ckpt(["classify", Fixtures.path("task-goldens/bert-single"), "the cat", "--max-length", "8", "--stride", "6"])
        #expect(s.status == 1 && s.err.contains("stride"), "\(s.err)")
    }

    /// The classifiers ckpt writes load in transformers' AutoModelForSequenceClassification
    /// with nothing missing or unexpected and give the same scores (checked
    /// and recorded by tools/fixtures/make_task_e2e.py); the same commands
    /// here give the same scores within 1e-4.
    @Test func transformersScoresTheOutput() throws {
        let expected = try Fixtures.json("task-goldens/e2e/expected.json")
        let texts = (try Fixtures.json("task-goldens/e2e/texts.json")["texts"]?.array ?? []).compactMap(\.string)
        let dir = ScratchDirectory()
        dir.write("texts.txt", Array(texts.joined(separator: "\n").utf8))
        var checked = 0
        for (key, e) in expected.object ?? JSONObject() {
            let out = dir.file(key.replacingOccurrences("/", "-"))
            let command = (e["command"]?.array ?? []).compactMap(\.string).map { a -> String in
                a == "OUT" ? out : (a.hasPrefix("model-goldens/") || a.hasPrefix("task-goldens/")) ? Fixtures.path(a) : a
            }
            let t = ckpt(command)
            #expect(t.status == 0, "\(key): \(t.err)")
            let c = ckpt(["classify", out + "/final", "--file", dir.file("texts.txt"), "--json"])
            #expect(c.status == 0, "\(key): \(c.err)")
            let lines = c.out.split(separator: "\n").map(String.init)
            let labels = (e["labels"]?.array ?? []).compactMap(\.string)
            for (i, row) in (e["scores"]?.array ?? []).enumerated() {
                let r = try JSONParser.parse(lines[i], path: key)
                let got: [Double] = e["problem_type"]?.string == "regression"
                    ? [r["value"]?.double ?? .nan] : labels.map { r["probabilities"]?[$0]?.double ?? .nan }
                let want = (row.array ?? []).compactMap(\.double)
                let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 1
                #expect(got.count == want.count && worst <= 1e-4, "\(key) text \(i): scores differ from transformers' by \(worst)")
            }
            checked += 1
        }
        #expect(checked == 6)
    }
}
