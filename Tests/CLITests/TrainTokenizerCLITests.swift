// `ckpt train-tokenizer` end to end against the committed Hugging Face
// outputs (tools/fixtures/make_tokenizer_training_fixtures.py): byte-level
// BPE files byte-identical, WordPiece the same specials, alphabet and (nearly)
// vocabulary, deterministic whatever the thread count; --from keeps the
// pipeline; bad input refused with nothing written.

import Formats
import Testing
import TestSupport

@Suite struct TrainTokenizerCLITests {
    let fixtures = Fixtures.path("tokenizer-training")
    var corpus: String { fixtures + "/corpus.txt" }

    @Test func byteLevelBPEFilesAreHFs() throws {
        let dir = ScratchDirectory()
        let r = ckpt(["train-tokenizer", corpus, "--out", dir.file("bpe"), "--vocab-size", "600", "--type", "bpe", "--special-tokens", ""])
        #expect(r.status == 0 && r.out.contains("344 merged"), "\(r.out)\(r.err)")
        for name in ["vocab.json", "merges.txt"] {
            #expect(try readFile(dir.file("bpe/\(name)")) == (try readFile(fixtures + "/bpe/\(name)")), "\(name)")
        }
        // The tokenizer it wrote loads in ckpt and tokenizes as HF's does.
        let ours = ckpt(["tokenize", dir.file("bpe"), "--file", corpus, "--json", "--no-special-tokens"])
        let theirs = ckpt(["tokenize", fixtures + "/bpe", "--file", corpus, "--json", "--no-special-tokens"])
        #expect(ours.status == 0 && ours.out == theirs.out)
    }

    @Test func wordPieceIsHFsAndDeterministic() throws {
        let dir = ScratchDirectory()
        for t in ["1", "2"] {
            let r = ckpt(["train-tokenizer", corpus, "--out", dir.file("wp\(t)"), "--vocab-size", "500", "--threads", t])
            #expect(r.status == 0, "\(r.err)")
        }
        for name in ["tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            #expect(try readFile(dir.file("wp1/\(name)")) == (try readFile(dir.file("wp2/\(name)"))), "\(name)")
        }
        let ours = textLines(try readFile(dir.file("wp1/vocab.txt")))
        let hf = textLines(try readFile(fixtures + "/wordpiece/vocab.txt"))
        let alphabet = 5 + hf.dropFirst(5).prefix { !$0.hasPrefix("##") && $0.unicodeScalars.count == 1 }.count
        #expect(ours.count == 500 && Array(ours.prefix(alphabet)) == Array(hf.prefix(alphabet)))
        #expect(Double(Set(ours).intersection(hf).count) / Double(hf.count) >= 0.98)
        // [CLS] … [SEP] with the trained ids.
        let e = ckpt(["tokenize", dir.file("wp1"), "the cat", "--json"])
        let v = try JSONParser.parse(e.out)
        #expect(v["tokens"]?.array?.first?.string == "[CLS]" && v["ids"]?.array?.first?.int == 2 && v["ids"]?.array?.last?.int == 3)
    }

    @Test func fromKeepsThePipeline() throws {
        let dir = ScratchDirectory()
        let base = Fixtures.path("tokenizer-goldens/bert-uncased")
        let r = ckpt(["train-tokenizer", corpus, "--out", dir.file("t"), "--vocab-size", "700", "--from", base])
        #expect(r.status == 0, "\(r.err)")
        let old = try JSONParser.parse(try readFile(base + "/tokenizer.json"), path: "old")
        let new = try JSONParser.parse(try readFile(dir.file("t/tokenizer.json")), path: "new")
        for key in ["normalizer", "pre_tokenizer", "decoder"] { #expect(old[key] == new[key], "\(key)") }
        #expect(new["post_processor"]?["type"]?.string == "TemplateProcessing")
        #expect(new["post_processor"]?["special_tokens"]?["[CLS]"]?["ids"]?.array?.first?.int == 2)
        #expect(new["model"]?["vocab"]?.object?.count == 700)
        #expect(new["added_tokens"]?.array?.compactMap { $0["content"]?.string } == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        let config = try JSONParser.parse(try readFile(dir.file("t/tokenizer_config.json")), path: "config")
        #expect(config["do_lower_case"]?.bool == true && config["tokenizer_class"]?.string == "BertTokenizer")
    }

    @Test func badInputIsRefusedWithNothingWritten() throws {
        let dir = ScratchDirectory()
        dir.write("empty.txt", Array("\n \n".utf8))
        dir.write("latin1.txt", Array("the cat\nsat\n".utf8) + [0x63, 0xE9, 0x0A])
        dir.write("bad.jsonl", Array("{\"text\": \"the cat\"}\n{\"txt\": 1}\n".utf8))
        try FileSystem.makeDirectories(dir.file("unigram"))
        dir.write("unigram/tokenizer.json", Array(#"{"model": {"type": "Unigram", "vocab": []}}"#.utf8))
        let cases: [([String], String)] = [
            ([dir.file("empty.txt"), "--vocab-size", "100"], "empty"),
            ([dir.file("latin1.txt"), "--vocab-size", "100"], "latin1.txt:3: invalid UTF-8"),
            ([dir.file("bad.jsonl"), "--vocab-size", "100"], "bad.jsonl:2: needs a \"text\" string"),
            ([corpus, "--vocab-size", "50"], "below the 5 special tokens"),
            ([corpus, "--vocab-size", "100", "--from", dir.file("unigram")], "Unigram"),
            ([corpus, "--vocab-size", "100", "--from", dir.path], "no tokenizer.json"),
        ]
        for (args, words) in cases {
            let r = ckpt(["train-tokenizer"] + args + ["--out", dir.file("out")])
            #expect(r.status == 1 && r.err.contains(words), "\(args): \(r.err)")
            #expect(!FileSystem.exists(dir.file("out")), "\(args)")
        }
        #expect(ckpt(["train-tokenizer", corpus, "--out", dir.file("out")]).status == 64)
        // An existing output needs --force.
        #expect(ckpt(["train-tokenizer", corpus, "--vocab-size", "400", "--out", dir.file("out")]).status == 0)
        let again = ckpt(["train-tokenizer", corpus, "--vocab-size", "400", "--out", dir.file("out")])
        #expect(again.status == 1 && again.err.contains("--force"), "\(again.err)")
        #expect(ckpt(["train-tokenizer", corpus, "--vocab-size", "400", "--out", dir.file("out"), "--force"]).status == 0)
    }
}
