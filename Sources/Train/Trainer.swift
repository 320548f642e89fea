// Trainer — the masked-LM training loop of `ckpt train`: batching with dynamic
// padding (packed batches), seeded shuffling, masking, gradient accumulation,
// clipping, AdamW with a schedule, evaluation, checkpoints, exact resume.
//
// Every random choice comes from a stream derived from the seed and a counter
// (the epoch for shuffling, the micro-batch for masking and dropout, the
// example for eval masking), so the state to resume is the step count: a
// resumed run replays the same batches, masks and dropout as an uninterrupted one.

import Formats
import Model

#if canImport(Glibc)
import Glibc
#endif

/// The options of a run. Those that decide the numbers are recorded in every
/// checkpoint and must match on resume.
public struct TrainingOptions: Sendable, Equatable, Codable {
    public var learningRate = 5e-5
    public var weightDecay = 0.01
    public var adamBeta1 = 0.9, adamBeta2 = 0.999, adamEpsilon = 1e-8
    public var warmupSteps: Int? = nil
    public var warmupRatio = 0.0
    public var scheduler: LearningRateSchedule.Kind = .linear
    public var batchSize = 8
    public var gradAccum = 1
    public var maxGradNorm = 1.0
    public var epochs = 1
    public var maxSteps: Int? = nil
    /// Hidden and attention dropout; nil: the config's.
    public var dropout: Float? = nil
    public var seed: UInt64 = 42
    public var mlmProbability = 0.15
    /// Masking probabilities for equal phases of the run (the seed's schedule).
    public var mlmSchedule: [Double]? = nil
    public var wholeWordMask = false
    public var shuffle = true
    public init() {}
}

/// How often to log, evaluate and save (free to change on resume).
public struct TrainingCadence: Sendable, Equatable {
    public var logSteps = 10
    public var evalSteps: Int? = nil
    public var saveSteps: Int? = nil
    public var saveTotalLimit: Int? = nil
    public init() {}
}

/// A trainer error that names what is wrong.
public struct TrainingError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "\(path): \(reason)" }
}

/// What the tokenizer contributes to training: special ids, the mask id and
/// which ids continue a word.
public struct TokenRoles: Sendable {
    public var maskID: Int
    public var specialIDs: Set<Int>
    public var continuationIDs: Set<Int>
    /// Random replacements come from `0..<randomRange` (`len(tokenizer)`).
    public var randomRange: Int
    public init(maskID: Int, specialIDs: Set<Int>, continuationIDs: Set<Int>, randomRange: Int) {
        self.maskID = maskID; self.specialIDs = specialIDs; self.continuationIDs = continuationIDs; self.randomRange = randomRange
    }
}

/// Files written into every checkpoint besides the weights.
public struct CheckpointFiles: Sendable {
    /// config.json (its dtype is set to float32).
    public var config: ModelConfig
    /// Tokenizer files, written as they are.
    public var tokenizerFiles: [(name: String, bytes: [UInt8])]
    /// Tensors of the source that training does not touch (pooler, …), written as they are.
    public var extraTensors: [TensorData]
    public init(config: ModelConfig, tokenizerFiles: [(name: String, bytes: [UInt8])], extraTensors: [TensorData]) {
        self.config = config; self.tokenizerFiles = tokenizerFiles; self.extraTensors = extraTensors
    }
}

/// Progress after each optimizer step.
public struct TrainingProgress: Sendable {
    public var step: Int, totalSteps: Int
    public var loss: Double, learningRate: Double, gradNorm: Double
    public var tokensPerSecond: Double
    public var secondsLeft: Double
    public var evalLoss: Double?
    public var savedCheckpoint: String?
    /// True at the logging cadence.
    public var logged = false
}

/// The outcome of a run.
public struct TrainingSummary: Sendable {
    public var steps: Int
    public var interrupted: Bool
    /// Eval loss before the first step (fresh runs with an eval set).
    public var initialEvalLoss: Double?
    public var finalEvalLoss: Double?
    public var lastCheckpoint: String?
}

