// SafeTensorsError — every way a safetensors file (or shard set) can be wrong.

/// A safetensors file that cannot be read. Every case names the file; those
/// about one tensor name it too.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible {
    /// The file is shorter than the 8-byte header length.
    case truncated(path: String, size: Int)
    /// The file is a Git LFS pointer, not the weights it points to.
    case lfsPointer(path: String)
    /// The header length is over the 100 MB limit.
    case headerTooLarge(path: String, length: UInt64)
    /// The header length runs past the end of the file.
    case headerPastEnd(path: String, length: UInt64, fileSize: Int)
    /// The header is not valid UTF-8.
    case headerNotUTF8(path: String)
    /// The header is valid JSON but not an object.
    case headerNotObject(path: String)
    /// The header is not valid JSON (duplicate keys included).
    case headerJSON(path: String, reason: String)
    /// `__metadata__` is not an object of strings.
    case metadata(path: String, reason: String)
    /// A tensor entry lacks a field or has one of the wrong kind.
    case entry(path: String, tensor: String, reason: String)
    /// A tensor's dtype is not one ckpt knows.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// A tensor's shape has more than 2^56 elements (or overflows).
    case shapeOverflow(path: String, tensor: String, shape: String)
    /// A tensor's `data_offsets` end before they begin.
    case reversedOffsets(path: String, tensor: String, begin: UInt64, end: UInt64)
    /// A tensor's byte range does not match dtype × shape.
    case sizeMismatch(path: String, tensor: String, expected: Int, actual: UInt64)
    /// Bytes between two tensors (or before the first) belong to none.
    case gap(path: String, tensor: String, expectedOffset: UInt64, offset: UInt64)
    /// Two tensors claim the same bytes.
    case overlap(path: String, tensor: String, previous: String, offset: UInt64)
    /// A tensor's bytes run past the end of the file.
    case dataPastEnd(path: String, tensor: String, end: UInt64, dataSize: Int)
    /// Bytes after the last tensor belong to none.
    case trailingBytes(path: String, dataEnd: UInt64, dataSize: Int)
    /// A tensor name cannot be written (reserved or repeated).
    case invalidName(path: String, tensor: String, reason: String)
    /// A tensor asked for is not in the file.
    case missingTensor(path: String, tensor: String)
    /// `model.safetensors.index.json` is not a valid shard index.
    case index(path: String, reason: String)
    /// A shard named by the index is missing or cannot be opened.
    case missingShard(path: String, shard: String, reason: String)
    /// The index and the shards disagree.
    case shardMismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case let .truncated(p, size):
            return "\(p): not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
        case let .lfsPointer(p):
            return "\(p): this is a Git LFS pointer file, not the weights; fetch the real file (git lfs pull)"
        case let .headerTooLarge(p, n):
            return "\(p): safetensors header length \(n) is over the 100000000-byte limit"
        case let .headerPastEnd(p, n, size):
            return "\(p): safetensors header length \(n) runs past the end of the file (\(size) bytes)"
        case let .headerNotUTF8(p):
            return "\(p): safetensors header is not valid UTF-8"
        case let .headerNotObject(p):
            return "\(p): safetensors header is not a JSON object"
        case let .headerJSON(p, reason):
            return "\(p): safetensors header is not valid JSON: \(reason)"
        case let .metadata(p, reason):
            return "\(p): invalid __metadata__: \(reason)"
        case let .entry(p, t, reason):
            return "\(p): tensor '\(t)': \(reason)"
        case let .unknownDType(p, t, d):
            return "\(p): tensor '\(t)': unknown dtype \"\(d)\""
        case let .shapeOverflow(p, t, shape):
            return "\(p): tensor '\(t)': shape \(shape) is too large (more than 2^56 elements)"
        case let .reversedOffsets(p, t, b, e):
            return "\(p): tensor '\(t)': data_offsets [\(b), \(e)] end before they begin"
        case let .sizeMismatch(p, t, expected, actual):
            return "\(p): tensor '\(t)': data_offsets span \(actual) bytes but dtype × shape needs \(expected)"
        case let .gap(p, t, expected, offset):
            return "\(p): tensor '\(t)' starts at data offset \(offset); bytes \(expected)..<\(offset) belong to no tensor"
        case let .overlap(p, t, prev, offset):
            return "\(p): tensor '\(t)' at data offset \(offset) overlaps tensor '\(prev)'"
        case let .dataPastEnd(p, t, end, size):
            return "\(p): tensor '\(t)' ends at data offset \(end), past the end of the data (\(size) bytes)"
        case let .trailingBytes(p, end, size):
            return "\(p): \(UInt64(size) - end) trailing bytes after the last tensor (data ends at \(end) of \(size))"
        case let .invalidName(p, t, reason):
            return "\(p): cannot write tensor '\(t)': \(reason)"
        case let .missingTensor(p, t):
            return "\(p): no tensor named '\(t)'"
        case let .index(p, reason):
            return "\(p): invalid shard index: \(reason)"
        case let .missingShard(p, shard, reason):
            return "\(p): shard \(shard): \(reason)"
        case let .shardMismatch(p, reason):
            return "\(p): \(reason)"
        }
    }
}
