// HDF5Store — the ckpt-hdf5 checkpoint store (format "ckpt-hdf5", version 1).
//
// Layout: one dataset per tensor under /tensors (dots become groups, see
// HDF5Names.swift), each with a `name` attribute; native little-endian types,
// bf16 as uint16 with attribute dtype = "bfloat16", bool as h5py's int8 enum;
// text files as 1-D uint8 datasets under /files; root attributes format,
// format_version and created_by. Datasets are contiguous.

import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `format` root attribute of a ckpt-hdf5 store.
public let hdf5StoreFormat = "ckpt-hdf5"
/// The layout version this ckpt writes and reads.
public let hdf5StoreVersion = 1

/// Debian's HDF5 is the serial build, not thread-safe: every call into the
/// library happens under this one lock.
let hdf5Lock = RecursiveLock()

/// Runs `body` holding the lock ckpt takes around every HDF5 call. Code in the
/// same process that calls HDF5 itself must do so inside this, since the
/// library is not thread-safe.
public func withHDF5Lock<R>(_ body: () throws -> R) rethrows -> R {
    try hdf5Lock.run(body)
}

/// HDF5 prints its own error stacks to stderr unless told not to.
private let silenceHDF5: Void = {
    _ = H5open()
    _ = H5Eset_auto2(ckpt_H5E_DEFAULT(), nil, nil)
}()

/// A ckpt-hdf5 store opened for reading. Contiguous little-endian datasets are
/// zero-copy views of a memory map of the file; others (chunked, compressed,
/// big-endian, written by other tools) are read through HDF5.
public final class HDF5Store: TensorStore {
    public let path: String
    /// Tensors sorted by name.
    public let tensors: [TensorInfo]
    /// The text files under `/files`, sorted by name.
    public let files: [(name: String, bytes: [UInt8])]
    /// The `created_by` root attribute.
    public let createdBy: String?

    private struct Location {
        let info: TensorInfo
        let datasetPath: String
        let offset: Int?  // file offset when the bytes can be mapped directly
    }

    private let locations: [String: Location]
    private let map: MappedFile

    /// Opens and indexes a store.
    ///
    /// - Throws: `HDF5StoreError` naming the file and the offending object.
    public init(path: String) throws {
        let loaded = try hdf5Lock.run { try HDF5Store.load(path: path) }
        self.path = path
        self.map = loaded.map
        self.locations = loaded.locations
        self.tensors = loaded.locations.values.map(\.info).sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.files = loaded.files
        self.createdBy = loaded.createdBy
    }

    private struct Loaded {
        let map: MappedFile
        let locations: [String: Location]
        let files: [(name: String, bytes: [UInt8])]
        let createdBy: String?
    }

    private static func load(path: String) throws -> Loaded {
        _ = silenceHDF5
        let map = try MappedFile(path: path)
        let fid = openFile(path)
        guard fid >= 0 else { throw HDF5StoreError.notHDF5(path: path) }
        defer { H5Fclose(fid) }

        let format = HDF5Attr.readString(fid, "format")
        guard format == hdf5StoreFormat else {
            throw HDF5StoreError.notStore(path: path, found: format.map { "\"\($0)\"" } ?? "missing")
        }
        let version = HDF5Attr.readInt(fid, "format_version")
        guard version == Int64(hdf5StoreVersion) else {
            throw HDF5StoreError.unsupportedVersion(path: path, version: version.map(String.init) ?? "missing")
        }
        let createdBy = HDF5Attr.readString(fid, "created_by")

        var locations: [String: Location] = [:]
        if try hardLinkExists(fid, "tensors", path: path) {
            for rel in try HDF5Store.datasets(fid, under: "tensors", path: path) {
                let dpath = "/tensors/" + rel
                let loc = try HDF5Store.describe(fid, dpath, relative: rel, fileSize: map.bytes.count, path: path)
                if locations[loc.info.name] != nil {
                    throw HDF5StoreError.duplicateName(path: path, tensor: loc.info.name)
                }
                locations[loc.info.name] = loc
            }
        }
        var files: [(name: String, bytes: [UInt8])] = []
        if try hardLinkExists(fid, "files", path: path) {
            var budget = min(Int(UInt32.max), map.bytes.count.multipliedReportingOverflow(by: 1100).partialValue + (1 << 20))
            for rel in try HDF5Store.datasets(fid, under: "files", path: path) {
                let dpath = "/files/" + rel
                let bytes = try HDF5Store.readBytesDataset(fid, dpath, limit: budget, path: path)
                budget -= bytes.count
                files.append((HDF5Names.unescape(rel), bytes))
            }
        }
        return Loaded(map: map, locations: locations, files: files, createdBy: createdBy)
    }