public final class Trainer {
    public let model: TrainingModel
    public let optimizer: AdamW
    public let options: TrainingOptions
    public var cadence: TrainingCadence
    public let output: String
    let train: ExampleSet, eval: ExampleSet
    let roles: TokenRoles
    let files: CheckpointFiles
    /// A digest of the examples, to refuse resuming on another corpus.
    public let corpusDigest: String
    public let stepsPerEpoch: Int
    public let totalSteps: Int
    public let schedule: LearningRateSchedule
    let dropout: DropoutRates
    /// The next optimizer step (set by `resume`).
    var step = 0
    /// The next optimizer step (0 for a fresh run; the checkpoint's step after `resume`).
    public var currentStep: Int { step }
    public var trainCount: Int { train.count }
    public var evalCount: Int { eval.count }
    /// Dropout used by training steps.
    public var dropoutRates: DropoutRates { dropout }
    /// The logged lines, written into every checkpoint's trainer_state.json.
    var history: [JSONValue] = []
    private var events: EventFile?

    /// Sets up a run from step 0 on examples held in memory.
    public convenience init(model: TrainingModel, train: [Example], eval: [Example], roles: TokenRoles, files: CheckpointFiles,
                            options: TrainingOptions, cadence: TrainingCadence, output: String) throws {
        try self.init(model: model, train: ExampleSet(train), eval: ExampleSet(eval), roles: roles, files: files,
                      options: options, cadence: cadence, output: output)
    }

    /// Sets up a run from step 0.
    public init(model: TrainingModel, train: ExampleSet, eval: ExampleSet, roles: TokenRoles, files: CheckpointFiles,
                options: TrainingOptions, cadence: TrainingCadence, output: String) throws {
        guard !train.isEmpty else { throw TrainingError(path: output, reason: "no training examples") }
        guard options.batchSize >= 1, options.gradAccum >= 1, options.epochs >= 1 else {
            throw TrainingError(path: output, reason: "batch size, gradient accumulation and epochs must be at least 1")
        }
        self.model = model
        self.train = train
        self.eval = eval
        self.roles = roles
        self.files = files
        self.options = options
        self.cadence = cadence
        self.output = output
        optimizer = AdamW(model: model, beta1: options.adamBeta1, beta2: options.adamBeta2, eps: options.adamEpsilon,
                          weightDecay: options.weightDecay)
        let batches = (train.count + options.batchSize - 1) / options.batchSize
        stepsPerEpoch = (batches + options.gradAccum - 1) / options.gradAccum
        totalSteps = options.maxSteps ?? options.epochs * stepsPerEpoch
        let warmup = options.warmupSteps ?? Int((Double(totalSteps) * options.warmupRatio).rounded(.up))
        schedule = LearningRateSchedule(options.scheduler, warmupSteps: warmup, totalSteps: totalSteps)
        dropout = options.dropout.map { DropoutRates(hidden: $0, attention: $0) }
            ?? DropoutRates(hidden: model.config.hiddenDropout, attention: model.config.attentionDropout)
        var h = Checksum64()
        h.update(train.digest)
        h.update(eval.digest)
        corpusDigest = h.hex
    }

    // MARK: - Batches

    private var permutationCache: (epoch: Int, order: [UInt32])?

    private func order(epoch: Int) -> [UInt32] {
        if let c = permutationCache, c.epoch == epoch { return c.order }
        permutationCache = nil  // the old order goes before the new one is made
        let order: [UInt32]
        if options.shuffle {
            var rng = SplitMix64(seed: mix(options.seed, 0x5348_5546, UInt64(epoch)))
            order = permutation(train.count, rng: &rng)
        } else {
            order = (0..<train.count).map { UInt32(truncatingIfNeeded: $0) }
        }
        permutationCache = (epoch, order)
        return order
    }

    /// The masking probability at optimizer step `step` (phases of the schedule).
    public func maskingProbability(step: Int) -> Double {
        guard let phases = options.mlmSchedule, !phases.isEmpty else { return options.mlmProbability }
        let phase = min(phases.count - 1, step * phases.count / max(1, totalSteps))
        return phases[phase]
    }

