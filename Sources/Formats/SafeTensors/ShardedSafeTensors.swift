// ShardedSafeTensors — `model.safetensors.index.json` plus its shards, read as
// one store; and the shard planner used to write them in the transformers layout.

/// A sharded safetensors checkpoint: an index file mapping each tensor to the
/// shard holding it.
public final class ShardedSafeTensors: TensorStore {
    /// The index file.
    public let path: String
    /// Tensors in shard order, then offset order within each shard.
    public let tensors: [TensorInfo]
    /// The shards, in the order of their file names.
    public let shards: [TensorStore]
    /// `metadata` of the index (e.g. `total_size`), as written.
    public let indexMetadata: JSONObject
    private let shardOf: [String: TensorStore]

    /// Opens an index file and every shard it names (in the index's directory).
    ///
    /// - Throws: `SafeTensorsError.index` for a malformed index,
    ///   `.missingShard` when a shard is absent or invalid, `.shardMismatch` when
    ///   the index and the shards disagree about which tensors exist.
    /// - Parameter openShard: opens one shard (safetensors by default; the
    ///   PyTorch reader for `pytorch_model.bin.index.json`).
    public init(indexPath: String, openShard: (String) throws -> TensorStore = { try SafeTensorsFile(path: $0) }) throws {
        let bytes: [UInt8]
        do { bytes = try readFile(indexPath, limit: 256 << 20) } catch let e as FileError {
            throw SafeTensorsError.index(path: indexPath, reason: e.description)
        }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes, path: indexPath, mode: .strict) } catch let e as JSONError {
            throw SafeTensorsError.index(path: indexPath, reason: e.reason)
        }
        guard let root = json.object else {
            throw SafeTensorsError.index(path: indexPath, reason: "expected a JSON object, found \(json.kindName)")
        }
        guard let mapValue = root["weight_map"] else {
            throw SafeTensorsError.index(path: indexPath, reason: "missing \"weight_map\"")
        }
        guard let map = mapValue.object else {
            throw SafeTensorsError.index(path: indexPath, reason: "\"weight_map\" is a \(mapValue.kindName), not an object")
        }
        var metadata = JSONObject()
        if let m = root["metadata"] {
            guard let o = m.object else {
                throw SafeTensorsError.index(path: indexPath, reason: "\"metadata\" is a \(m.kindName), not an object")
            }
            metadata = o
        }
        var fileOf: [String: String] = [:]
        var fileNames: Set<String> = []
        for (tensor, value) in map {
            guard let file = value.string else {
                throw SafeTensorsError.index(path: indexPath, reason: "shard of '\(tensor)' is a \(value.kindName), not a file name")
            }
            guard !file.isEmpty, !file.contains("/"), file != ".", file != ".." else {
                throw SafeTensorsError.index(path: indexPath, reason: "shard name \"\(file)\" of '\(tensor)' is not a plain file name")
            }
            fileOf[tensor] = file
            fileNames.insert(file)
        }
        let dir = FileSystem.dirname(indexPath)
        var shards: [TensorStore] = []
        var shardByFile: [String: TensorStore] = [:]
        for name in fileNames.sorted() {
            let shardPath = FileSystem.join(dir, name)
            guard FileSystem.exists(shardPath) else {
                throw SafeTensorsError.missingShard(path: indexPath, shard: name, reason: "no such file in \(dir)")
            }
            let shard = try openShard(shardPath)
            shards.append(shard)
            shardByFile[name] = shard
        }
        var tensors: [TensorInfo] = []
        var shardOf: [String: TensorStore] = [:]
        var aliasNames: Set<String> = []
        for shard in shards {
            let shardName = FileSystem.basename(shard.path)
            for t in shard.tensors {
                guard let listed = fileOf[t.name] else {
                    throw SafeTensorsError.shardMismatch(
                        path: indexPath, reason: "tensor '\(t.name)' is in shard \(shardName) but not in the index")
                }
                guard listed == shardName else {
                    throw SafeTensorsError.shardMismatch(
                        path: indexPath, reason: "tensor '\(t.name)' is in shard \(shardName) but the index puts it in \(listed)")
                }
                tensors.append(t)
                shardOf[t.name] = shard
            }
        }
        // Tied names a PyTorch shard stores once are listed by the index too;
        // they are read through the shard that holds them.
        for case let shard as PyTorchFile in shards {
            for v in shard.sharedViews where shardOf[v.alias] == nil { shardOf[v.alias] = shard; aliasNames.insert(v.alias) }
        }
        let aliases = aliasNames
        for (tensor, file) in fileOf where shardOf[tensor] == nil && !aliases.contains(tensor) {
            throw SafeTensorsError.shardMismatch(
                path: indexPath, reason: "the index puts tensor '\(tensor)' in \(file), but that shard does not hold it")
        }
        self.path = indexPath
        self.tensors = tensors
        self.shards = shards
        self.indexMetadata = metadata
        self.shardOf = shardOf
    }

    public func data(_ name: String) throws -> TensorData {
        guard let shard = shardOf[name] else { throw SafeTensorsError.missingTensor(path: path, tensor: name) }
        return try shard.data(name)
    }
}

