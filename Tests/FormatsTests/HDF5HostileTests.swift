// Stores built by hand with the HDF5 C API, each wrong in one way: ckpt must
// refuse each with an error naming the file and the object.

import CHDF5
import Formats
import Testing
import TestSupport

/// Builds a small HDF5 file with the raw C API (callers hold `withHDF5Lock`:
/// the library is not thread-safe and other suites use it in parallel).
final class RawHDF5 {
    let fid: hid_t

    init(_ path: String) {
        let fapl = H5Pcreate(ckpt_H5P_FILE_ACCESS())
        H5Pset_file_locking(fapl, false, true)
        fid = H5Fcreate(path, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), fapl)
        H5Pclose(fapl)
    }

    func stringAttr(_ name: String, _ value: String, on obj: hid_t? = nil) {
        let tid = H5Tcopy(ckpt_H5T_C_S1())
        H5Tset_size(tid, ckpt_H5T_VARIABLE())
        let sid = H5Screate(H5S_SCALAR)
        let aid = H5Acreate2(obj ?? fid, name, tid, sid, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        value.withCString { c in
            var p: UnsafePointer<CChar>? = c
            _ = H5Awrite(aid, tid, &p)
        }
        H5Aclose(aid); H5Sclose(sid); H5Tclose(tid)
    }

    func intAttr(_ name: String, _ value: Int64) {
        let sid = H5Screate(H5S_SCALAR)
        let aid = H5Acreate2(fid, name, ckpt_H5T_STD_I64LE(), sid, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        var v = value
        H5Awrite(aid, ckpt_H5T_NATIVE_INT64(), &v)
        H5Aclose(aid); H5Sclose(sid)
    }

    func storeHeader(version: Int64 = 1) {
        stringAttr("format", "ckpt-hdf5")
        intAttr("format_version", version)
    }

    func group(_ path: String) { H5Gclose(H5Gcreate2(fid, path, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())) }

    /// A dataset of `dims` with file type `type`, optionally chunked; filled with `bytes` if given.
    @discardableResult
    func dataset(_ path: String, type: hid_t, dims: [hsize_t], chunk: [hsize_t]? = nil, bytes: [UInt8]? = nil) -> hid_t {
        let sid = H5Screate_simple(Int32(dims.count), dims, nil)
        let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
        if let chunk { H5Pset_chunk(dcpl, Int32(chunk.count), chunk) }
        let did = H5Dcreate2(fid, path, type, sid, ckpt_H5P_DEFAULT(), dcpl, ckpt_H5P_DEFAULT())
        if let bytes { bytes.withUnsafeBytes { _ = H5Dwrite(did, type, ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress) } }
        H5Pclose(dcpl); H5Sclose(sid)
        H5Dclose(did)
        return did
    }

    func close() { H5Fclose(fid) }
}

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
