// ckpt — the command line. Each subcommand's run() opens, calls one library
// function, prints.

import ArgumentParser
import Dispatch
import Formats
import Model

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The version printed by `ckpt --version` and written to `created_by`.
let ckptVersion = "0.1.0"

@main
struct CKPT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt",
        abstract: "Inspect, convert, resize, verify and train BERT-family checkpoints, and train or extend their tokenizers.",
        discussion: """
            Paths are weights files (.safetensors, a shard index, a ckpt-hdf5 .h5 store) \
            or Hugging Face model directories; formats are recognised by content. \
            Exit codes: 0 ok, 1 failure, 64 usage error.
            """,
        version: ckptVersion,
        subcommands: [Inspect.self, Convert.self, ResizeVocab.self, TrimVocab.self, Tokenize.self, TrainTokenizer.self, ExtendTokenizer.self, VerifyCommand.self, Predict.self, TrainCommand.self, Classify.self, EvaluateCommand.self, Embed.self, Bench.self]
    )

    static func main() {
        do {
            _ = try SgemmKernel.requested(by: getenv("CKPT_SGEMM").map { String(cString: $0) })
        } catch {
            printError("ckpt: error: \(error)")
            Self.exit(withError: ExitCode(64))
        }
        removeTemporariesOnInterrupt()
        main(rewritingOptionalValues(Array(CommandLine.arguments.dropFirst())))
    }

    /// `ckpt train --resume DIR`: `--resume` takes an optional value, which
    /// the argument parser cannot express; a following non-option word is
    /// passed as `--resume-from`.
    static func rewritingOptionalValues(_ args: [String]) -> [String] {
        guard args.first == "train" else { return args }
        var out: [String] = []
        var i = 0
        while i < args.count {
            out.append(args[i])
            if args[i] == "--resume", i + 1 < args.count, !args[i + 1].hasPrefix("-") {
                out += ["--resume-from", args[i + 1]]
                i += 1
            }
            i += 1
        }
        return out
    }
}

/// Signal sources kept alive for the life of the process.
nonisolated(unsafe) private var signalSources: [DispatchSourceSignal] = []

/// On SIGINT or SIGTERM, removes the temporary outputs being written, then exits
/// with 128 + the signal number, as a shell reports it. During training the
/// first SIGINT asks the loop to save and stop; under mpirun so do SIGTERM
/// sent to the ranks (a batch scheduler's) and SIGUSR1, which mpirun forwards
/// to every rank. (mpirun's own Ctrl-C tears the job down at once.)
func removeTemporariesOnInterrupt() {
    let underMPI = getenv("OMPI_COMM_WORLD_SIZE") != nil
    for sig in [SIGINT, SIGTERM] + (underMPI ? [SIGUSR1] : []) {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler {
            if (sig == SIGINT || underMPI) && StopFlag.shared.request() {
                if !underMPI {
                    printError("\nckpt: stopping after this step (a checkpoint is saved); Ctrl-C again to abort")
                } else if getenv("OMPI_COMM_WORLD_RANK").map({ String(cString: $0) }) == "0" {
                    printError("\nckpt: stopping after this step on every process (a checkpoint is saved)")
                }
                return
            }
            // Under mpirun, once a stop is requested further signals do not cut the save short.
            if sig == SIGUSR1 || (underMPI && StopFlag.shared.requested) { return }
            removeTemporaryOutputs()
            _exit(128 + sig)
        }
        source.resume()
        signalSources.append(source)
    }
}

/// Prints to standard error.
func printError(_ message: String) {
    var line = message
    if !line.hasSuffix("\n") { line += "\n" }
    _ = line.withCString { write(2, $0, strlen($0)) }
}

/// Runs `body`, turning any library error into one `ckpt: error: …` line on
/// stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        printError("ckpt: error: " + printable("\(error)"))
        throw ExitCode.failure
    }
}

/// Text from a file made safe for a terminal: control characters (escape
/// sequences, carriage returns, newlines inside a name) are shown as `\u{1B}`.
func printable(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
        if u.properties.generalCategory == .control {
            out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return out
}

/// `12345678` → `12,345,678`.
func grouped(_ n: Int) -> String {
    let s = String(n.magnitude)
    var out = ""
    for (i, c) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}

/// `440473133` → `440.5 MB`.
func humanBytes(_ n: Int) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var v = Double(n)
    var u = 0
    while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
    if u == 0 { return "\(n) B" }
    let rounded = (v * 10).rounded() / 10
    return "\(rounded) \(units[u])"
}

/// Pads `s` on the right to `width` characters.
func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// A one-line progress display on stderr, shown only when stderr is a terminal.
final class ProgressLine {
    private let enabled = isatty(2) == 1
    private var shown = false
    /// Whether the line is shown (stderr is a terminal).
    var isTerminal: Bool { enabled }

    /// Replaces the line with `text` (cut to 100 characters).
    func show(_ text: String) {
        guard enabled else { return }
        let safe = printable(text)
        let line = safe.count > 100 ? String(safe.prefix(97)) + "..." : safe
        printRaw("\r\u{1B}[K" + line)
        shown = true
    }

    /// Clears the line.
    func finish() {
        if shown { printRaw("\r\u{1B}[K") }
        shown = false
    }

    private func printRaw(_ s: String) {
        _ = s.withCString { write(2, $0, strlen($0)) }
    }
}
