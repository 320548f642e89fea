// `--threads`, as the bench commands and the text commands take it.

import ArgumentParser
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
