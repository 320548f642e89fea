// The RoBERTa family through the commands: tokenize, predict, convert,
// trim-vocab, resize-vocab, masked-LM and classification training. Outputs
// hold exactly the tensor names transformers' save_pretrained writes for the
// class (recorded with its loading report by tools/fixtures/make_model_goldens.py,
// where it loads with nothing missing or unexpected).

import Formats
import Testing
import TestSupport
import Tokenizers

@Suite struct RobertaCLITests {
    static let models = ["roberta", "xlm-roberta", "camembert"]

    func model(_ name: String) -> String { Fixtures.path("model-goldens/\(name)") }

    /// The tensor names transformers writes for the masked-LM class of `name`.
    func transformersNames(_ name: String) throws -> Set<String> {
        let keys = try Fixtures.json("model-goldens/\(name)/state_dict_keys.json")
        return Set(try #require(keys["keys"]?.array).compactMap(\.string))
    }

    func names(_ path: String) throws -> Set<String> {
        Set(try SafeTensorsFile(path: path).tensors.map(\.name))
    }

    func corpus(_ dir: ScratchDirectory) -> String {
        let lines = (0..<40).map { i in
            ["Return a new list of the module's objects.", "The json module can read and write data.",
             "It returns a list of objects from the file.", "Read the data, then write a new file."][i % 4]
        }
        dir.write("corpus.txt", Array((lines.joined(separator: "\n") + "\n").utf8))
        return dir.file("corpus.txt")
    }

    @Test(arguments: models) func tokenizePredictAndVerify(_ name: String) throws {
        let t = ckpt(["tokenize", model(name), "The json module.", "--json"])
        #expect(t.status == 0, "\(t.err)")
        #expect(t.out.contains("\"<s>\"") || t.out.contains("<s>NOTUSED"), "\(t.out)")
        let p = ckpt(["predict", model(name), "The <mask> module."])
        #expect(p.status == 0 && !p.out.isEmpty, "\(p.err)")
        let v = ckpt(["verify", model(name), "--reference", model(name) + "/golden.safetensors"])
        #expect(v.status == 0, "\(v.out)\n\(v.err)")
    }

    @Test(arguments: models) func convertedAndTrainedKeepTransformersNames(_ name: String) throws {
        let dir = ScratchDirectory()
        let expected = try transformersNames(name)
        let c = ckpt(["convert", model(name), dir.file("store.h5"), "--to", "hdf5"])
        #expect(c.status == 0, "\(c.err)")
        let back = ckpt(["convert", dir.file("store.h5"), dir.file("back"), "--to", "safetensors"])
        #expect(back.status == 0, "\(back.err)")
        #expect(try names(dir.file("back/model.safetensors")) == expected)

        let train = ckpt(["train", "--model", dir.file("store.h5"), "--corpus", corpus(dir), "--out", dir.file("mlm"),
                          "--max-steps", "2", "--batch-size", "4", "--max-length", "32", "--threads", "2"])
        #expect(train.status == 0, "\(train.err)")
        #expect(try names(dir.file("mlm/final/model.safetensors")) == expected)
        let config = try JSONParser.parse(try readFile(dir.file("mlm/final/config.json")), path: "config.json")
        #expect(config["model_type"]?.string == name)
        #expect(config["architectures"]?.array?.first?.string == ["roberta": "RobertaForMaskedLM", "xlm-roberta": "XLMRobertaForMaskedLM",
                                                                    "camembert": "CamembertForMaskedLM"][name])
    }

    @Test func classifierHasTheFamilysHead() throws {
        let dir = ScratchDirectory()
        var csv = "text,label\n"
        for i in 0..<24 { csv += i % 2 == 0 ? "\"read the json data\",json\n" : "\"return a new list\",list\n" }
        dir.write("train.csv", Array(csv.utf8))
        let r = ckpt(["train", "--task", "classification", "--model", model("xlm-roberta"), "--corpus", dir.file("train.csv"),
                      "--out", dir.file("cls"), "--max-steps", "3", "--batch-size", "4", "--threads", "2"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("classifier.dense.weight") && r.out.contains("classifier.out_proj.weight"), "\(r.out)")
        let got = try names(dir.file("cls/final/model.safetensors"))
        let body = try transformersNames("xlm-roberta").filter { $0.hasPrefix("roberta.") }
        #expect(got == body.union(["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"]))
        let config = try JSONParser.parse(try readFile(dir.file("cls/final/config.json")), path: "config.json")
        #expect(config["architectures"]?.array?.first?.string == "XLMRobertaForSequenceClassification")
        let c = ckpt(["classify", dir.file("cls/final"), "read the json data", "--json"])
        #expect(c.status == 0, "\(c.err)")
    }

    @Test func trimVocabKeepsTheCorpusPiecesAndTheFairseqOrder() throws {
        let dir = ScratchDirectory()
        let source = try Tokenizer(path: model("xlm-roberta"))
        let r = ckpt(["trim-vocab", model("xlm-roberta"), "--corpus", corpus(dir), "--out", dir.file("trim"), "--report", dir.file("r.json")])
        #expect(r.status == 0, "\(r.err)")
        let trimmed = try Tokenizer(path: dir.file("trim"))
        #expect(trimmed.count < source.count)
        // Fairseq specials first, <mask> last, the pad id unchanged.
        #expect((0..<4).map { trimmed.token(of: $0) } == ["<s>", "<pad>", "</s>", "<unk>"])
        #expect(trimmed.token(of: trimmed.count - 1) == "<mask>")
        let config = try JSONParser.parse(try readFile(dir.file("trim/config.json")), path: "config.json")
        #expect(config["vocab_size"]?.int == trimmed.count && config["pad_token_id"]?.int == 1)
        #expect(try names(dir.file("trim/model.safetensors")) == (try transformersNames("xlm-roberta")))
        // The corpus encodes to the same tokens; the report says so.
        for text in ["The json module can read and write data.", "Read the data, then write a new file."] {
            #expect(trimmed.encode(text).tokens == source.encode(text).tokens)
        }
        let report = try JSONParser.parse(try readFile(dir.file("r.json")), path: "r.json")
        #expect(report["tokenizer_check"]?["lines"]?.int == report["tokenizer_check"]?["identical"]?.int)
        #expect(!FileSystem.exists(dir.file("trim.ckpt-tmp")))
        // --keep: fewer pieces; a BPE vocabulary is refused by name.
        let k = ckpt(["trim-vocab", model("xlm-roberta"), "--corpus", corpus(dir), "--out", dir.file("keep"), "--keep", "5"])
        #expect(k.status == 0, "\(k.err)")
        #expect(try Tokenizer(path: dir.file("keep")).count < trimmed.count)
        // An existing output is refused before any work, and left as it was.
        let again = ckpt(["trim-vocab", model("xlm-roberta"), "--corpus", corpus(dir), "--out", dir.file("trim")])
        #expect(again.status != 0 && again.err.contains("already exists"), "\(again.err)")
        #expect(try Tokenizer(path: dir.file("trim")).count == trimmed.count)
        let bpe = ckpt(["trim-vocab", model("roberta"), "--corpus", corpus(dir), "--out", dir.file("bpe")])
        #expect(bpe.status != 0 && bpe.err.contains("BPE") && !FileSystem.exists(dir.file("bpe")), "\(bpe.err)")
    }

    /// A domain tokenizer whose pad id differs would move every position: refused.
    @Test func resizeRefusesAnotherPadID() throws {
        let dir = ScratchDirectory()
        let t = ckpt(["train-tokenizer", corpus(dir), "--out", dir.file("tok"), "--vocab-size", "300", "--type", "bpe",
                      "--special-tokens", "<pad>,<s>,</s>,<unk>,<mask>"])
        #expect(t.status == 0, "\(t.err)")
        let r = ckpt(["resize-vocab", model("roberta"), "--tokenizer", dir.file("tok"), "--out", dir.file("out")])
        #expect(r.status != 0 && r.err.contains("pad_token_id 1") && r.err.contains("<pad>"), "\(r.err)")
        #expect(!FileSystem.exists(dir.file("out")))
        // The model's own order is accepted.
        let ok = ckpt(["train-tokenizer", corpus(dir), "--out", dir.file("tok2"), "--vocab-size", "300", "--type", "bpe",
                       "--special-tokens", "<s>,<pad>,</s>,<unk>,<mask>"])
        #expect(ok.status == 0, "\(ok.err)")
        let r2 = ckpt(["resize-vocab", model("roberta"), "--tokenizer", dir.file("tok2"), "--out", dir.file("out2")])
        #expect(r2.status == 0, "\(r2.err)")
        #expect(try names(dir.file("out2/model.safetensors")) == (try transformersNames("roberta")))
    }
}