// MARK: - Writing shards

/// How tensors are split into shard files, as `huggingface_hub` splits a state
/// dict: tensors are taken in order and a new shard starts when the next tensor
/// would push the current one past the limit; a tensor larger than the limit
/// gets a shard of its own.
public struct ShardPlan: Sendable {
    /// The tensors of each shard, in order.
    public let shards: [[TensorInfo]]
    /// Sum of all tensors' byte counts (`metadata.total_size`).
    public let totalSize: Int

    /// Splits `tensors` (in the given order) into shards of at most `maxShardSize` bytes.
    public init(tensors: [TensorInfo], maxShardSize: Int) {
        var shards: [[TensorInfo]] = []
        var current: [TensorInfo] = []
        var currentSize = 0
        var total = 0
        for t in tensors {
            total = total.addingReportingOverflow(t.byteCount).overflow ? Int.max : total + t.byteCount
            if t.byteCount > maxShardSize {
                shards.append([t])
                continue
            }
            let (grown, overflow) = currentSize.addingReportingOverflow(t.byteCount)
            if overflow || grown > maxShardSize {
                shards.append(current)
                current = []
                currentSize = 0
            }
            current.append(t)
            currentSize += t.byteCount
        }
        if !current.isEmpty { shards.append(current) }
        self.shards = shards
        self.totalSize = total
    }

    /// The file name of shard `index` (0-based): `model-00001-of-00003.safetensors`.
    public func fileName(_ index: Int, stem: String = "model") -> String {
        if shards.count <= 1 { return "\(stem).safetensors" }
        return "\(stem)-\(pad5(index + 1))-of-\(pad5(shards.count)).safetensors"
    }

    /// The index file's JSON text, as transformers writes it (sorted keys,
    /// 2-space indent, trailing newline).
    public func indexJSON(stem: String = "model", extraMetadata: JSONObject = JSONObject()) -> String {
        var metadata = extraMetadata
        metadata["total_size"] = .number(JSONNumber(totalSize))
        var map = JSONObject()
        for (i, shard) in shards.enumerated() {
            for t in shard { map[t.name] = .string(fileName(i, stem: stem)) }
        }
        let root = JSONValue.object(JSONObject([("metadata", .object(metadata)), ("weight_map", .object(map))]))
        return root.serialized(indent: 2, sortKeys: true, asciiOnly: true) + "\n"
    }

    private func pad5(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }
}

/// Parses a size such as `2GB`, `500MB`, `5GiB`, `20KB` or `1048576` into bytes.
/// Decimal units (KB, MB, GB, TB) are powers of 1000 and binary units (KiB, MiB,
/// GiB, TiB) powers of 1024, as `huggingface_hub` reads them.
public func parseByteSize(_ text: String) -> Int? {
    let t = text.trimmingSpaces().uppercased()
    let units: [(String, Double)] = [
        ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824), ("TIB", 1_099_511_627_776),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
    ]
    for (suffix, scale) in units where t.hasSuffix(suffix) {
        let number = String(t.dropLast(suffix.count)).trimmingSpaces()
        guard let v = Double(number), v >= 0, v.isFinite else { return nil }
        let bytes = (v * scale).rounded(.down)
        guard bytes < 9e18 else { return nil }
        return Int(bytes)
    }
    guard let v = Int(t), v >= 0 else { return nil }
    return v
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
