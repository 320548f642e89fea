// ckpt convert — between safetensors (single or sharded) and ckpt-hdf5, with
// dtype casts.

import ArgumentParser
import Convert
import Formats

extension ConvertOptions.Target: ExpressibleByArgument {}

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a checkpoint to safetensors (file or sharded directory) or a ckpt-hdf5 store.",
        discussion: """
            The destination's format comes from --to, else from its extension: .safetensors \
            is one file, .h5/.hdf5 a ckpt-hdf5 store, anything else a model directory \
            (safetensors, with the config and tokenizer files). Tied copies of a weight are \
            written once. Nothing appears under the destination name until it is complete.
            """)

    @Argument(help: "The source: a weights file or a model directory.")
    var source: String

    @Argument(help: "The destination file or directory.")
    var destination: String

    @Option(help: "Output format: safetensors or hdf5.")
    var to: ConvertOptions.Target?

    @Option(help: "Floating-point storage type: keep, f32, f16, bf16 (integer tensors are kept).")
    var dtype: String = "keep"

    @Option(help: "Split safetensors output into shards of at most this size (e.g. 2GB, 500MB, 5GiB).")
    var shardSize: String?

    @Flag(help: "Replace an existing destination.")
    var force = false

    func validate() throws {
        if dtype != "keep" {
            guard let d = DType(name: dtype), d.isCastableFloat else {
                throw ValidationError("--dtype must be keep, f32, f16, bf16 or f64, not '\(dtype)'")
            }
        }
        if let s = shardSize {
            guard let n = parseByteSize(s), n > 0 else {
                throw ValidationError("--shard-size '\(s)' is not a size like 2GB, 500MB or 5GiB")
            }
        }
    }

    func run() throws {
        let options = ConvertOptions(
            target: to, dtype: dtype == "keep" ? nil : DType(name: dtype),
            shardSize: shardSize.flatMap(parseByteSize), overwrite: force, createdBy: "ckpt \(ckptVersion)")
        let report = try reportingErrors {
            let ckpt = try Checkpoint(path: source)
            let bar = ProgressLine()
            defer { bar.finish() }
            return try Converter.convert(ckpt, to: destination, options: options) { i, n, t in
                bar.show("[\(i)/\(n)] \(t.name)")
            }
        }
        var line = "wrote \(destination): \(report.tensorCount) tensors, \(grouped(report.tensorBytes)) bytes"
        if report.castCount > 0, let d = options.dtype { line += ", \(report.castCount) cast to \(d.rawValue)" }
        print(printable(line))
        for t in report.droppedTies {
            print("  tied: \(t.alias) is \(t.target); written once")
        }
        if !report.filesNotCarried.isEmpty {
            print("  note: a .safetensors file holds tensors only; not carried: \(report.filesNotCarried.joined(separator: ", "))")
        }
    }
}
