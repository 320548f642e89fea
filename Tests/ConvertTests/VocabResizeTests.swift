// resize-vocab on the tiny fixtures and the domain / appended tokenizers of
// tools/fixtures/make_resize_fixtures.py: rows by token string, specials by
// role, every initialisation, padding, the append case, ties, formats, the
// self-check.

@testable import Convert
import Formats
import Model
import Testing
import TestSupport
import Tokenizers

@Suite struct VocabResizeTests {
    let domain = Fixtures.path("resize/domain-tokenizer")
    let append = Fixtures.path("resize/append-tokenizer")

    func model(_ name: String) throws -> Checkpoint { try Checkpoint(path: Fixtures.path("model-goldens/\(name)")) }

    func rows(_ c: Checkpoint, _ name: String) throws -> (values: [Float], width: Int) {
        let info = try #require(c.info(name))
        return (try c.data(name).floats(), info.shape.count == 2 ? info.shape[1] : 1)
    }

    func row(_ t: (values: [Float], width: Int), _ i: Int) -> [Float] { Array(t.values[(i * t.width)..<((i + 1) * t.width)]) }

    func resize(_ name: String, tokenizer: String, _ configure: (inout ResizeOptions) -> Void = { _ in }) throws
        -> (report: ResizeReport, out: Checkpoint, dir: ScratchDirectory) {
        let dir = ScratchDirectory()
        var o = ResizeOptions()
        configure(&o)
        let r = try VocabResizer.resize(try model(name), tokenizerDirectory: tokenizer, to: dir.file("out"), options: o)
        return (r, try Checkpoint(path: dir.file("out")), dir)
    }

