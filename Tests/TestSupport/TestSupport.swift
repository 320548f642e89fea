// Helpers shared by the test targets: fixture paths, scratch directories, SHA-256.

import CHDF5
import Formats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths of the committed fixtures (written by tools/fixtures/make_fixtures.py).
public enum Fixtures {
    /// The repository root, found from this file's path.
    public static let root: String = {
        var p = #filePath
        for _ in 0..<3 { p = FileSystem.dirname(p) }  // Tests/TestSupport/TestSupport.swift → repo
        return p
    }()

    /// `Tests/Fixtures/<name>`.
    public static func path(_ name: String) -> String { root + "/Tests/Fixtures/" + name }

    /// Parses a JSON fixture.
    public static func json(_ name: String) throws -> JSONValue {
        try JSONParser.parse(try readFile(path(name)), path: path(name))
    }
}

/// A fresh directory under /tmp, removed when the value is dropped.
public final class ScratchDirectory {
    public let path: String

    public init() {
        var template = Array("/tmp/ckpt-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    deinit { _ = system("rm -rf '\(path)'") }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes bytes to `path/name`.
    public func write(_ name: String, _ bytes: [UInt8]) {
        let fd = open(file(name), O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0)
        bytes.withUnsafeBytes { _ = Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Every name in the directory (hidden ones included).
    public func names() -> [String] { (try? FileSystem.list(path)) ?? [] }
}

/// SHA-256 (FIPS 180-4), hex encoded.
public func sha256Hex(_ data: UnsafeRawBufferPointer) -> String {
    let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var message = Array(data)
    let bitLength = UInt64(message.count) * 8
    message.append(0x80)
    while message.count % 64 != 56 { message.append(0) }
    for i in (0..<8).reversed() { message.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
    func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    var w = [UInt32](repeating: 0, count: 64)
    for chunk in stride(from: 0, to: message.count, by: 64) {
        for i in 0..<16 {
            let b = chunk + i * 4
            w[i] = UInt32(message[b]) << 24 | UInt32(message[b + 1]) << 16 | UInt32(message[b + 2]) << 8 | UInt32(message[b + 3])
        }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
        for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d
        h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
    }
    return h.map { v in
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }.joined()
}

/// SHA-256 of a byte array, hex encoded.
public func sha256Hex(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { sha256Hex($0) } }

/// Builds a safetensors file from a raw header text and data bytes.
public func safetensorsBytes(header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var out = withUnsafeBytes(of: (lengthOverride ?? UInt64(h.count)).littleEndian) { Array($0) }
    out += h
    out += data
    return out
}

// MARK: - Hand-built HDF5 files

/// Builds a small HDF5 file with the raw C API (callers hold `withHDF5Lock`:
/// the library is not thread-safe and other suites use it in parallel).
public final class RawHDF5 {
    public let fid: hid_t

    /// A new file; `format` sets the library version bounds (the object
    /// header and layout versions written), HDF5's earliest by default.
    public init(_ path: String, format: (H5F_libver_t, H5F_libver_t)? = nil) {
        let fapl = H5Pcreate(ckpt_H5P_FILE_ACCESS())
        H5Pset_file_locking(fapl, false, true)
        if let format { H5Pset_libver_bounds(fapl, format.0, format.1) }
        fid = H5Fcreate(path, ckpt_H5F_ACC_TRUNC(), ckpt_H5P_DEFAULT(), fapl)
        H5Pclose(fapl)
    }

    public func stringAttr(_ name: String, _ value: String, on obj: hid_t? = nil) {
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

    public func intAttr(_ name: String, _ value: Int64) {
        let sid = H5Screate(H5S_SCALAR)
        let aid = H5Acreate2(fid, name, ckpt_H5T_STD_I64LE(), sid, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())
        var v = value
        H5Awrite(aid, ckpt_H5T_NATIVE_INT64(), &v)
        H5Aclose(aid); H5Sclose(sid)
    }

    public func storeHeader(version: Int64 = 1) {
        stringAttr("format", "ckpt-hdf5")
        intAttr("format_version", version)
    }

    public func group(_ path: String) { H5Gclose(H5Gcreate2(fid, path, ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT(), ckpt_H5P_DEFAULT())) }

    /// A dataset of `dims` with file type `type`, optionally chunked (and
    /// gzip-compressed, with a fletcher32 checksum); filled with `bytes` if given. Returns the file offset
    /// and size of its first chunk when chunked.
    @discardableResult
    public func dataset(_ path: String, type: hid_t, dims: [hsize_t], chunk: [hsize_t]? = nil, gzip: Bool = false,
                        fletcher32: Bool = false, bytes: [UInt8]? = nil) -> (offset: Int, size: Int)? {
        let sid = H5Screate_simple(Int32(dims.count), dims, nil)
        let dcpl = H5Pcreate(ckpt_H5P_DATASET_CREATE())
        if let chunk { H5Pset_chunk(dcpl, Int32(chunk.count), chunk) }
        if gzip { H5Pset_deflate(dcpl, 6) }
        if fletcher32 { H5Pset_fletcher32(dcpl) }
        let did = H5Dcreate2(fid, path, type, sid, ckpt_H5P_DEFAULT(), dcpl, ckpt_H5P_DEFAULT())
        if let bytes { bytes.withUnsafeBytes { _ = H5Dwrite(did, type, ckpt_H5S_ALL(), ckpt_H5S_ALL(), ckpt_H5P_DEFAULT(), $0.baseAddress) } }
        var first: (Int, Int)? = nil
        if chunk != nil, bytes != nil {
            H5Fflush(did, H5F_SCOPE_LOCAL)
            var offset = [hsize_t](repeating: 0, count: dims.count)
            var mask: UInt32 = 0
            var addr: haddr_t = 0
            var size: hsize_t = 0
            if H5Dget_chunk_info(did, sid, 0, &offset, &mask, &addr, &size) >= 0 { first = (Int(addr), Int(size)) }
        }
        H5Pclose(dcpl); H5Sclose(sid)
        H5Dclose(did)
        return first
    }

    public func close() { H5Fclose(fid) }
}

