// The object header messages HDF5Sanitizer accepts (HDF5 file format
// specification, section IV.A.2), each checked the way libhdf5 1.10 decodes
// it: every length inside the message, every C string terminated, every
// count bounded. Anything else (shared messages, compound and array types,
// filters other than deflate/shuffle/fletcher32, dense storage, layouts of
// other tools than HDF5 1.8+) is refused by name.

/// A datatype message's class and sizes.
struct HDF5TypeInfo {
    let typeClass: Int
    /// The declared element size.
    let size: Int
    /// The bytes one element takes in the file (a variable-length string is a
    /// 4-byte length and a global heap ID).
    let diskSize: Int
    var isVariableLength: Bool { typeClass == 9 }
}

/// A dataspace message: rank and element count (nil for the null dataspace).
struct HDF5SpaceInfo {
    let rank: Int
    /// The current dimensions (none for a scalar or null dataspace).
    let dims: [Int]
    let elements: Int?
}

enum HDF5LayoutInfo {
    case compact(size: Int)
    case contiguous
    /// Chunk dimensions (the dataset's rank, then the element size) and the
    /// address of the chunk B-tree.
    case chunked(dims: [Int], btree: UInt64)
}

/// What the messages of one object header declare, for the checks across
/// messages and for the walk to the objects it links to.
struct HDF5HeaderSummary {
    var space: HDF5SpaceInfo?
    var type: HDF5TypeInfo?
    var fillSizes: [Int] = []
    var layout: HDF5LayoutInfo?
    var filters: [(id: Int, values: [Int])] = []
    var symbolTable: (btree: UInt64, heap: UInt64)?
    /// Hard links of a compact group: target and name.
    var hardLinks: [(address: UInt64, name: Range<Int>)] = []
    /// The names of the header's link messages (unique in a group).
    var linkNames = Set<[UInt8]>()
    var continuations: [(address: UInt64, length: Int)] = []
    /// Messages read so far, over all chunks (errors number them from 0).
    var messages = 0
    /// How many hard links the header says point at it (a version-1 header's
    /// field, a version-2 header's message, else 1).
    var referenceCount = 1
}

private let messageNames: [Int: String] = [
    0x01: "dataspace", 0x02: "link info", 0x03: "datatype", 0x04: "fill value (old)", 0x05: "fill value",
    0x06: "link", 0x07: "external files", 0x08: "layout", 0x0A: "group info", 0x0B: "filter pipeline",
    0x0C: "attribute", 0x0D: "comment", 0x0E: "modification time (old)", 0x10: "continuation",
    0x11: "symbol table", 0x12: "modification time", 0x15: "attribute info", 0x16: "reference count",
]

func hdf5MessageName(_ type: Int) -> String { messageNames[type] ?? "message type \(type)" }

extension HDF5Sanitizer {
    /// Checks one message's body and records what it declares.
    mutating func message(_ type: Int, flags: Int, _ c: inout HDF5Cursor, into s: inout HDF5HeaderSummary) throws {
        guard flags & 0x02 == 0 else { throw HDF5Malformed("shared messages are not read by ckpt") }
        switch type {
        case 0x00: break                                            // NIL: padding
        case 0x01: s.space = try dataspace(&c)
        case 0x02: try linkInfo(&c)
        case 0x03: s.type = try datatype(&c, depth: 0)
        case 0x04: s.fillSizes.append(try c.take(c.u32("fill value size"), "fill value").remaining)
        case 0x05: if let size = try fillValue(&c) { s.fillSizes.append(size) }
        case 0x06: if let hard = try link(&c, names: &s.linkNames) { s.hardLinks.append(hard) }
        case 0x07: try externalFiles(&c)
        case 0x08: s.layout = try layout(&c)
        case 0x0A: try groupInfo(&c)
        case 0x0B: s.filters = try filterPipeline(&c)
        case 0x0C: try attribute(&c)
        case 0x0D: try c.terminatedString(c.remaining, "comment")
        case 0x0E: try c.skip(16, "modification time")
        case 0x10: s.continuations.append((try c.u64("continuation address"), try c.length("continuation length")))
        case 0x11: s.symbolTable = (try c.u64("symbol table B-tree address"), try c.u64("symbol table heap address"))
        case 0x12: try c.skip(8, "modification time")
        case 0x15: try attributeInfo(&c)
        case 0x16:
            guard try c.u8("reference count version") == 0 else { throw HDF5Malformed("reference count version other than 0") }
            s.referenceCount = try c.u32("reference count")
        default: throw HDF5Malformed("\(hdf5MessageName(type)) is not read by ckpt")
        }
    }

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