    public func data(_ name: String) throws -> TensorData {
        guard let loc = locations[name] else { throw HDF5StoreError.missingTensor(path: path, tensor: name) }
        if let offset = loc.offset {
            return TensorData(info: loc.info, file: map, offset: offset)
        }
        return try hdf5Lock.run { try readThroughLibrary(loc) }
    }

    /// Opens `path` read-only with the strong close degree (closing the file
    /// closes everything in it). The store holds no HDF5 handle between calls:
    /// HDF5 identifies open files by inode, and a handle kept open could be
    /// mistaken for a new file that reuses the inode of a deleted one.
    static func openFile(_ path: String) -> hid_t {
        let fapl = fileAccessList()
        defer { H5Pclose(fapl) }
        return H5Fopen(path, ckpt_H5F_ACC_RDONLY(), fapl)
    }

    /// File access properties for every file ckpt opens or creates: the strong
    /// close degree, and no `flock`. HDF5's descriptors are not close-on-exec, so
    /// a lock would outlive the file in any child process started meanwhile and
    /// make the next open fail; ckpt never shares a file it is writing (it writes
    /// to a private temporary name), so the lock protects nothing.
    static func fileAccessList() -> hid_t {
        let fapl = H5Pcreate(ckpt_H5P_FILE_ACCESS())
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG)
        H5Pset_file_locking(fapl, false, true)
        return fapl
    }

    private func readThroughLibrary(_ loc: Location) throws -> TensorData {
        let fileID = HDF5Store.openFile(path)
        guard fileID >= 0 else { throw HDF5StoreError.notHDF5(path: path) }
        defer { H5Fclose(fileID) }
        let did = H5Dopen2(fileID, loc.datasetPath, ckpt_H5P_DEFAULT())
        guard did >= 0 else { throw HDF5StoreError.library(path: path, operation: "open", object: loc.datasetPath) }
        defer { H5Dclose(did) }
        // The file is opened again by name: make sure it still describes the
        // dataset the buffer is sized for.
        let sid = H5Dget_space(did)
        defer { H5Sclose(sid) }
        let rank = max(0, Int(H5Sget_simple_extent_ndims(sid)))
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 { H5Sget_simple_extent_dims(sid, &dims, nil) }
        guard dims.map({ Int(clamping: $0) }) == loc.info.shape else {
            throw HDF5StoreError.corrupt(path: path, object: loc.datasetPath, reason: "changed while it was being read")
        }
        let memType = HDF5Types.create(loc.info.dtype)
        defer { H5Tclose(memType) }
        return try TensorData(info: loc.info) { dst in
            guard loc.info.byteCount > 0 else { return }
            guard H5Dread(did, memType, ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), dst.baseAddress) >= 0 else {
                throw HDF5StoreError.library(path: path, operation: "read", object: loc.datasetPath)
            }
        }
    }

    // MARK: - Indexing

    /// Whether the root holds `name` as a hard link (soft and external links are
    /// refused: they could point into another file).
    private static func hardLinkExists(_ fid: hid_t, _ name: String, path: String) throws -> Bool {
        guard H5Lexists(fid, name, ckpt_H5P_DEFAULT()) > 0 else { return false }
        var info = H5L_info_t()
        guard H5Lget_info(fid, name, &info, ckpt_H5P_DEFAULT()) >= 0 else {
            throw HDF5StoreError.library(path: path, operation: "get link info", object: "/" + name)
        }
        guard info.type == H5L_TYPE_HARD else {
            throw HDF5StoreError.unsupported(path: path, object: "/" + name, reason: "soft and external links are refused")
        }
        return true
    }

    /// Relative paths of every dataset below `group`, following hard links only.
    private static func datasets(_ fid: hid_t, under group: String, path: String) throws -> [String] {
        final class Collector {
            var links: [(String, H5L_type_t)] = []
        }
        let gid = H5Gopen2(fid, group, ckpt_H5P_DEFAULT())
        guard gid >= 0 else { throw HDF5StoreError.library(path: path, operation: "open group", object: "/" + group) }
        defer { H5Gclose(gid) }
        let collector = Collector()
        let status = H5Lvisit(gid, H5_INDEX_NAME, H5_ITER_INC, { _, name, info, op in
            let c = Unmanaged<Collector>.fromOpaque(op!).takeUnretainedValue()
            c.links.append((String(cString: name!), info!.pointee.type))
            return 0
        }, Unmanaged.passUnretained(collector).toOpaque())
        guard status >= 0 else { throw HDF5StoreError.library(path: path, operation: "visit", object: "/" + group) }
        var out: [String] = []
        for (rel, type) in collector.links {
            let full = "/\(group)/\(rel)"
            guard type == H5L_TYPE_HARD else {
                throw HDF5StoreError.unsupported(path: path, object: full, reason: "soft and external links are refused")
            }
            let oid = H5Oopen(fid, full, ckpt_H5P_DEFAULT())
            guard oid >= 0 else { throw HDF5StoreError.library(path: path, operation: "open", object: full) }
            let kind = H5Iget_type(oid)
            H5Oclose(oid)
            if kind == H5I_DATASET { out.append(rel) }
        }
        return out
    }

    private static func describe(_ fid: hid_t, _ dpath: String, relative: String, fileSize: Int, path: String) throws -> Location {
        let did = H5Dopen2(fid, dpath, ckpt_H5P_DEFAULT())
        guard did >= 0 else { throw HDF5StoreError.library(path: path, operation: "open", object: dpath) }
        defer { H5Dclose(did) }
        let name = HDF5Attr.readString(did, "name") ?? HDF5Names.name(fromRelativePath: relative)
        let object = "dataset \(dpath) ('\(name)')"

        let tid = H5Dget_type(did)
        defer { H5Tclose(tid) }
        let dtype = try HDF5Types.dtype(of: tid, hint: HDF5Attr.readString(did, "dtype"), path: path, object: object)
        let littleEndian = HDF5Types.isLittleEndian(tid)

        let sid = H5Dget_space(did)
        defer { H5Sclose(sid) }
        let rank = H5Sget_simple_extent_ndims(sid)
        guard rank >= 0, H5Sget_simple_extent_type(sid) != H5S_NULL else {
            throw HDF5StoreError.unsupported(path: path, object: object, reason: "dataspace has no shape")
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { H5Sget_simple_extent_dims(sid, &dims, nil) }
        guard dims.allSatisfy({ $0 <= hsize_t(Int.max) }),
              let info = TensorInfo(name: name, dtype: dtype, shape: dims.map { Int($0) })
        else { throw HDF5StoreError.corrupt(path: path, object: object, reason: "shape overflows a 64-bit size") }

        let dcpl = H5Dget_create_plist(did)
        defer { H5Pclose(dcpl) }
        if H5Pget_external_count(dcpl) > 0 {
            throw HDF5StoreError.unsupported(path: path, object: object, reason: "external storage is refused")
        }
        let layout = H5Pget_layout(dcpl)
        if layout == H5D_VIRTUAL {
            throw HDF5StoreError.unsupported(path: path, object: object, reason: "virtual datasets are refused")
        }
        var offset: Int? = nil
        if layout == H5D_CONTIGUOUS, H5Pget_nfilters(dcpl) == 0, littleEndian, info.byteCount > 0 {
            let address = H5Dget_offset(did)
            if address != ckpt_HADDR_UNDEF() {
                guard address <= haddr_t(fileSize), haddr_t(info.byteCount) <= haddr_t(fileSize) - address else {
                    throw HDF5StoreError.corrupt(
                        path: path, object: object,
                        reason: "data at offset \(address) with \(info.byteCount) bytes runs past the end of the file (\(fileSize) bytes)")
                }
                offset = Int(address)
            }
        }
        if offset == nil {
            // Read through HDF5 (chunked/compressed/big-endian): a small file must
            // not make ckpt allocate without bound. gzip expands at most ~1032×.
            let limit = fileSize.multipliedReportingOverflow(by: 1100).partialValue + (1 << 20)
            guard info.byteCount <= limit else {
                throw HDF5StoreError.corrupt(
                    path: path, object: object,
                    reason: "declares \(info.byteCount) bytes, more than a \(fileSize)-byte file can hold even compressed")
            }
        }
        return Location(info: info, datasetPath: dpath, offset: offset)
    }

    private static func readBytesDataset(_ fid: hid_t, _ dpath: String, limit: Int, path: String) throws -> [UInt8] {
        let did = H5Dopen2(fid, dpath, ckpt_H5P_DEFAULT())
        guard did >= 0 else { throw HDF5StoreError.library(path: path, operation: "open", object: dpath) }
        defer { H5Dclose(did) }
        let sid = H5Dget_space(did)
        defer { H5Sclose(sid) }
        let tid = H5Dget_type(did)
        defer { H5Tclose(tid) }
        guard H5Tget_class(tid) == H5T_INTEGER, H5Tget_size(tid) == 1, H5Sget_simple_extent_ndims(sid) == 1 else {
            throw HDF5StoreError.unsupported(path: path, object: dpath, reason: "files must be 1-D uint8 datasets")
        }
        var n: hsize_t = 0
        H5Sget_simple_extent_dims(sid, &n, nil)
        guard n <= hsize_t(min(limit, 1 << 30)) else {
            throw HDF5StoreError.corrupt(
                path: path, object: dpath, reason: "declares \(n) bytes, more than the store can hold (or over the 1 GiB limit)")
        }
        var out = [UInt8](repeating: 0, count: Int(n))
        if n > 0 {
            let status = out.withUnsafeMutableBytes {
                H5Dread(did, ckpt_H5T_STD_U8LE(), ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress)
            }
            guard status >= 0 else { throw HDF5StoreError.library(path: path, operation: "read", object: dpath) }
        }
        return out
    }
}

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

