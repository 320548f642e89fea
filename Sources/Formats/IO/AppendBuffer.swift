// AppendBuffer / SpillFile — sequential writes through a buffer, to a file
// being written atomically, to an anonymous temporary file, or to memory.

import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends bytes to a destination through a 1 MiB buffer, keeping an XXH64
/// of everything appended.
public final class AppendBuffer {
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    /// Bytes appended so far.
    public private(set) var count = 0
    /// The checksum of the bytes appended so far.
    public private(set) var checksum = Checksum64()
    private let flushBody: (UnsafeRawBufferPointer, Int) throws -> Void

    /// - Parameter flush: writes a buffer's bytes at an offset relative to the
    ///   first byte appended.
    public init(capacity: Int = 1 << 20, flush: @escaping (UnsafeRawBufferPointer, Int) throws -> Void) {
        buffer = .allocate(byteCount: max(64, capacity), alignment: 16)
        flushBody = flush
    }

    deinit { buffer.deallocate() }

    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            if used == buffer.count { try flush() }
            let n = min(rest.count, buffer.count - used)
            (buffer.baseAddress! + used).copyMemory(from: rest.baseAddress!, byteCount: n)
            used += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    /// Appends a fixed-width integer, little-endian.
    @inline(__always)
    public func append<T: FixedWidthInteger>(_ value: T) throws {
        let size = MemoryLayout<T>.size
        if buffer.count - used < size { try flush() }
        (buffer.baseAddress! + used).storeBytes(of: value.littleEndian, as: T.self)
        used += size
    }

    /// Writes what is buffered.
    public func flush() throws {
        guard used > 0 else { return }
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<used])
        checksum.update(chunk)
        try flushBody(chunk, count)
        count += used
        used = 0
    }

    /// Bytes appended, buffered ones included.
    public var total: Int { count + used }
}

/// An unnamed temporary file (unlinked at once, so nothing is ever left
/// behind) written through an `AppendBuffer` and read back in order.
public final class SpillFile {
    private let fd: Int32
    private let path: String
    public let writer: AppendBuffer

    /// Creates the file in `directory` (on the same file system as the output).
    public init(directory: String) throws {
        let name = temporarySibling(of: FileSystem.join(directory, "spill"))
        let fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileError.current(name, "create") }
        unlink(name)
        self.fd = fd
        self.path = name
        writer = AppendBuffer { chunk, at in try writeAll(fd: fd, chunk, at: at, path: name) }
    }

    deinit { close(fd) }

    /// Passes the file's bytes, in order, to `body` in chunks.
    public func read(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try writer.flush()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while offset < writer.count {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, min($0.count, writer.count - offset), off_t(offset)) }
            if n < 0 { if errno == EINTR { continue }; throw FileError.current(path, "read") }
            if n == 0 { throw FileError(path: path, operation: "read (file shrank)", code: EIO) }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += n
        }
    }
}