    // MARK: - Dataspace and datatype

    mutating func dataspace(_ c: inout HDF5Cursor) throws -> HDF5SpaceInfo {
        let version = try c.u8("dataspace version")
        let rank = try c.u8("dataspace rank")
        let flags = try c.u8("dataspace flags")
        guard rank <= 32 else { throw HDF5Malformed("dataspace rank \(rank) is over HDF5's 32") }
        guard flags & ~1 == 0 else { throw HDF5Malformed("dataspace flags \(flags) (permutations) are not read by ckpt") }
        var isNull = false
        switch version {
        case 1: try c.skip(5, "dataspace reserved bytes")
        case 2:
            let kind = try c.u8("dataspace type")
            guard kind <= 2, kind == 1 || rank == 0 else { throw HDF5Malformed("dataspace type \(kind) with rank \(rank)") }
            isNull = kind == 2
        default: throw HDF5Malformed("dataspace version \(version) is not one HDF5 defines")
        }
        var elements = 1, dims: [Int] = []
        var overflow = false
        for _ in 0..<rank {
            let d = try c.u64("dataspace dimension")
            let (p, o) = elements.multipliedReportingOverflow(by: Int(clamping: d))
            overflow = overflow || o || d > UInt64(Int.max)
            elements = p
            dims.append(Int(clamping: d))
        }
        guard !overflow else { throw HDF5Malformed("the dataspace's element count overflows 64 bits") }
        if flags & 1 != 0 {
            for d in dims {
                let maximum = try c.u64("dataspace maximum dimension")
                guard maximum == UInt64.max || maximum >= UInt64(d) else {
                    throw HDF5Malformed("a dataspace dimension \(d) above its maximum \(maximum)")
                }
            }
        }
        return HDF5SpaceInfo(rank: rank, dims: dims, elements: isNull ? nil : elements)
    }

