// `ckpt train` end to end, each run a process of its own: two runs give the
// same bits, a run cut short and resumed gives the same bits, Ctrl-C saves a
// checkpoint, bad corpora are refused with nothing written.

import Formats
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TrainCLITests {
    func corpus(_ dir: ScratchDirectory) -> String {
        let words = ["the cat", "the dog", "a bird", "we", "the train", "sat on", "read", "saw", "the mat", "the token", "a tree"]
        var text = ""
        for i in 0..<120 {
            text += "\(words[i % 5]) \(words[5 + i % 3]) \(words[8 + i % 3]). \(words[(i / 5) % 5]) \(words[5 + (i / 3) % 3]) \(words[8 + (i / 7) % 3])!\n"
        }
        dir.write("corpus.txt", Array(text.utf8))
        return dir.file("corpus.txt")
    }

    func args(_ corpus: String, _ out: String) -> [String] {
        ["train", "--model", Fixtures.path("model-goldens/distilbert"), "--corpus", corpus, "--out", out, "--eval-ratio", "0.1",
         "--max-steps", "12", "--save-steps", "4", "--batch-size", "8", "--grad-accum", "2", "--whole-word-mask",
         "--mlm-schedule", "0.3,0.15", "--lr", "1e-3", "--warmup-steps", "2", "--threads", "2"]
    }

    @Test func runsAreReproducibleAndResumeExactly() throws {
        let dir = ScratchDirectory()
        let c = corpus(dir)
        let a = ckpt(args(c, dir.file("a")))
        #expect(a.status == 0, "\(a.err)")
        #expect(a.out.contains("total steps") && a.out.contains("perplexity"))
        let b = ckpt(args(c, dir.file("b")))
        #expect(b.status == 0, "\(b.err)")
        let expected = try readFile(dir.file("a/final/model.safetensors"))
        #expect(try readFile(dir.file("b/final/model.safetensors")) == expected)
        // As if killed after checkpoint-4 while writing checkpoint-8.
        for name in ["final", "checkpoint-8", "checkpoint-12"] { try FileSystem.removeDirectory(dir.file("b/\(name)")) }
        try FileSystem.makeDirectories(dir.file("b/.checkpoint-8.ckpt-tmp-99-abc"))
        dir.write("b/.checkpoint-8.ckpt-tmp-99-abc/model.safetensors", [1, 2, 3])
        let again = ckpt(args(c, dir.file("b")))
        #expect(again.status == 1 && again.err.contains("--resume"), "\(again.err)")
        let r = ckpt(args(c, dir.file("b")) + ["--resume"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("from step 4") && r.out.contains("from the cache"), "\(r.out)")
        #expect(try readFile(dir.file("b/final/model.safetensors")) == expected)
        #expect(try readFile(dir.file("b/checkpoint-12/optimizer.safetensors")) == (try readFile(dir.file("a/checkpoint-12/optimizer.safetensors"))))
        #expect(!FileSystem.exists(dir.file("b/.checkpoint-8.ckpt-tmp-99-abc")))
        // A named checkpoint, given after --resume.
        try FileSystem.removeDirectory(dir.file("b/final"))
        let named = ckpt(args(c, dir.file("b")) + ["--resume", dir.file("b/checkpoint-8")])
        #expect(named.status == 0 && named.out.contains("from step 8"), "\(named.err)")
        #expect(try readFile(dir.file("b/final/model.safetensors")) == expected)
        // Another batch size would not continue the same run.
        let changed = ckpt(args(c, dir.file("b")) + ["--resume", "--batch-size", "4"])
        #expect(changed.status == 1 && changed.err.contains("batch_size") && changed.err.contains("--force"), "\(changed.err)")
        // The trained model fills masks.
        let p = ckpt(["predict", dir.file("a/final"), "the cat [MASK] on the mat."])
        #expect(p.status == 0 && !p.out.isEmpty, "\(p.err)")
    }

    /// --force starts over: the earlier run's checkpoints do not survive to
    /// be resumed, and rotation keeps the new run's newest checkpoint.
    @Test func forceStartsOver() throws {
        let dir = ScratchDirectory()
        let c = corpus(dir)
        #expect(ckpt(args(c, dir.file("out"))).status == 0)
        let r = ckpt(args(c, dir.file("out")) + ["--force", "--max-steps", "6", "--save-steps", "2", "--save-total-limit", "1"])
        #expect(r.status == 0, "\(r.err)")
        let names = try FileSystem.list(dir.file("out")).filter { $0.hasPrefix("checkpoint-") }
        #expect(names == ["checkpoint-6"], "\(names)")
        let other = ckpt(args(c, dir.file("out")) + ["--resume", "--threads", "1"])
        #expect(other.status == 1 && other.err.contains("threads"), "\(other.err)")
        // The matrix-product kernel is part of the run too: OpenBLAS rounds
        // differently from the AVX-512 kernel.
        let state = try JSONParser.parse(try readFile(dir.file("out/checkpoint-6/trainer_state.json")), path: "trainer_state.json")
        let kernel = state["run"]?["sgemm"]?.string ?? ""
        #expect(["avx512", "avx2", "openblas"].contains(kernel), "\(kernel)")
        if kernel != "openblas" {
            let switched = ckpt(args(c, dir.file("out")) + ["--resume"], environment: ["CKPT_SGEMM": "openblas"])
            #expect(switched.status == 1 && switched.err.contains("sgemm was \"\(kernel)\", now \"openblas\""), "\(switched.err)")
        }
    }

    /// `--precision bf16` trains on bf16 products: its losses follow the fp32
    /// run's closely without being the same bits, it resumes exactly, and its
    /// checkpoints are not resumed at another precision. Where the CPU lacks
    /// AVX512_BF16 the flag is refused by name.
    @Test func bf16TrainingFollowsFloatAndResumesExactly() throws {
        let dir = ScratchDirectory()
        let c = corpus(dir)
        let bf16 = args(c, dir.file("bf16")) + ["--precision", "bf16"]
        let sgemm = try JSONParser.parse(ckpt(["bench", "sgemm", "--size", "8", "--iterations", "1", "--json"]).out)
        guard sgemm["avx512bf16"] != nil else {
            let r = ckpt(bf16)
            #expect(r.status == 64 && r.err.contains("AVX512_BF16"), "\(r.err)")
            #expect(!FileSystem.exists(dir.file("bf16")))
            print("skipped: bf16 training needs AVX512_BF16, which this CPU lacks")
            try Test.cancel("bf16 training needs AVX512_BF16, which this CPU lacks")
        }
        let a = ckpt(bf16)
        #expect(a.status == 0 && a.out.contains("bf16 (avx512bf16)"), "\(a.err)")
        #expect(ckpt(args(c, dir.file("fp32"))).status == 0)
        func losses(_ run: String) throws -> [Double] {
            try String(decoding: readFile(dir.file(run + "/metrics.jsonl")), as: UTF8.self).split(separator: "\n")
                .compactMap { try JSONParser.parse(String($0))["loss"]?.double }
        }
        let (l16, l32) = (try losses("bf16"), try losses("fp32"))
        #expect(!l16.isEmpty && l16.count == l32.count)
        for (x, y) in zip(l16, l32) { #expect(abs(x - y) <= 0.02 * y, "bf16 \(l16) against fp32 \(l32)") }
        let (w16, w32) = (try readFile(dir.file("bf16/final/model.safetensors")), try readFile(dir.file("fp32/final/model.safetensors")))
        #expect(w16 != w32, "bf16 products should not give float's bits")
        let state = try JSONParser.parse(try readFile(dir.file("bf16/checkpoint-8/trainer_state.json")), path: "trainer_state.json")
        #expect(state["run"]?["precision"]?.string == "bf16" && state["run"]?["sgemm"]?.string == "avx512bf16")
        // Cut short after checkpoint-8 and resumed: the same bits.
        let expected = try readFile(dir.file("bf16/final/model.safetensors"))
        for name in ["final", "checkpoint-12"] { try FileSystem.removeDirectory(dir.file("bf16/\(name)")) }
        let fp32 = ckpt(args(c, dir.file("bf16")) + ["--resume"])
        #expect(fp32.status == 1 && fp32.err.contains("sgemm was \"avx512bf16\""), "\(fp32.err)")
        let r = ckpt(bf16 + ["--resume"])
        #expect(r.status == 0 && r.out.contains("from step 8"), "\(r.err)")
        #expect(try readFile(dir.file("bf16/final/model.safetensors")) == expected)
    }

    @Test func ctrlCSavesACheckpoint() throws {
        let dir = ScratchDirectory()
        let c = corpus(dir)
        var a = args(c, dir.file("out"))
        a[a.firstIndex(of: "--max-steps")! + 1] = "100000"
        a[a.firstIndex(of: "--save-steps")! + 1] = "100000"
        let quoted = ([ckptBinary] + a).map { "'\($0)'" }.joined(separator: " ")
        // Interrupted once training runs (its settings table is printed just
        // before the first step), however long loading took.
        let script = "\(quoted) >\(dir.file("log")) 2>&1 & pid=$!; "
            + "for i in $(seq 600); do grep -q 'seed / threads' \(dir.file("log")) && break; sleep 0.1; done; "
            + "sleep 1; kill -INT $pid; wait $pid; exit $?"
        let status = (system(script) >> 8) & 0xFF
        #expect(status == 130, "\(String(decoding: (try? readFile(dir.file("log"))) ?? [], as: UTF8.self))")
        let saved = try FileSystem.list(dir.file("out")).filter { $0.hasPrefix("checkpoint-") }
        #expect(saved.count == 1, "\(saved)")
        #expect(FileSystem.isFile(dir.file("out/\(saved.first ?? "")/optimizer.safetensors")))
        #expect(try FileSystem.list(dir.file("out")).allSatisfy { !$0.contains("ckpt-tmp") })
    }

    @Test func runsShareACacheDirectory() throws {
        let dir = ScratchDirectory()
        let c = corpus(dir)
        let first = ckpt(args(c, dir.file("a")) + ["--cache-dir", dir.file("shared"), "--max-steps", "2"])
        #expect(first.status == 0 && first.out.contains("tokenized in") && first.out.contains("120 examples"), "\(first.out)\(first.err)")
        let second = ckpt(args(c, dir.file("b")) + ["--cache-dir", dir.file("shared"), "--max-steps", "2"])
        #expect(second.status == 0 && second.out.contains("from the cache in \(dir.file("shared"))"), "\(second.out)")
        #expect(!FileSystem.exists(dir.file("b/cache")))
        #expect(try readFile(dir.file("a/final/model.safetensors")) == (try readFile(dir.file("b/final/model.safetensors"))))
        // A damaged shared cache is reported and rebuilt.
        let name = try #require(try FileSystem.list(dir.file("shared")).first { $0.hasPrefix("tokens-") })
        var bytes = try readFile(dir.file("shared/\(name)"))
        bytes[bytes.count - 1] ^= 0xFF
        dir.write("shared/\(name)", bytes)
        let third = ckpt(args(c, dir.file("b")) + ["--cache-dir", dir.file("shared"), "--max-steps", "2", "--force"])
        #expect(third.status == 0 && third.out.contains("damaged token cache") && third.out.contains("tokenized in"), "\(third.out)")
    }

    @Test func badCorporaAreRefused() throws {
        let dir = ScratchDirectory()
        dir.write("bad.txt", Array("the cat\n".utf8) + [0xFF, 0x0A])
        let r = ckpt(["train", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", dir.file("bad.txt"), "--out", dir.file("out")])
        #expect(r.status == 1 && r.err.contains("bad.txt:2") && r.err.contains("UTF-8"), "\(r.err)")
        #expect(!FileSystem.exists(dir.file("out")))
        // A bad eval file after a good corpus: the corpus's cache goes too.
        let good = corpus(dir)
        let evalBad = ckpt(["train", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", good, "--eval-file", dir.file("bad.txt"),
                            "--out", dir.file("out")])
        #expect(evalBad.status == 1 && evalBad.err.contains("bad.txt:2"), "\(evalBad.err)")
        #expect(!FileSystem.exists(dir.file("out")))
        dir.write("empty.jsonl", [])
        let e = ckpt(["train", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", dir.file("empty.jsonl"), "--out", dir.file("out")])
        #expect(e.status == 1 && e.err.contains("empty"), "\(e.err)")
    }

    /// A base checkpoint gets a masked-LM head initialised as transformers does;
    /// --max-steps 0 writes that starting model.
    @Test func baseCheckpointsGetAHead() throws {
        let dir = ScratchDirectory()
        dir.write("c.txt", Array(String(repeating: "the cat sat on the mat. we read the token!\n", count: 40).utf8))
        let r = ckpt(["train", "--model", Fixtures.path("model-goldens/bert-base-model"), "--corpus", dir.file("c.txt"),
                      "--out", dir.file("out"), "--max-steps", "0"])
        #expect(r.status == 0 && r.out.contains("no masked-LM head"), "\(r.err)")
        let info = try JSONParser.parse(ckpt(["inspect", dir.file("out/final"), "--json"]).out)
        let names = Set((info["tensors"]?.array ?? []).compactMap { $0["name"]?.string })
        #expect(names.contains("cls.predictions.transform.dense.weight") && names.contains("cls.predictions.bias"))
        #expect(!names.contains { $0.contains("pooler") } && info["config"]?["architectures"]?.array?.first?.string == "BertForMaskedLM")
        let p = ckpt(["predict", dir.file("out/final"), "the cat [MASK] on the mat."])
        #expect(p.status == 0, "\(p.err)")
    }
}

@Suite struct ResizeVocabCLITests {
    @Test func resizeThenTrain() throws {
        let dir = ScratchDirectory()
        let corpus = Fixtures.path("resize/domain-corpus.txt")
        let r = ckpt(["resize-vocab", Fixtures.path("model-goldens/distilbert"), "--tokenizer", Fixtures.path("resize/domain-tokenizer"),
                      "--out", dir.file("domain"), "--corpus", corpus, "--report", dir.file("report.json")])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("self-check       OK") && r.out.contains("corpus coverage"), "\(r.out)")
        let report = try JSONParser.parse(try readFile(dir.file("report.json")), path: "report.json")
        #expect(report["new_vocab_size"]?.int == 191 && report["old_vocab_size"]?.int == 160)
        #expect(report["moved_special_tokens"]?.array?.count == 2 && report["coverage"]?.double != nil)
        // Again without --force: refused, the first output intact.
        let again = ckpt(["resize-vocab", Fixtures.path("model-goldens/distilbert"), "--tokenizer", Fixtures.path("resize/domain-tokenizer"),
                          "--out", dir.file("domain")])
        #expect(again.status == 1 && again.err.contains("--force"), "\(again.err)")
        // The resized model trains on the domain corpus and fills masks.
        let t = ckpt(["train", "--model", dir.file("domain"), "--corpus", corpus, "--out", dir.file("run"), "--max-steps", "6",
                      "--eval-ratio", "0.1", "--threads", "2"])
        #expect(t.status == 0 && t.out.contains("perplexity"), "\(t.err)")
        let p = ckpt(["predict", dir.file("run/final"), "the locomotive [MASK] the junction."])
        #expect(p.status == 0, "\(p.err)")
        // A tokenizer directory without tokenizer files.
        let bad = ckpt(["resize-vocab", Fixtures.path("model-goldens/distilbert"), "--tokenizer", dir.path, "--out", dir.file("x")])
        #expect(bad.status == 1 && bad.err.contains("no tokenizer files"), "\(bad.err)")
        #expect(!FileSystem.exists(dir.file("x")))
    }
}

/// `make demo`'s script, run on the tiny fixtures so it cannot rot: a base
/// checkpoint, the corpus of the resize fixtures and a tokenizer trained on it.
@Suite struct DemoScriptTests {
    @Test func demoRunsEndToEnd() throws {
        let dir = ScratchDirectory()
        // The labelled task: which vehicle a line of the corpus is about.
        let lines = String(decoding: try readFile(Fixtures.path("resize/domain-corpus.txt")), as: UTF8.self).split(separator: "\n")
        var train = "text,label\n", test = "text,label\n"
        for (i, line) in lines.prefix(90).enumerated() {
            let label = line.contains("locomotive") ? "engine" : line.contains("freight") ? "freight" : "other"
            let row = "\"\(line)\",\(label)\n"
            if i % 5 == 0 { test += row } else { train += row }
        }
        dir.write("train.csv", Array(train.utf8))
        dir.write("test.csv", Array(test.utf8))
        let env = [
            "CKPT=\(ckptBinary)", "DEMO_OUT=\(dir.file("demo"))", "DEMO_MODEL=\(Fixtures.path("model-goldens/bert-base-model"))",
            "DEMO_VOCAB=191", "DEMO_EXTEND=3", "DEMO_CORPUS=\(Fixtures.path("resize/domain-corpus.txt"))",
            "DEMO_STEPS=8", "DEMO_THREADS=2", "DEMO_MASK_TEXT='the locomotive [MASK] the junction.'",
            "DEMO_TASK_TRAIN=\(dir.file("train.csv"))", "DEMO_TASK_TEST=\(dir.file("test.csv"))", "DEMO_TASK_EPOCHS=1",
        ].joined(separator: " ")
        let script = Fixtures.root + "/samples/demo.sh"
        let status = (system("\(env) bash '\(script)' >'\(dir.file("log"))' 2>&1") >> 8) & 0xFF
        let log = String(decoding: (try? readFile(dir.file("log"))) ?? [], as: UTF8.self)
        #expect(status == 0, "\(log.suffix(3000))")
        for expected in ["Train a domain tokenizer", "191 tokens", "extension route", "self-check       OK", "Fill-mask after training", "eval perplexity", "before", "after", "corpus coverage",
                         "macro-F1 on", "own tokenizer", "A long text"] {
            #expect(log.contains(expected), "missing \(expected)")
        }
        #expect(FileSystem.isFile(dir.file("demo/run/final/model.safetensors")))
    }
}
