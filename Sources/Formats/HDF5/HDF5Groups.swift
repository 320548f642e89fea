// HDF5Groups — old-style (symbol table) groups as HDF5Sanitizer walks them:
// the local heap of link names, the group's B-tree and its symbol nodes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A local heap (spec III.D): the names of an old-style group's links.
struct HDF5LocalHeap {
    let data: Range<Int>

    /// Checks that a name offset lands inside the heap and its string ends there.
    func name(at offset: UInt64, bytes: UnsafeRawBufferPointer) throws {
        guard offset < UInt64(data.count) else {
            throw HDF5Malformed("a name at offset \(offset) of a local heap of \(data.count) bytes")
        }
        let from = data.lowerBound + Int(offset)
        guard memchr(bytes.baseAddress! + from, 0, data.upperBound - from) != nil else {
            throw HDF5Malformed("a name at offset \(offset) of a local heap is not NUL-terminated")
        }
    }

    /// Where the name at `offset` lies in the file (checked as
    /// `name(at:bytes:)` does), without its NUL.
    func string(at offset: UInt64, bytes: UnsafeRawBufferPointer) throws -> Range<Int> {
        try name(at: offset, bytes: bytes)
        let from = data.lowerBound + Int(offset)
        let nul = memchr(bytes.baseAddress! + from, 0, data.upperBound - from)!
        return from..<(UnsafeRawPointer(nul) - UnsafeRawPointer(bytes.baseAddress!))
    }
}

extension HDF5Sanitizer {
    mutating func localHeap(_ address: UInt64) throws -> HDF5LocalHeap {
        let at = try absolute(address, 32, "a local heap")
        var c = HDF5Cursor(bytes, from: at, to: at + 32)
        guard c.starts(with: "HEAP") else { throw HDF5Malformed("a local heap without its HEAP signature") }
        try c.skip(4, "signature")
        guard try c.u8("local heap version") == 0 else { throw HDF5Malformed("local heap version other than 0") }
        try c.skip(3, "reserved bytes")
        let size = try c.length("local heap data size")
        var free = try c.u64("local heap free list")
        let start = try absolute(c.u64("local heap data address"), size, "a local heap's data")
        // The free list: each block is its next block's offset and its size
        // (16 bytes), inside the data; no block twice.
        var blocks = 0
        while free != 1 {                                           // H5HL_FREE_NULL
            guard free <= UInt64(size), size - Int(free) >= 16 else {
                throw HDF5Malformed("a local heap free block at \(free) of \(size) bytes of data")
            }
            var b = HDF5Cursor(bytes, from: start + Int(free), to: start + size)
            let next = try b.u64("next free block"), blockSize = try b.u64("free block size")
            guard blockSize >= 16, blockSize <= UInt64(size) - free else { throw HDF5Malformed("a local heap free block of \(blockSize) bytes") }
            blocks += 1
            guard next == 1 || next > free, blocks <= size / 16 else { throw HDF5Malformed("a local heap free list that is not in address order") }
            free = next
        }
        try charge(32 + 16 * blocks)
        return HDF5LocalHeap(data: start..<(start + size))
    }

    /// An old-style group: its B-tree of symbol nodes, with link names in `heap`.
    mutating func group(btree: UInt64, heap: UInt64, owner: UInt64) throws {
        context = "the group \(describe(owner)), its B-tree at address \(btree)"
        var linkNames = Set<[UInt8]>()
        let names = try localHeap(heap)
        let nodeSize = 24 + 2 * groupInternalK * 8 + (2 * groupInternalK + 1) * 8
        try btreeNodes(btree, type: 0, nodeSize: nodeSize, keySize: 8, maxEntries: 2 * groupInternalK) { s, key, child, level in
            if var k = key { try names.name(at: try k.u64("group key"), bytes: s.bytes) }
            if let child, level == 0 { try s.symbolNode(child, names: names, seen: &linkNames, group: owner) }
        }
    }

    mutating func symbolNode(_ address: UInt64, names: HDF5LocalHeap, seen: inout Set<[UInt8]>, group: UInt64) throws {
        let size = 8 + 2 * groupLeafK * 40
        let at = try absolute(address, size, "a symbol table node")
        guard try visit(at, as: .symbolNode, size: size) else { throw HDF5Malformed("a symbol table node in two places of a group") }
        var c = HDF5Cursor(bytes, from: at, to: at + size)
        guard c.starts(with: "SNOD") else { throw HDF5Malformed("a symbol table node without its SNOD signature") }
        try c.skip(4, "signature")
        guard try c.u8("symbol node version") == 1 else { throw HDF5Malformed("symbol table node version other than 1") }
        try c.skip(1, "reserved byte")
        let count = try c.u16("number of symbols")
        guard count <= 2 * groupLeafK else { throw HDF5Malformed("\(count) symbols in a node of \(2 * groupLeafK)") }
        for _ in 0..<count {
            let name = try names.string(at: c.u64("link name offset"), bytes: bytes)
            try uniqueLinkName(Array(bytes[name]), in: &seen)
            let header = try c.u64("object header address")
            let cache = try c.u32("cache type")
            try c.skip(4, "reserved bytes")
            var scratch = try c.take(16, "scratch pad")
            switch cache {
            case 0: link(to: header, named: name, in: group)
            case 1:
                link(to: header, named: name, in: group)
                cachedTables.append((header, try scratch.u64("cached B-tree address"), try scratch.u64("cached heap address")))
            case 2: try names.name(at: UInt64(try scratch.u32("soft link value offset")), bytes: bytes)
            default: throw HDF5Malformed("symbol cache type \(cache)")
            }
        }
    }

    /// Link names are unique in a group. libhdf5 walks a group by iterating
    /// its links but finds each link's object again by name: with two links of
    /// one name (a dataset and a soft link to the group itself, as fuzzing
    /// made) it follows the other one, round and round.
    func uniqueLinkName(_ name: [UInt8], in seen: inout Set<[UInt8]>) throws {
        guard seen.insert(name).inserted else {
            throw HDF5Malformed("two links are named \"\(String(decoding: name, as: UTF8.self))\"")
        }
    }
}
