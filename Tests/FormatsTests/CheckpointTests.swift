// Opening checkpoints by content, tied weights, and the consistency problems
// `ckpt inspect` reports.

import Formats
import Testing
import TestSupport

@Suite struct CheckpointTests {
    @Test func opensEachLayoutByContent() throws {
        let dir = try Checkpoint(path: Fixtures.path("bert-tied"))
        #expect(dir.isDirectory && dir.format == .safetensors)
        #expect(dir.config?.modelType == "bert")
        #expect(dir.files.map(\.name) == ["config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"])
        #expect(try Checkpoint(path: Fixtures.path("bert-sharded")).format == .shardedSafetensors)
        #expect(try Checkpoint(path: Fixtures.path("bert-sharded/model.safetensors.index.json")).format == .shardedSafetensors)
        #expect(try Checkpoint(path: Fixtures.path("h5py-written.h5")).format == .hdf5)

        // The extension does not matter, the bytes do.
        let scratch = ScratchDirectory()
        scratch.write("weights.bin", try readFile(Fixtures.path("bert-tied/model.safetensors")))
        let renamed = try Checkpoint(path: scratch.file("weights.bin"))
        #expect(renamed.format == .safetensors && renamed.tensors.count == 42)
        #expect(renamed.files.isEmpty && renamed.config == nil)
    }

    @Test func parameterCountsMatchTransformers() throws {
        // model.num_parameters() counts tied parameters once, as ckpt does.
        for model in ["bert-tied", "bert-untied", "distilbert-tied", "bert-sharded"] {
            let c = try Checkpoint(path: Fixtures.path(model))
            let expected = try Fixtures.json("\(model)/tensors.json")["num_parameters"]!.int!
            #expect(c.parameterCount == expected, "\(model)")
            #expect(c.tensorBytes == expected * 4, "\(model)")
        }
    }

    @Test func tiesAsTransformersDeclaresThem() throws {
        let expectedTies = { (model: String) throws -> Set<[String]> in
            Set(try Fixtures.json("\(model)/tensors.json")["tied"]!.array!.map { $0.array!.map { $0.string! } })
        }
        for model in ["bert-tied", "distilbert-tied", "bert-untied"] {
            let c = try Checkpoint(path: Fixtures.path(model))
            #expect(Set(c.ties.map { [$0.alias, $0.target] }) == (try expectedTies(model)), "\(model)")
            #expect(c.ties.allSatisfy { !$0.aliasStored })
            #expect(c.problems.isEmpty, "\(model): \(c.problems)")
        }
    }

    @Test func storedTiedCopyIsRecognised() throws {
        // A file that stores the decoder weight as well (same bytes).
        let src = try Checkpoint(path: Fixtures.path("bert-tied"))
        let scratch = ScratchDirectory()
        let emb = try src.data("bert.embeddings.word_embeddings.weight")
        var infos = src.tensors
        infos.append(emb.info.renamed("cls.predictions.decoder.weight"))
        try SafeTensorsWriter.write(infos, to: scratch.file("model.safetensors")) { info in
            info.name == "cls.predictions.decoder.weight" ? emb : try src.data(info.name)
        }
        scratch.write("config.json", try readFile(Fixtures.path("bert-tied/config.json")))
        let c = try Checkpoint(path: scratch.path)
        #expect(c.ties.contains(TiedWeight(alias: "cls.predictions.decoder.weight",
                                           target: "bert.embeddings.word_embeddings.weight", aliasStored: true)))
    }

    @Test func reportsVocabularyMismatches() throws {
        let scratch = ScratchDirectory()
        for name in ["model.safetensors", "tokenizer.json", "vocab.txt"] {
            scratch.write(name, try readFile(Fixtures.path("bert-tied/\(name)")))
        }
        var config = try ModelConfig(bytes: try readFile(Fixtures.path("bert-tied/config.json")), path: "config.json")
        config.vocabSize = 170
        scratch.write("config.json", config.serialized())
        // A tokenizer that produces more ids than the embedding has rows.
        var vocab = try readFile(Fixtures.path("bert-tied/vocab.txt"))
        vocab += Array("extra1\nextra2\n".utf8)
        scratch.write("vocab.txt", vocab)
        let c = try Checkpoint(path: scratch.path)
        #expect(c.problems.contains("config.vocab_size is 170 but bert.embeddings.word_embeddings.weight has 160 rows"))
        // tokenizer.json wins over vocab.txt and is consistent here.
        #expect(!c.problems.contains { $0.contains("tokenizer produces") })
    }

    @Test func clearErrorsForWhatIsNotACheckpoint() throws {
        let scratch = ScratchDirectory()
        #expect(throws: CheckpointError(path: scratch.file("nope"), reason: "no such file or directory")) {
            try Checkpoint(path: scratch.file("nope"))
        }
        scratch.write("p.bin", [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0, 0, 0])
        #expect(throws: PyTorchError.zip(path: scratch.file("p.bin"), reason: "no end-of-central-directory record")) {
            try Checkpoint(path: scratch.file("p.bin"))
        }
        scratch.write("lfs", Array("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n".utf8))
        #expect(throws: SafeTensorsError.lfsPointer(path: scratch.file("lfs"))) { try Checkpoint(path: scratch.file("lfs")) }
        let empty = ScratchDirectory()
        #expect(throws: CheckpointError.self) { try Checkpoint(path: empty.path) }
    }

    @Test func tokenizerFilesAreSummarised() throws {
        for model in ["bert-tied", "distilbert-tied"] {
            let t = try #require(try Checkpoint(path: Fixtures.path(model)).tokenizer)
            #expect(t.model == "WordPiece" && t.vocabSize == 160 && t.maxID == 159)
            #expect(t.lowercase == true && t.modelMaxLength == 64)
            #expect(t.specialTokens == [.cls: "[CLS]", .sep: "[SEP]", .pad: "[PAD]", .unk: "[UNK]", .mask: "[MASK]"])
            #expect(t.missingSpecialTokens.isEmpty)
        }
    }

    @Test func brokenOrInconsistentTokenizerFilesAreProblemsNotFailures() throws {
        let scratch = ScratchDirectory()
        for name in ["model.safetensors", "config.json", "vocab.txt"] {
            scratch.write(name, try readFile(Fixtures.path("bert-tied/\(name)")))
        }
        scratch.write("special_tokens_map.json", Array(#"{"mask_token": {"content": "<mask>"}, "pad_token": "[PAD]"}"#.utf8))
        let c = try Checkpoint(path: scratch.path)
        #expect(c.tokenizer?.model == "WordPiece")  // from vocab.txt
        #expect(c.problems == ["special token \"<mask>\" is not in the tokenizer's vocabulary"])

        scratch.write("tokenizer_config.json", Array("{ not json".utf8))
        let broken = try Checkpoint(path: scratch.path)
        #expect(broken.tokenizer == nil)
        #expect(broken.problems.count == 1 && broken.problems[0].contains("tokenizer_config.json"))
    }
}
