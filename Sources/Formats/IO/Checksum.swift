// Checksum — XXH64 over streamed bytes (C implementation in CShims).

import CShims

/// XXH64, fed in pieces: the digest equals the digest of the pieces end to end.
public struct Checksum64 {
    private var state = ckpt_xxh64_state()

    public init(seed: UInt64 = 0) { ckpt_xxh64_reset(&state, seed) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        ckpt_xxh64_update(&state, base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// Adds a string's UTF-8 bytes and its length (so ("ab","c") ≠ ("a","bc")).
    public mutating func update(_ s: String) { update(Array(s.utf8)); update(s.utf8.count) }

    /// Adds an integer as 8 little-endian bytes.
    public mutating func update(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { update($0) } }

    public var value: UInt64 { withUnsafePointer(to: state) { ckpt_xxh64_digest($0) } }

    /// The digest as 16 lowercase hex digits.
    public var hex: String { let s = String(value, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
}

/// The XXH64 of a whole file, read in blocks (the file is never held in memory).
public func fileChecksum(_ path: String, seed: UInt64 = 0) throws -> (checksum: UInt64, size: Int) {
    let fd = try openRegularFile(path)
    defer { close(fd) }
    var sum = Checksum64(seed: seed)
    var buffer = [UInt8](repeating: 0, count: 4 << 20)
    var offset = 0
    while true {
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(offset)) }
        if n < 0 { if errno == EINTR { continue }; throw FileError.current(path, "read") }
        if n == 0 { break }
        buffer.withUnsafeBytes { sum.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        offset += n
    }
    return (sum.value, offset)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