// MARK: - Types

enum HDF5Types {
    /// A new HDF5 type id (caller closes) for storing `dtype`, little-endian.
    static func create(_ dtype: DType) -> hid_t {
        switch dtype {
        case .f64: return H5Tcopy(ckpt_H5T_IEEE_F64LE())
        case .f32: return H5Tcopy(ckpt_H5T_IEEE_F32LE())
        case .f16:
            // IEEE binary16, built as h5py builds it.
            let t = H5Tcopy(ckpt_H5T_IEEE_F32LE())
            H5Tset_fields(t, 15, 10, 5, 0, 10)
            H5Tset_size(t, 2)
            H5Tset_ebias(t, 15)
            return t
        case .i64: return H5Tcopy(ckpt_H5T_STD_I64LE())
        case .i32: return H5Tcopy(ckpt_H5T_STD_I32LE())
        case .i16: return H5Tcopy(ckpt_H5T_STD_I16LE())
        case .i8: return H5Tcopy(ckpt_H5T_STD_I8LE())
        case .u64: return H5Tcopy(ckpt_H5T_STD_U64LE())
        case .u32: return H5Tcopy(ckpt_H5T_STD_U32LE())
        case .u16, .bf16: return H5Tcopy(ckpt_H5T_STD_U16LE())
        case .u8, .f8e4m3, .f8e5m2: return H5Tcopy(ckpt_H5T_STD_U8LE())
        case .bool:
            // h5py's boolean: an int8 enum with FALSE = 0, TRUE = 1.
            let t = H5Tenum_create(ckpt_H5T_NATIVE_INT8())
            var f: Int8 = 0
            var v: Int8 = 1
            H5Tenum_insert(t, "FALSE", &f)
            H5Tenum_insert(t, "TRUE", &v)
            return t
        }
    }

