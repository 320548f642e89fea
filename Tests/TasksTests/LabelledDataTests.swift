// Labelled files: RFC 4180 CSV (quotes, doubled quotes, line ends inside
// quotes, CRLF, a byte-order mark), TSV, JSONL with multi-label arrays; the
// label set's order; the stratified eval split; pooling of window predictions.

import Formats
import Model
import Tasks
import Testing
import TestSupport
import Tokenizers

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LabelledDataTests {
    @Test func csvRecordsAndLines() throws {
        let dir = ScratchDirectory()
        dir.write("a.csv", [0xEF, 0xBB, 0xBF] + Array("id,text,label\r\n1,\"a \"\"quoted\"\", text\",x\r\n2,\"two\nlines\",y\r\n\r\n3,plain,x".utf8))
        var cols = LabelledColumns()
        cols.text = "text"
        let r = try LabelledData.read(dir.file("a.csv"), columns: cols, kind: .classification)
        #expect(r.map(\.text) == ["a \"quoted\", text", "two\nlines", "plain"])
        #expect(r.map(\.labels) == [["x"], ["y"], ["x"]])
        #expect(r.map(\.line) == [2, 3, 6], "a record's first line, quoted line ends counted")
        dir.write("b.csv", Array("text,label\n\"x\"y,z\n".utf8))
        #expect(throws: CorpusError(path: dir.file("b.csv"), line: 2, reason: "text after a closing quote")) {
            try LabelledData.read(dir.file("b.csv"), columns: cols, kind: .classification)
        }
        dir.write("c.csv", Array("text,label\nx,y,z\n".utf8))
        #expect(throws: CorpusError(path: dir.file("c.csv"), line: 2, reason: "3 fields, the header has 2")) {
            try LabelledData.read(dir.file("c.csv"), columns: cols, kind: .classification)
        }
    }

    @Test func multiLabelAndPairs() throws {
        let dir = ScratchDirectory()
        dir.write("m.jsonl", Array("{\"text\": \"a\", \"q\": \"b\", \"label\": [\"x\", 2]}\n\n{\"text\": \"c\", \"q\": \"d\", \"label\": []}\n".utf8))
        dir.write("m.tsv", Array("text\tq\tlabel\na\tb\tx, 2\nc\td\t\n".utf8))
        var cols = LabelledColumns()
        cols.textPair = "q"
        for f in ["m.jsonl", "m.tsv"] {
            let r = try LabelledData.read(dir.file(f), columns: cols, kind: .multiLabel)
            #expect(r.map(\.labels) == [["x", "2"], []] && r.map(\.pair) == ["b", "d"], "\(f)")
        }
        let bad = "{\"text\": \"a\", \"label\": \"x\"}\n"
        dir.write("n.jsonl", Array(bad.utf8))
        #expect(throws: CorpusError.self) { try LabelledData.read(dir.file("n.jsonl"), columns: LabelledColumns(), kind: .multiLabel) }
    }

    @Test func labelOrder() {
        func rec(_ l: String) -> LabelledRecord { LabelledRecord(text: "t", pair: nil, labels: [l], line: 1, path: "p") }
        #expect(LabelledData.labelSet(["10", "2", "1", "2"].map(rec), given: nil) == ["1", "2", "10"], "integers in numeric order")
        #expect(LabelledData.labelSet(["b", "B", "a"].map(rec), given: nil) == ["B", "a", "b"], "else by code point")
        #expect(LabelledData.labelSet(["b"].map(rec), given: ["z", "b"]) == ["z", "b"])
    }

    @Test func stratifiedSplit() {
        let counts = [60, 30, 10]
        var examples: [LabelledExample] = []
        for (c, n) in counts.enumerated() {
            for _ in 0..<n { examples.append(LabelledExample(ids: [2, 3], pairStart: 2, target: .classIndex(c))) }
        }
        let (train, eval) = LabelledData.stratifiedSplit(examples, ratio: 0.2, seed: 7)
        #expect(train.count + eval.count == 100 && Set(train).isDisjoint(with: eval))
        let perClass = counts.indices.map { c in eval.filter { examples[$0].target == .classIndex(c) }.count }
        #expect(perClass == [12, 6, 2], "each class gives its share")
        #expect(LabelledData.stratifiedSplit(examples, ratio: 0.2, seed: 7).eval == eval)
        #expect(LabelledData.stratifiedSplit(examples, ratio: 0.2, seed: 8).eval != eval)
        // A class of one example stays in training; its share goes to the others.
        var skewed: [LabelledExample] = []
        for c in 0..<20 { for _ in 0..<10 { skewed.append(LabelledExample(ids: [2, 3], pairStart: 2, target: .classIndex(c))) } }
        skewed.append(LabelledExample(ids: [2, 3], pairStart: 2, target: .classIndex(20)))
        let s = LabelledData.stratifiedSplit(skewed, ratio: 0.1, seed: 7)
        #expect(s.eval.count == 21 && s.train.contains(200), "the singleton is trained on")
    }
}

@Suite struct PoolingTests {
    @Test func poolingArithmetic() throws {
        let c = try TextClassifier(checkpoint: try Checkpoint(path: Fixtures.path("task-goldens/bert-single")))
        let rows: [[Float]] = [[2, 0, 0], [0, 0, 3]]
        func softmax(_ z: [Double]) -> [Double] { let e = z.map { exp($0 - z.max()!) }; return e.map { $0 / e.reduce(0, +) } }
        let meanLogits = c.pool(rows, .meanLogits)
        let expected = softmax([1, 0, 1.5])
        #expect(zip(meanLogits.scores, expected).allSatisfy { abs($0 - $1) < 1e-12 } && meanLogits.labels == [2] && meanLogits.windows == 2)
        let p0 = softmax([2, 0, 0]), p1 = softmax([0, 0, 3])
        let meanProbs = c.pool(rows, .meanProbs)
        #expect(zip(meanProbs.scores, (0..<3).map { (p0[$0] + p1[$0]) / 2 }).allSatisfy { abs($0 - $1) < 1e-12 })
        let maxProbs = c.pool(rows, .maxProbs)
        #expect(zip(maxProbs.scores, (0..<3).map { max(p0[$0], p1[$0]) }).allSatisfy { abs($0 - $1) < 1e-12 } && maxProbs.labels == [2])
    }
}
