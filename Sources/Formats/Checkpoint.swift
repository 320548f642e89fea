// Checkpoint — a model's tensors plus its config and tokenizer files, opened
// from a weights file or a Hugging Face model directory, by content.

/// A path ckpt cannot open as a checkpoint.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    /// The file or directory.
    public let path: String
    /// What is wrong.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// What a file's first bytes say it is.
public enum SniffedFormat: String, Sendable {
    case safetensors
    case safetensorsIndex = "safetensors-index"
    case hdf5
    case zip
    case pickle
    case lfsPointer = "git-lfs-pointer"
    case unknown

    /// Looks at a file's first bytes (and size) only.
    public static func of(path: String) throws -> SniffedFormat {
        let head = try FileSystem.head(path, count: 4096)
        return of(head: head, fileSize: try FileSystem.size(path))
    }

    static func of(head: [UInt8], fileSize: Int) -> SniffedFormat {
        // safetensors first: its first bytes are a length, which can look like
        // any other magic number (a 640-byte header starts 0x80 0x02, as a pickle).
        if head.count >= 9 {
            let n = head[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            var i = 8
            while i < head.count, [0x20, 0x0A, 0x0D, 0x09].contains(head[i]) { i += 1 }
            if n <= safeTensorsMaxHeaderSize, n + 8 <= UInt64(fileSize), i < head.count, head[i] == UInt8(ascii: "{") {
                return .safetensors
            }
        }
        let hdf5: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        if head.starts(with: hdf5) { return .hdf5 }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
        if head.count >= 2, head[0] == 0x80, (2...5).contains(head[1]) { return .pickle }
        if head.withUnsafeBytes({ isLFSPointer($0) }) { return .lfsPointer }
        let firstNonSpace = head.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        if firstNonSpace == UInt8(ascii: "{") {
            let text = String(decoding: head, as: UTF8.self)
            if text.contains("\"weight_map\"") { return .safetensorsIndex }
        }
        return .unknown
    }
}

/// Two names for one weight: transformers ties the MLM decoder to the word
/// embeddings (and the decoder bias to the head's bias) and saves only the target.
public struct TiedWeight: Sendable, Equatable {
    /// The name that is (or would be) the copy, e.g. `cls.predictions.decoder.weight`.
    public let alias: String
    /// The name that holds the weight, e.g. `bert.embeddings.word_embeddings.weight`.
    public let target: String
    /// Whether the alias is stored too (with the same bytes) in this checkpoint.
    public let aliasStored: Bool

    public init(alias: String, target: String, aliasStored: Bool) {
        self.alias = alias
        self.target = target
        self.aliasStored = aliasStored
    }
}

/// An open checkpoint.
public final class Checkpoint {
    /// How the tensors are stored.
    public enum Format: String, Sendable {
        case safetensors
        case shardedSafetensors = "safetensors-sharded"
        case hdf5 = "ckpt-hdf5"
        case pytorch = "pytorch"
        case shardedPytorch = "pytorch-sharded"
    }

    /// The path that was opened (file or directory).
    public let path: String
    /// True when `path` is a model directory.
    public let isDirectory: Bool
    /// The storage format of the tensors.
    public let format: Format
    /// The tensor store.
    public let store: TensorStore
    /// Config and tokenizer files carried with the model, sorted by name.
    public let files: [(name: String, bytes: [UInt8])]
    /// The parsed `config.json`, if the checkpoint has one.
    public let config: ModelConfig?
    /// safetensors `__metadata__` of a single-file source.
    public let metadata: [String: String]?
    /// Tied weights (see `TiedWeight`).
    public let ties: [TiedWeight]
    /// What the tokenizer files say, if the checkpoint carries readable ones.
    public let tokenizer: TokenizerSummary?
    /// Inconsistencies found while opening (never fatal), one sentence each.
    public let problems: [String]

    /// The stored tensors, in the store's order.
    public var tensors: [TensorInfo] { store.tensors }
    /// Sum of element counts of the stored tensors (tied weights once).
    public var parameterCount: Int { saturatingSum(tensors.map(\.elementCount)) }
    /// Sum of the stored tensors' byte counts.
    public var tensorBytes: Int { saturatingSum(tensors.map(\.byteCount)) }

    /// The file names carried alongside the weights of a model directory.
    public static let carriedFileNames: Set<String> = [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt",
        "spiece.model", "sentencepiece.bpe.model", "trainer_state.json", "preprocessor_config.json",
    ]