    private func mask(_ example: Example, probability: Double, rng: inout SplitMix64) -> (inputs: [Int], labels: [Int]) {
        if let labels = example.labels { return (example.ids, labels) }
        let rule = MaskingRule(probability: probability, maskID: roles.maskID, vocabSize: roles.randomRange, specialIDs: roles.specialIDs)
        if options.wholeWordMask {
            return rule.applyWholeWord(example.ids, continuation: { self.roles.continuationIDs.contains($0) }, rng: &rng)
        }
        return rule.apply(example.ids, rng: &rng)
    }

    /// The micro-batches of optimizer step `step`, masked.
    func microBatches(step: Int) -> [TrainingBatch] {
        let epoch = step / stepsPerEpoch, k = step % stepsPerEpoch
        let order = order(epoch: epoch)
        let batches = (train.count + options.batchSize - 1) / options.batchSize
        let p = maskingProbability(step: step)
        var out: [TrainingBatch] = []
        for b in (k * options.gradAccum)..<min((k + 1) * options.gradAccum, batches) {
            var rng = SplitMix64(seed: mix(options.seed, 0x4D41_534B, UInt64(epoch), UInt64(b)))
            var batch = TrainingBatch()
            for i in (b * options.batchSize)..<min((b + 1) * options.batchSize, train.count) {
                let (inputs, labels) = mask(train[Int(order[i])], probability: p, rng: &rng)
                batch.append(ids: inputs, labels: labels)
            }
            out.append(batch)
        }
        return out
    }

    /// Eval batch `b`, with masks fixed once per example (seeded by its index).
    private func evalBatch(_ b: Int) -> TrainingBatch {
        var batch = TrainingBatch()
        let p = options.mlmSchedule?.first ?? options.mlmProbability
        for i in (b * options.batchSize)..<min(eval.count, (b + 1) * options.batchSize) {
            var rng = SplitMix64(seed: mix(options.seed, 0x4556_414C, UInt64(i)))
            let (inputs, labels) = mask(eval[i], probability: p, rng: &rng)
            batch.append(ids: inputs, labels: labels)
        }
        return batch
    }

    /// Mean cross-entropy over the eval set's masked tokens (nil without an
    /// eval set). Batches are made one at a time from the (mapped) examples.
    public func evaluate() throws -> Double? {
        guard !eval.isEmpty else { return nil }
        var sum = 0.0, count = 0
        for b in 0..<((eval.count + options.batchSize - 1) / options.batchSize) {
            let batch = evalBatch(b)
            guard batch.tokenCount > 0 else { continue }
            sum += try model.loss(batch)
            count += batch.labelledCount
        }
        return count == 0 ? nil : sum / Double(count)
    }

    // MARK: - Loop

