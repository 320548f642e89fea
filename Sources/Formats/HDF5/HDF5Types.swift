// The HDF5 types and attributes of a ckpt-hdf5 store: ckpt's dtypes as HDF5
// types (bf16 as uint16, bool as h5py's enum) and one-value attributes.

import CHDF5

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
