// AtomicFile / AtomicDirectory — outputs that appear under their final name only
// once complete: written to a temporary name in the target directory, fsynced,
// then renamed.

import CShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A temporary name beside `path`: `.NAME.ckpt-tmp-PID-RANDOM` in the same directory.
func temporarySibling(of path: String) -> String {
    let dir = FileSystem.dirname(path)
    let name = FileSystem.basename(path)
    let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    return FileSystem.join(dir, ".\(name).ckpt-tmp-\(getpid())-\(tag)")
}

/// Temporary outputs being written, so an interrupted run can remove them.
private let temporaries = TemporaryRegistry()

final class TemporaryRegistry: @unchecked Sendable {
    private let lock = RecursiveLock()
    private var paths: Set<String> = []

    func add(_ p: String) { lock.run { _ = paths.insert(p) } }
    func remove(_ p: String) { lock.run { _ = paths.remove(p) } }
    func all() -> [String] { lock.run { Array(paths) } }
    /// Runs `body` with the registry locked: a commit (rename, then
    /// unregister) and the interrupt cleanup never interleave.
    func exclusive<R>(_ body: () throws -> R) rethrows -> R { try lock.run(body) }
}

/// Removes every temporary output still being written (files and directories).
/// The command line calls this when it is interrupted (SIGINT, SIGTERM), so a
/// stopped run leaves nothing behind.
public func removeTemporaryOutputs() {
    temporaries.exclusive {
        for p in temporaries.all() {
            removeTree(p)
            temporaries.remove(p)
        }
    }
}

/// Renames `from` to `to`, failing with EEXIST if `to` exists (even if it
/// appeared after the caller looked). Falls back to link + unlink for files
/// where the file system cannot rename without replacing.
func renameNoReplace(_ from: String, _ to: String) -> Int32 {
    if ckpt_rename_noreplace(from, to) == 0 { return 0 }
    guard errno == ENOSYS || errno == EINVAL else { return -1 }
    if FileSystem.isDirectory(from) { return rename(from, to) }
    guard link(from, to) == 0 else { return -1 }
    unlink(from)
    return 0
}

/// fsyncs a directory so a rename inside it is durable.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 { _ = fsync(fd); close(fd) }
}

/// Whether a temporary file is abandoned: no process holds the lock that
/// `AtomicFile.lock()` takes. Unlike a process id, a lock is seen across PID
/// namespaces and after a process id is reused.
public func isAbandonedTemporary(_ path: String) -> Bool {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return flock(fd, LOCK_EX | LOCK_NB) == 0
}

