// HDF5Storage — where a dataset's data lies and what libhdf5 will make of it:
// the fill value, layout, filter pipeline and external-file messages, the
// checks across a dataset's messages, and its chunks (where the B-tree says
// they lie, and what the filters return for each: fuzzing findings 8 and 9,
// docs/fuzzing.md). Part of HDF5Sanitizer's walk.

extension HDF5Sanitizer {
    /// Cross-message checks of a dataset's header: the fill value, compact
    /// data, chunk dimensions and filter parameters all match the datatype
    /// and the dataspace, as libhdf5 assumes when it sizes its buffers.
    mutating func dataset(_ s: HDF5HeaderSummary) throws {
        guard let layout = s.layout else { return }
        guard let type = s.type, let space = s.space else {
            throw HDF5Malformed("a dataset without a datatype or a dataspace")
        }
        for size in s.fillSizes where size != 0 && !type.isVariableLength && size != type.size {
            throw HDF5Malformed("the fill value has \(size) bytes for a \(type.size)-byte datatype")
        }
        if !s.filters.isEmpty {
            guard case .chunked = layout else { throw HDF5Malformed("filters on a dataset that is not chunked") }
        }
        for f in s.filters where f.id == 2 && f.values != [type.size] {
            throw HDF5Malformed("the shuffle filter's element size \(f.values) is not the datatype's \(type.size)")
        }
        switch layout {
        case .contiguous: break
        case let .compact(size):
            let expected = (space.elements ?? 0).multipliedReportingOverflow(by: type.size)
            guard !expected.overflow, size == expected.partialValue else {
                throw HDF5Malformed("compact data of \(size) bytes for \(space.elements ?? 0) elements of \(type.size) bytes")
            }
        case let .chunked(dims, btree):
            guard dims.count == space.rank + 1, dims.last == type.size else {
                throw HDF5Malformed("chunks of rank \(dims.count - 1) and element size \(dims.last ?? 0) for a rank-\(space.rank) dataset of \(type.size)-byte elements")
            }
            var bytes = 1
            for d in dims {
                let (p, o) = bytes.multipliedReportingOverflow(by: d)
                guard !o, p <= maxChunkBytes else { throw HDF5Malformed("a chunk of \(dims) is larger than the file can fill") }
                bytes = p
            }
            // libhdf5 reads a dataset with any chunk written by keeping a few
            // kB of state for every chunk of its extent, written or not
            // (1.3 GB for 327,680 chunks of 8 elements).
            var spanned = 1
            for (d, c) in zip(space.dims, dims) {
                spanned = spanned.multipliedReportingOverflow(by: d / c + (d % c == 0 ? 0 : 1)).partialValue
                guard spanned <= chunkSpanBudget else {
                    throw HDF5Malformed("its extent spans more chunks of \(Array(dims.dropLast())) than the \(chunkSpanBudget) left to the store (1 chunk per 64 bytes of the file, or 4,096)")
                }
            }
            chunkSpanBudget -= spanned
            try chunkTree(btree, chunkDims: dims.dropLast(), extent: space.dims, chunkBytes: bytes,
                          filters: s.filters.map(\.id))
        }
    }

    /// The fill value message (versions 1–3): the size of the value it holds.
    mutating func fillValue(_ c: inout HDF5Cursor) throws -> Int? {
        let version = try c.u8("fill value version")
        var present: Bool
        switch version {
        case 1, 2:
            try c.skip(2, "fill value times")
            present = try c.u8("fill value defined") != 0   // as libhdf5 1.10 decodes both
        case 3:
            let flags = try c.u8("fill value flags")
            guard flags & ~0x3F == 0, flags & 0x30 != 0x30 else { throw HDF5Malformed("fill value flags \(flags)") }
            present = flags & 0x20 != 0
        default: throw HDF5Malformed("fill value version \(version) is not one HDF5 defines")
        }
        guard present else { return nil }
        return try c.take(c.u32("fill value size"), "fill value").remaining
    }

