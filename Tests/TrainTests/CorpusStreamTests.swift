// The streaming corpus reader against a whole-file reference (read every
// line, make documents, tokenize, truncate or group: what ckpt did before it
// streamed), with blocks small enough that lines and documents straddle
// them; and the token cache: damage, interruption, sharing.

import Formats
import Model
import Testing
import TestSupport
import Tokenizers
@testable import Train
#if canImport(Glibc)
import Glibc
#endif

/// The whole-file reading of a text corpus, kept as the reference.
func referenceExamples(_ bytes: [UInt8], tokenizer: Tokenizer, options: CorpusOptions) -> [Example] {
    let lines = textLines(bytes)
    func blank(_ s: String) -> Bool { s.unicodeScalars.allSatisfy { $0.properties.isWhitespace } }
    var docs: [String] = []
    switch options.documentSeparator {
    case .line: docs = lines.filter { !blank($0) }
    case .blank:
        var current: [String] = []
        for l in lines {
            if blank(l) { if !current.isEmpty { docs.append(current.joined(separator: " ")); current = [] } } else { current.append(l) }
        }
        if !current.isEmpty { docs.append(current.joined(separator: " ")) }
    }
    var pieces = docs
    if options.split == .sentences {
        var seen = Set<[UInt8]>()
        pieces = docs.flatMap { Corpus.sentences($0) }.filter { seen.insert(Array($0.utf8)).inserted }
    }
    let encodings = tokenizer.encodeBatch(pieces, addSpecialTokens: true)
    if let block = options.groupTexts {
        let all = encodings.flatMap(\.ids)
        return stride(from: 0, to: all.count / block * block, by: block).map { Example(ids: Array(all[$0..<($0 + block)])) }
    }
    return encodings.map { Example(ids: Corpus.truncate($0.ids, specials: $0.specialTokensMask, to: options.maxLength)) }
}

@Suite struct CorpusStreamTests {
    let tok: Tokenizer

    init() throws { tok = try Tokenizer(path: Fixtures.path("model-goldens/bert-gelu")) }

    /// Text with CRLF line ends, blank-line separated documents, repeated
    /// sentences, a very long line and non-ASCII text.
    func messyCorpus() -> [UInt8] {
        var rng = SplitMix64(seed: 11)
        let words = ["the", "cat", "sat.", "we", "read!", "a", "map?", "token", "café", "naïve", "the dog."]
        var text = ""
        for i in 0..<120 {
            let n = 1 + Int(rng.next() % 14)
            text += (0..<n).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
            text += i % 7 == 0 ? "\r\n" : "\n"
            if i % 9 == 0 { text += "\n" }
            if i % 31 == 0 { text += "  \t\n" }
        }
        text += String(repeating: "we read the long line. ", count: 400) + "\n"
        text += "the last line has no line end"
        return Array(text.utf8)
    }

    @Test(arguments: [CorpusOptions.DocumentSeparator.line, .blank], [CorpusOptions.Split.none, .sentences])
    func streamingEqualsTheWholeFileReading(separator: CorpusOptions.DocumentSeparator, split: CorpusOptions.Split) throws {
        let dir = ScratchDirectory()
        let bytes = messyCorpus()
        dir.write("c.txt", bytes)
        for group in [nil, 7] as [Int?] {
            var o = CorpusOptions()
            o.documentSeparator = separator
            o.split = split
            o.groupTexts = group
            o.maxLength = 12
            let expected = referenceExamples(bytes, tokenizer: tok, options: o)
            #expect(expected.count > 10)
            for (blockSize, threads) in [(1, 1), (7, 2), (64, 3), (1 << 20, 2)] {
                let got = try Corpus.load([dir.file("c.txt")], tokenizer: tok, vocabSize: 160, options: o, threads: threads, blockSize: blockSize)
                #expect(got == expected, "block \(blockSize), threads \(threads), group \(String(describing: group))")
            }
        }
    }

