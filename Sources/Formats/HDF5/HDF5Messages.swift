// The object header messages HDF5Sanitizer accepts (HDF5 file format
// specification, section IV.A.2), each checked the way libhdf5 1.10 decodes
// it: every length inside the message, every C string terminated, every
// count bounded. Anything else (shared messages, compound and array types,
// filters other than deflate/shuffle/fletcher32, dense storage, layouts of
// other tools than HDF5 1.8+) is refused by name. The storage messages
// (fill value, layout, filters, external files) are in HDF5Storage.swift.

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
