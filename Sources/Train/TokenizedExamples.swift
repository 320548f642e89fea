// TokenizedExamples — training examples as token ids end to end with an
// offsets index, in memory or memory-mapped from a token cache file, and
// ExampleSet, a selection of them (the train or eval part).
//
// Layout (the data section of a cache file, and of the in-memory form):
//   ids         (T)    U16 or U32   every example's ids, end to end
//   offsets     (N+1)  U64          example i is ids[offsets[i] ..< offsets[i+1]]
//   labels      (T)    I32          optional: labels given by the data (−100 elsewhere)
//   has_labels  (N)    U8           optional: 1 where example i came with labels
// T tokens, N examples. Values are little-endian and read unaligned.

import Formats
import Model

/// Tokenized examples, in memory or mapped from a token cache.
public final class TokenizedExamples: @unchecked Sendable, Equatable {
    /// Examples.
    public let count: Int
    /// Tokens of all examples.
    public let tokenCount: Int
    /// Bytes per id: 2 or 4.
    public let idWidth: Int
    /// The largest id (−1 without tokens).
    public let maxID: Int
    /// XXH64 of the data section: identifies the contents.
    public let checksum: UInt64
    /// Whether any example came with labels.
    public var hasLabels: Bool { labels != nil }

    private let ids: UnsafeRawPointer
    private let offsets: UnsafeRawPointer
    private let labels: UnsafeRawPointer?
    private let labelled: UnsafeRawPointer?
    /// Keeps the memory behind the pointers alive.
    private let owner: AnyObject

    init(data: UnsafeRawBufferPointer, owner: AnyObject, count: Int, tokenCount: Int, idWidth: Int, hasLabels: Bool,
         maxID: Int, checksum: UInt64) {
        let base = data.baseAddress ?? UnsafeRawPointer(bitPattern: 16)!
        self.ids = base
        self.offsets = base + tokenCount * idWidth
        if hasLabels {
            labels = offsets + (count + 1) * 8
            labelled = labels! + tokenCount * 4
        } else {
            labels = nil
            labelled = nil
        }
        self.owner = owner
        self.count = count
        self.tokenCount = tokenCount
        self.idWidth = idWidth
        self.maxID = maxID
        self.checksum = checksum
    }

    /// The bytes of the data section for `count` examples of `tokens` tokens.
    static func dataSize(count: Int, tokens: Int, idWidth: Int, hasLabels: Bool) -> Int {
        tokens * idWidth + (count + 1) * 8 + (hasLabels ? tokens * 4 + count : 0)
    }

