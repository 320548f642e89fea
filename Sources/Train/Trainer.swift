// Trainer — the training loop of `ckpt train`, whatever the objective (masked
// LM, a task head): batching with dynamic padding (packed batches), seeded
// shuffling, gradient accumulation, clipping, AdamW with a schedule,
// evaluation with the best-model, plateau and early-stopping bookkeeping,
// checkpoints, exact resume.
//
// Every random choice comes from a stream derived from the seed and a counter
// (the epoch for shuffling, the micro-batch for masking and dropout, the
// example for eval masking), so the state to resume is the step count and the
// evaluation bookkeeping: a resumed run replays the same batches, masks and
// dropout as an uninterrupted one.

import Formats
import Model
import Tasks

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
    /// The eval metric that picks the best model and drives the plateau
    /// schedule and early stopping (`loss`, `f1_macro`, …).
    public var metric = "loss"
    /// ReduceLROnPlateau (`scheduler == .plateau`): the factor and the
    /// evaluations without improvement it waits for (torch's defaults).
    public var plateauFactor = 0.1
    public var plateauPatience = 10
    /// Stop after this many evaluations without improvement of `metric`.
    public var earlyStopping: Int? = nil
    public init() {}
}

/// How often to log, evaluate and save (free to change on resume).
public struct TrainingCadence: Sendable, Equatable {
    public var logSteps = 10
    public var evalSteps: Int? = nil
    public var saveSteps: Int? = nil
    public var saveTotalLimit: Int? = nil
    /// Keep the model with the best eval metric in OUT/best.
    public var keepBest = false
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
    /// The evaluation of this step, if one ran.
    public var evaluation: Evaluation?
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
    public var initialEvaluation: Evaluation? = nil
    public var finalEvaluation: Evaluation? = nil
    /// The best evaluation's step and metric value.
    public var best: (step: Int, value: Double)? = nil
    /// True when early stopping ended the run.
    public var stoppedEarly = false
}

public final class Trainer {
    public let model: TrainingModel
    public let optimizer: AdamW
    public let options: TrainingOptions
    public var cadence: TrainingCadence
    public let output: String
    public let objective: TrainingObjective
    /// The processes of the run (one, or the ranks of an mpirun job).
    public let world: Communicator
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
    public var trainCount: Int { objective.trainCount }
    public var evalCount: Int { objective.evalCount }
    /// The evaluation bookkeeping (best metric, plateau, early stopping).
    var tracking = EvalTracking()
    /// The epoch order last made, and the step's gradient sum (TrainerSteps.swift).
    var permutationCache: (epoch: Int, order: [UInt32])?
    var accumulatorBuffer: UnsafeMutableBufferPointer<Float>?
    /// Set by `resume` when the checkpoint split its global batch otherwise.
    public internal(set) var resumeNote: String?
    /// Dropout used by training steps.
    public var dropoutRates: DropoutRates { dropout }
    /// The logged lines, written into every checkpoint's trainer_state.json.
    var history: [JSONValue] = []
    var events: EventFile?

    /// Sets up a masked-LM run from step 0 on examples held in memory.
    public convenience init(model: TrainingModel, train: [Example], eval: [Example], roles: TokenRoles, files: CheckpointFiles,
                            options: TrainingOptions, cadence: TrainingCadence, output: String) throws {
        try self.init(model: model, train: ExampleSet(train), eval: ExampleSet(eval), roles: roles, files: files,
                      options: options, cadence: cadence, output: output)
    }

    /// Sets up a masked-LM run from step 0.
    public convenience init(model: TrainingModel, train: ExampleSet, eval: ExampleSet, roles: TokenRoles, files: CheckpointFiles,
                            options: TrainingOptions, cadence: TrainingCadence, output: String) throws {
        try self.init(model: model, objective: MaskedLMObjective(train: train, eval: eval, roles: roles, options: options),
                      files: files, options: options, cadence: cadence, output: output)
    }

