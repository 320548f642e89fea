// HDF5Sanitizer: the structures libhdf5 would decode are checked before it
// sees a store. Valid stores of each format version HDF5 1.10 writes read;
// stores each wrong in one way (bytes of a valid store changed where libhdf5
// trusts them) are refused with an error naming the file and the structure.

import CHDF5
@testable import Formats
import Testing
import TestSupport

@Suite(.serialized) struct HDF5SanitizerTests {
    let dir = ScratchDirectory()

    func expectError(_ path: String, contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try HDF5Store(path: path)
            Issue.record("\(path) was accepted", sourceLocation: sourceLocation)
        } catch let e as HDF5StoreError {
            #expect(e.description.hasPrefix(path + ": "), "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(text), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("wrong error \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A committed regression input (Tests/Fixtures/fuzz/regressions/hdf5),
    /// copied into the scratch directory; errors name the copy.
    func regression(_ name: String) throws -> String {
        dir.write(name, try readFile(Fixtures.path("fuzz/regressions/hdf5/\(name)")))
        return dir.file(name)
    }

    /// A store in the given format: attributes, nested groups (one tracking
    /// creation order), contiguous, compact and chunked gzip datasets.
    func store(_ name: String, format: (H5F_libver_t, H5F_libver_t)?, links: Int = 3) -> String {
        let path = dir.file(name)
        withHDF5Lock {
            let h = RawHDF5(path, format: format)
            h.storeHeader()
            h.group("/tensors"); h.group("/tensors/layer")
            for i in 0..<links {
                h.dataset("/tensors/layer/w\(i)", type: ckpt_H5T_IEEE_F32LE(), dims: [2], bytes: [0, 0, 128, 63, 0, 0, 0, UInt8(64 + i)])
            }
            h.dataset("/tensors/c", type: ckpt_H5T_STD_I16LE(), dims: [40], chunk: [8], gzip: true,
                      bytes: (0..<80).map { UInt8($0) })
            // A group that tracks creation order (h5py's track_order=True) holding
            // a compact dataset.
            let gcpl = H5Pcreate(ckpt_H5P_GROUP_CREATE())
            H5Pset_link_creation_order(gcpl, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED))
            H5Gclose(H5Gcreate2(h.fid, "/tensors/ordered", ckpt_H5P_DEFAULT(), gcpl, ckpt_H5P_DEFAULT()))
            H5Pclose(gcpl)
            let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
            H5Pset_layout(dcpl, H5D_COMPACT)
            var dims: [hsize_t] = [3]
            let sid = H5Screate_simple(1, &dims, nil)
            let did = H5Dcreate2(h.fid, "/tensors/ordered/k", ckpt_H5T_STD_U8LE(), sid, ckpt_H5P_DEFAULT(), dcpl, ckpt_H5P_DEFAULT())
            let k: [UInt8] = [7, 8, 9]
            _ = k.withUnsafeBytes { H5Dwrite(did, ckpt_H5T_STD_U8LE(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress) }
            H5Dclose(did); H5Sclose(sid); H5Pclose(dcpl)
            h.close()
        }
        return path
    }

    @Test func storesOfEachFormatVersionRead() throws {
        for (name, format) in [("earliest.h5", nil), ("v18.h5", (H5F_LIBVER_V18, H5F_LIBVER_V18))] {
            let store = try HDF5Store(path: store(name, format: format))
            #expect(store.tensors.map(\.name) == ["c", "layer.w0", "layer.w1", "layer.w2", "ordered.k"], "\(name)")
            #expect(try store.data("ordered.k").withUnsafeBytes { Array($0) } == [7, 8, 9], "\(name)")
            #expect(try store.data("c").withUnsafeBytes { Array($0) } == (0..<80).map { UInt8($0) }, "\(name)")
            #expect(try store.data("layer.w2").withUnsafeBytes { Array($0) } == [0, 0, 128, 63, 0, 0, 0, 66], "\(name)")
        }
    }

    @Test func partsOfNewerFormatsAreRefusedByName() {
        // HDF5 1.10's chunk indexes (layout version 4) and dense link storage.
        expectError(store("v110.h5", format: (H5F_LIBVER_V110, H5F_LIBVER_V110)), contains: "chunk indexes of layout version 4")
        expectError(store("dense.h5", format: (H5F_LIBVER_V18, H5F_LIBVER_V18), links: 12), contains: "dense link storage")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): among other
    /// changes, the datatype of the root's `created_by` attribute went from a
    /// variable-length string (class byte 0x19) to an enum (0x18) of 257
    /// members, whose names libhdf5 copied with strdup past the end of the
    /// object header. The input is refused; so is that one change alone.
    @Test func theEnumWhoseNamesRanPastTheHeaderIsRefused() throws {
        let path = try regression("enum-member-names-overread.h5")
        expectError(path, contains: ": / (object header at byte ")
        expectError(try patched("enum.h5") { b in
            let type = try find("created_by\0", in: b) + 16
            #expect(b[type] == 0x19)
            b[type] = 0x18
        }, contains: "/ (object header at byte 96): message 4 (attribute): an enum whose base is not an integer of its size")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): a symbol table
    /// entry under /tensors linked back to the root group, whose header still
    /// counted one reference. libhdf5's H5Lvisit remembers only objects that
    /// count more than one, so it walked the cycle until memory ran out. A
    /// cycle made through the library (which counts the link) reads, its
    /// walk finite; the same file with the root's count set back to 1 is
    /// refused. (The input's one other defect, a dataspace dimension above
    /// its maximum, refused since finding 9, was set right in the committed
    /// copy so that it still reaches this check.)
    @Test func aGroupCycleIsReadOnlyWhenCounted() throws {
        let found = try regression("group-cycle-counted-once.h5")
        expectError(found, contains: "/ (object header at byte 96): 2 hard links point at it, but it counts 1")

        let path = dir.file("cycle.h5")
        withHDF5Lock {
            let h = RawHDF5(path)
            h.storeHeader()
            h.group("/tensors")
            h.dataset("/tensors/x", type: ckpt_H5T_IEEE_F32LE(), dims: [1], bytes: [0, 0, 128, 63])
            H5Lcreate_hard(h.fid, "/", h.fid, "/tensors/up", ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
            h.close()
        }
        // The walk ends; x is listed under each of its two paths, as an alias is.
        let names = try HDF5Store(path: path).tensors.map(\.name)
        #expect(names == ["up.tensors.x", "x"], "\(names)")
        var bytes = try readFile(path)
        #expect(bytes[96] == 1 && bytes[100] == 2)       // the root's version-1 header counts two links
        bytes[100] = 1
        dir.write("cycle-once.h5", bytes)
        expectError(dir.file("cycle-once.h5"), contains: "/ (object header at byte 96): 2 hard links point at it, but it counts 1")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): two entries
    /// of /tensors named "g_i16", a dataset and a soft link to the group
    /// itself. libhdf5 iterates a group's links but finds each one's object
    /// again by name, so H5Lvisit followed the soft link back into the group
    /// forever. Names must be unique in old-style and in compact groups.
    @Test func twoLinksOfOneNameAreRefused() throws {
        let found = try regression("two-links-one-name.h5")
        expectError(found, contains: "the group /tensors (object header at byte 1040), its B-tree at address 1080: two links are named \"g_i16\"")
        // A symbol table node whose second entry takes the first one's name.
        expectError(try patched("snod-names.h5") { b in
            var node = try find("SNOD", in: b)
            while b[node + 6] < 2 { node = try #require((node + 4..<(b.count - 4)).first { Array(b[$0..<($0 + 4)]) == Array("SNOD".utf8) }) }
            for i in 0..<8 { b[node + 8 + 40 + i] = b[node + 8 + i] }
        }, contains: "two links are named")
        // Two link messages of one name in a compact group (version-2 headers).
        var bytes = try readFile(Fixtures.path("fuzz/seeds/hdf5/h5py-v108-ordered.h5"))
        #expect(try HDF5Store(path: Fixtures.path("fuzz/seeds/hdf5/h5py-v108-ordered.h5")).tensors.count == 7)
        let flag = Array("flag".utf8)
        for i in 0..<(bytes.count - 4) where Array(bytes[i..<(i + 4)]) == flag { bytes.replaceSubrange(i..<(i + 4), with: Array("half".utf8)) }
        dir.write("compact-names.h5", bytes)
        expectError(dir.file("compact-names.h5"), contains: "two links are named \"half\"")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): a version-2
    /// object header declaring a chunk of about 2⁶³ bytes. The sanitizer's own
    /// count of bytes examined overflowed (a trap) before the chunk was found
    /// to run past the file; sizes are now checked first and sums with overflow.
    @Test func aHugeChunkSizeIsRefusedNotTrapped() throws {
        let path = try regression("chunk-size-overflows-work-count.h5")
        expectError(path, contains: "/ (object header at byte 48): chunk 0 runs past the end of its structure")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): a dataset's
    /// `name` attribute held an empty string whose heap ID named object
    /// 262153 of a collection holding a few. libhdf5 reads the object of any
    /// string whose address is not 0, empty ones too, and its index is only
    /// asserted: a read through a null pointer. Every such ID must name an
    /// object of the string's length.
    @Test func anEmptyStringNamingNoHeapObjectIsRefused() throws {
        let path = try regression("empty-string-missing-heap-object.h5")
        expectError(path, contains: "a 0-byte string as object 262153 of the collection at 2048, which does not hold it")
        expectError(try patched("empty.h5") { b in
            let data = try find("format\0", in: b) + 40             // length, collection, index
            put(0, at: data, width: 4, in: &b)
            put(999, at: data + 12, width: 4, in: &b)
        }, contains: "a 0-byte string as object 999 of the collection at")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): a chunked,
    /// gzipped dataset's chunk dimension went from 8 to 93. libhdf5 sizes a
    /// chunk's buffer by what its filters return (16 bytes) and copied the
    /// 80 bytes of the selection out of it. Every chunk must be a whole chunk
    /// inside the extent, listed once, and unfilter to exactly its size.
    @Test func chunksAreWholeAndUnfilterToTheirSize() throws {
        let found = try regression("chunk-dimension-beyond-its-chunks.h5")
        expectError(found, contains: "/tensors/chunked (object header at byte 11600), the chunk at element offsets [0]: its 22 stored bytes unfilter to 16 bytes, not the chunk's 186")

        // store()'s /tensors/c: 40 int16 in gzipped chunks of 8, so 5 chunks
        // of 16 bytes; its B-tree keys are (size u32, filter mask u32, offset
        // u64, 0 u64), each followed by its chunk's address.
        let good = try readFile(store("chunks.h5", format: nil))
        let tree = try #require((0..<(good.count - 5)).first { Array(good[$0..<($0 + 4)]) == Array("TREE".utf8) && good[$0 + 4] == 1 })
        func key(_ i: Int) -> Int { tree + 24 + 32 * i }
        func edited(_ name: String, _ edit: (inout [UInt8]) throws -> Void) throws -> String {
            var b = good
            try edit(&b)
            dir.write(name, b)
            return dir.file(name)
        }
        #expect(try HDF5Store(path: edited("intact-chunks.h5") { _ in }).data("c").withUnsafeBytes { Array($0) } == (0..<80).map { UInt8($0) })
        expectError(try edited("misaligned.h5") { put(9, at: key(1) + 8, in: &$0) }, contains: "offset 9 is not a whole chunk of 8 inside the extent 40")
        expectError(try edited("outside.h5") { put(40, at: key(4) + 8, in: &$0) }, contains: "offset 40 is not a whole chunk of 8 inside the extent 40")
        expectError(try edited("twice.h5") { put(0, at: key(1) + 8, in: &$0) }, contains: "two chunks at these offsets")
        // The deflate filter marked as skipped: the stored bytes are the data.
        expectError(try edited("unfiltered.h5") { put(1, at: key(0) + 4, width: 4, in: &$0) }, contains: "unfilter to")
        // A damaged stream (its Adler-32 check) and the layout's chunk
        // dimension doubled (each chunk is then half its size).
        expectError(try edited("damaged.h5") { b in
            var child = 0
            for i in (0..<8).reversed() { child = child << 8 | Int(b[key(0) + 24 + i]) }
            let stored = Int(b[key(0)]) | Int(b[key(0) + 1]) << 8
            b[child + stored - 1] ^= 0xFF
        }, contains: "its deflate stream does not inflate to at most 16 bytes")
        expectError(try edited("doubled.h5") { b in
            let address = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(tree) >> (8 * UInt64($0))) }
            let layout = try find(String(decoding: [3, 2, 2] + address, as: UTF8.self), in: b)
            put(16, at: layout + 11, width: 4, in: &b)
        }, contains: "unfilter to 16 bytes, not the chunk's 32")
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5; finding 9), a
    /// breach of the resource contract: a chunked dataset's extent went from 40 to
    /// 2,621,440 elements (above its maximum of 40) in chunks of 8. With any
    /// chunk written, libhdf5 keeps a few kB of state for every chunk of the
    /// extent while it reads: 1.3 GB. A dimension must not exceed its maximum,
    /// and all chunked datasets together span at most 1 chunk per 64 bytes
    /// of the file (or 4,096).
    @Test func extentsSpanABoundedNumberOfChunks() throws {
        let found = try regression("dimension-above-its-maximum.h5")
        expectError(found, contains: "/tensors/chunked (object header at byte 11600): message 0 (dataspace): a dataspace dimension 2621440 above its maximum 40")
        func chunked(_ name: String, extents: [hsize_t]) -> String {
            let path = dir.file(name)
            withHDF5Lock {
                let h = RawHDF5(path)
                h.storeHeader(); h.group("/tensors")
                for (i, n) in extents.enumerated() {
                    h.dataset("/tensors/x\(i)", type: ckpt_H5T_STD_U8LE(), dims: [n], chunk: [8])
                }
                h.close()
            }
            return path
        }
        #expect(try HDF5Store(path: chunked("4096-chunks.h5", extents: [32_768])).tensors.count == 1)
        expectError(chunked("4097-chunks.h5", extents: [32_769]),
                    contains: "its extent spans more chunks of [8] than the 4096 left to the store")
        // Together: whichever dataset is walked second finds too few left.
        expectError(chunked("4104-chunks.h5", extents: [32_768, 64]), contains: "left to the store")
    }

    /// Errors name an object by the path the walk reached it by, kept short
    /// however deep and long-named a hostile file's groups are.
    @Test func pathsInErrorsStayShort() {
        #expect(HDF5Sanitizer.path([]) == "/")
        #expect(HDF5Sanitizer.path([Array("tensors".utf8), Array("b".utf8)]) == "/tensors/b")
        let long = [UInt8](repeating: 0x61, count: 300), a128 = String(repeating: "a", count: 128) + "…"
        #expect(HDF5Sanitizer.path([long]) == "/" + a128)
        let deep = (0..<64).map { [UInt8](String($0).utf8) }
        #expect(HDF5Sanitizer.path(deep) == "/0/1/2/…/60/61/62/63")
        #expect(HDF5Sanitizer.path(deep.suffix(3), complete: false) == "/…/61/62/63")
    }

    /// The seed store with `edit` applied.
    func patched(_ name: String, _ edit: (inout [UInt8]) throws -> Void) throws -> String {
        var bytes = try readFile(Fixtures.path("fuzz/seeds/hdf5/ckpt-written.h5"))
        try edit(&bytes)
        dir.write(name, bytes)
        return dir.file(name)
    }

    func find(_ text: String, in bytes: [UInt8]) throws -> Int {
        let pattern = Array(text.utf8)
        return try #require((0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern })
    }

    func put(_ value: UInt64, at offset: Int, width: Int = 8, in bytes: inout [UInt8]) {
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    @Test func structuresLibhdf5TrustsAreChecked() throws {
        #expect(try !HDF5Store(path: patched("intact.h5") { _ in }).tensors.isEmpty)
        // An attribute name without its NUL: strdup would read on.
        expectError(try patched("name.h5") { b in b[try find("format\0", in: b) + 6] = 0x41 },
                    contains: "the attribute name is not NUL-terminated within its 7 bytes")
        // A string attribute naming a heap object of another length.
        expectError(try patched("vlen.h5") { b in
            let name = try find("format\0", in: b)
            b[name + 40] = 10                                // the string's length: 9 → 10
        }, contains: "does not hold it")
        // A driver information block (the family and multi drivers open other files).
        expectError(try patched("driver.h5") { b in put(0, at: 48, in: &b) }, contains: "a driver information block")
        // More symbols in a node than its size holds (2 × leaf K = 8).
        expectError(try patched("snod.h5") { b in put(9, at: try find("SNOD", in: b) + 6, width: 2, in: &b) },
                    contains: "9 symbols in a node of 8")
        // A local heap free list whose block points at itself: libhdf5 loops
        // (it refuses only a next offset of 0).
        expectError(try patched("heap.h5") { b in
            let heap = try find("HEAP", in: b)
            var data = 0
            for i in (0..<8).reversed() { data = data << 8 | Int(b[heap + 24 + i]) }
            put(16, at: heap + 16, in: &b)                           // the free list starts at 16
            put(16, at: data + 16, in: &b); put(16, at: data + 24, in: &b)  // and its next block is 16 again
        }, contains: "a local heap free list that is not in address order")
        // A B-tree node with more entries than its allocation (2 × internal K = 32).
        expectError(try patched("tree.h5") { b in put(33, at: try find("TREE", in: b) + 6, width: 2, in: &b) },
                    contains: "33 entries in a B-tree node of 32")
        // /tensors naming the root's symbol table as its own (its message and
        // the cache of its entry): the group would contain itself, uncounted.
        expectError(try patched("shared-table.h5") { b in
            func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
            let tensors = le(1080) + le(1624), root = le(136) + le(680)
            var hits = 0
            for i in 0..<(b.count - 16) where Array(b[i..<(i + 16)]) == tensors { b.replaceSubrange(i..<(i + 16), with: root); hits += 1 }
            #expect(hits == 2)
        }, contains: "its symbol table B-tree at address 136 is also the group at address 96's")
        // An object header address past the end of the file.
        expectError(try patched("root.h5") { b in put(UInt64(b.count), at: 64, in: &b) },
                    contains: "lies outside the file")
    }
}
