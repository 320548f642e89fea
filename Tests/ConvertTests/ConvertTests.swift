// `ckpt convert` through the library: byte-exact round trips, dtype paths,
// sharding, ties, and destinations that must not be half-written.

import Convert
import Formats
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ConvertTests {
    func convert(_ src: String, _ dst: String, _ options: ConvertOptions = ConvertOptions()) throws -> ConvertReport {
        try Converter.convert(try Checkpoint(path: src), to: dst, options: options)
    }

    @Test func safetensorsToHDF5AndBackIsByteExact() throws {
        let s = ScratchDirectory()
        for model in ["bert-tied", "bert-untied", "distilbert-tied"] {
            _ = try convert(Fixtures.path(model), s.file("\(model).h5"))
            _ = try convert(s.file("\(model).h5"), s.file("\(model)-back"))
            #expect(try readFile(s.file("\(model)-back/model.safetensors")) == readFile(Fixtures.path("\(model)/model.safetensors")), "\(model)")
            for f in ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"] {
                #expect(try readFile(s.file("\(model)-back/\(f)")) == readFile(Fixtures.path("\(model)/\(f)")), "\(model)/\(f)")
            }
        }
    }

    @Test func shardedToSingleAndBack() throws {
        let s = ScratchDirectory()
        _ = try convert(Fixtures.path("bert-sharded"), s.file("single"))
        #expect(try readFile(s.file("single/model.safetensors")) == readFile(Fixtures.path("bert-tied/model.safetensors")))
        let report = try convert(s.file("single"), s.file("resharded"), ConvertOptions(shardSize: 30_000))
        #expect(report.outputs.filter { $0.hasSuffix(".safetensors") }.count == 4)
        // Shards hold the same tensors; the index matches the one transformers wrote,
        // except for the order the tensors are taken in (ckpt: file order).
        let back = try Checkpoint(path: s.file("resharded"))
        let original = try Checkpoint(path: Fixtures.path("bert-tied"))
        #expect(back.format == .shardedSafetensors)
        for t in original.tensors { #expect(try back.data(t.name).sameContents(as: original.data(t.name))) }
        let index = try JSONParser.parse(try readFile(s.file("resharded/model.safetensors.index.json")), path: "index")
        #expect(index["metadata"]?["total_size"]?.int == original.tensorBytes)
        #expect(index["metadata"]?["total_parameters"]?.int == original.parameterCount)
    }

    @Test func dtypeRoundTrips() throws {
        let s = ScratchDirectory()
        let original = try Checkpoint(path: Fixtures.path("bert-untied"))
        for dtype in [DType.f16, .bf16] {
            let report = try convert(Fixtures.path("bert-untied"), s.file("\(dtype.rawValue).h5"), ConvertOptions(dtype: dtype))
            #expect(report.castCount == original.tensors.count)
            let low = try Checkpoint(path: s.file("\(dtype.rawValue).h5"))
            #expect(low.config?.storageDType == dtype.torchName)
            for t in original.tensors {
                let expected = try original.data(t.name).converted(to: dtype)
                #expect(try low.data(t.name).sameContents(as: expected), "\(t.name)")
            }
            // Back to f32: exactly the widened low-precision values.
            _ = try convert(s.file("\(dtype.rawValue).h5"), s.file("\(dtype.rawValue)-f32.safetensors"), ConvertOptions(dtype: .f32))
            let wide = try Checkpoint(path: s.file("\(dtype.rawValue)-f32.safetensors"))
            for t in original.tensors {
                let expected = try original.data(t.name).converted(to: dtype).converted(to: .f32)
                #expect(try wide.data(t.name).sameContents(as: expected), "\(t.name)")
            }
        }
    }

    @Test func integerTensorsAreNeverCast() throws {
        let s = ScratchDirectory()
        _ = try convert(Fixtures.path("python-written.safetensors"), s.file("b.safetensors"), ConvertOptions(dtype: .bf16))
        let src = try Checkpoint(path: Fixtures.path("python-written.safetensors"))
        let out = try Checkpoint(path: s.file("b.safetensors"))
        for t in src.tensors {
            let o = out.info(t.name)!
            #expect(o.dtype == (t.dtype.isCastableFloat ? .bf16 : t.dtype), "\(t.name)")
        }
        #expect(out.metadata == ["format": "pt", "source": "fixture"])
    }

    @Test func storedTiedCopyIsWrittenOnce() throws {
        let s = ScratchDirectory()
        let src = try Checkpoint(path: Fixtures.path("distilbert-tied"))
        let emb = try src.data("distilbert.embeddings.word_embeddings.weight")
        try SafeTensorsWriter.write(src.tensors + [emb.info.renamed("vocab_projector.weight")],
                                    to: s.file("with-copy.safetensors")) { info in
            info.name == "vocab_projector.weight" ? emb : try src.data(info.name)
        }
        let report = try convert(s.file("with-copy.safetensors"), s.file("out.safetensors"))
        #expect(report.droppedTies.map(\.alias) == ["vocab_projector.weight"])
        #expect(try readFile(s.file("out.safetensors")) == readFile(Fixtures.path("distilbert-tied/model.safetensors")))
    }

    @Test func impossibleRequestsWriteNothing() throws {
        let s = ScratchDirectory()
        #expect(throws: ConvertError.self) {
            try convert(Fixtures.path("bert-tied"), s.file("x.h5"), ConvertOptions(shardSize: 1000))
        }
        #expect(throws: ConvertError.self) {
            try convert(Fixtures.path("bert-tied"), s.file("x.safetensors"), ConvertOptions(shardSize: 1000))
        }
        #expect(throws: ConvertError.self) {
            try convert(Fixtures.path("bert-tied"), s.file("x.h5"), ConvertOptions(dtype: .i8))
        }
        #expect(s.names().isEmpty)
    }

    @Test func existingDestinationNeedsForce() throws {
        let s = ScratchDirectory()
        _ = try convert(Fixtures.path("bert-tied"), s.file("out"))
        #expect(throws: FileError.self) { try convert(Fixtures.path("distilbert-tied"), s.file("out")) }
        _ = try convert(Fixtures.path("distilbert-tied"), s.file("out"), ConvertOptions(overwrite: true))
        #expect(try Checkpoint(path: s.file("out")).config?.modelType == "distilbert")
        #expect(s.names() == ["out"])
    }
}