    /// The `dtype` attribute marking types HDF5 has no native form for.
    static func dtypeAttribute(_ dtype: DType) -> String? {
        switch dtype {
        case .bf16: return "bfloat16"
        case .f8e4m3: return "float8_e4m3fn"
        case .f8e5m2: return "float8_e5m2"
        default: return nil
        }
    }

    static func isLittleEndian(_ tid: hid_t) -> Bool {
        let cls = H5Tget_class(tid)
        if cls == H5T_ENUM {
            let base = H5Tget_super(tid)
            defer { H5Tclose(base) }
            return H5Tget_size(base) == 1 || H5Tget_order(base) == H5T_ORDER_LE
        }
        return H5Tget_size(tid) == 1 || H5Tget_order(tid) == H5T_ORDER_LE
    }

    /// The ckpt type of an HDF5 dataset type, using the `dtype` attribute for
    /// bf16 and float8. Only exact layouts are accepted (IEEE fields and biases,
    /// full-width integers, a 0/1 boolean enum), in either byte order, so that
    /// the bytes mean what the dtype says.
    static func dtype(of tid: hid_t, hint: String?, path: String, object: String) throws -> DType {
        let size = H5Tget_size(tid)
        switch H5Tget_class(tid) {
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            H5Tget_fields(tid, &spos, &epos, &esize, &mpos, &msize)
            let layout = [size, spos, epos, esize, mpos, msize, H5Tget_ebias(tid), H5Tget_offset(tid) == 0 ? 1 : 0]
            switch layout {
            case [8, 63, 52, 11, 0, 52, 1023, 1]: return .f64
            case [4, 31, 23, 8, 0, 23, 127, 1]: return .f32
            case [2, 15, 10, 5, 0, 10, 15, 1]: return .f16
            case [2, 15, 7, 8, 0, 7, 127, 1]: return .bf16
            default: break
            }
        case H5T_INTEGER:
            guard H5Tget_precision(tid) == size * 8, H5Tget_offset(tid) == 0 else { break }
            let signed = H5Tget_sign(tid) == H5T_SGN_2
            switch (size, signed, hint) {
            case (2, false, "bfloat16"?): return .bf16
            case (1, false, "float8_e4m3fn"?): return .f8e4m3
            case (1, false, "float8_e5m2"?): return .f8e5m2
            case (1, true, _): return .i8
            case (2, true, _): return .i16
            case (4, true, _): return .i32
            case (8, true, _): return .i64
            case (1, false, _): return .u8
            case (2, false, _): return .u16
            case (4, false, _): return .u32
            case (8, false, _): return .u64
            default: break
            }
        case H5T_ENUM:
            if size == 1, H5Tget_nmembers(tid) == 2, isBooleanEnum(tid) { return .bool }
        default: break
        }
        throw HDF5StoreError.unsupported(path: path, object: object, reason: "HDF5 type (class \(H5Tget_class(tid).rawValue), \(size) bytes) has no ckpt dtype")
    }

