// `--threads`, as the bench commands and the text commands take it.

import ArgumentParser
import Model
#if canImport(Glibc)
import Glibc
#endif

struct ThreadOption: ParsableArguments {
    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if let t = threads, t < 1 || t > 4096 { throw ValidationError("--threads must be between 1 and 4096") }
    }

    /// The thread count to use.
    var count: Int { threads ?? max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

/// A duration in seconds.
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

extension Precision: ExpressibleByArgument {}

/// `--precision`, as the commands that run the model take it.
struct PrecisionOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Precision of the matrix products: fp32 (the reference), or bf16 on CPUs with AVX512_BF16 (operands in bfloat16, sums, weights and everything else in float).",
        valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    func validate() throws {
        guard precision.isSupported else {
            throw ValidationError("--precision bf16 needs a CPU with AVX512_BF16; this one lacks it (use fp32)")
        }
    }
}
