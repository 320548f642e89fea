// SafeTensorsFile — a memory-mapped safetensors file, validated like the
// reference implementation before any tensor is handed out.

/// The largest header accepted, as in the reference implementation.
public let safeTensorsMaxHeaderSize: UInt64 = 100_000_000

/// A validated, memory-mapped safetensors file. Tensor bytes are zero-copy views
/// into the map.
public final class SafeTensorsFile: TensorStore {
    public let path: String
    /// Tensors in the order of their data offsets.
    public let tensors: [TensorInfo]
    /// The `__metadata__` map, if the header has one.
    public let metadata: [String: String]?
    /// Offset of the data section in the file (8 + header length).
    public let dataStart: Int
    let file: MappedFile
    private let offsets: [String: Int]  // name → absolute file offset
    private let infoByName: [String: TensorInfo]

    /// Maps and validates a safetensors file.
    ///
    /// - Throws: `SafeTensorsError` for every malformed header or layout,
    ///   `FileError` when the file cannot be read.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        if isLFSPointer(bytes) { throw SafeTensorsError.lfsPointer(path: path) }
        guard bytes.count >= 8 else { throw SafeTensorsError.truncated(path: path, size: bytes.count) }
        let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n <= safeTensorsMaxHeaderSize else { throw SafeTensorsError.headerTooLarge(path: path, length: n) }
        guard n + 8 <= UInt64(bytes.count) else {
            throw SafeTensorsError.headerPastEnd(path: path, length: n, fileSize: bytes.count)
        }
        let headerEnd = 8 + Int(n)
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd])
        guard validUTF8(header) else { throw SafeTensorsError.headerNotUTF8(path: path) }
        let json: JSONValue
        do {
            json = try JSONParser.parse(header, path: path, mode: .strict)
        } catch let e as JSONError {
            throw SafeTensorsError.headerJSON(path: path, reason: e.reason)
        }
        guard let root = json.object else { throw SafeTensorsError.headerNotObject(path: path) }

        let parsed = try SafeTensorsFile.parseHeader(root, path: path, dataSize: bytes.count - headerEnd)
        self.path = path
        self.file = file
        self.dataStart = headerEnd
        self.metadata = parsed.metadata
        self.tensors = parsed.tensors.map(\.info)
        var offsets: [String: Int] = [:]
        var infos: [String: TensorInfo] = [:]
        for t in parsed.tensors {
            offsets[t.info.name] = headerEnd + Int(t.begin)
            infos[t.info.name] = t.info
        }
        self.offsets = offsets
        self.infoByName = infos
    }

    /// A zero-copy view of one tensor's bytes.
    ///
    /// - Throws: `SafeTensorsError.missingTensor`.
    public func data(_ name: String) throws -> TensorData {
        guard let info = infoByName[name], let offset = offsets[name] else {
            throw SafeTensorsError.missingTensor(path: path, tensor: name)
        }
        return TensorData(info: info, file: file, offset: offset)
    }

    /// The description of one tensor, if present.
    public func info(_ name: String) -> TensorInfo? { infoByName[name] }

    // MARK: - Header validation

    struct Entry {
        let info: TensorInfo
        let begin: UInt64
        let end: UInt64
    }

    static func parseHeader(_ root: JSONObject, path: String, dataSize: Int)
        throws -> (metadata: [String: String]?, tensors: [Entry])
    {
        var metadata: [String: String]? = nil
        var entries: [Entry] = []
        entries.reserveCapacity(root.count)
        for (name, value) in root {
            if name == "__metadata__" {
                guard let obj = value.object else {
                    throw SafeTensorsError.metadata(path: path, reason: "expected an object of strings, found \(value.kindName)")
                }
                var m: [String: String] = [:]
                for (k, v) in obj {
                    guard let s = v.string else {
                        throw SafeTensorsError.metadata(path: path, reason: "value of \"\(k)\" is a \(v.kindName), not a string")
                    }
                    m[k] = s
                }
                metadata = m
                continue
            }
            entries.append(try parseEntry(name, value, path: path))
        }
        // The offsets must tile the data section exactly, in order.
        entries.sort { ($0.begin, $0.end, $0.info.name) < ($1.begin, $1.end, $1.info.name) }
        var expected: UInt64 = 0
        var previous: String? = nil
        for e in entries {
            if e.begin > expected {
                throw SafeTensorsError.gap(path: path, tensor: e.info.name, expectedOffset: expected, offset: e.begin)
            }
            if e.begin < expected {
                throw SafeTensorsError.overlap(path: path, tensor: e.info.name, previous: previous ?? "", offset: e.begin)
            }
            if e.end > UInt64(dataSize) {
                throw SafeTensorsError.dataPastEnd(path: path, tensor: e.info.name, end: e.end, dataSize: dataSize)
            }
            expected = e.end
            if e.end > e.begin { previous = e.info.name }
        }
        if expected != UInt64(dataSize) {
            throw SafeTensorsError.trailingBytes(path: path, dataEnd: expected, dataSize: dataSize)
        }
        return (metadata, entries)
    }

    private static func parseEntry(_ name: String, _ value: JSONValue, path: String) throws -> Entry {
        guard let obj = value.object else {
            throw SafeTensorsError.entry(path: path, tensor: name, reason: "expected an object, found \(value.kindName)")
        }
        guard let dtypeValue = obj["dtype"] else {
            throw SafeTensorsError.entry(path: path, tensor: name, reason: "missing \"dtype\"")
        }
        guard let dtypeName = dtypeValue.string else {
            throw SafeTensorsError.entry(path: path, tensor: name, reason: "\"dtype\" is a \(dtypeValue.kindName), not a string")
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(path: path, tensor: name, dtype: dtypeName)
        }
        let shape = try unsignedList(obj["shape"], field: "shape", name: name, path: path)
        let offsets = try unsignedList(obj["data_offsets"], field: "data_offsets", name: name, path: path)
        guard offsets.count == 2 else {
            throw SafeTensorsError.entry(path: path, tensor: name, reason: "\"data_offsets\" must hold 2 numbers, found \(offsets.count)")
        }
        let shapeText = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        guard shape.allSatisfy({ $0 <= UInt64(Int.max) }),
              let info = TensorInfo(name: name, dtype: dtype, shape: shape.map { Int($0) })
        else { throw SafeTensorsError.shapeOverflow(path: path, tensor: name, shape: shapeText) }
        let (begin, end) = (offsets[0], offsets[1])
        guard end >= begin else {
            throw SafeTensorsError.reversedOffsets(path: path, tensor: name, begin: begin, end: end)
        }
        guard end - begin == UInt64(info.byteCount) else {
            throw SafeTensorsError.sizeMismatch(path: path, tensor: name, expected: info.byteCount, actual: end - begin)
        }
        return Entry(info: info, begin: begin, end: end)
    }

    private static func unsignedList(_ value: JSONValue?, field: String, name: String, path: String) throws -> [UInt64] {
        guard let value else {
            throw SafeTensorsError.entry(path: path, tensor: name, reason: "missing \"\(field)\"")
        }
        guard let items = value.array else {
            throw SafeTensorsError.entry(path: path, tensor: name, reason: "\"\(field)\" is a \(value.kindName), not an array")
        }
        return try items.map { item in
            guard case let .number(n) = item, let v = n.uint64 else {
                throw SafeTensorsError.entry(path: path, tensor: name,
                                             reason: "\"\(field)\" holds \(item.serialized()), not a non-negative integer")
            }
            return v
        }
    }
}

// MARK: - Helpers

/// True when the bytes start like a Git LFS pointer file.
func isLFSPointer(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let prefix = Array("version https://git-lfs".utf8)
    guard bytes.count >= prefix.count, bytes.count < 1024 else { return false }
    for (i, c) in prefix.enumerated() where bytes[i] != c { return false }
    return true
}

/// Strict UTF-8 validation (no overlongs, no surrogates, nothing past U+10FFFF).
func validUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = bytes.count
    while i < n {
        let c = bytes[i]
        if c < 0x80 { i += 1; continue }
        var need = 0
        var minimum: UInt32 = 0
        var scalar: UInt32 = 0
        switch c {
        case 0xC2...0xDF: need = 1; scalar = UInt32(c & 0x1F); minimum = 0x80
        case 0xE0...0xEF: need = 2; scalar = UInt32(c & 0x0F); minimum = 0x800
        case 0xF0...0xF4: need = 3; scalar = UInt32(c & 0x07); minimum = 0x10000
        default: return false
        }
        guard i + need < n else { return false }
        for k in 1...need {
            let d = bytes[i + k]
            guard d & 0xC0 == 0x80 else { return false }
            scalar = scalar << 6 | UInt32(d & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return false }
        i += need + 1
    }
    return true
}
