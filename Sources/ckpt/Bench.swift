// ckpt bench — what this machine does.

import ArgumentParser
import Formats
import Model

#if canImport(Glibc)
import Glibc
#endif

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure throughput on this machine.", subcommands: [Forward.self])

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

        @Option(help: "Threads (default: all cores).")
        var threads: Int?

        @Flag(help: "Print one JSON object: tokens_per_s and gflop_per_s.")
        var json = false

        func validate() throws {
            guard batch >= 1, seq >= 1, iterations >= 1 else { throw ValidationError("--batch, --seq and --iterations must be at least 1") }
        }

        func run() throws {
            let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            setMatmulThreads(threads ?? cores)
            let encoder: Encoder = try reportingErrors {
                if FileSystem.isFile(model) && FileSystem.basename(model).hasSuffix(".json") {
                    let cfg = try ModelConfig(bytes: try readFile(model), path: model)
                    let ec = try EncoderConfig(cfg, path: model)
                    let params = Double(ec.vocabSize + ec.maxPositions) * Double(ec.hidden)
                        + Double(ec.layers) * (4 * Double(ec.hidden * ec.hidden) + 2 * Double(ec.hidden * ec.intermediate))
                    guard params < 4e9 else {
                        throw ModelError.config(path: model, reason: "\(Int(params)) parameters is too many for a random-weight benchmark")
                    }
                    let mlm = cfg.architectures.contains { $0.hasSuffix("ForMaskedLM") }
                    return Encoder(config: ec, initializerRange: Float(cfg.initializerRange ?? 0.02), mlmHead: mlm)
                }
                return try Encoder(checkpoint: try Checkpoint(path: model))
            }
            guard seq <= encoder.config.maxPositions else {
                throw ValidationError("--seq \(seq) exceeds max_position_embeddings \(encoder.config.maxPositions)")
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
            let s = Double(best.components.seconds) + Double(best.components.attoseconds) / 1e18
            let tps = Double(batch * seq) / s
            let gflops = encoder.flops(batch: batch, length: seq) / s / 1e9
            if json {
                print(JSONValue.object(JSONObject([("tokens_per_s", .number(JSONNumber(tps))), ("gflop_per_s", .number(JSONNumber(gflops)))])).serialized())
            } else {
                print("\(batch)×\(seq) tokens: \(Int(tps)) tokens/s, \(Int(gflops)) GFLOP/s (best of \(iterations), \(threads ?? cores) threads)")
            }
        }
    }
}
