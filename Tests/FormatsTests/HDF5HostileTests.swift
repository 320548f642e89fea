// Stores built by hand with the HDF5 C API, each wrong in one way: ckpt must
// refuse each with an error naming the file and the object.

import CHDF5
import Formats
import Testing
import TestSupport

@Suite(.serialized) struct HDF5HostileTests {
    let dir = ScratchDirectory()

    func build(_ name: String, _ body: (RawHDF5) -> Void) -> String {
        let path = dir.file(name)
        withHDF5Lock {
            let h = RawHDF5(path)
            body(h)
            h.close()
        }
        return path
    }

    func expectError(_ path: String, contains text: String) {
        do {
            _ = try HDF5Store(path: path)
            Issue.record("\(path) was accepted")
        } catch let e as HDF5StoreError {
            #expect(e.description.hasPrefix(path), "\(e)")
            #expect(e.description.contains(text), "\(e)")
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    /// Found by fuzzing (Tests/Fixtures/fuzz/regressions/hdf5): a global heap
    /// collection whose free-space object has size 0 made libhdf5 loop forever
    /// while reading the string attribute `format`. The collection is refused
    /// before the library sees it; a valid store's collections pass.
    @Test func aGlobalHeapThatWouldLoopIsRefused() throws {
        let path = dir.file("loop.h5")
        dir.write("loop.h5", try readFile(Fixtures.path("fuzz/regressions/hdf5/global-heap-free-space-size-0.h5")))
        expectError(path, contains: "global heap collection at byte")
        expectError(path, contains: "its free space has size 0")
        // The seed it was mutated from: the same kind of store, intact.
        let store = try HDF5Store(path: Fixtures.path("fuzz/seeds/hdf5/ckpt-written.h5"))
        #expect(!store.tensors.isEmpty)
        // A collection walking past its end, and one larger than the file.
        var bytes = try readFile(Fixtures.path("fuzz/seeds/hdf5/ckpt-written.h5"))
        let gcol = try #require((0..<(bytes.count - 8)).first { Array(bytes[$0..<($0 + 4)]) == Array("GCOL".utf8) })
        var overrun = bytes
        for i in 0..<8 { overrun[gcol + 16 + 8 + i] = 0xFF }  // the first object's size
        dir.write("overrun.h5", overrun)
        expectError(dir.file("overrun.h5"), contains: "overruns the collection")
        for i in 0..<8 { bytes[gcol + 8 + i] = 0xFF }           // the collection's size
        dir.write("oversized.h5", bytes)
        expectError(dir.file("oversized.h5"), contains: "does not fit in the file")
    }

    @Test func notAStore() {
        let p = build("plain.h5") { h in h.dataset("/x", type: ckpt_H5T_IEEE_F32LE(), dims: [2], bytes: [UInt8](repeating: 0, count: 8)) }
        #expect(throws: HDF5StoreError.notStore(path: p, found: "missing")) { try HDF5Store(path: p) }
        let q = build("other.h5") { h in h.stringAttr("format", "keras") }
        #expect(throws: HDF5StoreError.notStore(path: q, found: "\"keras\"")) { try HDF5Store(path: q) }
    }

    @Test func futureVersion() {
        let p = build("v2.h5") { h in h.storeHeader(version: 2) }
        #expect(throws: HDF5StoreError.unsupportedVersion(path: p, version: "2")) { try HDF5Store(path: p) }
    }

    @Test func externalLinkToAnotherFile() {
        let other = build("secret.h5") { h in
            h.storeHeader(); h.group("/tensors")
            h.dataset("/tensors/x", type: ckpt_H5T_IEEE_F32LE(), dims: [1], bytes: [0, 0, 128, 63])
        }
        let p = build("link.h5") { h in
            h.storeHeader()
            H5Lcreate_external(other, "/tensors", h.fid, "tensors", ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        }
        expectError(p, contains: "soft and external links are refused")
        let q = build("inner.h5") { h in
            h.storeHeader(); h.group("/tensors")
            H5Lcreate_external(other, "/tensors/x", h.fid, "/tensors/x", ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        }
        expectError(q, contains: "soft and external links are refused")
    }

    @Test func compressionBomb() {
        // A chunked dataset declaring 8 GB in a file of a few kB.
        let p = build("bomb.h5") { h in
            h.storeHeader(); h.group("/tensors")
            h.dataset("/tensors/x", type: ckpt_H5T_IEEE_F32LE(), dims: [2_000_000_000], chunk: [1_000_000])
        }
        expectError(p, contains: "more than a")
    }

    @Test func manyUnwrittenDatasetsTogetherAreABomb() throws {
        // Chunks never written read as the fill value: each of these datasets
        // declares 4 MB, within what the few-kB file could hold compressed,
        // but together they declare more (the store's budget, not each one's).
        func store(_ name: String, datasets: Int) -> String {
            build(name) { h in
                h.storeHeader(); h.group("/tensors")
                for i in 0..<datasets {
                    h.dataset("/tensors/x\(i)", type: ckpt_H5T_IEEE_F32LE(), dims: [1_000_000], chunk: [250_000])
                }
            }
        }
        let one = store("one-unwritten.h5", datasets: 1)
        #expect(try HDF5Store(path: one).data("x0").floats().allSatisfy { $0 == 0 })
        expectError(store("many-unwritten.h5", datasets: 8), contains: "with the datasets before it, declares more than a")
    }

    @Test func nonIEEEFloat() {
        let p = build("odd.h5") { h in
            h.storeHeader(); h.group("/tensors")
            let t = H5Tcopy(ckpt_H5T_IEEE_F32LE())
            H5Tset_ebias(t, 100)
            h.dataset("/tensors/x", type: t, dims: [1], bytes: [0, 0, 128, 63])
            H5Tclose(t)
        }
        expectError(p, contains: "has no ckpt dtype")
    }

    @Test func filesOutsideTheAllowListAreNotCarried() throws {
        let p = build("sneaky.h5") { h in
            h.storeHeader(); h.group("/tensors"); h.group("/files")
            h.dataset("/tensors/x", type: ckpt_H5T_IEEE_F32LE(), dims: [1], bytes: [0, 0, 128, 63])
            h.dataset("/files/model.safetensors", type: ckpt_H5T_STD_U8LE(), dims: [3], bytes: [1, 2, 3])
            h.dataset("/files/config.json", type: ckpt_H5T_STD_U8LE(), dims: [2], bytes: Array("{}".utf8))
        }
        let c = try Checkpoint(path: p)
        #expect(c.files.map(\.name) == ["config.json"])
        #expect(c.tensors.map(\.name) == ["x"])
    }
}