    /// Trains from the current step to the end, or until `shouldStop` says so
    /// after a step (then a checkpoint is saved).
    public func run(progress: (TrainingProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        try FileSystem.makeDirectories(output)
        // Checkpoints torn by a crash or SIGKILL never got their final name;
        // their temporary directories are removed here.
        for name in (try? FileSystem.list(output)) ?? [] where name.hasPrefix(".") && name.contains(".ckpt-tmp-") {
            try? FileSystem.removeDirectory(FileSystem.join(output, name))
        }
        // Checkpoints past the step this run continues from belong to a run
        // that is being replaced; rotation must never see them.
        for c in Trainer.checkpoints(in: output) where c.step > step { try FileSystem.removeDirectory(c.path) }
        try openMetrics()
        let clock = ContinuousClock()
        let started = clock.now
        var tokens = 0
        var lastSaved: String? = nil
        let firstStep = step
        var initialEval: Double? = nil
        if step == 0, let e = try evaluate() {
            // Perplexity before training, as the seed notebooks report it.
            initialEval = e
            try logEval(e)
        }
        while step < totalSteps {
            let micro = microBatches(step: step)
            let labelled = micro.reduce(0) { $0 + $1.labelledCount }
            model.zeroGradients()
            var lossSum = 0.0
            for (m, b) in micro.enumerated() {
                lossSum += try model.accumulateGradients(b, lossScale: 1 / Float(max(1, labelled)), dropout: dropout,
                                                         seed: mix(options.seed, 0x4452_4F50, UInt64(step), UInt64(m)))
                tokens += b.tokenCount
            }
            let norm = clipGradientNorm(model, maxNorm: options.maxGradNorm)
            let lr = options.learningRate * schedule.factor(step: step)
            optimizer.update(model, lr: lr)
            step += 1
            let loss = labelled > 0 ? lossSum / Double(labelled) : .nan
            let elapsed = seconds(clock.now - started)
            let done = step - firstStep
            var report = TrainingProgress(step: step, totalSteps: totalSteps, loss: loss, learningRate: lr, gradNorm: norm,
                                          tokensPerSecond: Double(tokens) / max(elapsed, 1e-9),
                                          secondsLeft: elapsed / Double(done) * Double(totalSteps - step))
            if step % max(1, cadence.logSteps) == 0 || step == totalSteps {
                report.logged = true
                try log([("step", .number(JSONNumber(step))), ("epoch", .number(JSONNumber(Double(step) / Double(stepsPerEpoch)))),
                         ("loss", number(loss)), ("learning_rate", number(lr)), ("grad_norm", number(norm)),
                         ("tokens_per_s", number(report.tokensPerSecond))])
                events?.scalars(step: step, [("train/loss", loss), ("train/lr", lr)])
            }
            if let every = cadence.evalSteps, step % every == 0, let e = try evaluate() {
                report.evalLoss = e
                try logEval(e)
            }
            let stop = shouldStop()
            if stop || cadence.saveSteps.map({ step % $0 == 0 }) == true {
                lastSaved = try saveCheckpoint()
                report.savedCheckpoint = lastSaved
            }
            progress(report)
            if stop && step < totalSteps {
                return TrainingSummary(steps: step, interrupted: true, initialEvalLoss: initialEval, finalEvalLoss: nil, lastCheckpoint: lastSaved)
            }
        }
        var finalEval: Double? = nil
        if let e = try evaluate() {
            finalEval = e
            if cadence.evalSteps.map({ step % $0 != 0 }) ?? true { try logEval(e) }
        }
        let final = try saveCheckpoint(name: "final", optimizerState: false)
        return TrainingSummary(steps: step, interrupted: false, initialEvalLoss: initialEval, finalEvalLoss: finalEval, lastCheckpoint: final)
    }

    private func number(_ v: Double) -> JSONValue { v.isFinite ? .number(JSONNumber(v)) : .null }

    private func logEval(_ loss: Double) throws {
        try log([("step", .number(JSONNumber(step))), ("eval_loss", number(loss)), ("eval_perplexity", number(exp(loss)))])
        events?.scalars(step: step, [("eval/loss", loss), ("eval/perplexity", exp(loss))])
    }

    // MARK: - Metrics

    private var metricsFD: Int32 = -1

    /// Opens OUT/metrics.jsonl for appending, dropping lines past the current
    /// step (left by a run that went further than the checkpoint resumed).
    private func openMetrics() throws {
        let path = FileSystem.join(output, "metrics.jsonl")
        var kept: [String] = []
        if FileSystem.exists(path) {
            for line in textLines(try readFile(path)) where !line.isEmpty {
                if let v = try? JSONParser.parse(line, path: path), let s = v["step"]?.int, s <= step { kept.append(line) }
            }
        }
        history = kept.compactMap { try? JSONParser.parse($0, path: path) }
        // The kept lines replace the file atomically; then it is appended to.
        let rewrite = try AtomicFile(path: path, overwrite: true)
        try rewrite.write(Array(kept.map { $0 + "\n" }.joined().utf8), at: 0)
        try rewrite.commit()
        if metricsFD >= 0 { close(metricsFD) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.current(path, "open") }
        metricsFD = fd
        if events == nil { events = try? EventFile(directory: FileSystem.join(output, "runs")) }
    }

    private func append(_ line: String) throws {
        let text = line + "\n"
        try text.utf8CString.withUnsafeBufferPointer { p in
            let raw = UnsafeRawBufferPointer(start: p.baseAddress, count: p.count - 1)
            var done = 0
            while done < raw.count {
                let n = write(metricsFD, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; throw FileError.current(FileSystem.join(output, "metrics.jsonl"), "write") }
                done += n
            }
        }
    }

    private func log(_ fields: [(String, JSONValue)]) throws {
        let v = JSONValue.object(JSONObject(fields))
        history.append(v)
        try append(v.serialized())
    }

    deinit { if metricsFD >= 0 { close(metricsFD) } }

    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
