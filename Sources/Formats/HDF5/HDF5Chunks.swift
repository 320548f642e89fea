// HDF5Chunks — the checks on a chunked dataset's chunks: where the B-tree
// says they lie, and what libhdf5's filters will return for each (fuzzing
// findings 8 and 9, docs/fuzzing.md). Part of HDF5Sanitizer's walk.

extension HDF5Sanitizer {
    /// A chunked dataset's B-tree: each leaf key gives a chunk's stored
    /// size, filter mask and element offsets. libhdf5 sizes a chunk's buffer
    /// by what its filters return and then copies a whole chunk out of it, so
    /// every chunk must unfilter to exactly `chunkBytes` (fuzzing finding 8:
    /// a chunk dimension raised from 8 to 93 had it copy 80 bytes out of 16).
    /// Offsets are whole chunks inside the extent, each chunk listed once.
    mutating func chunkTree(_ root: UInt64, chunkDims: ArraySlice<Int>, extent: [Int], chunkBytes: Int, filters: [Int]) throws {
        guard root != hdf5Undefined else { return }                 // nothing written yet
        let keySize = 16 + 8 * chunkDims.count
        let nodeSize = 24 + 2 * chunkK * 8 + (2 * chunkK + 1) * keySize
        var stored = 0, mask: UInt32 = 0, offsets: [UInt64] = []
        var chunks = Set<[UInt64]>()
        let header = context
        try btreeNodes(root, type: 1, nodeSize: nodeSize, keySize: keySize, maxEntries: 2 * chunkK) { s, key, child, level in
            if var k = key {
                stored = try k.u32("chunk size")
                mask = UInt32(try k.u32("chunk filter mask"))
                offsets = try (0...chunkDims.count).map { _ in try k.u64("chunk offset") }
            }
            guard let child, level == 0 else { return }
            s.context = "\(header), the chunk at element offsets \(offsets.dropLast())"
            for (d, (o, c)) in zip(extent, zip(offsets, chunkDims)) where o % UInt64(c) != 0 || o >= UInt64(d) {
                throw HDF5Malformed("offset \(o) is not a whole chunk of \(c) inside the extent \(d)")
            }
            guard offsets.last == 0 else { throw HDF5Malformed("its element-size offset is \(offsets.last!), not 0") }
            guard chunks.insert(offsets).inserted else { throw HDF5Malformed("two chunks at these offsets") }
            guard stored <= chunkBytes + chunkBytes / 8 + 4096 else {
                throw HDF5Malformed("a chunk stored in \(stored) bytes for \(chunkBytes) bytes of data")
            }
            let at = try s.absolute(child, stored, "a chunk")
            guard try s.visit(at, as: .chunk, size: stored) else { throw HDF5Malformed("a chunk's bytes listed twice") }
            let size = try s.unfilteredSize(at: at, stored: stored, mask: mask, filters: filters, limit: chunkBytes)
            guard size == chunkBytes else {
                throw HDF5Malformed("its \(stored) stored bytes unfilter to \(size) bytes, not the chunk's \(chunkBytes)")
            }
        }
        context = header
    }

    /// What libhdf5's filters return for a chunk: they run in reverse, skipping
    /// those set in `mask`. fletcher32 drops its 4-byte checksum (libhdf5
    /// checks it), shuffle keeps the size, and deflate's output is measured by
    /// inflating (`filterPipeline` ensures no shuffle precedes it in reverse,
    /// so its input is the stored bytes' head). -1 for a stream libhdf5 cannot
    /// inflate or that outgrows `limit`.
    mutating func unfilteredSize(at: Int, stored: Int, mask: UInt32, filters: [Int], limit: Int) throws -> Int {
        var size = stored
        for (i, id) in filters.enumerated().reversed() where i >= 32 || mask & (1 << UInt32(i)) == 0 {
            switch id {
            case 3:
                guard size >= 4 else { throw HDF5Malformed("\(size) bytes are too few for a fletcher32 checksum") }
                size -= 4
            case 1:
                guard inflateBudget >= limit else {
                    throw HDF5Malformed("its chunks inflate to more than 1,100 × the file's size")
                }
                inflateBudget -= limit
                size = inflatedLength(UnsafeRawBufferPointer(rebasing: bytes[at..<at + size]), limit: limit + 8) ?? -1
                guard size >= 0 else { throw HDF5Malformed("its deflate stream does not inflate to at most \(limit) bytes") }
            default: break
            }
        }
        return size
    }
}
