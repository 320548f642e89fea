#if canImport(Glibc)
import Glibc
#endif

/// Global heap collections (HDF5 spec III.E), where variable-length strings —
/// the attributes h5py and ckpt write — live. libhdf5 walks a collection's
/// objects by their sizes; a free-space object of size 0 makes that walk stand
/// still forever, and a size past the collection's end walks out of it.
///
/// Every collection in the file is found by its signature (`GCOL`, version 1,
/// three zero bytes: eight bytes random tensor data matches with odds of
/// 2⁻⁶⁴ per position) and walked as `H5HG__cache_heap_deserialize` walks it;
/// `record` receives each collection's file offset and its objects' sizes by
/// index (8-byte lengths, the only ones HDF5Sanitizer accepts).
///
/// - Throws: `HDF5StoreError.corrupt` naming the file and the collection's offset.
func checkGlobalHeaps(_ bytes: UnsafeRawBufferPointer, path: String, record: (Int, [Int: UInt64]) -> Void) throws {
    let n = bytes.count
    guard n >= 8 else { return }
    func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func length(_ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(bytes[at + i]) }
        return v
    }
    let header = 16                                 // signature, version, reserved, collection size
    let objectHeader = 16                           // index, references, reserved, object size
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
        var objects: [Int: UInt64] = [:]
        var p = at + header
        while p < end {
            if p + objectHeader > end { break }     // a tail too small for an object: free space
            let index = u16(p)
            let objectSize = length(p + 8)
            let need: UInt64
            if index > 0 {
                guard objectSize <= UInt64(end - p) else { throw refuse("object \(index) overruns the collection") }
                guard objects.updateValue(objectSize, forKey: index) == nil else { throw refuse("object \(index) appears twice") }
                need = UInt64(objectHeader) + (objectSize + 7) / 8 * 8
            } else {
                need = objectSize                   // free space: the rest of the collection
            }
            guard need > 0, need <= UInt64(end - p) else {
                throw refuse(index == 0 ? "its free space has size \(objectSize)" : "object \(index) overruns the collection")
            }
            p += Int(need)
        }
        record(at, objects)
        at += 8
    }
}