    /// Sets up a run of `objective` from step 0, on `world`'s processes: each
    /// takes its share of every optimizer step's micro-batches.
    public init(model: TrainingModel, objective: TrainingObjective, files: CheckpointFiles,
                options: TrainingOptions, cadence: TrainingCadence, output: String, world: Communicator = SingleProcess()) throws {
        guard objective.trainCount > 0 else { throw TrainingError(path: output, reason: "no training examples") }
        guard options.batchSize >= 1, options.gradAccum >= 1, options.epochs >= 1 else {
            throw TrainingError(path: output, reason: "batch size, gradient accumulation and epochs must be at least 1")
        }
        guard options.metric == "loss" || objective.metricNames.contains(options.metric) else {
            throw TrainingError(path: output, reason: "metric \"\(options.metric)\" is not one this task reports (loss, "
                                + objective.metricNames.joined(separator: ", ") + ")")
        }
        self.model = model
        self.objective = objective
        self.world = world
        self.files = files
        self.options = options
        self.cadence = cadence
        self.output = output
        optimizer = AdamW(model: model, beta1: options.adamBeta1, beta2: options.adamBeta2, eps: options.adamEpsilon,
                          weightDecay: options.weightDecay)
        let batches = (objective.trainCount + options.batchSize - 1) / options.batchSize
        let perStep = world.size * options.gradAccum
        stepsPerEpoch = (batches + perStep - 1) / perStep
        totalSteps = options.maxSteps ?? options.epochs * stepsPerEpoch
        let warmup = options.warmupSteps ?? Int((Double(totalSteps) * options.warmupRatio).rounded(.up))
        schedule = LearningRateSchedule(options.scheduler, warmupSteps: warmup, totalSteps: totalSteps)
        let dropoutRate = options.dropout
        dropout = DropoutRates(hidden: dropoutRate ?? model.config.hiddenDropout, attention: dropoutRate ?? model.config.attentionDropout,
                               classifier: dropoutRate ?? model.config.classifierDropout)
        corpusDigest = objective.digest
    }

    // Batches, micro-batch accumulation: TrainerSteps.swift.

    /// Evaluates the model on the eval examples (nil without any).
    public func evaluate() throws -> Evaluation? { try objective.evaluate(model, batchSize: options.batchSize) }

    // MARK: - Loop