/// Removes a file or a directory tree; errors are ignored (used for cleanup).
public func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) == S_IFDIR {
        if let names = try? FileSystem.list(path) {
            for n in names { removeTree(FileSystem.join(path, n)) }
        }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// A file being written under a temporary name. Call `commit()` to fsync it and
/// rename it to its final path; if it is dropped uncommitted, the temporary file
/// is removed.
public final class AtomicFile {
    /// The final path.
    public let path: String
    /// The temporary path being written.
    public let temporaryPath: String
    let fd: Int32
    private let overwrite: Bool
    private var finished = false

    /// Creates the temporary file.
    ///
    /// - Parameter overwrite: when false, an existing file at `path` is an error.
    /// - Throws: `FileError` (`EEXIST` when `path` exists and `overwrite` is false).
    public init(path: String, overwrite: Bool = false) throws {
        if !overwrite && FileSystem.exists(path) {
            throw FileError(path: path, operation: "create (already exists; pass --force to replace it)", code: EEXIST)
        }
        self.path = path
        self.overwrite = overwrite
        self.temporaryPath = temporarySibling(of: path)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.current(temporaryPath, "create") }
        self.fd = fd
        temporaries.add(temporaryPath)
    }

    deinit {
        if !finished {
            close(fd)
            unlink(temporaryPath)
            temporaries.remove(temporaryPath)
        }
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try writeAll(fd: fd, bytes, at: offset, path: path)
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: Int) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Copies `count` bytes of `source` starting at `sourceOffset` to `offset`,
    /// in the kernel where it can (`copy_file_range`), else through a buffer.
    public func copy(from source: MappedFile, sourceOffset: Int, count: Int, to offset: Int) throws {
        try copyRange(from: source, sourceOffset: sourceOffset, count: count, toFD: fd, at: offset, path: path)
    }

    /// Asks the kernel to start writing a range to disk now, so the final fsync
    /// has less left to wait for. Advisory: failures are ignored.
    public func startWriteback(offset: Int, count: Int) {
        guard count > 0 else { return }
        _ = ckpt_start_writeback(fd, Int64(offset), Int64(count))
    }

    /// Takes an exclusive `flock` on the temporary file, held until it is
    /// committed or dropped, so that other processes can tell a temporary that
    /// is being written from one left by a killed process (`isAbandonedTemporary`).
    public func lock() { _ = flock(fd, LOCK_EX | LOCK_NB) }

    /// Sets the file's size.
    public func truncate(to size: Int) throws {
        guard ftruncate(fd, off_t(size)) == 0 else { throw FileError.current(path, "truncate") }
    }

    /// fsyncs the file, renames it to `path` and fsyncs the directory. Without
    /// `overwrite`, a file that appeared at `path` meanwhile is not replaced.
    public func commit() throws {
        try temporaries.exclusive { try commitLocked() }
    }

    private func commitLocked() throws {
        guard !finished else { return }
        guard fsync(fd) == 0 else { throw FileError.current(path, "fsync") }
        close(fd)
        finished = true
        defer { temporaries.remove(temporaryPath) }
        let status = overwrite ? rename(temporaryPath, path) : renameNoReplace(temporaryPath, path)
        guard status == 0 else {
            let e = errno == EEXIST
                ? FileError(path: path, operation: "create (already exists; pass --force to replace it)", code: EEXIST)
                : FileError.current(path, "rename")
            unlink(temporaryPath)
            throw e
        }
        syncDirectory(FileSystem.dirname(path))
    }

    /// Abandons the file, removing the temporary name.
    public func discard() {
        guard !finished else { return }
        finished = true
        close(fd)
        unlink(temporaryPath)
        temporaries.remove(temporaryPath)
    }
}

/// A directory being filled under a temporary name; `commit()` renames it to
/// its final path. Dropped uncommitted, the temporary tree is removed.
public final class AtomicDirectory {
    /// The final path.
    public let path: String
    /// The temporary directory to write into.
    public let temporaryPath: String
    private let overwrite: Bool
    private var finished = false

    /// Creates the temporary directory.
    ///
    /// - Parameter overwrite: when true an existing `path` is replaced on commit;
    ///   otherwise an existing, non-empty `path` is an error.
    /// - Throws: `FileError`.
    public init(path: String, overwrite: Bool = false) throws {
        let p = FileSystem.normalized(path)
        if !overwrite && FileSystem.exists(p) {
            let empty = FileSystem.isDirectory(p) && ((try? FileSystem.list(p))?.isEmpty ?? false)
            if !empty {
                throw FileError(path: p, operation: "create (already exists; pass --force to replace it)", code: EEXIST)
            }
        }
        self.path = p
        self.overwrite = overwrite
        self.temporaryPath = temporarySibling(of: p)
        guard mkdir(temporaryPath, 0o755) == 0 else { throw FileError.current(temporaryPath, "mkdir") }
        temporaries.add(temporaryPath)
    }

    deinit {
        if !finished {
            removeTree(temporaryPath)
            temporaries.remove(temporaryPath)
        }
    }

    /// The temporary path of a file named `name` inside the directory.
    public func file(_ name: String) -> String { FileSystem.join(temporaryPath, name) }

    /// Writes a small file inside the directory (fsynced).
    public func writeFile(_ name: String, _ bytes: [UInt8]) throws {
        let p = file(name)
        let fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.current(p, "create") }
        defer { close(fd) }
        try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, at: 0, path: p) }
        guard fsync(fd) == 0 else { throw FileError.current(p, "fsync") }
    }

    /// Renames the directory into place. With `overwrite`, an existing `path`
    /// is swapped out in one atomic exchange and then removed; without it, only
    /// an empty directory at `path` is replaced, and one that appeared meanwhile
    /// is an error.
    public func commit() throws {
        try temporaries.exclusive { try commitLocked() }
    }

    private func commitLocked() throws {
        guard !finished else { return }
        syncDirectory(temporaryPath)
        if overwrite && FileSystem.exists(path) {
            if ckpt_rename_exchange(temporaryPath, path) == 0 {
                finished = true
                temporaries.remove(temporaryPath)
                removeTree(temporaryPath)  // now the old tree
            } else {
                // No atomic exchange here: move the old tree aside, then rename.
                let old = temporarySibling(of: path)
                guard rename(path, old) == 0 else { throw FileError.current(path, "rename") }
                guard rename(temporaryPath, path) == 0 else {
                    let e = FileError.current(path, "rename")
                    _ = rename(old, path)
                    throw e
                }
                finished = true
                temporaries.remove(temporaryPath)
                removeTree(old)
            }
        } else {
            if FileSystem.isDirectory(path) { rmdir(path) }  // only succeeds when empty
            guard renameNoReplace(temporaryPath, path) == 0 else {
                if errno == EEXIST || errno == ENOTEMPTY {
                    throw FileError(path: path, operation: "create (already exists; pass --force to replace it)", code: EEXIST)
                }
                throw FileError.current(path, "rename")
            }
            finished = true
            temporaries.remove(temporaryPath)
        }
        syncDirectory(FileSystem.dirname(path))
    }
}

