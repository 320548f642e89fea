// TokenCache — tokenized examples stored in a file that training memory-maps:
// a safetensors file (readable by any safetensors reader) whose header is
// padded to 4,088 bytes so that the data, the sections of TokenizedExamples,
// starts on a page at byte 4,096. The ids are written in place as they are
// made, the smaller sections go to unnamed spill files and are appended at the
// end, and the file appears under its name only when complete (AtomicFile).
//
// `__metadata__` holds format "ckpt-token-cache", version "1", the cache key,
// the counts, the largest id, the vocabulary size and the XXH64 of the data
// section, which opening verifies: a truncated or edited cache is refused.

import Formats
import Model

enum TokenCache {
    static let format = "ckpt-token-cache"
    static let version = "1"
    /// Where the data section starts.
    static let dataStart = 4096

    /// Builds a cache at `path`: `fill` appends the examples to the writer.
    /// Nothing appears at `path` unless `fill` and the write succeed.
    static func write(path: String, key: String, vocabSize: Int, maxLength: Int, idWidth: Int,
                      fill: (ExampleWriter) throws -> Void) throws -> TokenizedExamples {
        let file = try AtomicFile(path: path, overwrite: true)
        // Held while the file is written: another run that shares the cache
        // directory sees the temporary is alive (Corpus.removeAbandonedTemporaries).
        file.lock()
        let writer = try ExampleWriter(idWidth: idWidth, file: file, dataStart: dataStart, spillDirectory: FileSystem.dirname(path))
        writer.path = path
        try fill(writer)
        try writer.ids.flush()
        var sum = writer.ids.checksum
        var at = dataStart + writer.ids.count
        for spill in writer.spilledSections() {
            try spill.read { chunk in
                try file.write(chunk, at: at)
                sum.update(chunk)
                at += chunk.count
            }
        }
        let T = writer.tokenCount, N = writer.count
        var tensors: [(String, DType, Int)] = [("ids", idWidth == 2 ? .u16 : .u32, T), ("offsets", .u64, N + 1)]
        if writer.labels != nil { tensors += [("labels", .i32, T), ("has_labels", .u8, N)] }
        var root = JSONObject()
        root["__metadata__"] = .object(JSONObject([
            ("format", .string(format)), ("version", .string(version)), ("key", .string(key)),
            ("examples", .string(String(N))), ("tokens", .string(String(T))), ("max_id", .string(String(writer.maxID))),
            ("vocab_size", .string(String(vocabSize))), ("max_length", .string(String(maxLength))), ("checksum", .string(hex(sum.value))),
        ]))
        var offset = 0
        for (name, dtype, n) in tensors {
            root[name] = .object(JSONObject([
                ("dtype", .string(dtype.rawValue)), ("shape", .array([.number(JSONNumber(n))])),
                ("data_offsets", .array([.number(JSONNumber(offset)), .number(JSONNumber(offset + n * dtype.size))])),
            ]))
            offset += n * dtype.size
        }
        guard offset == at - dataStart else { throw CorpusError(path: path, reason: "token cache sections do not add up") }
        var header = Array(JSONValue.object(root).serialized().utf8)
        guard header.count <= dataStart - 8 else { throw CorpusError(path: path, reason: "token cache header too large") }
        header += [UInt8](repeating: 0x20, count: dataStart - 8 - header.count)
        try file.write(withUnsafeBytes(of: UInt64(dataStart - 8).littleEndian) { Array($0) } + header, at: 0)
        // Mapped before the rename: the map holds this file, whatever later happens to the name.
        let examples = try open(path: file.temporaryPath, key: key, vocabSize: vocabSize, maxLength: maxLength, verify: false)
        try file.commit()
        return examples
    }

