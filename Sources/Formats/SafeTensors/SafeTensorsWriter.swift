// SafeTensorsWriter — deterministic safetensors output, byte-identical to the
// reference writer: tensors ordered by dtype (widest first) then name, compact
// JSON header padded with spaces to a multiple of 8.

/// The layout of a safetensors file about to be written.
public struct SafeTensorsLayout: Sendable {
    /// The header JSON, padded with spaces to a multiple of 8 bytes.
    public let header: [UInt8]
    /// The tensors in file order with their offsets from the start of the file.
    public let placements: [(info: TensorInfo, offset: Int)]
    /// Total file size in bytes.
    public let fileSize: Int

    /// Lays out `tensors` with optional metadata for the file at `path`.
    ///
    /// - Throws: `SafeTensorsError.invalidName` for a repeated name or the
    ///   reserved name `__metadata__`.
    public init(tensors: [TensorInfo], metadata: [String: String]? = nil, for path: String = "") throws {
        var seen: Set<String> = []
        for t in tensors {
            guard t.name != "__metadata__" else {
                throw SafeTensorsError.invalidName(path: path, tensor: t.name, reason: "the name is reserved for metadata")
            }
            guard seen.insert(t.name).inserted else {
                throw SafeTensorsError.invalidName(path: path, tensor: t.name, reason: "two tensors have this name")
            }
        }
        let ordered = tensors.sorted { a, b in
            if a.dtype.safetensorsRank != b.dtype.safetensorsRank {
                return a.dtype.safetensorsRank > b.dtype.safetensorsRank
            }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var root = JSONObject()
        if let metadata {
            var m = JSONObject()
            for k in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) { m[k] = .string(metadata[k]!) }
            root["__metadata__"] = .object(m)
        }
        var offset = 0
        var relative: [(TensorInfo, Int)] = []
        for t in ordered {
            root[t.name] = .object(JSONObject([
                ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map { .number(JSONNumber($0)) })),
                ("data_offsets", .array([.number(JSONNumber(offset)), .number(JSONNumber(offset + t.byteCount))])),
            ]))
            relative.append((t, offset))
            offset += t.byteCount
        }
        var header = Array(JSONValue.object(root).serialized().utf8)
        header.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - header.count % 8) % 8))
        let start = 8 + header.count
        self.header = header
        self.placements = relative.map { ($0.0, start + $0.1) }
        self.fileSize = start + offset
    }

    /// The first bytes of the file: the little-endian header length, then the header.
    public var prefix: [UInt8] {
        var out = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        out.append(contentsOf: header)
        return out
    }
}

/// Writes safetensors files atomically.
public enum SafeTensorsWriter {
    /// Writes `tensors` to `path`: the payload of each tensor comes from
    /// `source` (cast on the way when its type differs).
    ///
    /// - Parameters:
    ///   - tensors: what to write, with the types to write them in.
    ///   - source: the bytes of each tensor, by its name in `tensors`.
    ///   - overwrite: replace an existing file.
    /// - Throws: `FileError`, `CastError`, or what `source` throws; the target
    ///   path is untouched when anything fails.
    public static func write(
        _ tensors: [TensorInfo], metadata: [String: String]? = nil, to path: String,
        overwrite: Bool = false, source: (TensorInfo) throws -> TensorData
    ) throws {
        let layout = try SafeTensorsLayout(tensors: tensors, metadata: metadata, for: path)
        let out = try AtomicFile(path: path, overwrite: overwrite)
        try out.write(layout.prefix, at: 0)
        for (info, offset) in layout.placements {
            try writePayload(source(info), as: info.dtype, to: out, at: offset, planned: info)
        }
        try out.truncate(to: layout.fileSize)
        try out.commit()
    }

    /// Writes in-memory tensors to `path`.
    public static func write(_ tensors: [TensorData], metadata: [String: String]? = nil, to path: String,
                             overwrite: Bool = false) throws {
        var byName: [String: TensorData] = [:]
        for t in tensors { byName[t.info.name] = t }
        try write(tensors.map(\.info), metadata: metadata, to: path, overwrite: overwrite) { info in
            guard let t = byName[info.name] else { throw SafeTensorsError.missingTensor(path: path, tensor: info.name) }
            return t
        }
    }
}

/// Writes a tensor's bytes to `out` at `offset` in type `dtype`: an in-kernel
/// copy when the bytes are a file view of the same type, a chunked cast when the
/// types differ. The source's pages are released afterwards.
func writePayload(_ data: TensorData, as dtype: DType, to out: AtomicFile, at offset: Int, planned: TensorInfo) throws {
    guard data.info.shape == planned.shape else {
        throw CastError.shapeMismatch(tensor: planned.name, planned: planned.shape, supplied: data.info.shape)
    }
    defer {
        data.releasePages()
        out.startWriteback(offset: offset, count: data.info.elementCount * dtype.size)
    }
    if dtype == data.info.dtype {
        if let file = data.file {
            try out.copy(from: file, sourceOffset: data.fileOffset, count: data.info.byteCount, to: offset)
        } else {
            try out.write(data.bytes, at: offset)
        }
        return
    }
    let chunkElements = 1 << 20
    let count = data.info.elementCount
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: min(count, chunkElements) * dtype.size + 1, alignment: 64)
    defer { buffer.deallocate() }
    var start = 0
    while start < count {
        let n = min(chunkElements, count - start)
        let src = UnsafeRawBufferPointer(rebasing: data.bytes[(start * data.info.dtype.size)..<((start + n) * data.info.dtype.size)])
        let dst = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<(n * dtype.size)])
        try castElements(src, from: data.info.dtype, into: dst, to: dtype)
        try out.write(UnsafeRawBufferPointer(dst), at: offset + start * dtype.size)
        data.file?.release(offset: data.fileOffset + start * data.info.dtype.size, count: n * data.info.dtype.size)
        start += n
    }
}