    mutating func layout(_ c: inout HDF5Cursor) throws -> HDF5LayoutInfo {
        let version = try c.u8("layout version")
        guard version == 3 || version == 4 else {
            throw HDF5Malformed(version < 3 ? "layout version \(version) (HDF5 before 1.6) is not read by ckpt"
                                            : "layout version \(version) is newer than HDF5 1.10 reads")
        }
        let kind = try c.u8("layout class")
        switch kind {
        case 0:
            let size = try c.u16("compact data size")
            try c.skip(size, "compact data")
            return .compact(size: size)
        case 1:
            _ = try c.u64("contiguous data address")
            _ = try c.u64("contiguous data size")
            return .contiguous
        case 2:
            guard version == 3 else {
                throw HDF5Malformed("chunk indexes of layout version 4 (HDF5 1.10's \"latest\" format) are not read by ckpt")
            }
            let dimensionality = try c.u8("chunk dimensionality")
            guard (2...33).contains(dimensionality) else { throw HDF5Malformed("chunk dimensionality \(dimensionality)") }
            let btree = try c.u64("chunk B-tree address")
            var dims: [Int] = []
            for _ in 0..<dimensionality {
                let d = try c.u32("chunk dimension")
                guard d >= 1 else { throw HDF5Malformed("a chunk dimension of 0") }
                dims.append(d)
            }
            return .chunked(dims: dims, btree: btree)
        case 3: throw HDF5Malformed("virtual datasets are refused")
        default: throw HDF5Malformed("layout class \(kind) is not one HDF5 defines")
        }
    }

    /// Filter pipeline (versions 1 and 2): deflate, shuffle and fletcher32.
    mutating func filterPipeline(_ c: inout HDF5Cursor) throws -> [(id: Int, values: [Int])] {
        let version = try c.u8("filter pipeline version")
        let count = try c.u8("number of filters")
        guard version == 1 || version == 2 else { throw HDF5Malformed("filter pipeline version \(version)") }
        guard count <= 32 else { throw HDF5Malformed("\(count) filters, over HDF5's 32") }
        if version == 1 { try c.skip(6, "filter pipeline reserved bytes") }
        var out: [(id: Int, values: [Int])] = []
        for _ in 0..<count {
            let id = try c.u16("filter id")
            let nameLength = version == 1 || id >= 256 ? try c.u16("filter name length") : 0
            _ = try c.u16("filter flags")
            let valueCount = try c.u16("filter parameter count")
            guard [1, 2, 3].contains(id) else {
                throw HDF5Malformed("filter \(id) is not read by ckpt (deflate, shuffle and fletcher32 are)")
            }
            if nameLength > 0 {
                // Version 1 stores the padded length (libhdf5 refuses others).
                guard version == 2 || nameLength % 8 == 0 else { throw HDF5Malformed("a filter name length \(nameLength) that is not a multiple of 8") }
                try c.terminatedString(nameLength, "filter name")
            }
            var values: [Int] = []
            for _ in 0..<valueCount { values.append(try c.u32("filter parameter")) }
            if version == 1, valueCount % 2 == 1 { try c.skip(4, "filter parameter padding") }
            out.append((id, values))
        }
        // The sanitizer inflates each chunk's stored bytes as they are, so no
        // shuffle may come after the deflate (h5py writes shuffle, deflate,
        // fletcher32), and each filter runs once.
        let ids = out.map(\.id)
        guard Set(ids).count == ids.count else { throw HDF5Malformed("a filter applied twice (\(ids))") }
        if let deflate = ids.firstIndex(of: 1), let shuffle = ids.firstIndex(of: 2), shuffle > deflate {
            throw HDF5Malformed("the shuffle filter after the deflate filter is not read by ckpt")
        }
        return out
    }

    /// External data files: the slots' names live in a local heap.
    mutating func externalFiles(_ c: inout HDF5Cursor) throws {
        let version = try c.u8("external files version")
        guard version == 1 else { throw HDF5Malformed("external files version \(version)") }
        try c.skip(3, "external files reserved bytes")
        let allocated = try c.u16("allocated slots"), used = try c.u16("used slots")
        guard used <= allocated else { throw HDF5Malformed("\(used) external file slots used of \(allocated)") }
        let heap = try localHeap(c.u64("external files heap address"))
        for _ in 0..<used {
            try heap.name(at: c.u64("external file name offset"), bytes: bytes)
            try c.skip(16, "external file offset and size")
        }
    }

    // MARK: - Chunks

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
