// HDF5StoreWriter — writes a ckpt-hdf5 store (layout in HDF5Store.swift):
// the HDF5 structure through the library, then the tensor bytes straight to
// each dataset's offset, atomically.

import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Writing

/// Writes ckpt-hdf5 stores.
public enum HDF5StoreWriter {
    /// Writes a store atomically.
    ///
    /// The HDF5 structure (groups, datasets with their space allocated,
    /// attributes, `/files`) is written through the library; tensor bytes are
    /// then written straight to each dataset's offset in the file, so large
    /// tensors are copied in the kernel or cast in chunks, never held whole.
    ///
    /// - Parameters:
    ///   - tensors: what to write, in the types to write them in.
    ///   - files: text files to carry under `/files` (name → bytes).
    ///   - createdBy: the `created_by` attribute.
    ///   - overwrite: replace an existing file.
    ///   - source: the bytes of each tensor (cast on the way when the type differs).
    /// - Throws: `HDF5StoreError`, `FileError`, `CastError`, or what `source` throws.
    public static func write(
        _ tensors: [TensorInfo], files: [(name: String, bytes: [UInt8])] = [], to path: String,
        createdBy: String, overwrite: Bool = false, source: (TensorInfo) throws -> TensorData
    ) throws {
        _ = silenceHDF5
        let out = try AtomicFile(path: path, overwrite: overwrite)
        let placements = try hdf5Lock.run {
            try createStructure(tensors, files: files, at: out.temporaryPath, finalPath: path, createdBy: createdBy)
        }
        for (info, offset) in placements {
            guard let offset else { continue }
            try writePayload(source(info), as: info.dtype, to: out, at: offset, planned: info)
        }
        try out.commit()
    }

    /// Creates groups, datasets and attributes; returns each tensor's data offset
    /// (nil for empty tensors).
    private static func createStructure(
        _ tensors: [TensorInfo], files: [(name: String, bytes: [UInt8])], at tmp: String, finalPath: String,
        createdBy: String
    ) throws -> [(TensorInfo, Int?)] {
        let fail = { (op: String, object: String) in HDF5StoreError.library(path: finalPath, operation: op, object: object) }
        let fapl = HDF5Store.fileAccessList()
        defer { H5Pclose(fapl) }
        H5Pset_alignment(fapl, 65536, 65536)
        let fid = H5Fcreate(tmp, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), fapl)
        guard fid >= 0 else { throw fail("create", "file") }
        var closed = false
        defer { if !closed { H5Fclose(fid) } }

        try HDF5Attr.writeString(fid, "format", hdf5StoreFormat, path: finalPath)
        try HDF5Attr.writeInt(fid, "format_version", Int64(hdf5StoreVersion), path: finalPath)
        try HDF5Attr.writeString(fid, "created_by", createdBy, path: finalPath)

        let lcpl = H5Pcreate(ckpt_H5P_LINK_CREATE())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
        defer { H5Pclose(dcpl) }
        H5Pset_layout(dcpl, H5D_CONTIGUOUS)
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER)

        // Decide every dataset's path first: grouped, or flat on a collision.
        var datasetPaths: [String: String] = [:]
        var groupPaths: Set<String> = []
        var leafPaths: Set<String> = []
        for t in tensors {
            let segs = HDF5Names.segments(of: t.name)
            var prefix = ""
            for s in segs.dropLast() { prefix += "/" + s; groupPaths.insert(prefix) }
        }
        for t in tensors {
            var p = "/" + HDF5Names.segments(of: t.name).joined(separator: "/")
            if groupPaths.contains(p) || leafPaths.contains(p) { p = "/" + HDF5Names.flatLink(of: t.name) }
            leafPaths.insert(p)
            datasetPaths[t.name] = "/tensors" + p
        }
        if H5Gclose(H5Gcreate2(fid, "tensors", ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())) < 0 {
            throw fail("create group", "/tensors")
        }

        var placements: [(TensorInfo, Int?)] = []
        for t in tensors {
            let dpath = datasetPaths[t.name]!
            let tid = HDF5Types.create(t.dtype)
            defer { H5Tclose(tid) }
            let sid: hid_t
            if t.shape.isEmpty {
                sid = H5Screate(H5S_SCALAR)
            } else {
                let dims = t.shape.map { hsize_t($0) }
                sid = H5Screate_simple(Int32(dims.count), dims, nil)
            }
            guard sid >= 0 else { throw fail("create dataspace", dpath) }
            defer { H5Sclose(sid) }
            let did = H5Dcreate2(fid, dpath, tid, sid, lcpl, dcpl, ckpt_H5P_DEFAULT())
            guard did >= 0 else { throw fail("create dataset", dpath) }
            defer { H5Dclose(did) }
            try HDF5Attr.writeString(did, "name", t.name, path: finalPath)
            if let tag = HDF5Types.dtypeAttribute(t.dtype) {
                try HDF5Attr.writeString(did, "dtype", tag, path: finalPath)
            }
            if t.byteCount > 0 {
                let address = H5Dget_offset(did)
                guard address != ckpt_HADDR_UNDEF() else { throw fail("allocate", dpath) }
                placements.append((t, Int(address)))
            } else {
                placements.append((t, nil))
            }
        }

        if !files.isEmpty {
            if H5Gclose(H5Gcreate2(fid, "files", ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())) < 0 {
                throw fail("create group", "/files")
            }
            for f in files {
                let escaped = HDF5Names.escapeSegment(f.name)
                let dpath = "/files/" + escaped
                var n = hsize_t(f.bytes.count)
                let sid = H5Screate_simple(1, &n, nil)
                defer { H5Sclose(sid) }
                let did = H5Dcreate2(fid, dpath, ckpt_H5T_STD_U8LE(), sid, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
                guard did >= 0 else { throw fail("create dataset", dpath) }
                defer { H5Dclose(did) }
                if !f.bytes.isEmpty {
                    let status = f.bytes.withUnsafeBytes {
                        H5Dwrite(did, ckpt_H5T_STD_U8LE(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress)
                    }
                    guard status >= 0 else { throw fail("write", dpath) }
                }
            }
        }
        closed = true
        guard H5Fclose(fid) >= 0 else { throw fail("close", "file") }
        return placements
    }
}
