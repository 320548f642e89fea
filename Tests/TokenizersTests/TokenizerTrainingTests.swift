// Tokenizer training against Hugging Face `tokenizers` 0.23 on a committed
// multilingual corpus (goldens: tools/fixtures/make_tokenizer_training_fixtures.py).
// Byte-level BPE must give HF's vocabulary and merges exactly; WordPiece (whose
// HF training is not reproducible) the same specials and alphabet at the same
// ids and at least 98 % of the same vocabulary.

import Formats
import Testing
import TestSupport
@testable import Tokenizers

@Suite struct TokenizerTrainingTests {
    let dir = Fixtures.path("tokenizer-training")

    /// The corpus's lines with their line ends, as HF's `train_from_files` reads them.
    func lines() throws -> [String] {
        let text = String(decoding: try readFile(dir + "/corpus.txt"), as: UTF8.self)
        var out: [String] = [], current = ""
        for c in text.unicodeScalars {
            current.unicodeScalars.append(c)
            if c == "\n" { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    func counts(_ tokenizerJSON: String) throws -> [ExactString: Int] {
        let json = try JSONParser.parse(try readFile(tokenizerJSON), path: tokenizerJSON)
        let pipeline = try TrainingPipeline(tokenizerJSON: json, path: tokenizerJSON)
        var counts: [ExactString: Int] = [:]
        for l in try lines() { pipeline.count(l, into: &counts) }
        return counts
    }

    func model(_ tokenizerJSON: String) throws -> (vocab: [String], merges: [[String]]) {
        let json = try JSONParser.parse(try readFile(tokenizerJSON), path: tokenizerJSON)
        let vocab = try #require(json["model"]?["vocab"]?.object)
        let byID = vocab.keys.sorted { vocab[$0]!.int! < vocab[$1]!.int! }
        let merges = (json["model"]?["merges"]?.array ?? []).map { $0.array?.compactMap(\.string) ?? [] }
        return (byID, merges)
    }

    @Test func byteLevelBPEIsHFsExactly() throws {
        var o = BPETrainingOptions()
        o.vocabSize = 600
        o.minFrequency = 2
        o.initialAlphabet = ByteLevel.byteToScalar
        let r = BPETrainer.train(try counts(dir + "/bpe/tokenizer.json"), options: o)
        let hf = try model(dir + "/bpe/tokenizer.json")
        #expect(r.vocabulary.count == 600 && r.vocabulary == hf.vocab)
        #expect(r.merges.map { [$0.0, $0.1] } == hf.merges)
        // merges.txt as HF saves it.
        let text = "#version: 0.2\n" + r.merges.map { "\($0.0) \($0.1)\n" }.joined()
        #expect(Array(text.utf8) == (try readFile(dir + "/bpe/merges.txt")))
    }

    @Test func maxTokenLengthIsHFs() throws {
        var o = BPETrainingOptions()
        o.vocabSize = 600
        o.minFrequency = 2
        o.maxTokenLength = 6
        o.initialAlphabet = ByteLevel.byteToScalar
        let r = BPETrainer.train(try counts(dir + "/bpe-maxlen/tokenizer.json"), options: o)
        let hf = try model(dir + "/bpe-maxlen/tokenizer.json")
        #expect(r.vocabulary == hf.vocab && r.merges.map { [$0.0, $0.1] } == hf.merges)
        #expect(r.vocabulary.allSatisfy { $0.unicodeScalars.count <= 6 })
    }

    @Test func wordPieceMatchesHFsSpecialsAlphabetAndVocabulary() throws {
        var o = BPETrainingOptions()
        o.vocabSize = 500
        o.minFrequency = 2
        o.limitAlphabet = 1000
        o.specialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        o.continuingSubwordPrefix = "##"
        let r = BPETrainer.train(try counts(dir + "/wordpiece/tokenizer.json"), options: o)
        let hf = try model(dir + "/wordpiece/tokenizer.json")
        #expect(r.vocabulary.count == hf.vocab.count)
        // Specials, then the alphabet in code-point order: the same ids.
        let alphabet = 5 + hf.vocab.dropFirst(5).prefix { !$0.hasPrefix("##") && $0.unicodeScalars.count == 1 }.count
        #expect(Array(r.vocabulary.prefix(alphabet)) == Array(hf.vocab.prefix(alphabet)))
        let shared = Set(r.vocabulary).intersection(hf.vocab).count
        #expect(Double(shared) / Double(hf.vocab.count) >= 0.98, "\(shared) of \(hf.vocab.count)")
        // Deterministic: the same result again.
        #expect(BPETrainer.train(try counts(dir + "/wordpiece/tokenizer.json"), options: o) == r)
    }

    /// The trained files as HF encodes with them (its ByteLevel post-processor
    /// included): ckpt's tokenizer gives the same ids, tokens, offsets and type ids.
    @Test(arguments: ["bpe", "bpe-maxlen", "wordpiece"])
    func trainedFilesEncodeAsInHF(_ name: String) throws {
        let tok = try Tokenizer(path: dir + "/\(name)")
        var bad: [String] = []
        let goldens = textLines(try readFile(dir + "/\(name)/golden.jsonl"))
        for line in goldens {
            let g = try JSONParser.parse(line, path: name)
            let text = g["text"]?.string ?? ""
            let e = g["pair"]?.string.map { tok.encode(text, pair: $0) } ?? tok.encode(text)
            let offsets = g["offsets"]?.array?.map { $0.array?.compactMap(\.int) ?? [] } ?? []
            if e.ids != g["ids"]?.array?.compactMap(\.int) || e.tokens != g["tokens"]?.array?.compactMap(\.string)
                || e.offsets.map({ [$0.0, $0.1] }) != offsets || e.typeIDs != g["type_ids"]?.array?.compactMap(\.int) {
                bad.append(text)
            }
        }
        #expect(goldens.count == 132 && bad.isEmpty, "\(bad.prefix(3))")
    }

    /// The ASCII fast path of BERT's pipeline gives the general pipeline's words.
    @Test func bertASCIIFastPathIsTheGeneralPipeline() throws {
        struct LCG { var x: UInt64; mutating func next() -> UInt64 { x = x &* 6364136223846793005 &+ 1442695040888963407; return x >> 33 } }
        var rng = LCG(x: 3)
        for (clean, lower) in [(true, true), (true, false), (false, true), (false, false)] {
            let json = try JSONParser.parse(#"{"normalizer": {"type": "BertNormalizer", "clean_text": \#(clean), "handle_chinese_chars": true, "strip_accents": null, "lowercase": \#(lower)}, "pre_tokenizer": {"type": "BertPreTokenizer"}}"#, path: "t")
            let p = try TrainingPipeline(tokenizerJSON: json, path: "t")
            for _ in 0..<300 {
                let text = String(String.UnicodeScalarView((0..<Int(rng.next() % 40)).map { _ in
                    Unicode.Scalar(UInt8(rng.next() % 3 == 0 ? rng.next() % 128 : 0x61 + rng.next() % 26))
                }))
                #expect(TrainingPipeline.bertASCIIWords(text, clean: clean, lowercase: lower) == p.generalWords(text), "\(Array(text.utf8))")
            }
        }
        #expect(TrainingPipeline.bertASCIIWords("café", clean: true, lowercase: true) == nil)
    }
}