    /// A datatype: fixed-point, floating-point, string, enum (of fixed-point)
    /// or variable-length string. Enum members and variable-length bases nest
    /// one level at most.
    mutating func datatype(_ c: inout HDF5Cursor, depth: Int) throws -> HDF5TypeInfo {
        let head = try c.u8("datatype class")
        let bits = try Int(c.uint(3, "datatype class bits"))
        let size = try c.u32("datatype size")
        let typeClass = head & 0x0F, version = head >> 4
        guard (1...3).contains(version) else { throw HDF5Malformed("datatype version \(version) is not one HDF5 1.10 defines") }
        guard size >= 1 else { throw HDF5Malformed("a datatype of size 0") }
        func bitLayout(offset: Int, precision: Int) throws {
            guard precision >= 1, offset + precision <= 8 * size else {
                throw HDF5Malformed("datatype bit offset \(offset) and precision \(precision) do not fit its \(size) bytes")
            }
        }
        switch typeClass {
        case 0:                                                     // fixed-point
            guard [1, 2, 4, 8].contains(size) else { throw HDF5Malformed("an integer type of \(size) bytes") }
            try bitLayout(offset: c.u16("bit offset"), precision: c.u16("bit precision"))
            return HDF5TypeInfo(typeClass: 0, size: size, diskSize: size)
        case 1:                                                     // floating-point
            guard [2, 4, 8].contains(size) else { throw HDF5Malformed("a floating-point type of \(size) bytes") }
            let offset = try c.u16("bit offset"), precision = try c.u16("bit precision")
            try bitLayout(offset: offset, precision: precision)
            let expAt = try c.u8("exponent location"), expBits = try c.u8("exponent size")
            let manAt = try c.u8("mantissa location"), manBits = try c.u8("mantissa size")
            _ = try c.u32("exponent bias")
            let sign = (bits >> 8) & 0xFF
            guard expBits >= 1, manBits >= 1, expAt + expBits <= precision, manAt + manBits <= precision,
                  sign < precision, (bits >> 4) & 3 != 3
            else { throw HDF5Malformed("a floating-point type whose fields do not fit its \(precision) bits") }
            return HDF5TypeInfo(typeClass: 1, size: size, diskSize: size)
        case 3:                                                     // fixed-length string
            guard bits & 0x0F <= 2, (bits >> 4) & 0x0F <= 1 else { throw HDF5Malformed("string padding or character set \(bits)") }
            return HDF5TypeInfo(typeClass: 3, size: size, diskSize: size)
        case 8:                                                     // enum
            guard depth == 0 else { throw HDF5Malformed("nested datatypes are not read by ckpt") }
            let members = bits & 0xFFFF
            guard members >= 1 else { throw HDF5Malformed("an enum without members") }
            let base = try datatype(&c, depth: 1)
            guard base.typeClass == 0, base.size == size else { throw HDF5Malformed("an enum whose base is not an integer of its size") }
            for _ in 0..<members {
                let start = c.at
                guard let nul = (start..<c.end).first(where: { c.bytes[$0] == 0 }) else {
                    throw HDF5Malformed("an enum member name is not NUL-terminated")
                }
                let length = nul - start + 1
                try c.skip(version == 3 ? length : hdf5Align8(length), "enum member name")
            }
            try c.skip(members * size, "enum values")
            return HDF5TypeInfo(typeClass: 8, size: size, diskSize: size)
        case 9:                                                     // variable-length
            guard depth == 0 else { throw HDF5Malformed("nested datatypes are not read by ckpt") }
            guard bits & 0x0F == 1 else { throw HDF5Malformed("variable-length sequences other than strings are not read by ckpt") }
            let base = try datatype(&c, depth: 1)
            guard base.typeClass == 0 || base.typeClass == 3, base.size == 1 else {
                throw HDF5Malformed("a variable-length string of \(base.size)-byte characters")
            }
            // The size libhdf5 writes: a 4-byte length and a heap ID. libhdf5
            // sizes attribute data by this field until it sets the location.
            guard size == 16 else { throw HDF5Malformed("a variable-length string type of size \(size) (HDF5 writes 16)") }
            return HDF5TypeInfo(typeClass: 9, size: size, diskSize: 4 + 8 + 4)
        default:
            let names = [2: "time", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 10: "array"]
            throw HDF5Malformed("datatype class \(names[typeClass] ?? String(typeClass)) is not read by ckpt")
        }
    }

    // MARK: - Dataset storage

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

    // MARK: - Attributes

    /// An attribute (versions 1–3): its name, datatype, dataspace and data,
    /// with variable-length strings' global heap IDs checked.
    mutating func attribute(_ c: inout HDF5Cursor) throws {
        let version = try c.u8("attribute version")
        let flags = try c.u8("attribute flags")
        guard (1...3).contains(version) else { throw HDF5Malformed("attribute version \(version)") }
        guard version == 1 || flags == 0 else { throw HDF5Malformed("shared attribute datatypes or dataspaces are not read by ckpt") }
        let nameSize = try c.u16("attribute name size")
        let typeSize = try c.u16("attribute datatype size")
        let spaceSize = try c.u16("attribute dataspace size")
        if version == 3 { _ = try c.u8("attribute name encoding") }
        func part(_ n: Int) -> Int { version == 1 ? hdf5Align8(n) : n }
        let nameAt = c.at
        try c.skip(part(nameSize), "attribute name")
        guard nameSize >= 1, c.bytes[nameAt + nameSize - 1] == 0 else {
            throw HDF5Malformed("the attribute name is not NUL-terminated within its \(nameSize) bytes")
        }
        var typeBytes = try c.take(typeSize, "attribute datatype")
        let type = try datatype(&typeBytes, depth: 0)
        try c.skip(part(typeSize) - typeSize, "attribute datatype padding")
        var spaceBytes = try c.take(spaceSize, "attribute dataspace")
        let space = try dataspace(&spaceBytes)
        try c.skip(part(spaceSize) - spaceSize, "attribute dataspace padding")
        let (dataSize, overflow) = (space.elements ?? 0).multipliedReportingOverflow(by: type.diskSize)
        guard !overflow, dataSize <= c.remaining else {
            throw HDF5Malformed("attribute data of \(space.elements ?? 0) × \(type.diskSize) bytes runs past its message")
        }
        guard type.isVariableLength else { return }
        for _ in 0..<(space.elements ?? 0) {
            let count = try c.u32("string length")
            let collection = try c.u64("global heap collection address")
            let index = try c.u32("global heap object index")
            // libhdf5 reads the object whenever the address is not 0 (an empty
            // string too: it copies the object, whatever its size).
            guard collection != 0 else { continue }
            guard collection != hdf5Undefined, collection <= UInt64(Int.max - base),
                  let objects = globalHeaps[base + Int(collection)] else {
                throw HDF5Malformed("a string in a global heap collection at \(collection), where there is none")
            }
            guard let size = objects[index], size == UInt64(count) else {
                throw HDF5Malformed("a \(count)-byte string as object \(index) of the collection at \(collection), which does not hold it")
            }
        }
    }

