// `ckpt extend-tokenizer` end to end: old ids kept, every added token fires,
// no corpus line gets longer, [unusedN] slots reused, resize-vocab appends
// rows for the result, bad input refused with nothing written.

import Formats
import Testing
import TestSupport

@Suite struct ExtendTokenizerCLITests {
    let corpus = Fixtures.path("tokenizer-training/corpus.txt")

    /// Each line's ids under a tokenizer.
    func ids(_ tokenizer: String) throws -> [[Int]] {
        let r = ckpt(["tokenize", tokenizer, "--file", corpus, "--json"])
        #expect(r.status == 0, "\(r.err)")
        return try r.out.split(separator: "\n").map { try JSONParser.parse(String($0), path: "line")["ids"]?.array?.compactMap(\.int) ?? [] }
    }

    func check(base: String, vocabFile: String, add: Int, extra: [String] = []) throws -> (old: [[Int]], new: [[Int]], report: JSONValue) {
        let dir = ScratchDirectory()
        let r = ckpt(["extend-tokenizer", base, "--corpus", corpus, "--add", "\(add)", "--out", dir.file("ext"),
                      "--report", dir.file("report.json")] + extra)
        #expect(r.status == 0 && r.out.contains("tokens per word"), "\(r.out)\(r.err)")
        let report = try JSONParser.parse(try readFile(dir.file("report.json")), path: "report")
        let added = report["tokens"]?.array ?? []
        #expect(added.count == add)
        let old = try ids(base), new = try ids(dir.file("ext"))
        // No line longer, and fewer tokens in all.
        #expect(zip(old, new).allSatisfy { $1.count <= $0.count })
        #expect(new.joined().count < old.joined().count)
        // Every added token fires.
        let seen = Set(new.joined())
        #expect(added.allSatisfy { seen.contains($0["id"]?.int ?? -1) }, "\(added.filter { !seen.contains($0["id"]?.int ?? -1) })")
        // Old tokens keep their ids (but reused slots).
        if !extra.contains("--reuse-unused") {
            let before = textLines(try readFile(base + "/" + vocabFile)), after = textLines(try readFile(dir.file("ext/\(vocabFile)")))
            if vocabFile == "vocab.txt" { #expect(Array(after.prefix(before.count)) == before && after.count == before.count + add) }
        }
        return (old, new, report)
    }

    @Test func wordPieceEntriesAppended() throws {
        _ = try check(base: Fixtures.path("tokenizer-goldens/bert-uncased"), vocabFile: "vocab.txt", add: 30)
    }

    @Test func bpeMergesAppended() throws {
        let (_, _, report) = try check(base: Fixtures.path("tokenizer-training/bpe"), vocabFile: "vocab.json", add: 25)
        #expect((report["merges"]?.array?.count ?? 0) >= 25)
    }

    @Test func unusedSlotsAreFilledFirst() throws {
        let base = Fixtures.path("tokenizer-goldens/bert-uncased")
        let (_, _, report) = try check(base: base, vocabFile: "vocab.txt", add: 10, extra: ["--reuse-unused"])
        let unused = textLines(try readFile(base + "/vocab.txt")).enumerated().filter { $0.element.hasPrefix("[unused") }.map(\.offset)
        #expect(report["tokens"]?.array?.compactMap { $0["id"]?.int } == Array(unused.prefix(10)))
    }

    @Test func resizeVocabAppendsRowsForTheResult() throws {
        let dir = ScratchDirectory()
        let model = Fixtures.path("model-goldens/bert-gelu")
        let e = ckpt(["extend-tokenizer", model, "--corpus", Fixtures.path("resize/domain-corpus.txt"), "--add", "3", "--out", dir.file("tok"),
                      "--report", dir.file("report.json")])
        #expect(e.status == 0, "\(e.err)")
        let added = try JSONParser.parse(try readFile(dir.file("report.json")), path: "report")["added"]?.int ?? 0
        #expect(added >= 1)
        let r = ckpt(["resize-vocab", model, "--tokenizer", dir.file("tok"), "--out", dir.file("model")])
        #expect(r.status == 0 && r.out.contains("160 → \(160 + added) rows") && r.out.contains("copied           155 tokens by string, 5 special")
                && r.out.contains("self-check       OK"), "\(r.out)\(r.err)")
        #expect(!r.out.contains("moved"), "no special token moves when tokens are appended")
    }

    @Test func badInputIsRefused() throws {
        let dir = ScratchDirectory()
        dir.write("latin1.txt", Array("the cat\n".utf8) + [0x63, 0xE9, 0x0A])
        let base = Fixtures.path("model-goldens/bert-gelu")
        let bad = ckpt(["extend-tokenizer", base, "--corpus", dir.file("latin1.txt"), "--add", "5", "--out", dir.file("out")])
        #expect(bad.status == 1 && bad.err.contains("latin1.txt:2: invalid UTF-8"), "\(bad.err)")
        #expect(ckpt(["extend-tokenizer", base, "--corpus", corpus, "--add", "5", "--out", dir.file("out"), "--criterion", "divergence"]).status == 64)
        let none = ckpt(["extend-tokenizer", dir.path, "--corpus", corpus, "--add", "5", "--out", dir.file("out")])
        #expect(none.status == 1, "\(none.err)")
        #expect(!FileSystem.exists(dir.file("out")))
        #expect(ckpt(["extend-tokenizer", base, "--corpus", corpus, "--add", "5", "--out", dir.file("out")]).status == 0)
        let again = ckpt(["extend-tokenizer", base, "--corpus", corpus, "--add", "5", "--out", dir.file("out")])
        #expect(again.status == 1 && again.err.contains("--force"), "\(again.err)")
    }

    @Test func divergencePrefersDomainPairs() throws {
        let dir = ScratchDirectory()
        dir.write("general.txt", Array(String(repeating: "the cat sat on the mat and the dog read a book\n", count: 50).utf8))
        let r = ckpt(["extend-tokenizer", Fixtures.path("tokenizer-goldens/bert-uncased"), "--corpus", corpus, "--add", "10",
                      "--criterion", "divergence", "--base-corpus", dir.file("general.txt"), "--out", dir.file("ext")])
        #expect(r.status == 0 && r.out.contains("added            10 tokens"), "\(r.out)\(r.err)")
    }
}