    @Test func blockReaderSplitsLinesAsTheWholeFileDoes() throws {
        let dir = ScratchDirectory()
        var rng = SplitMix64(seed: 3)
        for trial in 0..<30 {
            // Random bytes drawn from a small alphabet rich in line ends.
            let alphabet: [UInt8] = [0x0A, 0x0D, 0x61, 0x62, 0x20, 0xC3, 0xA9]
            let bytes = (0..<Int(rng.next() % 300)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            dir.write("r.bin", bytes)
            let reader = try TextBlockReader(path: dir.file("r.bin"), blockSize: 1 + trial % 13)
            var lines: [[UInt8]] = [], numbers: [Int] = []
            while let b = try reader.next() {
                #expect(b.firstLine == lines.count + 1)
                for r in b.lines { lines.append(Array(b.bytes[r])); numbers.append(b.firstLine) }
            }
            #expect(lines == lineRanges(bytes).map { Array(bytes[$0]) }, "trial \(trial)")
        }
    }

    @Test func badTextIsNamedWithItsLineWhateverTheBlock() throws {
        let dir = ScratchDirectory()
        var text = Array(String(repeating: "the cat sat.\n", count: 50).utf8)
        text += [0x63, 0xE9, 0x0A]  // line 51: Latin-1 é
        dir.write("latin1.txt", text)
        dir.write("nul.txt", Array(String(repeating: "the cat\r\n", count: 30).utf8) + [0x61, 0, 0x0A])
        dir.write("long.jsonl", Array(("{\"text\": \"" + String(repeating: "we read ", count: 2000) + "\"}\n{\"text\": 3}\n").utf8))
        for blockSize in [5, 64, 1 << 20] {
            for (name, line, words) in [("latin1.txt", 51, "UTF-8"), ("nul.txt", 31, "NUL"), ("long.jsonl", 2, "not a string")] {
                do {
                    _ = try Corpus.load([dir.file(name)], tokenizer: tok, vocabSize: 160, options: CorpusOptions(), threads: 2, blockSize: blockSize)
                    Issue.record("\(name) was accepted")
                } catch let e as CorpusError {
                    #expect(e.path == dir.file(name) && e.line == line && e.reason.contains(words), "\(e)")
                }
            }
        }
        // A JSONL file that mixes texts with ids names the line where it turns.
        dir.write("mixed.jsonl", Array("{\"text\": \"the cat\"}\n\n{\"input_ids\": [2, 9, 3]}\n".utf8))
        do {
            _ = try Corpus.load([dir.file("mixed.jsonl")], tokenizer: tok, vocabSize: 160, options: CorpusOptions())
            Issue.record("a mixed JSONL file was accepted")
        } catch let e as CorpusError {
            #expect(e.line == 3 && e.reason.contains("mixes"), "\(e)")
        }
    }

    // MARK: - The token cache

    func load(_ dir: ScratchDirectory, _ corpus: String, cache: String = "cache", notes: inout [String]) throws -> (TokenizedExamples, Bool) {
        var seen: [String] = []
        let r = try Corpus.loadCached([dir.file(corpus)], tokenizer: tok, tokenizerFiles: [("vocab.txt", [1, 2])], vocabSize: 160,
                                      options: CorpusOptions(), cacheDirectory: dir.file(cache), threads: 2, note: { seen.append($0) })
        notes += seen
        return (r.examples, r.fromCache)
    }

    func cacheFile(_ dir: ScratchDirectory, _ cache: String = "cache") throws -> String {
        let names = try FileSystem.list(dir.file(cache)).filter { $0.hasPrefix("tokens-") }
        #expect(names.count == 1, "\(names)")
        return dir.file(cache) + "/" + names[0]
    }

    @Test func damagedCachesAreCaughtAndRebuilt() throws {
        let dir = ScratchDirectory()
        dir.write("c.txt", messyCorpus())
        dir.write("labelled.jsonl", Array("{\"input_ids\": [2, 9, 3]}\n{\"input_ids\": [2, 4, 50, 3], \"labels\": [-100, 77, -100, -100]}\n".utf8))
        let expected = try Corpus.load([dir.file("c.txt")], tokenizer: tok, vocabSize: 160, options: CorpusOptions())
        var notes: [String] = []
        let (built, fromCache) = try load(dir, "c.txt", notes: &notes)
        #expect(!fromCache && built.idWidth == 2 && (0..<built.count).map { built[$0] } == expected)
        let path = try cacheFile(dir)
        let good = try readFile(path)
        // Every kind of damage is refused with a reason, and the cache rebuilt.
        let damages: [(String, [UInt8])] = [
            ("cut", Array(good.prefix(good.count - 3))),
            ("id edited", { var b = good; b[4096 + 10] ^= 1; return b }()),
            ("offset edited", { var b = good; b[good.count - 9] ^= 0x40; return b }()),
            ("header edited", { var b = good; b[60] = 0x7B; return b }()),
            ("empty", []),
        ]
        for (what, bytes) in damages {
            dir.write(String(path.dropFirst(dir.path.count + 1)), bytes)
            notes = []
            let (again, fromCache) = try load(dir, "c.txt", notes: &notes)
            #expect(!fromCache && notes.count == 1 && notes[0].contains("damaged token cache"), "\(what): \(notes)")
            #expect(again == built, "\(what)")
            #expect(try readFile(path) == good, "\(what): the rebuilt cache is byte-identical")
        }
        // Labels survive the cache.
        let (labelled, _) = try load(dir, "labelled.jsonl", cache: "cache2", notes: &notes)
        let (mapped, hit) = try load(dir, "labelled.jsonl", cache: "cache2", notes: &notes)
        #expect(hit && mapped == labelled && mapped[1] == Example(ids: [2, 4, 50, 3], labels: [-100, 77, -100, -100]) && mapped[0].labels == nil)
    }

    @Test func anInterruptedBuildLeavesNothingTrusted() throws {
        let dir = ScratchDirectory()
        dir.write("c.txt", messyCorpus())
        try FileSystem.makeDirectories(dir.file("cache"))
        let path = dir.file("cache/tokens-0123456789abcdef.safetensors")
        // A build that fails half-way leaves no file under the cache's name.
        struct Stop: Error {}
        do {
            _ = try TokenCache.write(path: path, key: "0123456789abcdef", vocabSize: 160, maxLength: 128, idWidth: 2) { w in
                try w.append(ids: [2, 5, 3], labels: nil)
                throw Stop()
            }
        } catch is Stop {}
        #expect(try FileSystem.list(dir.file("cache")).isEmpty)
        // A build killed with its temporary file in place: the file is removed by
        // the next build (its process is gone), and never read as a cache.
        dir.write("cache/.tokens-0123456789abcdef.safetensors.ckpt-tmp-999999999-1a2b", [1, 2, 3])
        var notes: [String] = []
        let (_, fromCache) = try load(dir, "c.txt", notes: &notes)
        #expect(!fromCache && notes.isEmpty)
        #expect(try FileSystem.list(dir.file("cache")).allSatisfy { $0.hasPrefix("tokens-") })
        // Changing a corpus byte changes the key: the old cache is not used for it.
        dir.write("c.txt", messyCorpus() + Array("\none more line\n".utf8))
        let (_, stale) = try load(dir, "c.txt", notes: &notes)
        let caches = try FileSystem.list(dir.file("cache")).filter { $0.hasPrefix("tokens-") }
        #expect(!stale && caches.count == 2)
    }

    @Test func evalSplitByPositionsMatchesTheExampleSplit() throws {
        let examples = (0..<37).map { Example(ids: [2, $0 + 5, 3]) }
        for ratio in [0.0, 0.1, 0.5, 0.99] {
            let (train, eval) = Corpus.evalSplit(examples, ratio: ratio, seed: 9)
            let (ti, ei) = Corpus.evalSplit(count: 37, ratio: ratio, seed: 9)
            #expect(ti.map { examples[Int($0)] } == train && ei.map { examples[Int($0)] } == eval)
            #expect(Set(ti).isDisjoint(with: ei) && ti.count + ei.count == 37 && ti == ti.sorted() && ei == ei.sorted())
        }
    }

    /// A cache edited by someone who also fixes its checksum is still refused, never trapped on.
    @Test func craftedCachesAreRefused() throws {
        let dir = ScratchDirectory()
        dir.write("c.txt", messyCorpus())
        dir.write("labelled.jsonl", Array("{\"input_ids\": [2, 9, 3]}\n{\"input_ids\": [2, 4, 50, 3], \"labels\": [-100, 77, -100, -100]}\n".utf8))
        var notes: [String] = []
        _ = try load(dir, "c.txt", notes: &notes)
        _ = try load(dir, "labelled.jsonl", cache: "cache2", notes: &notes)
        /// Applies `edit` to the data section and writes the matching checksum (and metadata edits) back.
        func forge(_ path: String, metadata: [(String, String)] = [], _ edit: (inout [UInt8], _ tokens: Int, _ examples: Int) -> Void) throws {
            var bytes = try readFile(path)
            var header = String(decoding: bytes[8..<4096], as: UTF8.self)
            let meta = try JSONParser.parse(header.trimmingSuffixSpaces, path: path)["__metadata__"]!
            let T = Int(meta["tokens"]!.string!)!, N = Int(meta["examples"]!.string!)!
            var data = Array(bytes[4096...])
            edit(&data, T, N)
            var sum = Checksum64()
            sum.update(data)
            header = header.replacingAll(meta["checksum"]!.string!, with: sum.hex)
            for (k, v) in metadata { header = header.replacingAll("\"\(k)\":\"\(meta[k]!.string!)\"", with: "\"\(k)\":\"\(v)\"") }
            var h = Array(header.utf8)
            h += [UInt8](repeating: 0x20, count: max(0, 4088 - h.count))
            bytes = Array(bytes[0..<8]) + h.prefix(4088) + data
            dir.write(String(path.dropFirst(dir.path.count + 1)), bytes)
        }
        let path = try cacheFile(dir), labelled = try cacheFile(dir, "cache2")
        let good = try readFile(path), goodLabelled = try readFile(labelled)
        let cases: [(String, String, [(String, String)], (inout [UInt8], Int, Int) -> Void)] = [
            ("offsets going down", path, [], { d, T, _ in
                let at = T * 2 + 8  // offsets[1]
                let v = UInt64(T - 1).littleEndian
                withUnsafeBytes(of: v) { for k in 0..<8 { d[at + k] = $0[k] } } }),
            ("an offset past 2^63", path, [], { d, T, _ in for k in 0..<8 { d[T * 2 + 8 + k] = 0xFF } }),
            ("examples near Int.max", path, [("examples", "9223372036854775807")], { _, _, _ in }),
            ("a label outside the vocabulary", labelled, [], { d, T, N in
                let at = T * 2 + (N + 1) * 8 + 4  // labels[1]
                withUnsafeBytes(of: Int32(0x7FFF_FFFF).littleEndian) { for k in 0..<4 { d[at + k] = $0[k] } } }),
        ]
        for (what, file, metadata, edit) in cases {
            try forge(file, metadata: metadata, edit)
            notes = []
            _ = try load(dir, file == path ? "c.txt" : "labelled.jsonl", cache: file == path ? "cache" : "cache2", notes: &notes)
            // Refused for what was forged, not for the checksum (which was made to match).
            #expect(notes.count == 1 && notes[0].contains("damaged token cache") && !notes[0].contains("checksum"), "\(what): \(notes)")
            #expect(try readFile(file) == (file == path ? good : goodLabelled), "\(what): rebuilt")
        }
    }

    /// A temporary file that a live build holds locked is left alone, even
    /// though its name's process id means nothing here.
    @Test func aLiveBuildsTemporaryIsKept() throws {
        let dir = ScratchDirectory()
        dir.write("c.txt", messyCorpus())
        try FileSystem.makeDirectories(dir.file("cache"))
        let name = "cache/.tokens-0123456789abcdef.safetensors.ckpt-tmp-1-abc"
        dir.write(name, [1, 2, 3])
        // Close-on-exec: a process another test spawns meanwhile must not inherit the lock.
        let fd = open(dir.file(name), O_RDONLY | O_CLOEXEC)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        var notes: [String] = []
        _ = try load(dir, "c.txt", notes: &notes)
        #expect(FileSystem.exists(dir.file(name)), "a locked temporary was removed")
        close(fd)
        _ = try load(dir, "c.txt", notes: &notes)
        #expect(!FileSystem.exists(dir.file(name)), "an abandoned temporary was kept")
    }
}

extension String {
    var trimmingSuffixSpaces: String { var s = self; while s.last == " " { s.removeLast() }; return s }
}
