// HDF5Sanitizer — every structure of an HDF5 file that libhdf5 will decode
// when ckpt reads a store, walked and checked before the library sees the
// file (the way font sanitizers stand in front of font engines).
//
// libhdf5 (1.10 in Debian 12) is not written for hostile files: fuzzing found
// it looping forever and reading past its buffers on malformed structures
// (docs/fuzzing.md). ckpt accepts the subset of HDF5 that HDF5 1.8+ and h5py
// write for a ckpt-hdf5 store — superblocks 0–3 with 8-byte offsets and
// lengths, object headers 1 and 2, old-style (symbol table) and compact
// new-style groups, contiguous, compact and B-tree-chunked datasets — and
// checks, from the superblock down through every group, object header and
// message, chunk B-tree, local and global heap:
//   - every structure lies inside the file, every count is bounded by the
//     size libhdf5 allocates for it, every C string ends inside its field;
//   - no structure is visited twice (cycles), and the total work is bounded
//     by the file's size;
//   - the messages of a dataset agree (fill value, compact data, chunk and
//     filter parameters against the datatype and the dataspace).
// Anything outside the subset is refused by name. Old-style groups are
// walked in HDF5Groups.swift, header messages checked in HDF5Messages.swift,
// and a dataset's storage and chunks in HDF5Storage.swift.

struct HDF5Sanitizer {
    let bytes: UnsafeRawBufferPointer
    /// Where the superblock is: file addresses are relative to it.
    let base: Int
    let groupLeafK: Int, groupInternalK: Int, chunkK: Int
    /// Global heap collections by file offset: their objects' sizes by index.
    var globalHeaps: [Int: [Int: UInt64]] = [:]
    /// No chunk may hold more than a compressed file could expand to (gzip:
    /// at most ~1,032×), as ckpt bounds whole datasets.
    let maxChunkBytes: Int
    /// What all compressed chunks together may inflate to (the same bound):
    /// each chunk is charged its size before it is inflated, so overlapping
    /// streams cannot multiply the work.
    var inflateBudget: Int
    /// How many chunks the extents of all chunked datasets may span together.
    var chunkSpanBudget: Int

    /// Object headers to walk, with the link they were reached by (the
    /// group's header and where the name lies in the file), and old-style
    /// groups, with their header.
    private enum Task { case header(UInt64, via: Link?), group(btree: UInt64, heap: UInt64, owner: UInt64) }
    struct Link { let group: UInt64; let name: Range<Int> }
    /// The link each object header was first reached by: errors name an
    /// object by its path, rebuilt from these (no strings kept per object).
    private var reachedBy: [UInt64: Link] = [:]
    private var rootAddress: UInt64?
    private var tasks: [Task] = []
    /// Structures visited, by offset and kind: one place may be read as two
    /// kinds (an object header where a continuation block also lies), and
    /// each is checked as what libhdf5 will read it as.
    private var seen = Set<Int>()
    enum Structure: Int { case header, continuation, btreeNode, symbolNode, chunk }
    /// Hard links found to each object header, and the reference count each
    /// header declares, by address.
    private var linksTo: [UInt64: Int] = [:]
    private var referenceCounts: [UInt64: Int] = [:]
    /// Each old-style group's symbol table (B-tree, heap) by its object
    /// header's address, and the copies symbol table entries cache of them.
    private var symbolTables: [UInt64: (btree: UInt64, heap: UInt64)] = [:]
    private var tableOwners: [UInt64: UInt64] = [:]
    var cachedTables: [(header: UInt64, btree: UInt64, heap: UInt64)] = []
    private var work = 0
    var context = "superblock"

