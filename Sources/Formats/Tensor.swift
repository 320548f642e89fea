// Tensors: their description (`TensorInfo`), their bytes (`TensorData`) and the
// stores that hold them (`TensorStore`).

/// Name, element type and shape of a stored tensor.
public struct TensorInfo: Sendable, Hashable {
    /// The Hugging Face parameter name (`bert.embeddings.word_embeddings.weight`).
    public let name: String
    /// The element type as stored.
    public let dtype: DType
    /// The dimensions; `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements (1 for a scalar).
    public let elementCount: Int
    /// Bytes the tensor occupies: `elementCount × dtype.size`.
    public let byteCount: Int

    /// The most elements a tensor may have (2^56): any tensor's bytes in any
    /// type then fit in `Int` with room to spare.
    public static let maxElementCount = 1 << 56

    /// Describes a tensor, checking that its size is representable.
    ///
    /// - Returns: `nil` when a dimension is negative or the tensor has more than
    ///   `maxElementCount` elements.
    public init?(name: String, dtype: DType, shape: [Int]) {
        var count = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o, p <= TensorInfo.maxElementCount else { return nil }
            count = p
        }
        let (bytes, o) = count.multipliedReportingOverflow(by: dtype.size)
        guard !o else { return nil }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.elementCount = count
        self.byteCount = bytes
    }

    /// The same tensor stored as another element type.
    public func with(dtype newType: DType) -> TensorInfo {
        TensorInfo(name: name, dtype: newType, shape: shape)!  // count ≤ 2^56, so any element size fits
    }

    /// The same tensor under another name.
    public func renamed(_ newName: String) -> TensorInfo {
        TensorInfo(name: newName, dtype: dtype, shape: shape)!
    }

    /// `[2, 3]`-style shape text.
    public var shapeText: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

/// The sum of non-negative sizes, `Int.max` if it overflows (sizes declared
/// by a hostile file may add up past 2^63).
public func saturatingSum(_ values: [Int]) -> Int {
    var total = 0
    for v in values {
        let (s, o) = total.addingReportingOverflow(v)
        if o { return Int.max }
        total = s
    }
    return total
}

/// Heap memory owned by a `TensorData`.
final class OwnedBuffer: @unchecked Sendable {
    let memory: UnsafeMutableRawBufferPointer
    init(count: Int) {
        memory = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
    }
    deinit { memory.deallocate() }
}

/// The bytes of one tensor, little-endian, in its stored type: either a view
/// into a memory-mapped file or memory of its own. Keeps what it points into
/// alive.
public struct TensorData: @unchecked Sendable {
    /// What the bytes are.
    public let info: TensorInfo
    /// The bytes (`info.byteCount` of them). Valid only while this value is
    /// alive: outside Formats, read them through `withUnsafeBytes`.
    let bytes: UnsafeRawBufferPointer
    /// The mapped file the bytes are a view of, if any.
    public let file: MappedFile?
    /// Offset of the bytes in `file`.
    public let fileOffset: Int
    private let owner: AnyObject?

    /// A view of `count` bytes at `offset` in a mapped file.
    init(info: TensorInfo, file: MappedFile, offset: Int) {
        self.info = info
        self.file = file
        self.fileOffset = offset
        self.owner = file
        if info.byteCount == 0 {
            self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        } else {
            self.bytes = UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + info.byteCount)])
        }
    }

    /// Tensor data in memory of its own; `fill` writes the bytes.
    public init(info: TensorInfo, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let buffer = OwnedBuffer(count: info.byteCount)
        let view = UnsafeMutableRawBufferPointer(rebasing: buffer.memory[0..<info.byteCount])
        try fill(view)
        self.info = info
        self.file = nil
        self.fileOffset = 0
        self.owner = buffer
        self.bytes = UnsafeRawBufferPointer(view)
    }

    /// Tensor data copied from an array of bytes.
    public init(info: TensorInfo, copying source: [UInt8]) {
        precondition(source.count == info.byteCount, "byte count must match the tensor's size")
        self.init(info: info) { dst in
            source.withUnsafeBytes { if $0.count > 0 { dst.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        }
    }

    /// Calls `body` with the tensor's bytes, keeping them alive for the call.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(bytes) }
    }

    /// A copy of the tensor's bytes.
    public var byteArray: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The elements converted to `dtype` (F64/F32/F16/BF16 only; the same type
    /// gives a copy).
    ///
    /// - Throws: `CastError` when either type is not a float type.
    public func converted(to dtype: DType) throws -> TensorData {
        if dtype == info.dtype { return self }
        let target = info.with(dtype: dtype)
        return try TensorData(info: target) { dst in
            try castElements(bytes, from: info.dtype, into: dst, to: dtype)
        }
    }

    /// The elements as `Float` (F64/F32/F16/BF16 tensors).
    ///
    /// - Throws: `CastError` for other types.
    public func floats() throws -> [Float] {
        let wide = try converted(to: .f32)
        return wide.withUnsafeBytes { raw in
            (0..<wide.info.elementCount).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }

    /// Whether two tensors hold the same type, shape and bytes.
    public func sameContents(as other: TensorData) -> Bool {
        guard info.dtype == other.info.dtype, info.shape == other.info.shape else { return false }
        if bytes.count == 0 { return true }
        return memcmp(bytes.baseAddress!, other.bytes.baseAddress!, bytes.count) == 0
    }

    /// Drops the view's pages from this process's resident set (the tensor can
    /// still be read; it is paged in again).
    public func releasePages() {
        file?.release(offset: fileOffset, count: info.byteCount)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Something that holds named tensors: a safetensors file, a set of shards, an
/// HDF5 store.
public protocol TensorStore: AnyObject {
    /// The file or directory the tensors come from.
    var path: String { get }
    /// The tensors, in the store's own order.
    var tensors: [TensorInfo] { get }
    /// The bytes of one tensor.
    ///
    /// - Throws: a format error naming the file and tensor when it cannot be read.
    func data(_ name: String) throws -> TensorData
}
