// ckpt train — masked-LM domain adaptation, or fine-tuning a task head
// (TaskTraining.swift), from any checkpoint ckpt reads.

import ArgumentParser
import Dispatch
import Formats
import Model
import Tokenizers
import Train

#if canImport(Glibc)
import Glibc
#endif

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Continue masked-LM training of a checkpoint on a text corpus (or pretrain from a config.json), or fine-tune it for a task (--task).",
        discussion: """
            Checkpoints go to OUT/checkpoint-<step>/ (model, tokenizer, optimizer.safetensors, \
            trainer_state.json), the result to OUT/final/, metrics to OUT/metrics.jsonl and \
            OUT/runs/ (TensorBoard). Ctrl-C saves a checkpoint and stops; --resume continues \
            from the newest checkpoint with bit-identical results.
            """)

    @Option(help: "A model directory or weights file (safetensors, sharded, .h5, .bin), or a bare config.json for random weights.")
    var model: String

    @Option(parsing: .upToNextOption, help: "Text files (one document per line) or .jsonl files (\"text\", or \"input_ids\" [+ \"labels\"]); with --task, labelled .csv, .tsv or .jsonl files.")
    var corpus: [String] = []

    @OptionGroup(title: "Task fine-tuning")
    var task: TaskOptions

    @Option(help: "Output directory.")
    var out: String

    @Flag(help: "Continue from the newest complete checkpoint in --out (or the one given as --resume DIR).")
    var resume = false

    @Option(name: .customLong("resume-from"), help: .hidden)
    var resumeFrom: String?

    @Flag(help: "Resume even when the run's settings changed; without --resume, replace the run in --out.")
    var force = false

    @Option(help: "Tokenizer directory (default: the model's).")
    var tokenizer: String?

    // Data
    @Option(help: "Documents: one per line, or separated by blank lines (line|blank).")
    var docSep: CorpusOptions.DocumentSeparator = .line
    @Option(help: "none, or sentences (split after . ! ? and whitespace, duplicates dropped).")
    var split: CorpusOptions.Split = .none
    @Option(help: "Concatenate the documents and cut blocks of N tokens (group_texts).")
    var groupTexts: Int?
    @Option(help: "Longest sequence in tokens, special tokens included.")
    var maxLength: Int = 128
    @Option(help: "Share of the examples held out for evaluation.")
    var evalRatio: Double = 0
    @Option(parsing: .upToNextOption, help: "Evaluation corpus files (instead of --eval-ratio).")
    var evalFile: [String] = []
    @Option(help: "Directory of the token caches (default: OUT/cache); runs that share it tokenize a corpus once.")
    var cacheDir: String?
    @Flag(help: "Keep the corpus order instead of shuffling each epoch.")
    var noShuffle = false

    // Masking
    @Option(help: "Share of tokens masked (80 % [MASK], 10 % random, 10 % unchanged).")
    var mlmProbability: Double = 0.15
    @Flag(help: "Mask whole words (a token and its ## continuations).")
    var wholeWordMask = false
    @Option(help: "Masking probabilities for equal phases of the run, e.g. 0.3,0.2,0.18,0.16,0.14.")
    var mlmSchedule: String?

    // Optimisation
    @Option(help: "Peak learning rate.") var lr: Double = 5e-5
    @Option(help: "AdamW weight decay (not on biases and layer norms).") var weightDecay: Double = 0.01
    @Option(help: "Warmup steps.") var warmupSteps: Int?
    @Option(help: "Warmup as a share of the steps.") var warmupRatio: Double = 0
    @Option(help: "linear, constant, cosine or plateau (all with warmup; plateau: ReduceLROnPlateau on --metric at each evaluation).") var scheduler: LearningRateSchedule.Kind = .linear
    @Option(help: "Plateau schedule: the factor of each reduction.") var plateauFactor: Double = 0.1
    @Option(help: "Plateau schedule: evaluations without improvement before a reduction.") var plateauPatience: Int = 10
    @Option(help: "Sequences per micro-batch.") var batchSize: Int = 8
    @Option(help: "Micro-batches per optimizer step.") var gradAccum: Int = 1
    @Option(help: "Gradient clipping norm.") var maxGradNorm: Double = 1
    @Option(help: "Passes over the training data.") var epochs: Int = 1
    @Option(help: "Stop after this many optimizer steps (overrides --epochs; 0 writes the starting model to OUT/final).") var maxSteps: Int?
    @Option(help: "Dropout for hidden states and attention (default: the config's).") var dropout: Float?
    @Option(help: "Seed of shuffling, masking, dropout and random initialisation.") var seed: UInt64 = 42
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @OptionGroup var precision: PrecisionOption

    // Cadence
    @Option(help: "Log every N steps.") var loggingSteps: Int = 10
    @Option(help: "Evaluate every N steps.") var evalSteps: Int?
    @Option(help: "Save a checkpoint every N steps.") var saveSteps: Int?
    @Option(help: "Keep only the newest N checkpoints.") var saveTotalLimit: Int?
    @Option(help: "The eval metric of --keep-best, the plateau schedule and early stopping: loss, accuracy, f1, f1_macro, f1_micro, f1_weighted, … (default loss).")
    var metric: String = "loss"
    @Flag(help: "Keep the model with the best --metric in OUT/best.") var keepBest = false
    @Option(help: "Stop after N evaluations without improvement of --metric.") var earlyStopping: Int?

    func validate() throws {
        guard !corpus.isEmpty else { throw ValidationError("--corpus needs at least one file") }
        for (name, v, limit) in [("--batch-size", batchSize, 1 << 16), ("--grad-accum", gradAccum, 1 << 16), ("--epochs", epochs, 1 << 20),
                                 ("--max-length", maxLength, 1 << 20), ("--group-texts", groupTexts ?? 2, 1 << 20),
                                 ("--max-steps", maxSteps ?? 0, 1 << 40), ("--threads", threads ?? 1, 4096),
                                 ("--logging-steps", loggingSteps, 1 << 40)] where v > limit {
            throw ValidationError("\(name) \(v) is over the supported \(limit)")
        }
        guard batchSize >= 1, gradAccum >= 1, epochs >= 1, maxLength >= 2, loggingSteps >= 1 else {
            throw ValidationError("--batch-size, --grad-accum, --epochs and --logging-steps must be at least 1, --max-length at least 2")
        }
        if let g = groupTexts, g < 2 { throw ValidationError("--group-texts must be at least 2") }
        guard mlmProbability > 0 && mlmProbability < 1 else { throw ValidationError("--mlm-probability must be in (0, 1)") }
        guard evalRatio >= 0 && evalRatio < 1 else { throw ValidationError("--eval-ratio must be in [0, 1)") }
        guard lr >= 0, weightDecay >= 0, maxGradNorm > 0, warmupRatio >= 0, warmupRatio <= 1 else {
            throw ValidationError("--lr and --weight-decay must be ≥ 0, --max-grad-norm > 0, --warmup-ratio in [0, 1]")
        }
        if let m = maxSteps, m < 0 { throw ValidationError("--max-steps must be at least 0") }
        for (name, v) in [("--eval-steps", evalSteps), ("--save-steps", saveSteps), ("--save-total-limit", saveTotalLimit)] {
            if let v, v < 1 { throw ValidationError("\(name) must be at least 1") }
        }
        if let w = warmupSteps, w < 0 { throw ValidationError("--warmup-steps must be ≥ 0") }
        if let d = dropout, !(d >= 0 && d < 1) { throw ValidationError("--dropout must be in [0, 1)") }
        if let s = mlmSchedule, parseSchedule(s) == nil { throw ValidationError("--mlm-schedule must be probabilities in (0, 1) separated by commas") }
        if evalRatio > 0 && !evalFile.isEmpty { throw ValidationError("use --eval-ratio or --eval-file, not both") }
        if resumeFrom != nil && !resume { throw ValidationError("--resume-from needs --resume") }
        guard plateauFactor > 0 && plateauFactor < 1, plateauPatience >= 0 else {
            throw ValidationError("--plateau-factor must be in (0, 1), --plateau-patience at least 0")
        }
        if let e = earlyStopping, e < 1 { throw ValidationError("--early-stopping must be at least 1") }
        if (keepBest || earlyStopping != nil || scheduler == .plateau) && evalSteps == nil {
            throw ValidationError("--keep-best, --early-stopping and --scheduler plateau need --eval-steps")
        }
        if task.task != .mlm && (groupTexts != nil || split != .none || docSep != .line || wholeWordMask || mlmSchedule != nil) {
            throw ValidationError("--group-texts, --split, --doc-sep, --whole-word-mask and --mlm-schedule are for masked-LM training only")
        }
    }

    func parseSchedule(_ s: String) -> [Double]? {
        let values = s.split(separator: ",").map { Double(String($0.filter { $0 != " " })) }
        guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! > 0 && $0! < 1 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        // Under mpirun, one rank of a data-parallel job (Distributed.swift).
        let world = try startWorld()
        do {
            try train(world: world)
            (world as? OpenMPI)?.finalize()
        } catch let e as ExitCode where e.rawValue == 130 {
            (world as? OpenMPI)?.finalize()
            throw e
        } catch {
            // One rank's failure ends the whole job; the last complete checkpoint stays.
            if world.size > 1 { world.abort(1) }
            throw error
        }
    }

    func train(world: Communicator) throws {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let threadCount = max(1, threads ?? cores / max(1, world.localSize))
        setMatmulThreads(threadCount)
        let outDir = FileSystem.normalized(out)

        // The first process of each machine sets up first (token caches), the others then map them.
        if world.localRank != 0 { try world.barrier() }
        let (trainer, resumedFrom) = try reportingErrors(world) { () -> (Trainer, String?) in
            // Where the weights come from: a checkpoint to resume, or --model.
            var resumePath: String? = nil
            if resume {
                if let r = resumeFrom {
                    resumePath = r
                } else if let newest = Trainer.checkpoints(in: outDir).last {
                    resumePath = newest.path
                } else {
                    throw TrainingError(path: outDir, reason: "no complete checkpoint-<step> directory to resume")
                }
            } else if FileSystem.isDirectory(outDir), !Trainer.checkpoints(in: outDir).isEmpty || FileSystem.exists(FileSystem.join(outDir, "final")) {
                guard force else {
                    throw TrainingError(path: outDir, reason: "already holds a run: pass --resume to continue, or --force to start over")
                }
                // Starting over: the earlier run's checkpoints, result and logs go.
                for name in try FileSystem.list(outDir) where world.isPrimary
                    && (name.hasPrefix("checkpoint-") || ["final", "best", "metrics.jsonl", "runs"].contains(name)) {
                    try FileSystem.removeDirectory(FileSystem.join(outDir, name))
                }
            }
            let source = resumePath ?? model
            let isConfig = resumePath == nil && FileSystem.isFile(model) && FileSystem.basename(model).hasSuffix(".json")
            let encoder: Encoder
            var config: ModelConfig
            var extra: [TensorData] = []
            var tokenizerDir = tokenizer
            var carried: [(name: String, bytes: [UInt8])] = []
            if isConfig {
                config = try ModelConfig(bytes: try readFile(model), path: model)
                let ec = try EncoderConfig(config, path: model)
                encoder = Encoder(config: ec, initializerRange: Float(config.initializerRange ?? 0.02), mlmHead: true, seed: seed)
                if tokenizerDir == nil { tokenizerDir = FileSystem.dirname(FileSystem.normalized(model)) }
            } else {
                let ckpt = try Checkpoint(path: source)
                guard let c = ckpt.config else { throw TrainingError(path: source, reason: "no config.json beside the weights") }
                config = c
                encoder = try Encoder(checkpoint: ckpt)
                carried = ckpt.files
                // An untied head's second, unused bias is kept as it was. Pooler
                // and next-sentence tensors are not part of a masked-LM model.
                for t in ckpt.tensors where !config.tieWordEmbeddings
                    && (t.name == "cls.predictions.bias" && ckpt.info("cls.predictions.decoder.bias") != nil
                        || t.name == "lm_head.bias" && ckpt.info("lm_head.decoder.bias") != nil) {
                    extra.append(try ckpt.data(t.name))
                }
            }
            // The tokenizer and its files.
            var files: [(name: String, bytes: [UInt8])]
            if let dir = tokenizerDir, resumePath == nil {
                guard FileSystem.isDirectory(dir) else { throw TrainingError(path: dir, reason: "not a tokenizer directory") }
                files = try readTokenizerFiles(in: dir)
            } else {
                files = carried.filter { $0.name != "config.json" && $0.name != "trainer_state.json" }
            }
            let tokPath = tokenizerDir ?? source
            guard !files.isEmpty else { throw TrainingError(path: tokPath, reason: "no tokenizer files (tokenizer.json or vocab.txt); pass --tokenizer DIR") }
            let tok = try Tokenizer(files: files, path: tokPath)
            var opts = TrainingOptions()
            opts.learningRate = lr; opts.weightDecay = weightDecay; opts.warmupSteps = warmupSteps; opts.warmupRatio = warmupRatio
            opts.scheduler = scheduler; opts.batchSize = batchSize; opts.gradAccum = gradAccum; opts.maxGradNorm = maxGradNorm
            opts.epochs = epochs; opts.maxSteps = maxSteps; opts.dropout = dropout; opts.seed = seed
            opts.mlmProbability = mlmProbability; opts.mlmSchedule = mlmSchedule.flatMap(parseSchedule)
            opts.wholeWordMask = wholeWordMask; opts.shuffle = !noShuffle
            opts.metric = metric; opts.plateauFactor = plateauFactor; opts.plateauPatience = plateauPatience
            opts.earlyStopping = earlyStopping
            var cadence = TrainingCadence()
            cadence.logSteps = loggingSteps; cadence.evalSteps = evalSteps; cadence.saveSteps = saveSteps
            cadence.saveTotalLimit = saveTotalLimit; cadence.keepBest = keepBest

            let t: Trainer
            if task.task != .mlm {
                t = try task.trainer(encoder: encoder, config: config, source: source, resuming: resumePath != nil, tokenizer: tok,
                                     tokenizerFiles: files, corpus: corpus, evalFiles: evalFile, evalRatio: evalRatio,
                                     maxLength: maxLength, options: opts, cadence: cadence, output: outDir, threads: threadCount,
                                     world: world)
            } else {
                t = try maskedLMTrainer(encoder: encoder, config: config, extra: extra, source: source, tokenizer: tok, files: files,
                                        tokenizerPath: tokPath, output: outDir, threads: threadCount, options: opts, cadence: cadence,
                                        world: world)
            }
            t.model.precision = precision.precision
            if let r = resumePath { try t.resume(from: r, force: force) }
            return (t, resumePath)
        }

        if world.localRank == 0 { try world.barrier() }
        if let note = trainer.resumeNote { print("note: " + note) }
        printTable(trainer, resumedFrom: resumedFrom, threads: threadCount)
        let stop = StopFlag.shared
        stop.armForTraining()
        let bar = ProgressLine()
        let summary = try reportingErrors(world) {
            try trainer.run(progress: { p in
                let eta = p.secondsLeft.isFinite ? duration(p.secondsLeft) : "?"
                var line = "step \(p.step)/\(p.totalSteps)  loss \(fmt(p.loss, 4))  lr \(sci(p.learningRate))  "
                    + "\(Int(p.tokensPerSecond)) tokens/s  ETA \(eta)"
                if let e = p.evaluation { line += "  eval " + evaluationText(e) }
                bar.show(line)
                if p.evalLoss != nil || p.savedCheckpoint != nil || (p.logged && !bar.isTerminal) {
                    bar.finish()
                    print(line)
                    if let s = p.savedCheckpoint { print("saved \(s)") }
                }
            }, shouldStop: { stop.requested })
        }
        bar.finish()
        if summary.interrupted {
            print("interrupted at step \(summary.steps): saved \(summary.lastCheckpoint ?? "?"); continue with --resume")
            throw ExitCode(130)
        }
        if let e = summary.finalEvaluation {
            let before = summary.initialEvaluation.map { " (before training: " + evaluationText($0) + ")" } ?? ""
            print("eval " + evaluationText(e) + before)
        }
        if let b = summary.best, keepBest {
            print("best \(metric) \(fmt(b.value, 4)) at step \(b.step): model in \(FileSystem.join(trainer.output, "best"))")
        }
        if summary.stoppedEarly { print("stopped early: \(earlyStopping ?? 0) evaluations without a better \(metric)") }
        print("done: \(summary.steps) steps; model in \(summary.lastCheckpoint ?? "")")
    }

    /// "loss 0.4321 f1_macro 0.8765" (masked LM: "loss 2.1 perplexity 8.2").
    func evaluationText(_ e: Evaluation) -> String {
        let shown = e.report.scalars.filter { ["perplexity", "accuracy", "f1", "f1_macro", "f1_micro", "mse", "r2", metric].contains($0.name) }
        var seen = Set<String>()
        return (["loss \(fmt(e.loss, 4))"] + shown.filter { seen.insert($0.name).inserted }.map { "\($0.name) \(fmt($0.value, 4))" })
            .joined(separator: "  ")
    }

    /// The masked-LM run: the tokenizer's roles, the corpus (token caches),
    /// the model with its MLM head.
    func maskedLMTrainer(encoder: Encoder, config: ModelConfig, extra: [TensorData], source: String, tokenizer tok: Tokenizer,
                         files: [(name: String, bytes: [UInt8])], tokenizerPath tokPath: String, output outDir: String, threads threadCount: Int,
                         options opts: TrainingOptions, cadence: TrainingCadence, world: Communicator) throws -> Trainer {
        var config = config
        let roles = try tokenRoles(tok, files: files, path: tokPath, vocab: encoder.config.vocabSize)
        if !encoder.hasMLMHead {
            print("note: \(source) has no masked-LM head; it is initialised as transformers does when it loads a base checkpoint into a masked-LM model")
        }
        // The corpus.
        var copts = CorpusOptions()
        copts.documentSeparator = docSep
        copts.split = split
        copts.groupTexts = groupTexts
        copts.maxLength = min(maxLength, encoder.config.maxLength)
        if let g = groupTexts, g > encoder.config.maxLength {
            throw ValidationError("--group-texts \(g) exceeds the model's \(encoder.config.maxLength) positions")
        }
        let V = encoder.config.vocabSize
        let data = try TrainingData.load(corpus: corpus, evalFiles: evalFile, evalRatio: evalRatio, seed: seed, tokenizer: tok,
                                         tokenizerFiles: files, vocabSize: V, tokenizerPath: tokPath, options: copts,
                                         cacheDirectory: cacheDir ?? FileSystem.join(outDir, "cache"), threads: threadCount)

        let trainingModel = try TrainingModel(encoder: encoder, initializeMissingHead: true,
                                                      initializerRange: Float(config.initializerRange ?? 0.02), seed: seed)
        // What is written is a masked-LM model.
        config.set("architectures", .array([.string(TrainingHead.maskedLM.architecture(encoder.config))]))
        trainingModel.workerCount = threadCount
        return try Trainer(model: trainingModel, objective: MaskedLMObjective(train: data.train, eval: data.eval, roles: roles, options: opts),
                           files: CheckpointFiles(config: config, tokenizerFiles: files, extraTensors: extra),
                           options: opts, cadence: cadence, output: outDir, world: world)
    }

    func tokenRoles(_ tok: Tokenizer, files: [(name: String, bytes: [UInt8])], path: String, vocab: Int) throws -> TokenRoles {
        let summary = try TokenizerSummary(files: files, directory: path)
        func id(_ role: SpecialTokenRole) -> Int? { summary?.specialTokens[role].flatMap { tok.id(of: $0) } }
        guard let mask = id(.mask) ?? tok.id(of: "[MASK]") else {
            throw TrainingError(path: path, reason: "the tokenizer has no mask token")
        }
        guard mask < vocab else {
            throw TrainingError(path: path, reason: "the mask token's id \(mask) is past the model's vocabulary (\(vocab)); resize the model first (ckpt resize-vocab)")
        }
        var specials = Set([SpecialTokenRole.cls, .sep, .pad, .bos, .eos, .mask].compactMap(id))
        for t in tok.addedTokens where t.special && t.id != id(.unk) { specials.insert(t.id) }
        var continuation = Set<Int>()
        let n = min(tok.count, vocab)
        for i in 0..<n where tok.isWordContinuation(i) { continuation.insert(i) }
        return TokenRoles(maskID: mask, specialIDs: specials, continuationIDs: continuation, randomRange: max(1, n))
    }

    func printTable(_ t: Trainer, resumedFrom: String?, threads: Int) {
        let o = t.options
        let rows: [(String, String)] = [
            ("model", resumedFrom ?? model), ("output", t.output),
            ("training examples", "\(t.trainCount)"), ("eval examples", "\(t.evalCount)"),
            ("batch size × grad accum", "\(o.batchSize) × \(o.gradAccum) = \(o.batchSize * o.gradAccum) sequences per step"),
            ("steps per epoch", "\(t.stepsPerEpoch)"), ("total steps", "\(t.totalSteps)" + (resumedFrom != nil ? " (from step \(t.currentStep))" : "")),
            ("learning rate", "\(sci(o.learningRate)), \(o.scheduler.rawValue), warmup \(t.schedule.warmupSteps) steps"),
            task.task == .mlm
                ? ("masking", (o.mlmSchedule.map { "schedule " + $0.map { String($0) }.joined(separator: ",") } ?? "\(o.mlmProbability)")
                    + (o.wholeWordMask ? ", whole words" : ""))
                : ("task", "\(task.task.rawValue): " + ((t.objective as? ClassificationObjective)?.labels.joined(separator: ", ") ?? "")
                    + "; truncation \(task.truncate.rawValue)"),
            ("dropout", "\(t.dropoutRates.hidden) hidden, \(t.dropoutRates.attention) attention"
                + (task.task == .mlm ? "" : ", \(t.dropoutRates.classifier) classifier")),
            ("seed / threads", "\(o.seed) / \(threads)"),
            ("products", "\(t.model.precision.rawValue) (\(t.model.kernel.rawValue))"),
        ]
        let w = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { print(k + String(repeating: " ", count: w - k.count) + "  " + printable(v)) }
    }
}

extension CorpusOptions.DocumentSeparator: ExpressibleByArgument {}
extension CorpusOptions.Split: ExpressibleByArgument {}
extension LearningRateSchedule.Kind: ExpressibleByArgument {}