    /// Walks `bytes` (the file at `path`).
    ///
    /// - Throws: `HDF5StoreError.notHDF5` without a superblock, else
    ///   `HDF5StoreError.corrupt` naming the structure and its byte offset.
    static func check(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard let at = superblockOffset(bytes) else { throw HDF5StoreError.notHDF5(path: path) }
        var c = HDF5Cursor(bytes, from: at + 8, to: bytes.count)
        var s: HDF5Sanitizer
        do {
            s = try superblock(&c, at: at)
        } catch let e as HDF5Malformed {
            throw HDF5StoreError.corrupt(path: path, object: "superblock at byte \(at)", reason: e.reason)
        }
        try checkGlobalHeaps(bytes, path: path) { s.globalHeaps[$0] = $1 }
        do {
            if case let .header(root, _)? = s.tasks.first { s.linksTo[root] = 1 }   // the superblock's link
            while let task = s.tasks.popLast() {
                switch task {
                case let .header(address, link): try s.objectHeader(address, via: link)
                case let .group(btree, heap, owner): try s.group(btree: btree, heap: heap, owner: owner)
                }
            }
            try s.checkReferenceCounts()
            try s.checkCachedTables()
        } catch let e as HDF5Malformed {
            throw HDF5StoreError.corrupt(path: path, object: s.context, reason: e.reason)
        }
    }

    private init(bytes: UnsafeRawBufferPointer, base: Int, keys: (Int, Int, Int)) {
        self.bytes = bytes
        self.base = base
        (groupLeafK, groupInternalK, chunkK) = keys
        let expandable = bytes.count.multipliedReportingOverflow(by: 1100).partialValue + (1 << 20)
        maxChunkBytes = min(Int(UInt32.max), expandable)
        inflateBudget = expandable
        chunkSpanBudget = max(4096, bytes.count / 64)
    }

    // MARK: - Superblock

