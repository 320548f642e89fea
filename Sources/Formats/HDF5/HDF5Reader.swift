// Bounded little-endian reads over a memory-mapped HDF5 file, for the checks
// of HDF5Sanitizer.swift. Every read is checked against the end of the
// structure being read; a read past it throws `HDF5Malformed`.

/// A structure of an HDF5 file that libhdf5 must not be given.
struct HDF5Malformed: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// HDF5's "undefined address" (all bits set).
let hdf5Undefined = UInt64.max

/// A read position inside one structure, `[at, end)` of the file's bytes.
struct HDF5Cursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var at: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        self.bytes = bytes
        self.at = start
        self.end = end
    }

    var remaining: Int { end - at }

    /// Reads an unsigned little-endian integer of `width` bytes (at most 8).
    mutating func uint(_ width: Int, _ what: String) throws -> UInt64 {
        guard width >= 0, width <= 8, width <= end - at else { throw HDF5Malformed("\(what) runs past the end of its structure") }
        var v: UInt64 = 0
        for i in (0..<width).reversed() { v = v << 8 | UInt64(bytes[at + i]) }
        at += width
        return v
    }

    mutating func u8(_ what: String) throws -> Int { Int(try uint(1, what)) }
    mutating func u16(_ what: String) throws -> Int { Int(try uint(2, what)) }
    mutating func u32(_ what: String) throws -> Int { Int(try uint(4, what)) }

    /// An address or length field (ckpt reads files whose offsets and lengths
    /// are 8 bytes, as every HDF5 library writes by default).
    mutating func u64(_ what: String) throws -> UInt64 { try uint(8, what) }

    /// A length that must also fit in the file (and so in an `Int`).
    mutating func length(_ what: String) throws -> Int {
        let v = try u64(what)
        guard v <= UInt64(bytes.count) else { throw HDF5Malformed("\(what) \(v) is larger than the file") }
        return Int(v)
    }

    mutating func skip(_ count: Int, _ what: String) throws {
        guard count >= 0, count <= end - at else { throw HDF5Malformed("\(what) runs past the end of its structure") }
        at += count
    }

    /// Checks that `count` bytes from here hold a NUL (the C string libhdf5
    /// will copy ends inside them), then skips them.
    mutating func terminatedString(_ count: Int, _ what: String) throws {
        guard count >= 1, count <= end - at else { throw HDF5Malformed("\(what) runs past the end of its structure") }
        guard (at..<(at + count)).contains(where: { bytes[$0] == 0 }) else {
            throw HDF5Malformed("\(what) is not NUL-terminated within its \(count) bytes")
        }
        at += count
    }

    /// The bytes `[at, at + count)` as a sub-cursor; this one moves past them.
    mutating func take(_ count: Int, _ what: String) throws -> HDF5Cursor {
        guard count >= 0, count <= end - at else { throw HDF5Malformed("\(what) runs past the end of its structure") }
        defer { at += count }
        return HDF5Cursor(bytes, from: at, to: at + count)
    }

    /// Whether the next bytes are `signature`.
    func starts(with signature: String) -> Bool {
        let s = Array(signature.utf8)
        return s.count <= end - at && s.indices.allSatisfy { bytes[at + $0] == s[$0] }
    }
}

/// `(n + 7) / 8 * 8`: v1 structures pad their parts to 8 bytes.
func hdf5Align8(_ n: Int) -> Int { (n + 7) & ~7 }
