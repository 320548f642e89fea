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
let silenceHDF5: Void = {
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
        try HDF5Sanitizer.check(map.bytes, path: path)
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

        // Everything read through HDF5 (chunked, compressed, big-endian
        // datasets and the files) may declare together no more than the file
        // could hold compressed: chunks never written read as fill values, so
        // a small file could otherwise declare gigabytes over many datasets.
        var budget = map.bytes.count.multipliedReportingOverflow(by: 1100).partialValue + (1 << 20)
        var locations: [String: Location] = [:]
        if try hardLinkExists(fid, "tensors", path: path) {
            for rel in try HDF5Store.datasets(fid, under: "tensors", path: path) {
                let dpath = "/tensors/" + rel
                let loc = try HDF5Store.describe(fid, dpath, relative: rel, fileSize: map.bytes.count, path: path)
                if locations[loc.info.name] != nil {
                    throw HDF5StoreError.duplicateName(path: path, tensor: loc.info.name)
                }
                if loc.offset == nil {
                    guard loc.info.byteCount <= budget else {
                        throw HDF5StoreError.corrupt(
                            path: path, object: dpath,
                            reason: "with the datasets before it, declares more than a \(map.bytes.count)-byte file can hold even compressed")
                    }
                    budget -= loc.info.byteCount
                }
                locations[loc.info.name] = loc
            }
        }
        var files: [(name: String, bytes: [UInt8])] = []
        if try hardLinkExists(fid, "files", path: path) {
            budget = min(Int(UInt32.max), budget)
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
