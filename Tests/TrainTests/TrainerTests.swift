// The training loop end to end on the tiny fixtures: loss falls, checkpoints
// rotate and load, resume is bit-identical, changed settings are refused,
// corpus formats and errors, masking and batching rules.

import Formats
import Model
import Testing
import TestSupport
import Tokenizers
@testable import Train

/// A small corpus in the fixture tokenizer's vocabulary.
func writeCorpus(_ dir: ScratchDirectory, lines: Int = 160, name: String = "corpus.txt") -> String {
    let subjects = ["the cat", "the dog", "a bird", "the train", "we", "the model"]
    let verbs = ["sat on", "read", "saw", "trained on", "looked at", "walked to"]
    let objects = ["the mat", "the token", "a tree", "the station", "the file", "a map"]
    var rng = SplitMix64(seed: 5)
    var text = ""
    for _ in 0..<lines {
        func pick(_ a: [String]) -> String { a[Int(rng.next() % UInt64(a.count))] }
        text += "\(pick(subjects)) \(pick(verbs)) \(pick(objects)). \(pick(subjects)) \(pick(verbs)) \(pick(objects))!\n"
    }
    dir.write(name, Array(text.utf8))
    return dir.file(name)
}

struct Run {
    let trainer: Trainer
    let model: TrainingModel
}

