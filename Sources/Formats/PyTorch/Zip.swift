// ZipArchive — the stored (uncompressed) zip archives `torch.save` writes,
// read from a memory map with every offset checked.

/// A zip archive's entries.
struct ZipArchive {
    struct Entry {
        let name: String
        /// Offset of the entry's bytes in the file.
        let offset: Int
        let size: Int
    }

    let entries: [Entry]

    /// Parses the central directory of `bytes` (the file at `path`).
    ///
    /// - Throws: `PyTorchError.zip` naming what is wrong.
    init(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        func fail(_ reason: String) -> PyTorchError { .zip(path: path, reason: reason) }
        func u16(_ at: Int) throws -> Int {
            guard at >= 0, at + 2 <= bytes.count else { throw fail("record at byte \(at) runs past the end of the file") }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8
        }
        func u32(_ at: Int) throws -> Int {
            let lo = try u16(at), hi = try u16(at + 2)
            return lo | hi << 16
        }
        func u64(_ at: Int) throws -> Int {
            let lo = try u32(at), hi = try u32(at + 4)
            guard hi < 1 << 30 else { throw fail("64-bit field at byte \(at) is too large") }
            return lo | hi << 32
        }
        // End of central directory: the last signature within the final 64 KiB + 22 bytes.
        var eocd = -1
        var i = bytes.count - 22
        let floor = max(0, bytes.count - 22 - 65_535)
        while i >= floor {
            if bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 { eocd = i; break }
            i -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record") }
        var count = try u16(eocd + 10)
        var cdSize = try u32(eocd + 12)
        var cdOffset = try u32(eocd + 16)
        if count == 0xFFFF || cdOffset == 0xFFFF_FFFF || cdSize == 0xFFFF_FFFF {
            // Zip64: locator just before the record.
            let loc = eocd - 20
            guard loc >= 0, try u32(loc) == 0x0706_4B50 else { throw fail("zip64 locator missing") }
            let rec = try u64(loc + 8)
            guard try u32(rec) == 0x0606_4B50 else { throw fail("zip64 end-of-central-directory record missing") }
            count = try u64(rec + 32)
            cdSize = try u64(rec + 40)
            cdOffset = try u64(rec + 48)
        }
        guard cdOffset <= bytes.count, cdSize <= bytes.count - cdOffset else {
            throw fail("central directory at \(cdOffset) (\(cdSize) bytes) lies outside the file (\(bytes.count) bytes)")
        }
        guard count <= cdSize / 46 + 1 else { throw fail("\(count) entries cannot fit a \(cdSize)-byte central directory") }
        var entries: [Entry] = []
        var p = cdOffset
        for _ in 0..<count {
            guard try u32(p) == 0x0201_4B50 else { throw fail("bad central directory entry at byte \(p)") }
            let method = try u16(p + 10)
            var size = try u32(p + 20)
            let uncompressed = try u32(p + 24)
            let nameLen = try u16(p + 28), extraLen = try u16(p + 30), commentLen = try u16(p + 32)
            var local = try u32(p + 42)
            guard p + 46 + nameLen <= bytes.count else { throw fail("entry name at byte \(p) runs past the end") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLen)], as: UTF8.self)
            // Zip64 extra field: 8-byte sizes/offset for the fields set to 0xFFFFFFFF.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try u16(e), len = try u16(e + 2)
                if id == 1 {
                    var f = e + 4
                    if uncompressed == 0xFFFF_FFFF { f += 8 }
                    if size == 0xFFFF_FFFF { size = try u64(f); f += 8 }
                    if local == 0xFFFF_FFFF { local = try u64(f) }
                }
                e += 4 + len
            }
            guard method == 0 else { throw fail("entry \(name) is compressed (method \(method)); PyTorch archives are stored") }
            guard try u32(local) == 0x0403_4B50 else { throw fail("entry \(name): no local header at byte \(local)") }
            let localName = try u16(local + 26), localExtra = try u16(local + 28)
            let data = local + 30 + localName + localExtra
            guard data <= bytes.count, size <= bytes.count - data else {
                throw fail("entry \(name): \(size) bytes at \(data) run past the end of the file")
            }
            entries.append(Entry(name: name, offset: data, size: size))
            p += 46 + nameLen + extraLen + commentLen
        }
        self.entries = entries
    }
}