    /// Where libhdf5 finds the superblock: byte 0, then 512, 1024, 2048, …
    static func superblockOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var at = 0
        while at + 16 <= bytes.count {
            if (0..<8).allSatisfy({ bytes[at + $0] == signature[$0] }) { return at }
            at = at == 0 ? 512 : at * 2
        }
        return nil
    }

    private static func superblock(_ c: inout HDF5Cursor, at: Int) throws -> HDF5Sanitizer {
        let version = try c.u8("superblock version")
        var keys = (4, 16, 32)
        var root: Task
        func sizes(_ offsets: Int, _ lengths: Int) throws {
            guard offsets == 8, lengths == 8 else {
                throw HDF5Malformed("\(offsets)-byte offsets and \(lengths)-byte lengths (ckpt reads 8 and 8, HDF5's default)")
            }
        }
        switch version {
        case 0, 1:
            guard try c.u8("free-space version") == 0, try c.u8("root symbol table entry version") == 0 else {
                throw HDF5Malformed("free-space or symbol table entry version other than 0")
            }
            try c.skip(1, "reserved byte")
            guard try c.u8("shared header version") == 0 else { throw HDF5Malformed("shared header version other than 0") }
            try sizes(c.u8("size of offsets"), c.u8("size of lengths"))
            try c.skip(1, "reserved byte")
            keys.0 = try c.u16("group leaf node K")
            keys.1 = try c.u16("group internal node K")
            _ = try c.u32("file consistency flags")
            if version == 1 {
                keys.2 = try c.u16("indexed storage internal node K")
                try c.skip(2, "reserved bytes")
            }
            try baseAddress(c.u64("base address"), at: at)
            guard try c.u64("free-space info address") == hdf5Undefined else { throw HDF5Malformed("a free-space info block") }
            _ = try c.u64("end of file address")
            guard try c.u64("driver information block address") == hdf5Undefined else {
                throw HDF5Malformed("a driver information block (files of other drivers than one plain file are not read)")
            }
            _ = try c.u64("root link name offset")
            root = .header(try c.u64("root object header address"), via: nil)
            let cache = try c.u32("root cache type")
            try c.skip(4, "reserved bytes")
            if cache == 1, case let .header(address, _) = root {
                var s = HDF5Sanitizer(bytes: c.bytes, base: at, keys: keys)
                s.tasks = [root]
                s.cachedTables = [(address, try c.u64("root B-tree address"), try c.u64("root heap address"))]
                try s.checkKeys()
                return s
            }
        case 2, 3:
            try sizes(c.u8("size of offsets"), c.u8("size of lengths"))
            _ = try c.u8("file consistency flags")
            try baseAddress(c.u64("base address"), at: at)
            guard try c.u64("superblock extension address") == hdf5Undefined else {
                throw HDF5Malformed("a superblock extension is not read by ckpt")
            }
            _ = try c.u64("end of file address")
            root = .header(try c.u64("root object header address"), via: nil)
        default:
            throw HDF5Malformed("superblock version \(version) is not one HDF5 1.10 reads")
        }
        var s = HDF5Sanitizer(bytes: c.bytes, base: at, keys: keys)
        s.tasks = [root]
        try s.checkKeys()
        return s
    }

    private static func baseAddress(_ value: UInt64, at: Int) throws {
        guard value == UInt64(at) else { throw HDF5Malformed("base address \(value) is not where the superblock is (\(at))") }
    }

    private func checkKeys() throws {
        for (k, what) in [(groupLeafK, "group leaf node K"), (groupInternalK, "group internal node K"), (chunkK, "chunk node K")] {
            guard (1...1024).contains(k) else { throw HDF5Malformed("\(what) \(k) (HDF5 writes 4, 16 and 32)") }
        }
    }

    // MARK: - Addresses and work

    /// The file offset of `size` bytes at file address `address`, checked.
    func absolute(_ address: UInt64, _ size: Int, _ what: String) throws -> Int {
        guard address != hdf5Undefined else { throw HDF5Malformed("\(what) has no address") }
        guard address <= UInt64(bytes.count - base), size >= 0, size <= bytes.count - base - Int(address) else {
            throw HDF5Malformed("\(what) at address \(address) (\(size) bytes) lies outside the file (\(bytes.count) bytes)")
        }
        return base + Int(address)
    }

    /// Marks a structure visited; false when it was (a cycle, or a structure
    /// shared between two parents). Bounds the total bytes examined.
    mutating func visit(_ at: Int, as kind: Structure, size: Int) throws -> Bool {
        guard seen.insert(at << 3 | kind.rawValue).inserted else { return false }
        try charge(max(size, 16))
        return true
    }

    /// Counts bytes examined: structures of a file HDF5 wrote do not overlap,
    /// so their sum is about the file's size.
    mutating func charge(_ size: Int) throws {
        let (total, overflow) = work.addingReportingOverflow(size)
        guard size >= 0, !overflow, total <= 16 * bytes.count + (16 << 20) else {
            throw HDF5Malformed("its structures overlap far more than any HDF5 library writes")
        }
        work = total
    }

    // MARK: - Object headers

    /// A hard link to the object header at `address`: counted, and walked.
    mutating func link(to address: UInt64, named name: Range<Int>, in group: UInt64) {
        linksTo[address, default: 0] += 1
        tasks.append(.header(address, via: Link(group: group, name: name)))
    }

    /// An object header as errors name it: its path, then where it is.
    func describe(_ address: UInt64) -> String {
        var names: [Range<Int>] = []
        var at = address
        while let link = reachedBy[at], names.count < 64 {
            names.append(link.name)
            at = link.group
        }
        let path = Self.path(names.reversed().map { Array(bytes[$0]) }, complete: reachedBy[at] == nil)
        return "\(path) (object header at byte \(UInt64(base) &+ address))"
    }

    /// A path for errors from link names, root first, kept short: a hostile
    /// file may nest groups deep under long names. `complete` is false when
    /// the names start below the root.
    static func path(_ names: [[UInt8]], complete: Bool = true) -> String {
        var parts = names.map { String(decoding: $0.prefix(128), as: UTF8.self) + ($0.count > 128 ? "…" : "") }
        if parts.count > 8 { parts = Array(parts.prefix(3)) + ["…"] + parts.suffix(4) }
        else if !complete { parts.insert("…", at: 0) }
        return "/" + parts.joined(separator: "/")
    }

    /// A symbol table entry's cached B-tree and heap are its group's own.
    /// (A group that became a new-style one keeps a stale cache, which libhdf5
    /// drops unread: no symbol table message, nothing to compare.)
    private mutating func checkCachedTables() throws {
        for (header, btree, heap) in cachedTables {
            guard let own = symbolTables[header] else { continue }
            guard own == (btree, heap) else {
                context = describe(header)
                throw HDF5Malformed("a symbol table entry caches B-tree \(btree) and heap \(heap) for it, which are not its symbol table")
            }
        }
    }

    /// No object header has more hard links than it counts. libhdf5 walks a
    /// group tree (H5Lvisit, which ckpt uses to list a store's datasets)
    /// remembering only objects whose count is above 1: a group linked from
    /// its own subtree, or linked twice, while counting one reference, makes
    /// that walk endless or exponential.
    private mutating func checkReferenceCounts() throws {
        for (address, links) in linksTo.sorted(by: { $0.key < $1.key }) {
            guard let declared = referenceCounts[address], links > declared else { continue }
            context = describe(address)
            throw HDF5Malformed("\(links) hard links point at it, but it counts \(declared)")
        }
    }

    private mutating func objectHeader(_ address: UInt64, via reached: Link?) throws {
        if reached == nil { rootAddress = address }
        if let reached, reachedBy[address] == nil, address != rootAddress { reachedBy[address] = reached }
        context = describe(address)
        let at = try absolute(address, 16, "an object header")
        guard try visit(at, as: .header, size: 16) else { return }
        var summary = HDF5HeaderSummary()
        var c = HDF5Cursor(bytes, from: at, to: bytes.count)
        let v2 = c.starts(with: "OHDR")
        var creationOrder = false
        if v2 {
            try c.skip(4, "signature")
            guard try c.u8("object header version") == 2 else { throw HDF5Malformed("an OHDR object header of version other than 2") }
            let flags = try c.u8("object header flags")
            guard flags & 0xC0 == 0 else { throw HDF5Malformed("object header flags \(flags)") }
            creationOrder = flags & 0x04 != 0
            if flags & 0x20 != 0 { try c.skip(16, "object times") }
            if flags & 0x10 != 0 { try c.skip(4, "attribute phase change values") }
            let size = try Int(clamping: c.uint(1 << (flags & 3), "chunk 0 size"))
            var chunk = try c.take(size, "chunk 0")
            try charge(size)
            try c.skip(4, "chunk 0 checksum")
            try messages(&chunk, v2: true, creationOrder: creationOrder, into: &summary)
        } else {
            guard try c.u8("object header version") == 1 else { throw HDF5Malformed("object header version other than 1 or 2") }
            try c.skip(3, "reserved byte and message count")
            summary.referenceCount = try c.u32("reference count")
            let size = try c.u32("header size")
            try c.skip(4, "padding")
            var chunk = try c.take(size, "the header's messages")
            try charge(size)
            try messages(&chunk, v2: false, creationOrder: false, into: &summary)
        }
        var next = 0
        while next < summary.continuations.count {
            let (address, length) = summary.continuations[next]
            next += 1
            let chunkAt = try absolute(address, length, "a continuation block")
            guard try visit(chunkAt, as: .continuation, size: length) else { throw HDF5Malformed("a continuation block visited twice") }
            var chunk = HDF5Cursor(bytes, from: chunkAt, to: chunkAt + length)
            if v2 {
                guard chunk.starts(with: "OCHK"), length >= 8 else { throw HDF5Malformed("a continuation block without its OCHK signature") }
                chunk = HDF5Cursor(bytes, from: chunkAt + 4, to: chunkAt + length - 4)
            }
            try messages(&chunk, v2: v2, creationOrder: creationOrder, into: &summary)
        }
        try dataset(summary)
        if let (btree, heap) = summary.symbolTable {
            // One group per B-tree: a second header naming it would make the
            // group its own descendant without any link counting it.
            if let owner = tableOwners.updateValue(address, forKey: btree), owner != address {
                throw HDF5Malformed("its symbol table B-tree at address \(btree) is also the group at address \(owner)'s")
            }
            symbolTables[address] = (btree, heap)
            tasks.append(.group(btree: btree, heap: heap, owner: address))
        }
        referenceCounts[address] = summary.referenceCount
        for (target, name) in summary.hardLinks { link(to: target, named: name, in: address) }
    }

    /// The messages of one chunk of an object header.
    private mutating func messages(_ c: inout HDF5Cursor, v2: Bool, creationOrder: Bool, into s: inout HDF5HeaderSummary) throws {
        let headerSize = v2 ? (creationOrder ? 6 : 4) : 8
        while c.remaining >= headerSize {
            let type = v2 ? try c.u8("message type") : try c.u16("message type")
            let size = try c.u16("message size")
            let flags = try c.u8("message flags")
            try c.skip(headerSize - (v2 ? 4 : 5), v2 ? "creation order" : "reserved bytes")
            guard v2 || size % 8 == 0 else { throw HDF5Malformed("a message size \(size) that is not a multiple of 8") }
            var body = try c.take(size, "\(hdf5MessageName(type)) message")
            do {
                try message(type, flags: flags, &body, into: &s)
            } catch let e as HDF5Malformed {
                throw HDF5Malformed("message \(s.messages) (\(hdf5MessageName(type))): \(e.reason)")
            }
            s.messages += 1
        }
        guard v2 || c.remaining == 0 else { throw HDF5Malformed("\(c.remaining) bytes after the last message") }
    }

    // MARK: - Version 1 B-trees

    /// Walks a v1 B-tree (spec III.A.1) of `type` from `root`: every node once,
    /// each child one level below its parent, the keys and children handed
    /// to `visit` (a nil key or child where there is none).
    mutating func btreeNodes(
        _ root: UInt64, type: Int, nodeSize: Int, keySize: Int, maxEntries: Int,
        _ each: (inout HDF5Sanitizer, inout HDF5Cursor?, UInt64?, Int) throws -> Void
    ) throws {
        var stack: [(UInt64, Int?)] = [(root, nil)]
        var nodes = Set<UInt64>(), siblings: [UInt64] = []
        while let (address, expected) = stack.popLast() {
            nodes.insert(address)
            let at = try absolute(address, nodeSize, "a B-tree node")
            guard try visit(at, as: .btreeNode, size: nodeSize) else { throw HDF5Malformed("a B-tree node reached twice") }
            var c = HDF5Cursor(bytes, from: at, to: at + nodeSize)
            guard c.starts(with: "TREE") else { throw HDF5Malformed("a B-tree node without its TREE signature") }
            try c.skip(4, "signature")
            guard try c.u8("node type") == type else { throw HDF5Malformed("a B-tree node of the wrong type") }
            let level = try c.u8("node level")
            guard expected == nil || level == expected else { throw HDF5Malformed("a B-tree node at level \(level) below one at \(expected! + 1)") }
            let entries = try c.u16("entries used")
            guard entries <= maxEntries, entries >= 1 || expected == nil else {
                throw HDF5Malformed("\(entries) entries in a B-tree node of \(maxEntries)")
            }
            siblings += [try c.u64("left sibling"), try c.u64("right sibling")]
            // libhdf5 decodes entries + 1 keys, and none for an empty node.
            for i in 0...entries where entries > 0 {
                var key: HDF5Cursor? = try c.take(keySize, "B-tree key")
                let child = i < entries ? try c.u64("B-tree child") : nil
                try each(&self, &key, child, level)
                if let child, level > 0 { stack.append((child, level - 1)) }
            }
        }
        // Siblings are nodes of the same tree (libhdf5 may follow them).
        for s in siblings where s != hdf5Undefined && !nodes.contains(s) {
            throw HDF5Malformed("a B-tree node's sibling at address \(s) is not a node of its tree")
        }
    }
}