func makeTrainer(modelPath: String, corpus: String, out: String, options: TrainingOptions, cadence: TrainingCadence = TrainingCadence(),
                 evalRatio: Double = 0.1) throws -> Trainer {
    let ckpt = try Checkpoint(path: modelPath)
    let encoder = try Encoder(checkpoint: ckpt)
    let model = try TrainingModel(encoder: encoder)
    model.workerCount = 2
    let files = ckpt.files.filter { $0.name != "config.json" && $0.name != "trainer_state.json" }
    let tok = try Tokenizer(files: files, path: modelPath)
    let examples = try Corpus.load([corpus], tokenizer: tok, vocabSize: encoder.config.vocabSize, options: CorpusOptions())
    let (train, eval) = Corpus.evalSplit(examples, ratio: evalRatio, seed: options.seed)
    var continuation = Set<Int>()
    for i in 0..<tok.count where tok.token(of: i)?.hasPrefix("##") == true { continuation.insert(i) }
    let roles = TokenRoles(maskID: 4, specialIDs: [0, 2, 3, 4], continuationIDs: continuation, randomRange: tok.count)
    return try Trainer(model: model, train: train, eval: eval, roles: roles,
                       files: CheckpointFiles(config: try #require(ckpt.config), tokenizerFiles: files, extraTensors: []),
                       options: options, cadence: cadence, output: out)
}

func bytes(_ path: String) throws -> [UInt8] { try readFile(path) }

@Suite struct TrainerTests {
    let fixture = Fixtures.path("model-goldens/distilbert")

    var options: TrainingOptions {
        var o = TrainingOptions()
        o.learningRate = 1e-3
        o.batchSize = 8
        o.gradAccum = 2
        o.maxSteps = 12
        o.warmupSteps = 2
        o.mlmSchedule = [0.3, 0.15]
        o.wholeWordMask = true
        return o
    }

    @Test func lossFallsAndCheckpointsRotate() throws {
        let dir = ScratchDirectory()
        let corpus = writeCorpus(dir)
        let out = dir.file("out")
        var o = TrainingOptions()
        o.learningRate = 2e-3
        o.epochs = 3
        o.batchSize = 16
        o.dropout = 0
        var cadence = TrainingCadence()
        cadence.saveSteps = 4
        cadence.saveTotalLimit = 2
        let trainer = try makeTrainer(modelPath: Fixtures.path("model-goldens/bert-gelu"), corpus: corpus, out: out, options: o, cadence: cadence)
        let summary = try trainer.run()
        let before = try #require(summary.initialEvalLoss), after = try #require(summary.finalEvalLoss)
        #expect(after < before - 0.5, "eval loss \(before) → \(after)")
        #expect(!summary.interrupted && summary.steps == trainer.totalSteps && trainer.totalSteps == 3 * trainer.stepsPerEpoch)
        let kept = Trainer.checkpoints(in: out).map(\.step)
        let last = trainer.totalSteps / 4 * 4
        #expect(kept == [last - 4, last], "\(kept)")
        // The final model has the names transformers wrote, and loads again.
        let final = try Checkpoint(path: out + "/final")
        let original = try Checkpoint(path: Fixtures.path("model-goldens/bert-gelu"))
        #expect(Set(final.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        #expect(final.tensors.allSatisfy { $0.dtype == .f32 })
        let reloaded = try TrainingModel(encoder: try Encoder(checkpoint: final))
        #expect(Array(reloaded.weights) == Array(trainer.model.weights))
        #expect(final.files.contains { $0.name == "tokenizer.json" } && final.config?.vocabSize == 160)
        // Metrics: one eval line before training, train lines, and the last eval.
        let metrics = textLines(try bytes(out + "/metrics.jsonl")).filter { !$0.isEmpty }
        let parsed = try metrics.map { try JSONParser.parse($0, path: "metrics") }
        #expect(parsed.first?["step"]?.int == 0 && parsed.first?["eval_loss"]?.double == before)
        #expect(parsed.contains { $0["loss"] != nil && $0["learning_rate"] != nil })
        #expect(try FileSystem.list(out + "/runs").count == 1)
    }

    /// An interrupted run resumed from its checkpoint continues the same run.
    @Test func resumeContinuesTheRun() throws {
        let dir = ScratchDirectory()
        let corpus = writeCorpus(dir)
        var cadence = TrainingCadence()
        cadence.saveSteps = 4
        let straight = try makeTrainer(modelPath: fixture, corpus: corpus, out: dir.file("a"), options: options, cadence: cadence)
        _ = try straight.run()
        for stopAt in [5, 8] {
            let out = dir.file("b\(stopAt)")
            let first = try makeTrainer(modelPath: fixture, corpus: corpus, out: out, options: options, cadence: cadence)
            var n = 0
            let s = try first.run(shouldStop: { n += 1; return n == stopAt })
            #expect(s.interrupted && s.steps == stopAt && s.lastCheckpoint == out + "/checkpoint-\(stopAt)")
            // A torn checkpoint (never renamed into place) is ignored and removed.
            try FileSystem.makeDirectories(out + "/.checkpoint-\(stopAt + 1).ckpt-tmp-1-abc")
            try FileSystem.makeDirectories(out + "/checkpoint-99")
            let newest = try #require(Trainer.checkpoints(in: out).last)
            #expect(newest.step == stopAt)
            let second = try makeTrainer(modelPath: newest.path, corpus: corpus, out: out, options: options, cadence: cadence)
            try second.resume(from: newest.path, force: false)
            #expect(second.currentStep == stopAt)
            _ = try second.run()
            // Bits are compared by CLITests, in processes of their own: here other
            // suites run concurrently and share OpenBLAS's process-wide thread
            // count, and AdamW turns last-bit differences of near-zero
            // gradients into up to one step (lr = 1e-3) per weight.
            let got = try SafeTensorsFile(path: out + "/final/model.safetensors"), want = try SafeTensorsFile(path: dir.file("a/final/model.safetensors"))
            var worst: Float = 0
            for t in want.tensors {
                for (x, y) in zip(try got.data(t.name).floats(), try want.data(t.name).floats()) { worst = max(worst, abs(x - y)) }
            }
            #expect(worst <= 3e-3, "stopped at \(stopAt): \(worst)")
            #expect(!FileSystem.exists(out + "/.checkpoint-\(stopAt + 1).ckpt-tmp-1-abc"))
        }
    }

    /// A run stopped at step 3, just after its checkpoint there.
    func runToCheckpoint3(_ dir: ScratchDirectory) throws -> (corpus: String, out: String, ckpt: String, cadence: TrainingCadence) {
        let corpus = writeCorpus(dir)
        let out = dir.file("out")
        var cadence = TrainingCadence()
        cadence.saveSteps = 3
        let t = try makeTrainer(modelPath: fixture, corpus: corpus, out: out, options: options, cadence: cadence)
        _ = try t.run(shouldStop: { t.currentStep == 3 })
        return (corpus, out, out + "/checkpoint-3", cadence)
    }

    @Test func changedSettingsAreRefused() throws {
        let dir = ScratchDirectory()
        let (corpus, out, ckpt, cadence) = try runToCheckpoint3(dir)
        var other = options
        other.batchSize = 4
        let changed = try makeTrainer(modelPath: ckpt, corpus: corpus, out: out, options: other, cadence: cadence)
        #expect(throws: TrainingError.self) { try changed.resume(from: ckpt, force: false) }
        let otherCorpus = writeCorpus(dir, lines: 100, name: "other.txt")
        let moved = try makeTrainer(modelPath: ckpt, corpus: otherCorpus, out: out, options: options, cadence: cadence)
        do {
            try moved.resume(from: ckpt, force: false)
            Issue.record("a changed corpus was accepted")
        } catch let e as TrainingError {
            #expect(e.reason.contains("corpus_digest") && e.reason.contains("--force"))
        }
        try changed.resume(from: ckpt, force: true)
        #expect(changed.currentStep == 3)
    }

    /// A checkpoint whose optimizer state or trainer state is damaged is refused by name.
    @Test func damagedCheckpointsAreRefused() throws {
        let dir = ScratchDirectory()
        let (corpus, out, ckpt, cadence) = try runToCheckpoint3(dir)
        let opt = try readFile(ckpt + "/optimizer.safetensors")
        dir.write("out/checkpoint-3/optimizer.safetensors", Array(opt.prefix(opt.count / 2)))
        let a = try makeTrainer(modelPath: ckpt, corpus: corpus, out: out, options: options, cadence: cadence)
        do { try a.resume(from: ckpt, force: false); Issue.record("a truncated optimizer state was accepted") } catch {
            #expect("\(error)".contains("optimizer.safetensors"), "\(error)")
        }
        // Well-formed optimizer states whose moments do not fit the model: one
        // matrix transposed (the same bytes), or the matrix left out.
        dir.write("out/checkpoint-3/optimizer.safetensors", opt)
        let moments = try SafeTensorsFile(path: ckpt + "/optimizer.safetensors")
        let matrix = try #require(moments.tensors.first { $0.shape.count == 2 && $0.shape[0] != $0.shape[1] })
        let transposed = try #require(TensorInfo(name: matrix.name, dtype: matrix.dtype, shape: matrix.shape.reversed()))
        for (what, infos) in [("transposed", moments.tensors.map { $0.name == matrix.name ? transposed : $0 }),
                              ("missing", moments.tensors.filter { $0.name != matrix.name })] {
            try SafeTensorsWriter.write(infos, metadata: moments.metadata, to: ckpt + "/optimizer.safetensors", overwrite: true) { info in
                try moments.data(info.name).withUnsafeBytes { TensorData(info: info, copying: Array($0)) }
            }
            do { try a.resume(from: ckpt, force: false); Issue.record("a \(what) moment was accepted") } catch {
                #expect("\(error)".contains("optimizer.safetensors") && "\(error)".contains("mis-shaped \(matrix.name)"), "\(error)")
            }
        }
        dir.write("out/checkpoint-3/trainer_state.json", Array("{\"global_step\": ".utf8))
        do { try a.resume(from: ckpt, force: false); Issue.record("a broken trainer_state.json was accepted") } catch {
            #expect("\(error)".contains("trainer_state.json"), "\(error)")
        }
    }

    @Test func corpusErrorsNameTheFileAndLine() throws {
        let dir = ScratchDirectory()
        let tok = try Tokenizer(path: Fixtures.path("model-goldens/bert-gelu"))
        func load(_ name: String, _ content: [UInt8]) throws -> [Example] {
            dir.write(name, content)
            return try Corpus.load([dir.file(name)], tokenizer: tok, vocabSize: 160, options: CorpusOptions())
        }
        func expectError(_ name: String, _ content: [UInt8], line: Int?, _ words: String) {
            do {
                _ = try load(name, content)
                Issue.record("\(name) was accepted")
            } catch let e as CorpusError {
                #expect(e.path.hasSuffix(name) && e.line == line && e.reason.contains(words), "\(e)")
            } catch { Issue.record("\(error)") }
        }
        expectError("empty.txt", [], line: nil, "empty")
        expectError("blank.txt", Array("\n  \n\n".utf8), line: nil, "empty")
        expectError("binary.txt", Array("the cat\nsat\0on\n".utf8), line: 2, "binary")
        expectError("latin1.txt", Array("the cat\n".utf8) + [0x63, 0xE9, 0x0A], line: 2, "UTF-8")
        expectError("bad.jsonl", Array("{\"text\": \"the cat\"}\n{\"text\": \n".utf8), line: 2, "JSON")
        expectError("array.jsonl", Array("[1, 2]\n".utf8), line: 1, "object")
        expectError("ids.jsonl", Array("{\"input_ids\": [2, 999, 3]}\n".utf8), line: 1, "outside the vocabulary")
        expectError("labels.jsonl", Array("{\"input_ids\": [2, 9, 3], \"labels\": [-100, 9]}\n".utf8), line: 1, "one per input id")
        // JSONL with text, and with ids + labels kept exactly.
        #expect(try load("ok.jsonl", Array("{\"text\": \"the cat sat.\"}\n\n{\"text\": \"we read\"}\n".utf8)).count == 2)
        let given = try load("masked.jsonl", Array("{\"input_ids\": [2, 4, 50, 3], \"labels\": [-100, 77, -100, -100]}\n".utf8))
        #expect(given == [Example(ids: [2, 4, 50, 3], labels: [-100, 77, -100, -100])])
        // The cache gives back the same examples, and is keyed by the inputs.
        dir.write("mixed.jsonl", Array("{\"input_ids\": [2, 4, 50, 3], \"labels\": [-100, 77, -100, -100]}\n{\"input_ids\": [2, 9, 3]}\n".utf8))
        for name in ["docs-for-cache.txt", "mixed.jsonl"] {
            if name.hasSuffix(".txt") { dir.write(name, Array("the cat sat.\nwe read the token.\n".utf8)) }
            let first = try Corpus.loadCached([dir.file(name)], tokenizer: tok, tokenizerFiles: [], vocabSize: 160, options: CorpusOptions(),
                                              cacheDirectory: dir.file("cache-\(name)"))
            let second = try Corpus.loadCached([dir.file(name)], tokenizer: tok, tokenizerFiles: [], vocabSize: 160, options: CorpusOptions(),
                                               cacheDirectory: dir.file("cache-\(name)"))
            #expect(!first.fromCache && second.fromCache && first.examples == second.examples)
            var shorter = CorpusOptions()
            shorter.maxLength = 5
            #expect(try !Corpus.loadCached([dir.file(name)], tokenizer: tok, tokenizerFiles: [], vocabSize: 160, options: shorter,
                                           cacheDirectory: dir.file("cache-\(name)")).fromCache)
        }
        // Blank-line separated documents, sentences with duplicates dropped, group_texts blocks.
        var o = CorpusOptions()
        o.documentSeparator = .blank
        dir.write("docs.txt", Array("the cat sat.\nwe read.\n\n\nthe dog. the dog.  a map!\n".utf8))
        #expect(try Corpus.load([dir.file("docs.txt")], tokenizer: tok, vocabSize: 160, options: o).count == 2)
        o.split = .sentences
        #expect(try Corpus.load([dir.file("docs.txt")], tokenizer: tok, vocabSize: 160, options: o).count == 4)
        #expect(Corpus.sentences("A b. C d! E?  F") == ["A b.", "C d!", "E?", "F"])
        o.split = .none
        o.groupTexts = 5
        let blocks = try Corpus.load([dir.file("docs.txt")], tokenizer: tok, vocabSize: 160, options: o)
        #expect(blocks.allSatisfy { $0.ids.count == 5 })
    }

    @Test func batchesArePackedAndMasksFollowTheRules() throws {
        let dir = ScratchDirectory()
        let corpus = writeCorpus(dir, lines: 40)
        var o = options
        o.maxSteps = 10
        let t = try makeTrainer(modelPath: fixture, corpus: corpus, out: dir.file("out"), options: o, evalRatio: 0)
        // Schedule phases split the run in equal parts.
        #expect((0..<10).map { t.maskingProbability(step: $0) } == [0.3, 0.3, 0.3, 0.3, 0.3, 0.15, 0.15, 0.15, 0.15, 0.15])
        for step in 0..<2 {
            let micro = t.microBatches(step: step).map(\.batch)
            #expect(micro.count == 2 && micro.allSatisfy { $0.sequences.count == 8 })
            for b in micro {
                // Dynamic padding: no pad tokens, each sequence at its own length.
                #expect(!b.ids.contains(0))
                #expect(b.tokenCount == b.sequences.reduce(0) { $0 + $1.count })
                for s in b.sequences {
                    let labels = Array(b.labels[s])
                    #expect(labels.first == -100 && labels.last == -100, "specials are never masked")
                    // Whole words: a labelled ## continuation follows a labelled token.
                    for i in s.dropFirst() where (t.objective as! MaskedLMObjective).roles.continuationIDs.contains(labels[i - s.lowerBound] == -100 ? -1 : labels[i - s.lowerBound]) {
                        #expect(b.labels[i - 1] != -100)
                    }
                }
            }
        }
        // The same step gives the same masks; another epoch another order.
        #expect(t.microBatches(step: 1).map(\.batch) == t.microBatches(step: 1).map(\.batch))
        #expect(t.microBatches(step: 0).map(\.batch) != t.microBatches(step: t.stepsPerEpoch).map(\.batch))
    }
}