    /// Attribute info: only compact storage (attributes in the header).
    mutating func attributeInfo(_ c: inout HDF5Cursor) throws {
        let version = try c.u8("attribute info version"), flags = try c.u8("attribute info flags")
        guard version == 0, flags & ~3 == 0 else { throw HDF5Malformed("attribute info version \(version), flags \(flags)") }
        if flags & 1 != 0 { _ = try c.u16("maximum creation index") }
        guard try c.u64("fractal heap address") == hdf5Undefined else {
            throw HDF5Malformed("dense attribute storage is not read by ckpt")
        }
        _ = try c.u64("attribute name index address")
        if flags & 2 != 0 { _ = try c.u64("attribute creation order index address") }
    }

    // MARK: - Links (new-style groups)

    /// A link message: the hard link's target address, nil for soft and
    /// external links (checked for shape; ckpt refuses them later, by name).
    mutating func link(_ c: inout HDF5Cursor, names: inout Set<[UInt8]>) throws -> (address: UInt64, name: Range<Int>)? {
        let version = try c.u8("link version"), flags = try c.u8("link flags")
        guard version == 1, flags & ~0x1F == 0 else { throw HDF5Malformed("link version \(version), flags \(flags)") }
        let kind = flags & 0x08 != 0 ? try c.u8("link type") : 0
        if flags & 0x04 != 0 { _ = try c.u64("link creation order") }
        if flags & 0x10 != 0 { _ = try c.u8("link name character set") }
        let nameLength = try Int(clamping: c.uint(1 << (flags & 3), "link name length"))
        guard nameLength >= 1 else { throw HDF5Malformed("a link with an empty name") }
        let nameAt = c.at
        try c.skip(nameLength, "link name")
        let name = nameAt..<c.at
        try uniqueLinkName(Array(c.bytes[name]), in: &names)
        switch kind {
        case 0: return (try c.u64("hard link address"), name)
        case 1, 64: try c.skip(c.u16("link value length"), "link value"); return nil
        default: throw HDF5Malformed("user-defined link type \(kind) is not read by ckpt")
        }
    }

    mutating func linkInfo(_ c: inout HDF5Cursor) throws {
        let version = try c.u8("link info version"), flags = try c.u8("link info flags")
        guard version == 0, flags & ~3 == 0 else { throw HDF5Malformed("link info version \(version), flags \(flags)") }
        if flags & 1 != 0 { _ = try c.u64("maximum creation index") }
        guard try c.u64("fractal heap address") == hdf5Undefined else {
            throw HDF5Malformed("dense link storage (a large group of HDF5's \"latest\" format) is not read by ckpt")
        }
        _ = try c.u64("link name index address")
        if flags & 2 != 0 { _ = try c.u64("link creation order index address") }
    }

    mutating func groupInfo(_ c: inout HDF5Cursor) throws {
        let version = try c.u8("group info version"), flags = try c.u8("group info flags")
        guard version == 0, flags & ~3 == 0 else { throw HDF5Malformed("group info version \(version), flags \(flags)") }
        if flags & 1 != 0 { try c.skip(4, "group info link phase change") }
        if flags & 2 != 0 { try c.skip(4, "group info estimates") }
    }
}
