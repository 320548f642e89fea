// TextBlocks — text files read in blocks of whole lines, and worked on in
// parallel with results handed back in file order. Every text reader of ckpt
// (tokenize, the training corpus) streams through here, so memory depends on
// the block size, not on the file size.

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A text file that cannot be used, with where and why.
public struct CorpusError: Error, Equatable, CustomStringConvertible {
    public let path: String
    /// 1-based line, when the problem is on one line.
    public let line: Int?
    public let reason: String
    public init(path: String, line: Int? = nil, reason: String) { self.path = path; self.line = line; self.reason = reason }
    public var description: String { line.map { "\(path):\($0): \(reason)" } ?? "\(path): \(reason)" }
}

/// The size of a regular file, in bytes.
///
/// - Throws: `FileError` when it cannot be opened or is not a regular file.
public func fileSize(_ path: String) throws -> Int {
    let fd = try openRegularFile(path)
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw FileError.current(path, "stat") }
    return Int(st.st_size)
}

/// A run of whole lines of a text file.
public struct TextBlock: Sendable {
    /// The block's bytes, line ends included.
    public let bytes: [UInt8]
    /// Each line's bytes in `bytes`, without its `\n` (or `\r\n`).
    public let lines: [Range<Int>]
    /// The 1-based line number of `lines[0]`.
    public let firstLine: Int
    /// Bytes of the file up to the end of this block.
    public let endOffset: Int

    /// Line `i` as a string, or a `CorpusError` naming the line when it is not UTF-8.
    public func string(_ i: Int, path: String) throws -> String {
        guard let s = bytes.withUnsafeBufferPointer({ String(validating: UnsafeBufferPointer(rebasing: $0[lines[i]]), as: UTF8.self) }) else {
            throw CorpusError(path: path, line: firstLine + i, reason: "invalid UTF-8")
        }
        return s
    }
}

/// Reads a text file as blocks of whole lines (about `blockSize` bytes each;
/// a longer line makes its block longer). Lines split as `lineRanges` splits
/// them. A NUL byte is an error naming its line: the file is not text.
public final class TextBlockReader {
    public let path: String
    /// The file's size in bytes (for progress).
    public let size: Int
    private let fd: Int32
    private let blockSize: Int
    private var offset = 0
    private var carry: [UInt8] = []
    private var nextLine = 1

    public init(path: String, blockSize: Int = 1 << 20) throws {
        fd = try openRegularFile(path)
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = FileError.current(path, "stat"); close(fd); throw e }
        self.path = path
        self.size = Int(st.st_size)
        self.blockSize = max(1, blockSize)
    }

    deinit { close(fd) }

    /// The next block, or nil at the end of the file.
    public func next() throws -> TextBlock? {
        var buffer = carry
        carry = []
        var atEnd = false
        // Read until the buffer holds at least one line end (or the file ends).
        while true {
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: blockSize))
            var n = 0
            while true {
                n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + start, blockSize, off_t(offset)) }
                if n < 0 && errno == EINTR { continue }
                break
            }
            guard n >= 0 else { throw FileError.current(path, "read") }
            buffer.removeLast(blockSize - n)
            offset += n
            if n == 0 { atEnd = true; break }
            if buffer[start...].contains(0x0A) { break }
        }
        if buffer.isEmpty { return nil }
        var end = buffer.count
        if !atEnd {
            end = buffer.lastIndex(of: 0x0A)! + 1
            carry = Array(buffer[end...])
            buffer.removeLast(buffer.count - end)
        }
        let lines = lineRanges(buffer)
        if let nul = buffer.firstIndex(of: 0) {
            let line = nextLine + buffer[..<nul].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            throw CorpusError(path: path, line: line, reason: "binary data (a NUL byte): not a text file")
        }
        let block = TextBlock(bytes: buffer, lines: lines, firstLine: nextLine, endOffset: offset - carry.count)
        nextLine += lines.count
        return block
    }
}

/// Runs `work` on the blocks of `reader` in parallel, a contiguous run of
/// lines per task, and hands each task's result to `consume` in file order.
/// The first error in file order is thrown (a task stops at its first error).
///
/// - Parameters:
///   - threads: concurrent tasks.
///   - work: called with the block and a range of its line indices.
///   - consume: called serially, in order, with each result and the block.
public func forEachLineRun<R>(_ reader: TextBlockReader, threads: Int,
                              work: @Sendable (TextBlock, Range<Int>) throws -> R,
                              consume: (R, TextBlock) throws -> Void) throws {
    while let block = try reader.next() {
        let runs = lineRuns(block, parts: max(1, threads) * 8)
        let results = parallelMap(runs.count, threads: threads) { try work(block, runs[$0]) }
        for r in results { try consume(try r.get(), block) }
    }
}

/// Splits a block's lines into about `parts` runs of similar byte size.
public func lineRuns(_ block: TextBlock, parts: Int) -> [Range<Int>] {
    let n = block.lines.count
    guard n > 0 else { return [] }
    let target = max(1, block.bytes.count / parts)
    var runs: [Range<Int>] = []
    var start = 0, bytes = 0
    for i in 0..<n {
        bytes += block.lines[i].count + 1
        if bytes >= target || i == n - 1 {
            runs.append(start..<(i + 1))
            start = i + 1
            bytes = 0
        }
    }
    return runs
}

/// `body(0..<count)` on up to `threads` threads; results in index order.
public func parallelMap<R>(_ count: Int, threads: Int, _ body: @Sendable (Int) throws -> R) -> [Result<R, Error>] {
    guard count > 0 else { return [] }
    if threads <= 1 || count == 1 { return (0..<count).map { i in Result { try body(i) } } }
    let out = UnsafeMutableBufferPointer<Result<R, Error>?>.allocate(capacity: count)
    out.initialize(repeating: nil)
    defer { out.deinitialize(); out.deallocate() }
    nonisolated(unsafe) let slots = out
    let next = AtomicCounter()
    DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
        while true {
            let i = next.increment()
            if i >= count { break }
            slots[i] = Result { try body(i) }
        }
    }
    return out.map { $0! }
}

/// A counter shared by the workers of `parallelMap`.
final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    /// Allocated, so that the mutex never moves.
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }
    deinit { pthread_mutex_destroy(m); m.deallocate() }
    /// Returns the value before the increment.
    func increment() -> Int {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        value += 1
        return value - 1
    }
}