    /// Opens a weights file (safetensors, shard index, ckpt-hdf5 store) or a
    /// model directory, recognising the format by content.
    ///
    /// - Throws: `CheckpointError` for an unrecognised or unsupported path, and
    ///   the format's own errors for malformed files.
    public init(path: String) throws {
        let p = FileSystem.normalized(path)
        guard FileSystem.exists(p) else { throw CheckpointError(path: p, reason: "no such file or directory") }
        self.path = p
        let opened: (Format, TensorStore, [(String, [UInt8])])
        if FileSystem.isDirectory(p) {
            isDirectory = true
            opened = try Checkpoint.openDirectory(p)
        } else {
            isDirectory = false
            opened = try Checkpoint.openFile(p)
        }
        (format, store, files) = opened
        metadata = (store as? SafeTensorsFile)?.metadata

        if let cfg = files.first(where: { $0.name == "config.json" }) {
            config = try ModelConfig(bytes: cfg.bytes, path: FileSystem.join(isDirectory ? p : p + ":/files", "config.json"))
        } else {
            config = nil
        }
        var problems: [String] = []
        var ties = Checkpoint.findTies(store: store, config: config, problems: &problems)
        // PyTorch files store tied weights once, as one view under two names.
        let pytorchFiles = (store as? PyTorchFile).map { [$0] } ?? ((store as? ShardedSafeTensors)?.shards.compactMap { $0 as? PyTorchFile } ?? [])
        for f in pytorchFiles {
            for v in f.sharedViews where !ties.contains(where: { $0.alias == v.alias }) {
                ties.append(TiedWeight(alias: v.alias, target: v.target, aliasStored: false))
            }
        }
        self.ties = ties
        do {
            tokenizer = try TokenizerSummary(files: files, directory: isDirectory ? p : FileSystem.dirname(p))
        } catch {
            // Tokenizer files are carried verbatim; a broken one is reported, not fatal.
            tokenizer = nil
            problems.append("tokenizer files unreadable: \(error)")
        }
        Checkpoint.checkConsistency(store: store, config: config, tokenizer: tokenizer, problems: &problems)
        self.problems = problems
    }

    /// A tensor's bytes as stored.
    public func data(_ name: String) throws -> TensorData { try store.data(name) }

    /// A tensor converted to `dtype` (float types only; other types must match).
    ///
    /// - Throws: the store's errors, or `CastError`.
    public func tensor(_ name: String, as dtype: DType) throws -> TensorData {
        try store.data(name).converted(to: dtype)
    }

    /// The description of a stored tensor.
    public func info(_ name: String) -> TensorInfo? { tensors.first { $0.name == name } }

    // MARK: - Opening

    private static func openFile(_ p: String) throws -> (Format, TensorStore, [(String, [UInt8])]) {
        switch try SniffedFormat.of(path: p) {
        case .safetensors:
            return (.safetensors, try SafeTensorsFile(path: p), [])
        case .safetensorsIndex:
            if p.hasSuffix(".bin.index.json") {
                let store = try ShardedSafeTensors(indexPath: p) { try PyTorchFile(path: $0) }
                return (.shardedPytorch, store, try carriedFiles(in: FileSystem.dirname(p)))
            }
            let store = try ShardedSafeTensors(indexPath: p)
            return (.shardedSafetensors, store, try carriedFiles(in: FileSystem.dirname(p)))
        case .hdf5:
            let store = try HDF5Store(path: p)
            return (.hdf5, store, carried(store.files))
        case .lfsPointer:
            throw SafeTensorsError.lfsPointer(path: p)
        case .zip, .pickle:
            return (.pytorch, try PyTorchFile(path: p), [])
        case .unknown:
            let head = try FileSystem.head(p, count: 64)
            if head.count < 8 { throw SafeTensorsError.truncated(path: p, size: head.count) }
            if head.dropFirst(8).first(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) == UInt8(ascii: "{") {
                // Shaped like safetensors with an impossible header length:
                // let the reader name what is wrong.
                return (.safetensors, try SafeTensorsFile(path: p), [])
            }
            throw CheckpointError(path: p, reason: "unrecognised format: not safetensors, a shard index or a ckpt-hdf5 store")
        }
    }

    private static func openDirectory(_ p: String) throws -> (Format, TensorStore, [(String, [UInt8])]) {
        let names = try FileSystem.list(p)
        let files = try carriedFiles(in: p)
        func pick(_ candidates: [String]) -> String? { candidates.first(where: names.contains) }
        if let index = pick(["model.safetensors.index.json"]) ?? single(names, suffix: ".safetensors.index.json") {
            return (.shardedSafetensors, try ShardedSafeTensors(indexPath: FileSystem.join(p, index)), files)
        }
        if let file = pick(["model.safetensors"]) ?? single(names, suffix: ".safetensors") {
            let fp = FileSystem.join(p, file)
            let sniffed = try SniffedFormat.of(path: fp)
            if sniffed == .lfsPointer { throw SafeTensorsError.lfsPointer(path: fp) }
            return (.safetensors, try SafeTensorsFile(path: fp), files)
        }
        let h5 = names.filter { $0.hasSuffix(".h5") || $0.hasSuffix(".hdf5") }
        if h5.count == 1 {
            let fp = FileSystem.join(p, h5[0])
            let store = try HDF5Store(path: fp)
            // Files beside the store win over the copies inside it.
            var merged = files
            for f in carried(store.files) where !merged.contains(where: { $0.0 == f.0 }) {
                merged.append(f)
            }
            merged.sort { $0.0 < $1.0 }
            return (.hdf5, store, merged)
        }
        if let index = pick(["pytorch_model.bin.index.json"]) ?? single(names, suffix: ".bin.index.json") {
            let store = try ShardedSafeTensors(indexPath: FileSystem.join(p, index)) { try PyTorchFile(path: $0) }
            return (.shardedPytorch, store, files)
        }
        if let file = pick(["pytorch_model.bin"]) ?? single(names, suffix: ".bin") ?? single(names, suffix: ".pt") {
            return (.pytorch, try PyTorchFile(path: FileSystem.join(p, file)), files)
        }
        throw CheckpointError(path: p, reason: "no weights found: expected model.safetensors, model.safetensors.index.json, pytorch_model.bin (or its index) or a ckpt-hdf5 .h5 store")
    }