    /// Where example `i`'s tokens are among all tokens.
    /// (Clamped to the tokens: the offsets were checked when the cache was
    /// opened, but a mapped file can still be changed underneath.)
    @inline(__always)
    public func tokenRange(_ i: Int) -> Range<Int> {
        let a = UInt64(littleEndian: offsets.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        let b = UInt64(littleEndian: offsets.loadUnaligned(fromByteOffset: (i + 1) * 8, as: UInt64.self))
        let lo = Int(min(a, UInt64(tokenCount))), hi = Int(min(max(b, UInt64(lo)), UInt64(tokenCount)))
        return lo..<hi
    }

    /// Example `i`'s ids.
    public func ids(_ i: Int) -> [Int] {
        let r = tokenRange(i)
        if idWidth == 2 {
            return r.map { Int(UInt16(littleEndian: ids.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
        }
        return r.map { Int(UInt32(littleEndian: ids.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }

    /// Example `i`'s labels, when it came with them.
    public func labels(_ i: Int) -> [Int]? {
        guard let labels, let labelled, labelled.load(fromByteOffset: i, as: UInt8.self) != 0 else { return nil }
        return tokenRange(i).map { Int(Int32(littleEndian: labels.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
    }

    public subscript(i: Int) -> Example { Example(ids: ids(i), labels: labels(i)) }

    public static func == (a: TokenizedExamples, b: TokenizedExamples) -> Bool {
        a.count == b.count && (0..<a.count).allSatisfy { a[$0] == b[$0] }
    }

    /// Examples held in memory (tests, small inputs).
    public convenience init(_ examples: [Example]) {
        let width = (examples.lazy.flatMap(\.ids).max() ?? 0) < 1 << 16 ? 2 : 4
        let w = ExampleWriter(idWidth: width)
        for e in examples {
            // In memory nothing can fail but an impossible size.
            try? w.append(ids: e.ids.map { UInt32(truncatingIfNeeded: $0) }, labels: e.labels.map { $0.map { Int32(truncatingIfNeeded: $0) } })
        }
        self.init(memory: w)
    }
}

/// Memory owned by in-memory `TokenizedExamples`.
final class OwnedBytes {
    let bytes: UnsafeMutableRawBufferPointer
    init(count: Int) { bytes = .allocate(byteCount: max(count, 1), alignment: 16) }
    deinit { bytes.deallocate() }
}

/// Growable memory behind an `AppendBuffer`.
final class GrowableBytes {
    private(set) var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
    private(set) var count = 0
    deinit { storage.deallocate() }
    func append(_ chunk: UnsafeRawBufferPointer) {
        if count + chunk.count > storage.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(storage.count * 2, count + chunk.count), alignment: 16)
            grown.baseAddress!.copyMemory(from: storage.baseAddress!, byteCount: count)
            storage.deallocate()
            storage = grown
        }
        (storage.baseAddress! + count).copyMemory(from: chunk.baseAddress!, byteCount: chunk.count)
        count += chunk.count
    }
}

/// Writes examples section by section: ids to `ids` (memory, or the cache
/// file being written), the other sections to memory or to spill files.
final class ExampleWriter {
    let idWidth: Int
    /// Named in errors: the corpus being written.
    var path = "examples"
    private(set) var count = 0
    private(set) var tokenCount = 0
    private(set) var maxID = -1
    let ids: AppendBuffer
    let offsets: AppendBuffer
    private(set) var labels: AppendBuffer?
    private(set) var labelled: AppendBuffer?
    // Destinations: memory buffers, or spill files beside the cache.
    private var memory: [GrowableBytes] = []
    private var spills: [SpillFile] = []
    private let spillDirectory: String?

    /// In memory.
    init(idWidth: Int) {
        self.idWidth = idWidth
        spillDirectory = nil
        let m = (0..<2).map { _ in GrowableBytes() }
        memory = m
        ids = AppendBuffer { chunk, _ in m[0].append(chunk) }
        offsets = AppendBuffer { chunk, _ in m[1].append(chunk) }
        try? offsets.append(UInt64(0))
    }

    /// Ids into `file` from byte `dataStart` on; the other sections spill to
    /// unnamed files in `spillDirectory` until `finish`.
    init(idWidth: Int, file: AtomicFile, dataStart: Int, spillDirectory: String) throws {
        self.idWidth = idWidth
        self.spillDirectory = spillDirectory
        ids = AppendBuffer { chunk, at in try file.write(chunk, at: dataStart + at) }
        let spill = try SpillFile(directory: spillDirectory)
        spills = [spill]
        offsets = spill.writer
        try offsets.append(UInt64(0))
    }

    /// Appends one example (examples without tokens are skipped).
    func append(ids values: [UInt32], labels given: [Int32]?) throws {
        guard !values.isEmpty else { return }
        guard given.map({ $0.count == values.count }) ?? true else {
            throw CorpusError(path: path, reason: "an example's labels (\(given!.count)) and ids (\(values.count)) differ in number")
        }
        guard count < Int(UInt32.max) - 1 else { throw CorpusError(path: path, reason: "more than 4,294,967,293 examples") }
        if given != nil, labels == nil { try startLabels() }
        if let m = values.max(), Int(m) > maxID {
            guard idWidth == 4 || m <= UInt32(UInt16.max) else {
                throw CorpusError(path: path, reason: "token id \(m) does not fit the cache's 16-bit ids (the tokenizer produces ids past its vocabulary)")
            }
            maxID = Int(m)
        }
        if idWidth == 2 {
            for v in values { try ids.append(UInt16(truncatingIfNeeded: v)) }
        } else {
            for v in values { try ids.append(v) }
        }
        if let labels, let labelled {
            if let given {
                for l in given { try labels.append(l) }
            } else {
                for _ in values { try labels.append(Int32(TrainingBatch.ignoreIndex)) }
            }
            try labelled.append(UInt8(given == nil ? 0 : 1))
        }
        tokenCount += values.count
        count += 1
        try offsets.append(UInt64(tokenCount))
    }

    /// The first labelled example: the label sections start, filled for the
    /// examples before it.
    private func startLabels() throws {
        let l: AppendBuffer, h: AppendBuffer
        if let dir = spillDirectory {
            let a = try SpillFile(directory: dir), b = try SpillFile(directory: dir)
            spills += [a, b]
            l = a.writer; h = b.writer
        } else {
            let a = GrowableBytes(), b = GrowableBytes()
            memory += [a, b]
            l = AppendBuffer { chunk, _ in a.append(chunk) }
            h = AppendBuffer { chunk, _ in b.append(chunk) }
        }
        for _ in 0..<tokenCount { try l.append(Int32(TrainingBatch.ignoreIndex)) }
        for _ in 0..<count { try h.append(UInt8(0)) }
        labels = l; labelled = h
    }

    /// The sections after ids, in layout order, with their byte counts.
    func spilledSections() -> [SpillFile] { spills }
}

extension TokenizedExamples {
    /// The examples an in-memory writer holds.
    convenience init(memory w: ExampleWriter) {
        let sections = [w.ids, w.offsets] + (w.labels.map { [$0, w.labelled!] } ?? [])
        for s in sections { try? s.flush() }
        let total = sections.reduce(0) { $0 + $1.count }
        let owned = OwnedBytes(count: total)
        var sum = Checksum64()
        var at = 0
        for s in w.memorySections() {
            let chunk = UnsafeRawBufferPointer(rebasing: s.storage[0..<s.count])
            if s.count > 0 { (owned.bytes.baseAddress! + at).copyMemory(from: chunk.baseAddress!, byteCount: s.count) }
            sum.update(chunk)
            at += s.count
        }
        self.init(data: UnsafeRawBufferPointer(rebasing: owned.bytes[0..<total]), owner: owned, count: w.count,
                  tokenCount: w.tokenCount, idWidth: w.idWidth, hasLabels: w.labels != nil, maxID: w.maxID, checksum: sum.value)
    }
}

extension ExampleWriter {
    fileprivate func memorySections() -> [GrowableBytes] { memory }
}

/// A selection of tokenized examples: all of them, or those at `indices`.
public struct ExampleSet: Sendable {
    public let examples: TokenizedExamples
    /// Positions in `examples`; nil for all of them, in order.
    public let indices: [UInt32]?

    public init(_ examples: TokenizedExamples, indices: [UInt32]? = nil) {
        self.examples = examples
        self.indices = indices
    }

    /// In-memory examples.
    public init(_ list: [Example]) { self.init(TokenizedExamples(list)) }

    public var count: Int { indices?.count ?? examples.count }
    public var isEmpty: Bool { count == 0 }

    public subscript(i: Int) -> Example { examples[indices.map { Int($0[i]) } ?? i] }

    /// Identifies the selection's contents (the examples' checksum and the
    /// positions chosen).
    public var digest: String {
        var sum = Checksum64()
        withUnsafeBytes(of: examples.checksum.littleEndian) { sum.update($0) }
        sum.update(count)
        indices?.withUnsafeBytes { sum.update($0) }
        return sum.hex
    }
}