    /// h5py's boolean: members FALSE = 0 and TRUE = 1.
    private static func isBooleanEnum(_ tid: hid_t) -> Bool {
        var members: [String: Int8] = [:]
        for i: UInt32 in 0..<2 {
            guard let p = H5Tget_member_name(tid, i) else { return false }
            let name = String(cString: p)
            H5free_memory(p)
            var v: Int8 = -1
            guard H5Tget_member_value(tid, i, &v) >= 0 else { return false }
            members[name] = v
        }
        return members == ["FALSE": 0, "TRUE": 1]
    }
}

// MARK: - Attributes

enum HDF5Attr {
    /// Opens a one-element attribute and calls `body` with it and its type;
    /// nil when the attribute is absent or not a single value.
    private static func withScalar<R>(_ obj: hid_t, _ name: String, _ body: (hid_t, hid_t) -> R?) -> R? {
        guard H5Aexists(obj, name) > 0 else { return nil }
        let aid = H5Aopen(obj, name, ckpt_H5P_DEFAULT())
        guard aid >= 0 else { return nil }
        defer { H5Aclose(aid) }
        let tid = H5Aget_type(aid)
        defer { H5Tclose(tid) }
        let sid = H5Aget_space(aid)
        defer { H5Sclose(sid) }
        guard H5Sget_simple_extent_npoints(sid) == 1 else { return nil }
        return body(aid, tid)
    }