@Suite struct ConvertSafetyTests {
    @Test func forceReplacesOnlyModelDirectories() throws {
        let s = ScratchDirectory()
        #expect(mkdir(s.file("notes"), 0o755) == 0)
        s.write("notes/thesis.tex", [1])
        let src = try Checkpoint(path: Fixtures.path("bert-tied"))
        #expect(throws: ConvertError.self) {
            try Converter.convert(src, to: s.file("notes"), options: ConvertOptions(overwrite: true))
        }
        #expect(try readFile(s.file("notes/thesis.tex")) == [1])

        // The source inside the destination.
        _ = try Converter.convert(src, to: s.file("m"), options: ConvertOptions())
        let inner = try Checkpoint(path: s.file("m"))
        #expect(throws: ConvertError.self) {
            try Converter.convert(inner, to: s.file("m"), options: ConvertOptions(dtype: .bf16, overwrite: true))
        }
        #expect(try Checkpoint(path: s.file("m")).tensors.allSatisfy { $0.dtype == .f32 })
    }

    @Test func failureHalfwayLeavesNothing() throws {
        struct Boom: Error {}
        let s = ScratchDirectory()
        let src = try Checkpoint(path: Fixtures.path("bert-tied"))
        let infos = src.tensors
        var n = 0
        let failing: (TensorInfo) throws -> TensorData = { info in
            n += 1
            if n == 20 { throw Boom() }
            return try src.data(info.name)
        }
        #expect(throws: Boom.self) { try HDF5StoreWriter.write(infos, to: s.file("x.h5"), createdBy: "t", source: failing) }
        n = 0
        #expect(throws: Boom.self) { try SafeTensorsWriter.write(infos, to: s.file("x.safetensors"), source: failing) }
        #expect(s.names().isEmpty)
    }
}
