// Converter — `ckpt convert`: any checkpoint ckpt reads to safetensors (one file
// or a sharded directory) or a ckpt-hdf5 store, tensor by tensor.

import Formats

/// Where and how a conversion writes.
public struct ConvertOptions: Sendable {
    /// The output container.
    public enum Target: String, Sendable, CaseIterable {
        case safetensors
        case hdf5
    }

    /// `nil`: from the destination's extension (`.h5`/`.hdf5` → HDF5, anything
    /// else → safetensors).
    public var target: Target?
    /// Cast floating-point tensors (F64/F32/F16/BF16) to this type; `nil` keeps
    /// every tensor's type. Integer and boolean tensors are never cast.
    public var dtype: DType?
    /// Split safetensors output into shards of at most this many bytes.
    public var shardSize: Int?
    /// Replace an existing destination.
    public var overwrite: Bool
    /// The `created_by` attribute of HDF5 output.
    public var createdBy: String

    public init(target: Target? = nil, dtype: DType? = nil, shardSize: Int? = nil, overwrite: Bool = false,
                createdBy: String = "ckpt") {
        self.target = target
        self.dtype = dtype
        self.shardSize = shardSize
        self.overwrite = overwrite
        self.createdBy = createdBy
    }
}

/// What a conversion wrote.
public struct ConvertReport: Sendable {
    /// The files written (weights, index, config, tokenizer files).
    public var outputs: [String] = []
    /// Tensors written.
    public var tensorCount = 0
    /// Tensor bytes written.
    public var tensorBytes = 0
    /// Tensors whose type was changed.
    public var castCount = 0
    /// Stored aliases left out because they are tied to a tensor that is written.
    public var droppedTies: [TiedWeight] = []
    /// Files of the source that a single-file destination cannot carry.
    public var filesNotCarried: [String] = []
}

/// A destination that cannot be written as asked.
public struct ConvertError: Error, Equatable, CustomStringConvertible {
    /// The destination path.
    public let path: String
    /// What is wrong.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Converts checkpoints between formats.
public enum Converter {
    /// Writes `source` to `destination`.
    ///
    /// The destination is a `.safetensors` file, a `.h5`/`.hdf5` store, or (no
    /// such extension, or `shardSize` given) a model directory holding
    /// `model.safetensors` or its shards plus the config and tokenizer files.
    /// Tensors are streamed one at a time; nothing appears under the destination
    /// name until it is complete.
    ///
    /// - Parameter progress: called before each tensor is written with its
    ///   1-based position, the total, and the tensor.
    /// - Throws: `ConvertError` for an impossible request, and the formats' errors.
    public static func convert(_ source: Checkpoint, to destination: String, options: ConvertOptions,
                               progress: ((Int, Int, TensorInfo) -> Void)? = nil) throws -> ConvertReport {
        let dst = FileSystem.normalized(destination)
        let ext = extensionOf(dst)
        let target = options.target ?? ((ext == "h5" || ext == "hdf5") ? .hdf5 : .safetensors)
        if options.shardSize != nil && target == .hdf5 {
            throw ConvertError(path: dst, reason: "--shard-size applies to safetensors output only")
        }
        if let s = options.shardSize, s <= 0 {
            throw ConvertError(path: dst, reason: "shard size must be positive")
        }
        if let d = options.dtype, !d.isCastableFloat {
            throw ConvertError(path: dst, reason: "--dtype must be a float type (f32, f16, bf16, f64), not \(d.rawValue)")
        }
        if FileSystem.isDirectory(dst) && target == .hdf5 {
            throw ConvertError(path: dst, reason: "is a directory; an HDF5 destination is a file (e.g. \(dst)/model.h5)")
        }
        if options.overwrite && FileSystem.isDirectory(dst) {
            try checkReplaceable(dst, source: source.path)
        }

        // What to write: stored tensors minus tied copies, in the chosen types.
        var report = ConvertReport()
        let dropped = Set(source.ties.filter(\.aliasStored).map(\.alias))
        report.droppedTies = source.ties.filter(\.aliasStored)
        var plan: [TensorInfo] = []
        for t in source.tensors where !dropped.contains(t.name) {
            if let d = options.dtype, t.dtype.isCastableFloat, t.dtype != d {
                plan.append(t.with(dtype: d))
                report.castCount += 1
            } else {
                plan.append(t)
            }
        }
        report.tensorCount = plan.count
        report.tensorBytes = saturatingSum(plan.map(\.byteCount))

        var files = source.files
        if options.dtype != nil, var cfg = source.config {
            cfg.setStorageDType(options.dtype!)
            files = files.map { $0.name == "config.json" ? ($0.name, cfg.serialized()) : $0 }
        }
        var done = 0
        let total = plan.count
        let fetch: (TensorInfo) throws -> TensorData = { info in
            done += 1
            progress?(done, total, info)
            return try source.data(info.name)
        }

        report.outputs = try write(plan, files: files, metadata: source.metadata, to: dst, target: target, options: options,
                                   source: fetch)
        if target == .safetensors && ext == "safetensors" && options.shardSize == nil { report.filesNotCarried = files.map(\.name) }
        return report
    }