    private static func single(_ names: [String], suffix: String) -> String? {
        let matches = names.filter { $0.hasSuffix(suffix) && !$0.hasPrefix(".") }
        if suffix == ".safetensors" || suffix == ".bin" {
            // Shards are reached through their index, never picked alone.
            let plain = matches.filter { !$0.contains("-of-") }
            return plain.count == 1 ? plain[0] : nil
        }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The allow-listed files among those a store carries (a store cannot slip
    /// in a weights file or a path under another name).
    static func carried(_ files: [(name: String, bytes: [UInt8])]) -> [(String, [UInt8])] {
        files.filter { carriedFileNames.contains($0.name) }.map { ($0.name, $0.bytes) }
    }

    /// The allow-listed text files of a directory, sorted by name.
    static func carriedFiles(in dir: String) throws -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        for name in try FileSystem.list(dir) where carriedFileNames.contains(name) {
            let fp = FileSystem.join(dir, name)
            guard FileSystem.isFile(fp) else { continue }
            out.append((name, try readFile(fp, limit: 1 << 30)))
        }
        return out
    }

    // MARK: - Ties and consistency

    /// The tie rules of the architectures ckpt knows: alias, target, and a
    /// tensor whose presence shows the model has the head the alias belongs to.
    /// All of them hold only while `tie_word_embeddings` is true (transformers 5
    /// unties the decoder bias along with the weight).
    static let tieRules: [(alias: String, target: String, witness: String)] = [
        ("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight", "cls.predictions.transform.dense.weight"),
        ("cls.predictions.decoder.bias", "cls.predictions.bias", "cls.predictions.transform.dense.weight"),
        ("vocab_projector.weight", "distilbert.embeddings.word_embeddings.weight", "vocab_transform.weight"),
        ("lm_head.decoder.weight", "roberta.embeddings.word_embeddings.weight", "lm_head.dense.weight"),
        ("lm_head.decoder.bias", "lm_head.bias", "lm_head.dense.weight"),
    ]

    static func findTies(store: TensorStore, config: ModelConfig?, problems: inout [String]) -> [TiedWeight] {
        let names = Set(store.tensors.map(\.name))
        var ties: [TiedWeight] = []
        if config?.tieWordEmbeddings == false { return [] }
        for rule in tieRules where names.contains(rule.target) && names.contains(rule.witness) {
            if !names.contains(rule.alias) {
                ties.append(TiedWeight(alias: rule.alias, target: rule.target, aliasStored: false))
                continue
            }
            guard let a = try? store.data(rule.alias), let t = try? store.data(rule.target) else { continue }
            if a.sameContents(as: t) {
                ties.append(TiedWeight(alias: rule.alias, target: rule.target, aliasStored: true))
            } else {
                problems.append("config ties '\(rule.alias)' to '\(rule.target)' (tie_word_embeddings is true) but the stored tensors differ; both are kept")
            }
        }
        return ties
    }

    static func checkConsistency(store: TensorStore, config: ModelConfig?, tokenizer: TokenizerSummary?,
                                 problems: inout [String]) {
        let embedding = store.tensors.first { $0.name.hasSuffix("embeddings.word_embeddings.weight") }
        if let config, let e = embedding, e.shape.count == 2 {
            if let v = config.vocabSize, v != e.shape[0] {
                problems.append("config.vocab_size is \(v) but \(e.name) has \(e.shape[0]) rows")
            }
            if let h = config.hiddenSize, h != e.shape[1] {
                problems.append("config hidden size is \(h) but \(e.name) has \(e.shape[1]) columns")
            }
        }
        if let tok = tokenizer {
            if let e = embedding, e.shape.count == 2, tok.maxID >= e.shape[0] {
                problems.append("the tokenizer produces ids up to \(tok.maxID) but \(e.name) has only \(e.shape[0]) rows")
            }
            for t in tok.missingSpecialTokens {
                problems.append("special token \(JSONValue.string(t).serialized()) is not in the tokenizer's vocabulary")
            }
            if let n = tok.modelMaxLength, let p = config?.maxPositions, n > p, n < 1_000_000 {
                problems.append("tokenizer model_max_length \(n) exceeds max_position_embeddings \(p)")
            }
        }
    }
}