    /// Trains from the current step to the end, or until `shouldStop` says so
    /// after a step (then a checkpoint is saved), or until early stopping.
    public func run(progress: (TrainingProgress) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> TrainingSummary {
        if world.isPrimary {
            try FileSystem.makeDirectories(output)
            // Checkpoints torn by a crash or SIGKILL never got their final name;
            // their temporary directories are removed here.
            for name in (try? FileSystem.list(output)) ?? [] where name.hasPrefix(".") && name.contains(".ckpt-tmp-") {
                try? FileSystem.removeDirectory(FileSystem.join(output, name))
            }
            // Checkpoints past the step this run continues from belong to a run
            // that is being replaced; rotation must never see them.
            for c in Trainer.checkpoints(in: output) where c.step > step { try FileSystem.removeDirectory(c.path) }
        }
        try openMetrics()
        try synchronizeStart()
        let clock = ContinuousClock()
        let started = clock.now
        var tokens = 0
        var communication = 0.0  // seconds spent summing gradients over the processes
        var summary = TrainingSummary(steps: step, interrupted: false)
        var lastEvaluation: (step: Int, evaluation: Evaluation)? = nil
        let firstStep = step
        if step == 0, let e = try evaluate() {
            // The metrics before training, as the seed notebooks report them
            // (not counted by the best-model, plateau and early-stopping bookkeeping).
            summary.initialEvaluation = e
            summary.initialEvalLoss = e.loss
            try logEval(e)
        }
        while step < totalSteps {
            if let f = faultInjection, f.rank == world.rank, f.step == step {
                throw TrainingError(path: output, reason: "fault injected at step \(step) (CKPT_FAULT)")
            }
            let micro = microBatches(step: step)
            // The loss is normalised by the whole step's denominator, over every process.
            var totals = [micro.reduce(0.0) { $0 + model.lossDenominator($1.batch) }]
            try world.sum(&totals)
            let denominator = totals[0]
            var lossSum = try accumulateStep(micro, scale: Float(1 / max(denominator, 1e-300)))
            let localTokens = micro.reduce(0) { $0 + $1.batch.tokenCount }
            let beforeSum = clock.now
            if world.size > 1 { try world.sum(model.gradients) }
            communication += seconds(clock.now - beforeSum)
            // The loss and the tokens of every process.
            var reduced = [lossSum, Double(localTokens)]
            try world.sum(&reduced)
            lossSum = reduced[0]
            tokens += Int(reduced[1])
            let norm = clipGradientNorm(model, maxNorm: options.maxGradNorm)
            let lr = learningRate(step: step)
            optimizer.update(model, lr: lr)
            step += 1
            let loss = denominator > 0 ? lossSum / denominator : .nan
            let elapsed = seconds(clock.now - started)
            let done = step - firstStep
            var report = TrainingProgress(step: step, totalSteps: totalSteps, loss: loss, learningRate: lr, gradNorm: norm,
                                          tokensPerSecond: Double(tokens) / max(elapsed, 1e-9),
                                          secondsLeft: elapsed / Double(done) * Double(totalSteps - step))
            if step % max(1, cadence.logSteps) == 0 || step == totalSteps {
                report.logged = true
                var fields: [(String, JSONValue)] = [
                    ("step", .number(JSONNumber(step))), ("epoch", .number(JSONNumber(Double(step) / Double(stepsPerEpoch)))),
                    ("loss", number(loss)), ("learning_rate", number(lr)), ("grad_norm", number(norm)),
                    ("tokens_per_s", number(report.tokensPerSecond))]
                // Under mpirun: the mean time per step spent summing gradients.
                if world.size > 1 { fields.append(("allreduce_s", number(communication / Double(done)))) }
                try log(fields)
                events?.scalars(step: step, [("train/loss", loss), ("train/lr", lr)])
            }
            var earlyStop = false
            if let every = cadence.evalSteps, step % every == 0, let e = try evaluate() {
                report.evalLoss = e.loss
                report.evaluation = e
                lastEvaluation = (step, e)
                try logEval(e)
                earlyStop = try track(e)
            }
            // Every process stops at the same step when any was asked to.
            var stopVotes = [shouldStop() ? 1.0 : 0]
            try world.sum(&stopVotes)
            let stop = stopVotes[0] > 0
            if stop || earlyStop || cadence.saveSteps.map({ step % $0 == 0 }) == true {
                summary.lastCheckpoint = try saveCheckpoint()
                report.savedCheckpoint = summary.lastCheckpoint
            }
            progress(report)
            if stop && step < totalSteps {
                summary.steps = step
                summary.interrupted = true
                return finish(summary)
            }
            if earlyStop { summary.stoppedEarly = true; break }
        }
        // The final model's evaluation: the one of this step, or a new one
        // (logged, and counted for the best model).
        if let last = lastEvaluation, last.step == step {
            summary.finalEvaluation = last.evaluation
        } else if let e = try evaluate() {
            summary.finalEvaluation = e
            try logEval(e)
            _ = try track(e, final: true)
        }
        summary.finalEvalLoss = summary.finalEvaluation?.loss
        summary.lastCheckpoint = try saveCheckpoint(name: "final", optimizerState: false)
        summary.steps = step
        return finish(summary)
    }

    private func finish(_ summary: TrainingSummary) -> TrainingSummary {
        var s = summary
        if let b = tracking.bestStep, let v = tracking.bestValue { s.best = (b, v) }
        return s
    }

    /// The learning rate of optimizer step `step`: the schedule's, times the
    /// plateau schedule's reductions so far.
    func learningRate(step: Int) -> Double {
        options.learningRate * schedule.factor(step: step) * (options.scheduler == .plateau ? tracking.plateauScale : 1)
    }

    /// OUT/metrics.jsonl, open for appending during `run` (TrainerMetrics.swift).
    var metricsFD: Int32 = -1

    deinit {
        if metricsFD >= 0 { close(metricsFD) }
        accumulatorBuffer?.deallocate()
    }

    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}