    /// Writes `plan` (tensors from `source`) and `files` as `target` at `dst`:
    /// a store, a single safetensors file, or a model directory.
    static func write(_ plan: [TensorInfo], files: [(name: String, bytes: [UInt8])], metadata: [String: String]?, to dst: String,
                      target: ConvertOptions.Target, options: ConvertOptions,
                      source fetch: (TensorInfo) throws -> TensorData) throws -> [String] {
        let ext = extensionOf(dst)
        switch target {
        case .hdf5:
            try HDF5StoreWriter.write(plan, files: files, to: dst, createdBy: options.createdBy,
                                      overwrite: options.overwrite, source: fetch)
            return [dst]
        case .safetensors:
            let asFile = ext == "safetensors" && options.shardSize == nil
            let metadata = mergedMetadata(metadata)
            if asFile {
                try SafeTensorsWriter.write(plan, metadata: metadata, to: dst, overwrite: options.overwrite, source: fetch)
                return [dst]
            }
            if ext == "safetensors" {
                throw ConvertError(path: dst, reason: "sharded output is a directory; give a destination without the .safetensors extension")
            }
            return try writeDirectory(plan, files: files, metadata: metadata, to: dst,
                                      shardSize: options.shardSize, overwrite: options.overwrite, source: fetch)
        }
    }

    /// Writes a model directory: weights (one file or shards + index) and files.
    static func writeDirectory(_ plan: [TensorInfo], files: [(name: String, bytes: [UInt8])], metadata: [String: String],
                               to dst: String, shardSize: Int?, overwrite: Bool,
                               source: (TensorInfo) throws -> TensorData) throws -> [String] {
        let dir = try AtomicDirectory(path: dst, overwrite: overwrite)
        var written: [String] = []
        let shards = ShardPlan(tensors: plan, maxShardSize: shardSize ?? Int.max)
        for (i, shard) in shards.shards.enumerated() {
            let name = shards.fileName(i)
            try SafeTensorsWriter.write(shard, metadata: metadata, to: dir.file(name), source: source)
            written.append(name)
        }
        if shards.shards.isEmpty {
            try SafeTensorsWriter.write([], metadata: metadata, to: dir.file("model.safetensors"), source: source)
            written.append("model.safetensors")
        }
        if shards.shards.count > 1 {
            let params = saturatingSum(plan.map(\.elementCount))
            let extra = JSONObject([("total_parameters", .number(JSONNumber(params)))])
            try dir.writeFile("model.safetensors.index.json", Array(shards.indexJSON(extraMetadata: extra).utf8))
            written.append("model.safetensors.index.json")
        }
        for f in files {
            try dir.writeFile(f.name, f.bytes)
            written.append(f.name)
        }
        try dir.commit()
        return written.map { FileSystem.join(dst, $0) }
    }

    /// `--force` replaces a model directory, nothing else: every entry must be a
    /// weights file or a carried file, and the source must not live inside it.
    static func checkReplaceable(_ dir: String, source: String) throws {
        let src = FileSystem.normalized(source)
        if src == dir || src.hasPrefix(dir + "/") {
            throw ConvertError(path: dir, reason: "holds the source \(src); write the conversion elsewhere")
        }
        for name in try FileSystem.list(dir) {
            let weights = name.hasSuffix(".safetensors") || name.hasSuffix(".safetensors.index.json")
                || name.hasSuffix(".h5") || name.hasSuffix(".hdf5")
            if !(weights || Checkpoint.carriedFileNames.contains(name)) {
                throw ConvertError(path: dir, reason: "is not a model directory (it holds \(name)); refusing to replace it")
            }
        }
    }

    /// The source's safetensors metadata with `format = pt`, which transformers
    /// expects.
    static func mergedMetadata(_ source: [String: String]?) -> [String: String] {
        var m = source ?? [:]
        if m["format"] == nil { m["format"] = "pt" }
        return m
    }

    static func extensionOf(_ path: String) -> String {
        let base = FileSystem.basename(path)
        guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return "" }
        return String(base[base.index(after: dot)...]).lowercased()
    }
}
