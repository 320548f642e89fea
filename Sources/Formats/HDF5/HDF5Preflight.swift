#if canImport(Glibc)
import Glibc
#endif

// Checks of an HDF5 file's structures that libhdf5 trusts, made before the
// library sees the file. libhdf5 (1.10 in Debian 12) is not written for
// hostile files; where fuzzing showed a structure that makes it loop or read
// out of bounds, the structure is walked here first, the way the library will
// walk it, and a file it would not survive is refused by name.

/// Global heap collections (HDF5 spec III.E), where variable-length strings —
/// the attributes h5py and ckpt write — live. libhdf5 walks a collection's
/// objects by their sizes; a free-space object of size 0 makes that walk stand
/// still forever, and a size past the collection's end walks out of it.
///
/// Every collection in the file is found by its signature (`GCOL`, version 1,
/// three zero bytes: eight bytes random tensor data matches with odds of
/// 2⁻⁶⁴ per position) and walked as `H5HG__cache_heap_deserialize` walks it.
///
/// - Throws: `HDF5StoreError.corrupt` naming the file and the collection's offset.
func checkGlobalHeaps(_ bytes: UnsafeRawBufferPointer, lengthSize: Int, path: String) throws {
    let n = bytes.count
    guard n >= 8, lengthSize == 4 || lengthSize == 8 else { return }
    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func length(_ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<lengthSize).reversed() { v = v << 8 | UInt64(bytes[at + i]) }
        return v
    }
    let header = 8 + lengthSize                     // signature, version, reserved, collection size
    let objectHeader = 8 + lengthSize               // index, references, reserved, object size
    let signature: [UInt8] = [0x47, 0x43, 0x4F, 0x4C, 1, 0, 0, 0]  // "GCOL", version 1, reserved
    let base = bytes.baseAddress!
    var at = 0
    while at + header <= n {
        // The next signature (memchr for its first byte: scanning a large
        // store's tensor bytes is the cost).
        guard let hit = memchr(base + at, 0x47, n - at) else { break }
        at = UnsafeRawPointer(hit) - UnsafeRawPointer(base)
        guard at + header <= n else { break }
        guard (1..<8).allSatisfy({ bytes[at + $0] == signature[$0] }) else { at += 1; continue }
        func refuse(_ reason: String) -> HDF5StoreError {
            .corrupt(path: path, object: "global heap collection at byte \(at)", reason: reason)
        }
        let size = length(at + 8)
        guard size >= UInt64(header), size <= UInt64(n - at) else {
            throw refuse("its size \(size) does not fit in the file")
        }
        let end = at + Int(size)
        var p = at + header
        while p < end {
            if p + objectHeader > end { break }     // a tail too small for an object: free space
            let index = u16(p)
            let objectSize = length(p + 8)
            let need: UInt64
            if index > 0 {
                guard objectSize <= UInt64(end - p) else { throw refuse("object \(index) overruns the collection") }
                need = UInt64(objectHeader) + (objectSize + 7) / 8 * 8
            } else {
                need = objectSize                   // free space: the rest of the collection
            }
            guard need > 0, need <= UInt64(end - p) else {
                throw refuse(index == 0 ? "its free space has size \(objectSize)" : "object \(index) overruns the collection")
            }
            p += Int(need)
        }
        at += 8
    }
}

/// The superblock's "size of lengths" (bytes), or nil when no superblock this
/// reads is found (libhdf5 then judges the file). Like libhdf5, looks for the
/// signature at byte 0, then 512, 1024, 2048, … (after a user block).
func hdf5LengthSize(_ bytes: UnsafeRawBufferPointer) -> Int? {
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    var base = 0
    while base + 16 <= bytes.count {
        if (0..<8).allSatisfy({ bytes[base + $0] == signature[$0] }) {
            switch bytes[base + 8] {
            case 0, 1: return Int(bytes[base + 14])    // v0/v1: size of offsets at 13, of lengths at 14
            case 2, 3: return Int(bytes[base + 10])    // v2/v3: at 9 and 10
            default: return nil
            }
        }
        base = base == 0 ? 512 : base * 2
    }
    return nil
}
