// MappedFile — a read-only memory map of a whole file.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only, shared memory map of a file. Tensor views point into it and
/// keep it alive; the map is removed when the last reference goes.
public final class MappedFile: @unchecked Sendable {
    /// The path that was mapped.
    public let path: String
    /// The file's bytes. Empty for an empty file.
    public let bytes: UnsafeRawBufferPointer
    /// An open descriptor on the file, kept for in-kernel copies.
    let fd: Int32

    /// Maps `path` read-only.
    ///
    /// - Throws: `FileError` when the file cannot be opened, is not a regular
    ///   file, or cannot be mapped.
    public init(path: String) throws {
        let fd = try openRegularFile(path)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = FileError.current(path, "stat"); close(fd); throw e
        }
        let size = Int(st.st_size)
        if size == 0 {
            self.bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        } else {
            guard let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
                let e = FileError.current(path, "mmap"); close(fd); throw e
            }
            self.bytes = UnsafeRawBufferPointer(start: p, count: size)
        }
        self.fd = fd
        self.path = path
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
        close(fd)
    }

    /// Tells the kernel the given byte range will not be read again soon, so its
    /// pages leave this process's resident set (they stay in the page cache).
    public func release(offset: Int, count: Int) {
        guard count > 0, let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        let end = min(bytes.count, offset + count)
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}

/// Reads a whole (small) file into memory.
///
/// - Parameter limit: the largest size accepted, in bytes.
/// - Throws: `FileError`, with `EFBIG` when the file is larger than `limit`.
public func readFile(_ path: String, limit: Int = 1 << 30) throws -> [UInt8] {
    let fd = try openRegularFile(path)
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileError.current(path, "stat") }
    guard Int(st.st_size) <= limit else { throw FileError(path: path, operation: "read (file too large)", code: EFBIG) }
    var out = [UInt8](repeating: 0, count: Int(st.st_size))
    var done = 0
    while done < out.count {
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError.current(path, "read")
        }
        if n == 0 { break }
        done += n
    }
    if done < out.count { out.removeSubrange(done...) }
    return out
}

/// File-system queries used by format detection.
public enum FileSystem {
    /// True when `path` names a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// True when `path` names a regular file (following links).
    public static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// True when anything exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The names in a directory, sorted, without `.` and `..`.
    public static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw FileError.current(path, "opendir") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Reads the first `count` bytes of a file (fewer if it is shorter).
    public static func head(_ path: String, count: Int) throws -> [UInt8] {
        let fd = try openRegularFile(path)
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, 0) }
        guard n >= 0 else { throw FileError.current(path, "read") }
        return Array(out[0..<n])
    }

    /// Joins path components with `/`.
    public static func join(_ a: String, _ b: String) -> String {
        if a.isEmpty { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// A regular file's size in bytes.
    public static func size(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileError.current(path, "stat") }
        return Int(st.st_size)
    }

    /// The path without trailing slashes (`"/"` stays `"/"`).
    public static func normalized(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    /// The directory part of a path (`"."` when there is none).
    public static func dirname(_ path: String) -> String {
        let p = normalized(path)
        guard let slash = p.lastIndex(of: "/") else { return "." }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    /// The last component of a path.
    public static func basename(_ path: String) -> String {
        let p = normalized(path)
        guard let slash = p.lastIndex(of: "/") else { return p }
        return String(p[p.index(after: slash)...])
    }
}

/// Opens a regular file read-only. The open does not block (a FIFO given as a
/// checkpoint must not hang ckpt); anything but a regular file is refused.
func openRegularFile(_ path: String) throws -> Int32 {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw FileError.current(path, "open") }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let e = FileError.current(path, "stat"); close(fd); throw e
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        close(fd)
        throw FileError(path: path, operation: "open (not a regular file)", code: EINVAL)
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return fd
}