// MARK: - Low-level helpers

func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
    var done = 0
    while done < bytes.count {
        let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError.current(path, "write")
        }
        done += n
    }
}

func copyRange(from source: MappedFile, sourceOffset: Int, count: Int, toFD fd: Int32, at offset: Int, path: String) throws {
    guard count > 0 else { return }
    guard sourceOffset >= 0, count <= source.bytes.count, sourceOffset <= source.bytes.count - count else {
        throw FileError(path: source.path, operation: "copy (range outside the file)", code: EINVAL)
    }
    var inOff = Int64(sourceOffset)
    var outOff = Int64(offset)
    var left = count
    while left > 0 {
        let n = ckpt_copy_file_range(source.fd, &inOff, fd, &outOff, left)
        if n < 0 {
            if errno == EINTR { continue }
            if errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP { break }
            throw FileError.current(path, "copy_file_range")
        }
        if n == 0 { break }
        left -= n
    }
    if left > 0 {
        let done = count - left
        let view = UnsafeRawBufferPointer(rebasing: source.bytes[(sourceOffset + done)..<(sourceOffset + count)])
        try writeAll(fd: fd, view, at: offset + done, path: path)
        source.release(offset: sourceOffset + done, count: left)
    }
}

extension FileSystem {
    /// Creates `path` and its missing parents (`mkdir -p`).
    ///
    /// - Throws: `FileError` when a component cannot be created or is not a directory.
    public static func makeDirectories(_ path: String) throws {
        let p = normalized(path)
        if isDirectory(p) { return }
        let parent = dirname(p)
        if parent != p && !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(p, 0o755) != 0 && !(errno == EEXIST && isDirectory(p)) { throw FileError.current(p, "mkdir") }
    }

    /// Removes a directory tree without ever leaving a partial tree under its
    /// name: it is first renamed to a temporary sibling, then deleted.
    public static func removeDirectory(_ path: String) throws {
        let p = normalized(path)
        let aside = temporarySibling(of: p)
        guard Glibc.rename(p, aside) == 0 else { throw FileError.current(p, "rename") }
        syncDirectory(dirname(p))
        removeTree(aside)
    }
}

extension FileSystem {
    /// A fresh hidden name beside `path` for work in progress (`.name.ckpt-tmp-…`).
    /// It is registered with `removeTemporaryOutputs()` (an interrupted run
    /// removes it) until `publish(_:as:)` moves it into place.
    public static func temporaryName(beside path: String) -> String {
        let t = temporarySibling(of: normalized(path))
        temporaries.add(t)
        return t
    }

    /// Moves the finished temporary `temp` to `path` in one step: an existing
    /// `path` is swapped out atomically (then removed), so a crash leaves either
    /// the old or the new output under the name, never neither.
    public static func publish(_ temp: String, as path: String) throws {
        try temporaries.exclusive { try publishLocked(temp, as: path) }
    }

    private static func publishLocked(_ temp: String, as path: String) throws {
        let dst = normalized(path)
        syncDirectory(temp)
        if exists(dst) {
            guard ckpt_rename_exchange(temp, dst) == 0 else { throw FileError.current(dst, "rename (exchange)") }
            temporaries.remove(temp)
            syncDirectory(dirname(dst))
            removeTree(temp)  // now the old output
        } else {
            guard Glibc.rename(temp, dst) == 0 else { throw FileError.current(dst, "rename") }
            temporaries.remove(temp)
            syncDirectory(dirname(dst))
        }
    }
}