    @Test(arguments: ["bert-gelu", "bert-gelu-new-untied", "distilbert"])
    func rowsFollowTheirTokens(_ name: String) throws {
        let src = try model(name)
        let (r, out, _) = try resize(name, tokenizer: domain) { $0.corpus = [Fixtures.path("resize/domain-corpus.txt")] }
        let oldTok = try Tokenizer(path: Fixtures.path("model-goldens/\(name)"))
        let newTok = try Tokenizer(path: domain)
        #expect(r.newRows == newTok.count && out.config?.vocabSize == newTok.count)
        #expect(out.config?.padTokenID == newTok.id(of: "[PAD]"))
        #expect(r.copied + r.specials + r.added == newTok.count && r.specials == 5 && r.copied > 20 && r.added > 20)
        #expect(r.movedSpecials.count == 2)
        let coverage = try #require(r.coverage)
        #expect(coverage > 0.2 && coverage < 1)
        // Same tensor names (ties stay ties), new tokenizer files.
        #expect(Set(out.tensors.map(\.name)) == Set(src.tensors.map(\.name)))
        #expect(out.files.first { $0.name == "tokenizer.json" }?.bytes == (try readFile(domain + "/tokenizer.json")))
        let unk = try #require(oldTok.unknownID)
        for t in r.vocabTensors {
            let old = try rows(src, t), new = try rows(out, t)
            #expect(new.values.count == newTok.count * old.width)
            for i in 0..<newTok.count {
                let token = try #require(newTok.token(of: i))
                let special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].contains(token)
                if let j = oldTok.id(of: token) {
                    // Specials by role: the same spelling here, other ids.
                    #expect(row(new, i) == row(old, j), "\(name) \(t): \(token) \(i) ← \(j)")
                    continue
                }
                #expect(!special)
                let pieces = oldTok.pieces(ofVocabularyToken: token).filter { $0 != unk }
                guard !pieces.isEmpty else { continue }
                let expected = (0..<old.width).map { c in Float(pieces.reduce(0.0) { $0 + Double(old.values[$1 * old.width + c]) } / Double(pieces.count)) }
                #expect(row(new, i) == expected, "\(name) \(t): \(token) from \(pieces)")
            }
        }
        // The resized model runs, and agrees with the old one at copied tokens.
        #expect(r.checkedSequences >= 4 && r.checkedValues > 1000 && r.maxDifference <= 1e-6)
        _ = try Encoder(checkpoint: out)
    }

    /// Onto its own tokenizer (a vocab.txt model whose old files may not name
    /// roles): every row, specials included, stays where it is.
    @Test func ownTokenizerIsTheIdentity() throws {
        let src = try model("bert-gelu")
        let (r, out, _) = try resize("bert-gelu", tokenizer: Fixtures.path("bert-tied"))
        #expect(r.added == 0 && r.copied + r.specials == 160, "\(r.copied) copied, \(r.specials) specials, \(r.added) new")
        for t in r.vocabTensors { #expect(try rows(out, t).values == rows(src, t).values) }
    }

    @Test func continuationPiecesAreTokenizedAsContinuations() throws {
        let tok = try Tokenizer(path: Fixtures.path("model-goldens/bert-gelu"))
        // "##ing" is a vocabulary piece; as a continuation it is that piece itself.
        #expect(tok.pieces(ofVocabularyToken: "##ing") == [try #require(tok.id(of: "##ing"))])
        // As a word start, "ing" is split into initial + continuation pieces.
        #expect(tok.pieces(ofVocabularyToken: "ing") == tok.encode("ing", addSpecialTokens: false).ids)
        #expect(tok.pieces(ofVocabularyToken: "##ings").first == tok.id(of: "##ing"))
    }

    @Test func appendingKeepsEveryOldRow() throws {
        let src = try model("bert-gelu")
        let (r, out, _) = try resize("bert-gelu", tokenizer: append) { $0.padToMultipleOf = 64; $0.initialization = .normal; $0.seed = 3 }
        #expect(r.tokenizerSize == 172 && r.newRows == 192 && r.paddingRows == 20 && r.added == 12 && r.movedSpecials.isEmpty)
        for t in r.vocabTensors {
            let old = try rows(src, t), new = try rows(out, t)
            #expect(Array(new.values.prefix(old.values.count)) == old.values, "\(t): an in-place append")
            if t.hasSuffix("bias") {
                #expect(new.values.suffix(32).allSatisfy { $0 == 0 }, "normal init: bias 0")
            } else {
                let added = Array(new.values.suffix(32 * new.width)).map(Double.init)
                let std = (added.reduce(0) { $0 + $1 * $1 } / Double(added.count)).squareRoot()
                #expect(abs(std - 0.02) < 0.004, "normal(0, initializer_range): std \(std)")
            }
        }
        #expect(out.config?.vocabSize == 192)
    }

    @Test func meanResizingSamplesAroundTheMean() throws {
        let src = try model("distilbert")
        let (r, out, _) = try resize("distilbert", tokenizer: append) { $0.initialization = .mean }
        let old = try rows(src, "distilbert.embeddings.word_embeddings.weight")
        let new = try rows(out, "distilbert.embeddings.word_embeddings.weight")
        let mean = (0..<old.width).map { c in (0..<160).reduce(0.0) { $0 + Double(old.values[$1 * old.width + c]) } / 160 }
        for i in 160..<172 {
            let rowValues = row(new, i)
            #expect(zip(rowValues, mean).allSatisfy { abs(Double($0) - $1) < 1e-3 }, "row \(i) is near the mean")
        }
        #expect(row(new, 160) != row(new, 161), "sampled, not copied")
        let bias = try rows(out, "vocab_projector.bias").values
        let oldBias = try rows(src, "vocab_projector.bias").values
        let biasMean = oldBias.reduce(0.0) { $0 + Double($1) } / 160
        #expect(bias[160...].allSatisfy { abs(Double($0) - biasMean) < 1e-5 })
        #expect(r.added == 12)
    }

    @Test func hdf5OutputAndRefusals() throws {
        let dir = ScratchDirectory()
        var o = ResizeOptions()
        o.target = .hdf5
        _ = try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: domain, to: dir.file("m.h5"), options: o)
        let h5 = try Checkpoint(path: dir.file("m.h5"))
        #expect(h5.format == .hdf5 && h5.config?.vocabSize == 191 && h5.files.contains { $0.name == "tokenizer.json" })
        // Existing output, no tokenizer, an HDF5 target that is not a .h5 path: errors, nothing new written.
        #expect(throws: ConvertError.self) { try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: domain, to: dir.file("m.h5"), options: o) }
        #expect(throws: ConvertError.self) {
            try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: dir.path, to: dir.file("x"), options: ResizeOptions())
        }
        #expect(throws: ConvertError.self) { try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: domain, to: dir.file("y"), options: o) }
        #expect(try FileSystem.list(dir.path) == ["m.h5"])
    }

    /// A tokenizer whose ids leave a gap cannot size the vocabulary tensors.
    @Test func tokenizerWithAnIdGapIsRefused() throws {
        let dir = ScratchDirectory()
        var text = String(decoding: try readFile(Fixtures.path("bert-tied/tokenizer.json")), as: UTF8.self)
        text = text.replacingAll("\"##ts\": 148", with: "\"##ts\": 170")
        try FileSystem.makeDirectories(dir.file("tok"))
        dir.write("tok/tokenizer.json", Array(text.utf8))
        #expect(text.contains("\"##ts\": 170"))
        do {
            _ = try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: dir.file("tok"), to: dir.file("out"), options: ResizeOptions())
            Issue.record("accepted")
        } catch let e as ConvertError {
            #expect(e.path.hasSuffix("tok") && e.reason.contains("only"), "\(e)")
        }
        #expect(!FileSystem.exists(dir.file("out")))
    }

    @Test func aWrongMappingFailsTheSelfCheck() throws {
        let src = try model("bert-gelu")
        let dir = ScratchDirectory()
        _ = try VocabResizer.resize(src, tokenizerDirectory: append, to: dir.file("out"), options: ResizeOptions())
        let oldTok = try Tokenizer(path: Fixtures.path("model-goldens/bert-gelu")), newTok = try Tokenizer(path: append)
        var mapping = Array(0..<160) + [Int](repeating: -1, count: 12)
        mapping.swapAt(40, 41)  // claims two rows were copied crosswise
        var report = ResizeReport()
        #expect(throws: ConvertError.self) {
            try VocabResizer.selfCheck(old: src, newPath: dir.file("out"), oldTok: oldTok, newTok: newTok, sourceRow: mapping, tokCount: 172,
                                       specials: [0, 1, 2, 3, 4], options: ResizeOptions(), report: &report, destination: dir.file("out"))
        }
    }

    /// A tokenizer that shares only its special tokens with the model is checked
    /// on sequences of those; one that shares nothing is reported as unchecked,
    /// never as "OK" over zero sequences.
    @Test func aSelfCheckThatChecksNothingSaysSo() throws {
        let dir = ScratchDirectory()
        let strange = (0..<12).map { "ǂ\($0)ǂ" }
        try FileSystem.makeDirectories(dir.file("specials"))
        dir.write("specials/vocab.txt", Array((["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + strange).joined(separator: "\n").utf8))
        let onlySpecials = try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: dir.file("specials"), to: dir.file("a"),
                                                   options: ResizeOptions())
        #expect(onlySpecials.copied + onlySpecials.specials == 5)
        #expect(onlySpecials.checkedSequences == 4 && onlySpecials.checkedValues > 0, "\(onlySpecials.checkedSequences)")
        try FileSystem.makeDirectories(dir.file("none"))
        let vocab = strange.enumerated().map { "\"\($0.element)\": \($0.offset)" }.joined(separator: ", ")
        dir.write("none/tokenizer.json", Array("""
            {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
             "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null, "decoder": null,
             "model": {"type": "WordPiece", "unk_token": "ǂ0ǂ", "continuing_subword_prefix": "##",
                       "max_input_chars_per_word": 100, "vocab": {\(vocab)}}}
            """.utf8))
        let nothing = try VocabResizer.resize(try model("bert-gelu"), tokenizerDirectory: dir.file("none"), to: dir.file("b"),
                                              options: ResizeOptions())
        #expect(nothing.copied == 0 && nothing.checkedSequences == 0 && nothing.checkedValues == 0)
    }
}
