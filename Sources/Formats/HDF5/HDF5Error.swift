// HDF5StoreError — what can be wrong with a ckpt-hdf5 store.

/// A ckpt-hdf5 store that cannot be read or written.
public enum HDF5StoreError: Error, Equatable, CustomStringConvertible {
    /// The file is not an HDF5 file, or HDF5 could not open it.
    case notHDF5(path: String)
    /// The file is HDF5 but not a ckpt-hdf5 store (the `format` attribute is
    /// missing or different).
    case notStore(path: String, found: String)
    /// The store's `format_version` is not one this ckpt reads.
    case unsupportedVersion(path: String, version: String)
    /// An object uses something ckpt refuses (external storage or links,
    /// unsupported types, virtual layouts).
    case unsupported(path: String, object: String, reason: String)
    /// A tensor's stored bytes lie outside the file.
    case corrupt(path: String, object: String, reason: String)
    /// An HDF5 library call failed.
    case library(path: String, operation: String, object: String)
    /// A tensor asked for is not in the store.
    case missingTensor(path: String, tensor: String)
    /// Two tensors carry the same name.
    case duplicateName(path: String, tensor: String)

    public var description: String {
        switch self {
        case let .notHDF5(p):
            return "\(p): not an HDF5 file (or HDF5 cannot open it)"
        case let .notStore(p, found):
            return "\(p): HDF5 file is not a ckpt-hdf5 store (root attribute format is \(found))"
        case let .unsupportedVersion(p, v):
            return "\(p): ckpt-hdf5 format_version \(v) is not supported (this ckpt reads version 1)"
        case let .unsupported(p, o, reason):
            return "\(p): \(o): \(reason)"
        case let .corrupt(p, o, reason):
            return "\(p): \(o): \(reason)"
        case let .library(p, op, o):
            return "\(p): HDF5 \(op) failed for \(o)"
        case let .missingTensor(p, t):
            return "\(p): no tensor named '\(t)'"
        case let .duplicateName(p, t):
            return "\(p): two datasets carry the tensor name '\(t)'"
        }
    }
}