    /// Reads a string attribute (variable- or fixed-length); nil when absent or not a string.
    static func readString(_ obj: hid_t, _ name: String) -> String? {
        withScalar(obj, name) { aid, tid -> String? in
            guard H5Tget_class(tid) == H5T_STRING else { return nil }
            if H5Tis_variable_str(tid) > 0 {
                let mem = H5Tcopy(ckpt_H5T_C_S1())
                defer { H5Tclose(mem) }
                H5Tset_size(mem, ckpt_H5T_VARIABLE())
                H5Tset_cset(mem, H5Tget_cset(tid))
                var p: UnsafeMutablePointer<CChar>? = nil
                guard H5Aread(aid, mem, &p) >= 0, let p else { return nil }
                defer { H5free_memory(p) }
                return String(cString: p)
            }
            let size = H5Tget_size(tid)
            guard size > 0, size < 1 << 20 else { return nil }
            var buf = [UInt8](repeating: 0, count: size + 1)
            guard H5Aread(aid, tid, &buf) >= 0 else { return nil }
            let end = buf.firstIndex(of: 0) ?? size
            return String(decoding: buf[0..<end], as: UTF8.self)
        }
    }

    /// Reads an integer attribute; nil when absent or not an integer.
    static func readInt(_ obj: hid_t, _ name: String) -> Int64? {
        withScalar(obj, name) { aid, tid -> Int64? in
            guard H5Tget_class(tid) == H5T_INTEGER else { return nil }
            var v: Int64 = 0
            guard H5Aread(aid, ckpt_H5T_NATIVE_INT64(), &v) >= 0 else { return nil }
            return v
        }
    }

    /// Writes a scalar variable-length UTF-8 string attribute (what h5py reads as `str`).
    static func writeString(_ obj: hid_t, _ name: String, _ value: String, path: String) throws {
        let tid = H5Tcopy(ckpt_H5T_C_S1())
        defer { H5Tclose(tid) }
        H5Tset_size(tid, ckpt_H5T_VARIABLE())
        H5Tset_cset(tid, H5T_CSET_UTF8)
        let sid = H5Screate(H5S_SCALAR)
        defer { H5Sclose(sid) }
        let aid = H5Acreate2(obj, name, tid, sid, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        guard aid >= 0 else { throw HDF5StoreError.library(path: path, operation: "create attribute", object: name) }
        defer { H5Aclose(aid) }
        let status = value.withCString { cstr -> herr_t in
            var p: UnsafePointer<CChar>? = cstr
            return H5Awrite(aid, tid, &p)
        }
        guard status >= 0 else { throw HDF5StoreError.library(path: path, operation: "write attribute", object: name) }
    }

    /// Writes a scalar int64 attribute.
    static func writeInt(_ obj: hid_t, _ name: String, _ value: Int64, path: String) throws {
        let sid = H5Screate(H5S_SCALAR)
        defer { H5Sclose(sid) }
        let aid = H5Acreate2(obj, name, ckpt_H5T_STD_I64LE(), sid, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        guard aid >= 0 else { throw HDF5StoreError.library(path: path, operation: "create attribute", object: name) }
        defer { H5Aclose(aid) }
        var v = value
        guard H5Awrite(aid, ckpt_H5T_NATIVE_INT64(), &v) >= 0 else {
            throw HDF5StoreError.library(path: path, operation: "write attribute", object: name)
        }
    }
}
