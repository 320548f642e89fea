// ckpt bench — what this machine does.

import ArgumentParser
import Formats
import Model
import Train

#if canImport(Glibc)
import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput on this machine.", subcommands: [Forward.self, TrainStep.self, Sgemm.self])

    /// A model directory or weights file, or random weights from a bare config.json.
    static func loadEncoder(_ model: String, mlmHead: Bool? = nil) throws -> Encoder {
        if FileSystem.isFile(model) && FileSystem.basename(model).hasSuffix(".json") {
            let cfg = try ModelConfig(bytes: try readFile(model), path: model)
            let ec = try EncoderConfig(cfg, path: model)
            let params = Double(ec.vocabSize + ec.maxPositions) * Double(ec.hidden)
                + Double(ec.layers) * (4 * Double(ec.hidden * ec.hidden) + 2 * Double(ec.hidden * ec.intermediate))
            guard params < 4e9 else {
                throw ModelError.config(path: model, reason: "\(Int(params)) parameters is too many for a random-weight benchmark")
            }
            let mlm = mlmHead ?? cfg.architectures.contains { $0.hasSuffix("ForMaskedLM") }
            return Encoder(config: ec, initializerRange: Float(cfg.initializerRange ?? 0.02), mlmHead: mlm)
        }
        return try Encoder(checkpoint: try Checkpoint(path: model))
    }

    struct Forward: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forward-pass throughput of a model directory or a bare config.json (random weights).")

        @Argument(help: "A model directory, weights file, or config.json.")
        var model: String

        @Option(help: "Sequences per batch.")
        var batch: Int = 8

        @Option(help: "Tokens per sequence.")
        var seq: Int = 128

        @Option(help: "Timed batches (after one warm-up).")
        var iterations: Int = 5

        @OptionGroup var threading: ThreadOption
        @OptionGroup var precision: PrecisionOption

        @Flag(help: "Print one JSON object: tokens_per_s, gflop_per_s and sgemm (the kernel).")
        var json = false

        func validate() throws {
            guard batch >= 1, seq >= 1, iterations >= 1, batch <= 1 << 16, seq <= 1 << 20, iterations <= 1 << 30 else { throw ValidationError("--batch, --seq and --iterations must be at least 1") }
        }

        func run() throws {
            setMatmulThreads(threading.count)
            let encoder = try reportingErrors { try Bench.loadEncoder(model) }
            encoder.workerCount = threading.count
            encoder.precision = precision.precision
            guard seq <= encoder.config.maxLength else {
                throw ValidationError("--seq \(seq) exceeds the model's \(encoder.config.maxLength) positions")
            }
            let ids = (0..<(batch * seq)).map { ($0 * 7919) % encoder.config.vocabSize }
            let clock = ContinuousClock()
            _ = try encoder.forward(inputIDs: ids, batch: batch, length: seq)
            var best = Duration.seconds(1_000_000)
            for _ in 0..<max(1, iterations) {
                let t0 = clock.now
                _ = try encoder.forward(inputIDs: ids, batch: batch, length: seq)
                best = min(best, clock.now - t0)
            }
            let s = seconds(best)
            let tps = Double(batch * seq) / s
            let gflops = encoder.flops(batch: batch, length: seq) / s / 1e9
            if json {
                print(JSONValue.object(JSONObject([("tokens_per_s", .number(JSONNumber(tps))), ("gflop_per_s", .number(JSONNumber(gflops))),
                                                   ("sgemm", .string(encoder.kernel.rawValue)),
                                                   ("precision", .string(encoder.precision.rawValue))])).serialized())
            } else {
                print("\(batch)×\(seq) tokens: \(Int(tps)) tokens/s, \(Int(gflops)) GFLOP/s (best of \(iterations), \(threading.count) threads, sgemm: \(encoder.kernel.rawValue))")
            }
        }
    }

    struct Sgemm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Matrix-product peak: GFLOP/s of a square product through each kernel this machine runs.")

        @Option(help: "Rows = columns = inner dimension.")
        var size: Int = 1024

        @Option(help: "Timed products (after one warm-up).")
        var iterations: Int = 20

        @OptionGroup var threading: ThreadOption

        @Flag(help: "Print one JSON object: GFLOP/s by kernel, and the kernel in use.")
        var json = false

        func validate() throws {
            guard size >= 1, size <= 16_384, iterations >= 1, iterations <= 1 << 20 else {
                throw ValidationError("--size must be between 1 and 16384, --iterations at least 1")
            }
        }

        func run() throws {
            let threadCount = threading.count
            let results = SgemmKernel.allCases.filter { SgemmKernel.isSupported($0) }.map {
                ($0, sgemmThroughput($0, size: size, threads: threadCount, iterations: iterations))
            }
            if json {
                var fields = results.map { ($0.0.rawValue, JSONValue.number(JSONNumber($0.1))) }
                fields.append(("in_use", .string(SgemmKernel.current.rawValue)))
                print(JSONValue.object(JSONObject(fields)).serialized())
            } else {
                for (kernel, g) in results {
                    let mark = kernel == SgemmKernel.current ? " (in use)" : kernel == .avx512bf16 ? " (bf16 operands, --precision bf16)" : ""
                    print("\(kernel.rawValue): \(Int(g)) GFLOP/s\(mark)")
                }
                print("\(size)×\(size)×\(size), best of \(iterations), \(threadCount) threads")
            }
        }
    }

    struct TrainStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Masked-LM training throughput (forward, backward, clipping, AdamW) on random tokens.")

        @Argument(help: "A model directory, weights file, or config.json (random weights).")
        var model: String

        @Option(help: "Sequences per batch.")
        var batch: Int = 8

        @Option(help: "Tokens per sequence.")
        var seq: Int = 128

        @Option(help: "The share of tokens masked (80/10/10 rule).")
        var mlmProbability: Double = 0.15

        @Option(help: "Timed steps (after one warm-up step).")
        var steps: Int = 5

        @Option(help: "Dropout for hidden states and attention (default: the config's).")
        var dropout: Float?

        @OptionGroup var threading: ThreadOption
        @OptionGroup var precision: PrecisionOption

        @Flag(help: "Print one JSON object: tokens_per_s, gflop_per_s, step_s, peak_rss_mb, sgemm.")
        var json = false

        func validate() throws {
            guard batch >= 1, seq >= 3, steps >= 1, batch <= 1 << 16, seq <= 1 << 20, steps <= 1 << 30 else { throw ValidationError("--batch and --steps must be at least 1, --seq at least 3") }
            guard mlmProbability > 0, mlmProbability < 1 else { throw ValidationError("--mlm-probability must be in (0, 1)") }
            if let d = dropout, !(d >= 0 && d < 1) { throw ValidationError("--dropout must be in [0, 1)") }
        }

        func run() throws {
            let threadCount = threading.count
            setMatmulThreads(threadCount)
            let (trainer, rates): (TrainingModel, DropoutRates) = try reportingErrors {
                let encoder = try Bench.loadEncoder(model, mlmHead: true)
                guard seq <= encoder.config.maxLength else {
                    throw ValidationError("--seq \(seq) exceeds the model's \(encoder.config.maxLength) positions")
                }
                let m = try TrainingModel(encoder: encoder, initializeMissingHead: true)
                m.workerCount = threadCount
                m.precision = precision.precision
                let p = dropout
                return (m, DropoutRates(hidden: p ?? encoder.config.hiddenDropout, attention: p ?? encoder.config.attentionDropout))
            }
            let V = trainer.config.vocabSize
            // Random sequences framed by two ids taken as [CLS]/[SEP]; masking as transformers'.
            let rule = MaskingRule(probability: mlmProbability, maskID: min(4, V - 1), vocabSize: V, specialIDs: [0, 1 % V])
            var rng = SplitMix64(seed: 42)
            func makeBatch() -> TrainingBatch {
                var b = TrainingBatch()
                for _ in 0..<batch {
                    var ids = (0..<seq).map { _ in Int(rng.next() % UInt64(V)) }
                    ids[0] = 0; ids[seq - 1] = 1 % V
                    let (inputs, labels) = rule.apply(ids, rng: &rng)
                    b.append(ids: inputs, labels: labels)
                }
                return b
            }
            let optimizer = AdamW(model: trainer)
            let clock = ContinuousClock()
            var total = Duration.zero, flops = 0.0
            for step in 0...steps {
                let b = makeBatch()
                let t0 = clock.now
                trainer.zeroGradients()
                _ = try reportingErrors {
                    try trainer.accumulateGradients(b, lossScale: 1 / Float(max(1, b.labelledCount)), dropout: rates, seed: UInt64(step))
                }
                clipGradientNorm(trainer, maxNorm: 1)
                optimizer.update(trainer, lr: 5e-5)
                if step > 0 { total += clock.now - t0; flops += trainer.flops(b) }
            }
            let s = seconds(total)
            let tps = Double(batch * seq * steps) / s, gflops = flops / s / 1e9
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let rss = Double(usage.ru_maxrss) / 1024
            if json {
                print(JSONValue.object(JSONObject([
                    ("tokens_per_s", .number(JSONNumber(tps))), ("gflop_per_s", .number(JSONNumber(gflops))),
                    ("step_s", .number(JSONNumber(s / Double(steps)))), ("peak_rss_mb", .number(JSONNumber(rss))),
                    ("sgemm", .string(trainer.kernel.rawValue)), ("precision", .string(trainer.precision.rawValue)),
                ])).serialized())
            } else {
                print("\(batch)×\(seq) tokens, \(Int(mlmProbability * 100)) % masked: \(Int(tps)) tokens/s, \(Int(gflops)) GFLOP/s, "
                      + "\(String(format: "%.2f", s / Double(steps))) s/step (mean of \(steps), \(threadCount) threads, sgemm: \(trainer.kernel.rawValue)), peak RSS \(Int(rss)) MiB")
            }
        }
    }
}