    /// Maps the cache at `path` and checks it: layout, key, counts, checksum,
    /// offsets and ids within the vocabulary.
    ///
    /// - Throws: `CorpusError` saying what is wrong with the file.
    /// - Parameter maxLength: the longest example the options allow.
    /// - Throws: `CorpusError` ("damaged token cache: …") for a file that is
    ///   not what this format writes; `FileError` when it cannot be read at all
    ///   (permissions, I/O), which says nothing about its contents.
    static func open(path: String, key: String, vocabSize: Int, maxLength: Int, verify: Bool = true) throws -> TokenizedExamples {
        func damaged(_ why: String) -> CorpusError { CorpusError(path: path, reason: "damaged token cache: \(why)") }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch let e as SafeTensorsError { throw damaged("\(e)") }
        let m = file.metadata ?? [:]
        guard m["format"] == format, m["version"] == version else { throw damaged("not a ckpt token cache of version \(version)") }
        guard m["key"] == key else { throw damaged("written for other inputs (key \(m["key"] ?? "none"))") }
        guard let N = m["examples"].flatMap({ Int($0) }), let T = m["tokens"].flatMap({ Int($0) }),
              let maxID = m["max_id"].flatMap({ Int($0) }), let sumText = m["checksum"], m["vocab_size"] == String(vocabSize),
              N >= 0, T >= 0, N < Int(UInt32.max), T < 1 << 48, m["max_length"] == String(maxLength)
        else { throw damaged("metadata incomplete or out of range") }
        guard let ids = file.info("ids"), [.u16, .u32].contains(ids.dtype), ids.shape == [T],
              let offsets = file.info("offsets"), offsets.dtype == .u64, offsets.shape == [N + 1]
        else { throw damaged("ids or offsets missing or mis-shaped") }
        let labels = file.info("labels"), labelled = file.info("has_labels")
        guard (labels == nil) == (labelled == nil),
              labels.map({ $0.dtype == .i32 && $0.shape == [T] }) ?? true,
              labelled.map({ $0.dtype == .u8 && $0.shape == [N] }) ?? true,
              file.tensors.count == (labels == nil ? 2 : 4)
        else { throw damaged("labels mis-shaped") }
        let width = ids.dtype.size
        let size = TokenizedExamples.dataSize(count: N, tokens: T, idWidth: width, hasLabels: labels != nil)
        let data = try file.data("ids")
        guard let mapped = data.file, data.fileOffset == dataStart, mapped.bytes.count == dataStart + size else {
            throw damaged("sections are not where the format puts them")
        }
        let region = UnsafeRawBufferPointer(rebasing: mapped.bytes[dataStart...])
        let examples = TokenizedExamples(data: region, owner: file, count: N, tokenCount: T, idWidth: width,
                                         hasLabels: labels != nil, maxID: maxID, checksum: UInt64(sumText, radix: 16) ?? 0)
        guard verify else { return examples }
        // The checksum, in 8 MiB pieces released after reading so the resident set stays small.
        var sum = Checksum64()
        var at = 0, largest = -1
        let idBytes = T * width
        while at < region.count {
            let n = min(8 << 20, region.count - at)
            sum.update(UnsafeRawBufferPointer(rebasing: region[at..<(at + n)]))
            if at < idBytes {
                let count = (min(at + n, idBytes) - at) / width
                if count > 0 { largest = max(largest, Int(ckpt_max_id(region.baseAddress! + at, count, Int32(width)))) }
            }
            mapped.release(offset: dataStart + at, count: n)
            at += n
        }
        guard hex(sum.value) == sumText else { throw damaged("checksum mismatch (the file was changed or cut)") }
        // Offsets: compared as the stored integers, before any range is made of them.
        let offsetsAt = region.baseAddress! + idBytes
        var previous: UInt64 = 0
        for i in 0...N {
            let o = UInt64(littleEndian: offsetsAt.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            guard i == 0 ? o == 0 : (o > previous && o - previous <= UInt64(maxLength) && o <= UInt64(T)) else {
                throw damaged("offsets out of order or an example longer than \(maxLength) at example \(max(0, i - 1))")
            }
            previous = o
        }
        guard previous == UInt64(T) else { throw damaged("offsets do not end at the token count") }
        mapped.release(offset: dataStart + idBytes, count: (N + 1) * 8)
        if labels != nil {
            let at = region.baseAddress! + idBytes + (N + 1) * 8
            for i in 0..<T {
                let l = Int(Int32(littleEndian: at.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                guard l == TrainingBatch.ignoreIndex || (l >= 0 && l < vocabSize) else { throw damaged("label \(l) outside the vocabulary") }
            }
            mapped.release(offset: dataStart + idBytes + (N + 1) * 8, count: T * 4)
        }
        guard largest == maxID, maxID < max(vocabSize, 1 << 16) || width == 4 else { throw damaged("largest id \(largest), metadata says \(maxID)") }
        return examples
    }

    static func hex(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
}

import CShims
