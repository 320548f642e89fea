// The `ckpt` binary end to end: output, exit codes (0 ok, 1 failure, 64 usage),
// and no output left behind when the input is bad.

import CHDF5
import Formats
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The built `ckpt`, beside the test bundle.
let ckptBinary: String = {
    var exe = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &exe, 4095)
    return FileSystem.join(FileSystem.dirname(String(decoding: exe[0..<max(n, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)), "ckpt")
}()

/// Runs the built `ckpt` (with `environment` added to this process's) and captures its output.
func ckpt(_ args: [String], environment: [String: String] = [:]) -> (status: Int32, out: String, err: String) {
    let bin = ckptBinary
    let scratch = ScratchDirectory()
    let settings = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let quoted = ((settings.isEmpty ? [] : ["env"] + settings) + [bin] + args)
        .map { "'" + $0.replacingOccurrences("'", "'\\''") + "'" }.joined(separator: " ")
    let status = system("\(quoted) >\(scratch.file("out")) 2>\(scratch.file("err")) </dev/null")
    let out = String(decoding: (try? readFile(scratch.file("out"))) ?? [], as: UTF8.self)
    let err = String(decoding: (try? readFile(scratch.file("err"))) ?? [], as: UTF8.self)
    return ((status >> 8) & 0xFF, out, err)
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}

@Suite struct CLITests {
    @Test func helpListsTheCommands() {
        let r = ckpt(["--help"])
        #expect(r.status == 0)
        #expect(r.out.contains("inspect") && r.out.contains("convert"))
    }

    @Test func inspectJSONIsStable() throws {
        let r = ckpt(["inspect", Fixtures.path("bert-tied"), "--json"])
        #expect(r.status == 0, "\(r.err)")
        let v = try JSONParser.parse(r.out)
        #expect(v.object?.keys == ["path", "format", "directory", "parameters", "bytes", "config", "tokenizer", "tied",
                                   "files", "metadata", "problems", "tensors"])
        #expect(v["tokenizer"]?["special_tokens"]?["mask_token"]?.string == "[MASK]")
        #expect(v["format"]?.string == "safetensors")
        #expect(v["tensors"]?.array?.count == 42)
        #expect(v["config"]?["vocab_size"]?.int == 160)
        #expect(v["tied"]?.array?.count == 2)
        #expect(v["problems"]?.array?.isEmpty == true)
    }

    @Test func inspectText() {
        let r = ckpt(["inspect", Fixtures.path("distilbert-tied")])
        #expect(r.status == 0)
        #expect(r.out.contains("DistilBertForMaskedLM (distilbert): vocab 160, hidden 32, 2 layers"))
        #expect(r.out.contains("vocab_projector.weight -> distilbert.embeddings.word_embeddings.weight (not stored)"))
        #expect(r.out.contains("distilbert.embeddings.word_embeddings.weight"))
    }

    @Test func usageErrorsExit64() {
        #expect(ckpt(["convert", Fixtures.path("bert-tied"), "/tmp/x.h5", "--dtype", "int8"]).status == 64)
        #expect(ckpt(["convert", Fixtures.path("bert-tied"), "/tmp/x", "--shard-size", "lots"]).status == 64)
        #expect(ckpt(["inspect"]).status == 64)
        #expect(ckpt(["frobnicate"]).status == 64)
    }

    @Test func convertRoundTrip() throws {
        let s = ScratchDirectory()
        let a = ckpt(["convert", Fixtures.path("bert-sharded"), s.file("m.h5")])
        #expect(a.status == 0, "\(a.err)")
        #expect(a.out.hasPrefix("wrote \(s.file("m.h5")): 42 tensors, 102,656 bytes"))
        let b = ckpt(["convert", s.file("m.h5"), s.file("back.safetensors")])
        #expect(b.status == 0, "\(b.err)")
        #expect(try readFile(s.file("back.safetensors")) == readFile(Fixtures.path("bert-tied/model.safetensors")))
        // Existing destinations are kept unless --force.
        let c = ckpt(["convert", Fixtures.path("bert-tied"), s.file("m.h5")])
        #expect(c.status == 1 && c.err.contains("already exists"))
        #expect(ckpt(["convert", Fixtures.path("bert-tied"), s.file("m.h5"), "--force"]).status == 0)
    }

    /// Every malformed input: exit 1, one error line naming the file, and no
    /// output (final or temporary) in the destination directory.
    @Test func malformedInputsFailCleanly() {
        let bad = ScratchDirectory()
        let f32 = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let cases: [(String, [UInt8], String)] = [
            ("truncated", [1, 2, 3], "shorter than the 8-byte header length"),
            ("past-end", safetensorsBytes(header: "{}", lengthOverride: 4096), "runs past the end of the file"),
            ("too-large", safetensorsBytes(header: "{}", lengthOverride: 200_000_000), "over the 100000000-byte limit"),
            ("not-json", safetensorsBytes(header: "{\"a\":}  "), "not valid JSON"),
            ("duplicate", safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1]), "duplicate key \"a\""),
            ("gap", safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [1, 2]), "belong to no tensor"),
            ("trailing", safetensorsBytes(header: f32, data: [UInt8](repeating: 0, count: 12)), "trailing bytes"),
            ("mismatch", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "dtype × shape needs 12"),
            ("dtype", safetensorsBytes(header: #"{"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "unknown dtype \"Q4\""),
            ("metadata", safetensorsBytes(header: #"{"__metadata__":{"n":1}}"#), "invalid __metadata__"),
            ("lfs", Array("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n".utf8), "Git LFS pointer"),
            ("zip", [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 30), "zip archive"),
            ("not-utf8", safetensorsBytes(header: "{\"\u{00}\": 1}").enumerated().map { $0.offset == 10 ? 0xFF : $0.element }, "not valid UTF-8"),
            ("overlap", safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#, data: [1, 2, 3]), "overlaps tensor 'a'"),
            ("overflow", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)), "is too large"),
        ]
        for (name, bytes, message) in cases {
            bad.write(name, bytes)
            let out = ScratchDirectory()
            for dst in ["o.h5", "o.safetensors", "o"] {
                let r = ckpt(["convert", bad.file(name), out.file(dst)])
                #expect(r.status == 1, "\(name) → \(dst): exit \(r.status)")
                #expect(r.err.hasPrefix("ckpt: error: \(bad.file(name))"), "\(name): \(r.err)")
                #expect(r.err.contains(message), "\(name): \(r.err)")
                #expect(out.names().isEmpty, "\(name) → \(dst) left \(out.names())")
            }
            #expect(ckpt(["inspect", bad.file(name)]).status == 1)
        }
    }

    @Test func brokenShardSetsFailCleanly() throws {
        let dir = ScratchDirectory()
        for name in ["model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors",
                     "model-00004-of-00004.safetensors", "config.json"] {
            dir.write(name, try readFile(Fixtures.path("bert-sharded/\(name)")))
        }
        dir.write("model.safetensors.index.json", try readFile(Fixtures.path("bert-sharded/model.safetensors.index.json")))
        let out = ScratchDirectory()
        let r = ckpt(["convert", dir.path, out.file("o.h5")])
        #expect(r.status == 1)
        #expect(r.err.contains("shard model-00003-of-00004.safetensors: no such file"), "\(r.err)")
        #expect(out.names().isEmpty)
        dir.write("model.safetensors.index.json", Array("{\"weight_map\": [}".utf8))
        let r2 = ckpt(["inspect", dir.path])
        #expect(r2.status == 1 && r2.err.contains("invalid shard index"), "\(r2.err)")
    }

    @Test func interruptedConversionLeavesNothing() throws {
        // A 2 GB tensor of zeros (a sparse file), cast to bf16: long enough to
        // be stopped while the temporary output exists.
        let src = ScratchDirectory()
        let count = 1 << 29
        let header = #"{"z":{"dtype":"F32","shape":["# + String(count) + #"],"data_offsets":[0,"# + String(count * 4) + #"]}}"#
        src.write("big.safetensors", safetensorsBytes(header: header))
        #expect(truncate(src.file("big.safetensors"), off_t(8 + header.utf8.count + count * 4)) == 0)
        let out = ScratchDirectory()
        let script = """
            '\(ckptBinary)' convert '\(src.file("big.safetensors"))' '\(out.file("o.h5"))' --dtype bf16 & pid=$!
            for i in $(seq 1 500); do ls -A '\(out.path)' | grep -q ckpt-tmp && break; sleep 0.01; done
            kill -TERM $pid; wait $pid; echo $? > '\(src.file("status"))'
            """
        _ = system(script)
        let status = String(decoding: try readFile(src.file("status")), as: UTF8.self).trimmingCharacters()
        #expect(status == "143", "exit status \(status)")
        #expect(out.names().isEmpty, "left \(out.names())")
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(self.filter { !$0.isWhitespace })
    }
}

@Suite struct CLIOutputSafetyTests {
    @Test func controlCharactersInNamesAreEscaped() {
        let dir = ScratchDirectory()
        let header = #"{"evil\u001b[2J\r":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        dir.write("e.safetensors", safetensorsBytes(header: header, data: [1]))
        let r = ckpt(["inspect", dir.file("e.safetensors")])
        #expect(r.status == 0)
        #expect(!r.out.contains("\u{1B}") && !r.out.contains("\r"))
        #expect(r.out.contains("evil\\u{1B}[2J\\u{D}"))
    }
}

@Suite struct CLIHalfwayFailureTests {
    /// A store whose second tensor's compressed chunk is corrupt. A damaged
    /// deflate stream is refused when the store is opened (ckpt inflates each
    /// chunk first); a damaged fletcher32 checksum, which only libhdf5 checks,
    /// fails while the conversion writes, after the first tensor. Either way
    /// the error names the file and the tensor, and nothing is left.
    @Test func corruptChunkFailsCleanlyMidConversion() throws {
        let dir = ScratchDirectory()
        let path = dir.file("corrupt.h5")
        var chunk: (offset: Int, size: Int)? = nil
        withHDF5Lock {
            let h = RawHDF5(path)
            h.storeHeader(); h.group("/tensors")
            h.dataset("/tensors/a", type: ckpt_H5T_IEEE_F32LE(), dims: [4], bytes: [UInt8](repeating: 0, count: 16))
            let values = (0..<4096).flatMap { i -> [UInt8] in withUnsafeBytes(of: Float(i).bitPattern.littleEndian) { Array($0) } }
            chunk = h.dataset("/tensors/b", type: ckpt_H5T_IEEE_F32LE(), dims: [4096], chunk: [4096], gzip: true,
                              fletcher32: true, bytes: values)
            h.close()
        }
        let c = try #require(chunk)
        let intact = try readFile(path)
        var stream = intact, checksum = intact
        for i in (c.offset + c.size / 4)..<(c.offset + c.size / 2) { stream[i] ^= 0x5A }
        for i in (c.offset + c.size - 4)..<(c.offset + c.size) { checksum[i] ^= 0x5A }

        for (name, bytes, opened) in [("stream.h5", stream, false), ("checksum.h5", checksum, true)] {
            dir.write(name, bytes)
            let source = dir.file(name)
            let out = ScratchDirectory()
            for dst in ["o.safetensors", "o.h5", "o"] {
                let r = ckpt(["convert", source, out.file(dst)])
                #expect(r.status == 1, "\(name) → \(dst): exit \(r.status)")
                #expect(r.err.contains(source) && r.err.contains("/tensors/b"), "\(r.err)")
                #expect(r.err.contains("HDF5 read failed") == opened, "\(r.err)")
                #expect(out.names().isEmpty, "\(dst) left \(out.names())")
            }
        }
    }
}

@Suite struct CLIModelTests {
    @Test func tokenizeJSON() throws {
        let r = ckpt(["tokenize", Fixtures.path("bert-tied"), "Hello, world!", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let v = try JSONParser.parse(r.out)
        #expect(v["tokens"]?.array?.first?.string == "[CLS]")
        #expect(v["word_ids"]?.array?.first?.isNull == true)
        #expect(ckpt(["tokenize", Fixtures.path("bert-tied")]).status == 64)
    }

    @Test func verifyExitCodes() throws {
        let model = Fixtures.path("model-goldens/bert-gelu")
        let ok = ckpt(["verify", model, "--reference", model + "/golden.safetensors", "--json"])
        #expect(ok.status == 0, "\(ok.err)")
        let v = try JSONParser.parse(ok.out)
        #expect(v["ok"]?.bool == true && v["outputs"]?.array?.count == 2)
        let s = ScratchDirectory()
        #expect(ckpt(["convert", model, s.file("m.h5")]).status == 0)
        let exact = ckpt(["verify", s.file("m.h5"), model, "--max-abs", "0"])
        #expect(exact.status == 0 && exact.out.contains("logits               OK       max_abs=0 "), "\(exact.out)\(exact.err)")
        #expect(ckpt(["convert", model, s.file("bf16"), "--dtype", "bf16"]).status == 0)
        let drift = ckpt(["verify", s.file("bf16"), model])
        #expect(drift.status == 1 && drift.out.contains("MISMATCH"))
        #expect(ckpt(["verify", model]).status == 64)
    }

    /// transformers' outputs are met with every matrix-product kernel, chosen
    /// through `CKPT_SGEMM` as a user would; a kernel this CPU cannot run is
    /// reported as skipped by name.
    @Test(arguments: ["avx512", "avx2", "openblas"]) func goldensHoldWithEachKernel(kernel: String) throws {
        let runs = try JSONParser.parse(ckpt(["bench", "sgemm", "--size", "8", "--iterations", "1", "--json"]).out)
        guard runs[kernel] != nil else {
            print("skipped: the \(kernel) kernel needs instructions this CPU lacks")
            try Test.cancel("the \(kernel) kernel needs instructions this CPU lacks")
        }
        for name in ["bert-gelu", "bert-gelu-new-untied", "distilbert", "bert-base-model"] {
            let model = Fixtures.path("model-goldens/" + name)
            let r = ckpt(["verify", model, "--reference", model + "/golden.safetensors", "--max-abs", "1e-4", "--json"],
                         environment: ["CKPT_SGEMM": kernel])
            #expect(r.status == 0, "\(name) with \(kernel): \(r.out)\(r.err)")
            #expect(try JSONParser.parse(r.out)["ok"]?.bool == true)
        }
        let bench = ckpt(["bench", "forward", Fixtures.path("model-goldens/bert-gelu"), "--batch", "2", "--seq", "8",
                          "--iterations", "1", "--json"], environment: ["CKPT_SGEMM": kernel])
        #expect(bench.status == 0, "\(bench.err)")
        let used = try JSONParser.parse(bench.out)["sgemm"]?.string
        #expect(used == kernel, "\(bench.out)")
        let peak = ckpt(["bench", "sgemm", "--size", "64", "--iterations", "1", "--json"], environment: ["CKPT_SGEMM": kernel])
        #expect(ckpt(["bench", "sgemm", "--size", "0"]).status == 64)
        #expect(peak.status == 0, "\(peak.err)")
        let v = try JSONParser.parse(peak.out)
        #expect(v["in_use"]?.string == used && (v["openblas"]?.double ?? 0) > 0, "\(peak.out)")
    }

    /// `--precision bf16` runs the model's products on bf16 operands: the
    /// goldens made by transformers in float hold within bf16's precision and
    /// not within float's; bench reports the kernel. `CKPT_SGEMM` does not
    /// choose it. Where the CPU lacks AVX512_BF16 the flag is refused by name.
    @Test func bf16PrecisionMeetsTheFloatGoldensWithinItsPrecision() throws {
        let model = Fixtures.path("model-goldens/bert-gelu")
        let verify = ["verify", model, "--reference", model + "/golden.safetensors", "--json", "--precision", "bf16"]
        let unknown = ckpt(["predict", model, "Paris is the [MASK] of France.", "--precision", "fp8"])
        #expect(unknown.status == 64 && unknown.err.contains("fp8") && unknown.out.isEmpty, "\(unknown.err)")
        let runs = try JSONParser.parse(ckpt(["bench", "sgemm", "--size", "8", "--iterations", "1", "--json"]).out)
        guard runs["avx512bf16"] != nil else {
            let r = ckpt(verify + ["--max-abs", "1"])
            #expect(r.status == 64 && r.err.contains("AVX512_BF16"), "\(r.err)")
            print("skipped: bf16 products need AVX512_BF16, which this CPU lacks")
            try Test.cancel("bf16 products need AVX512_BF16, which this CPU lacks")
        }
        let loose = ckpt(verify + ["--max-abs", "0.25"])
        let looseOK = try JSONParser.parse(loose.out)["ok"]?.bool
        #expect(loose.status == 0 && looseOK == true, "\(loose.out)\(loose.err)")
        let strict = ckpt(verify + ["--max-abs", "1e-4"])
        #expect(strict.status != 0, "bf16 products should not meet float's tolerance: \(strict.out)")
        for sub in ["forward", "train"] {
            let extra = sub == "train" ? ["--steps", "1", "--seq", "8"] : ["--iterations", "1", "--seq", "8"]
            let b = ckpt(["bench", sub, model, "--batch", "2", "--json", "--precision", "bf16"] + extra)
            #expect(b.status == 0, "\(b.err)")
            let v = try JSONParser.parse(b.out)
            #expect(v["sgemm"]?.string == "avx512bf16" && v["precision"]?.string == "bf16", "\(b.out)")
        }
        let p = ckpt(["predict", model, "Paris is the [MASK] of France.", "--precision", "bf16", "--json"])
        #expect(p.status == 0 && !p.out.isEmpty, "\(p.err)")
        let forced = ckpt(["bench", "sgemm", "--size", "8", "--iterations", "1"], environment: ["CKPT_SGEMM": "avx512bf16"])
        #expect(forced.status == 64 && forced.err.contains("--precision bf16"), "\(forced.err)")
    }

    @Test func unknownSgemmSettingIsAUsageError() {
        let r = ckpt(["bench", "sgemm", "--size", "8", "--iterations", "1"], environment: ["CKPT_SGEMM": "fastest"])
        #expect(r.status == 64 && r.err.contains("CKPT_SGEMM") && r.err.contains("\"fastest\""), "\(r.err)")
        #expect(r.out.isEmpty)
    }

    @Test func predictFillsTheMask() throws {
        let r = ckpt(["predict", Fixtures.path("model-goldens/bert-gelu"), "is it [MASK] ?", "--top-k", "2", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let cands = try JSONParser.parse(r.out).array ?? []
        #expect(cands.count == 2)
        #expect((cands.first?["score"]?.double ?? 0) >= (cands.last?["score"]?.double ?? 1))
        let none = ckpt(["predict", Fixtures.path("model-goldens/bert-gelu"), "no mask here"])
        #expect(none.status == 1 && none.err.contains("contains no [MASK] token"))
        let base = ckpt(["predict", Fixtures.path("model-goldens/bert-base-model"), "is it [MASK] ?"])
        #expect(base.status == 1 && base.err.contains("no masked-LM head"))
    }
}

@Suite struct CLIPyTorchTests {
    @Test func inspectAndConvertBinFilesAndDirectories() throws {
        let r = ckpt(["inspect", Fixtures.path("torch/bert-legacy.bin"), "--summary"])
        #expect(r.status == 0 && r.out.contains("PyTorch legacy format"), "\(r.out)\(r.err)")
        #expect(r.out.contains("cls.predictions.decoder.weight -> bert.embeddings.word_embeddings.weight"))
        let s = ScratchDirectory()
        let c = ckpt(["convert", Fixtures.path("torch/sharded"), s.file("out")])
        #expect(c.status == 0, "\(c.err)")
        // The tied sharded .bin becomes exactly what save_pretrained wrote.
        #expect(try readFile(s.file("out/model.safetensors")) == readFile(Fixtures.path("model-goldens/bert-gelu/model.safetensors")))
        #expect(try readFile(s.file("out/config.json")) == readFile(Fixtures.path("torch/sharded/config.json")))
    }

    @Test func maliciousFilesFailCleanly() {
        let out = ScratchDirectory()
        for name in ["zip-evil-global.bin", "zip-lying-storage-size.bin", "zip-offset-past-end.bin",
                     "zip-bad-central-directory.bin", "global-reduce-os-system.pkl"] {
            let r = ckpt(["convert", Fixtures.path("torch/malicious/\(name)"), out.file("o.safetensors")])
            #expect(r.status == 1, "\(name): \(r.status)")
            #expect(r.err.contains(name), "\(name): \(r.err)")
            #expect(out.names().isEmpty)
        }
        #expect(!FileSystem.exists("/tmp/ckpt-pwned-zip-evil-global"))
    }
}

@Suite struct TokenizeFileTests {
    /// Lines with CRLF ends, an empty line, a line longer than a block and no final line end.
    func corpus(_ dir: ScratchDirectory) -> String {
        let text = "Hello, world!\r\nthe cat sat on the mat.\n\nnaïve café \u{85} ok\n"
            + String(repeating: "we read the long line. ", count: 3000) + "\nlast line"
        dir.write("c.txt", Array(text.utf8))
        return dir.file("c.txt")
    }

    @Test func fileOutputIsEachLineInOrder() throws {
        let dir = ScratchDirectory()
        let file = corpus(dir)
        let lines = textLines(try readFile(file))
        let tok = Fixtures.path("bert-tied")
        for mode in [["--json"], []] {
            var expected = ""
            for line in lines {
                let one = ckpt(["tokenize", tok, line] + mode)
                #expect(one.status == 0, "\(one.err)")
                expected += one.out
            }
            for threads in ["1", "2"] {
                let r = ckpt(["tokenize", tok, "--file", file, "--threads", threads] + mode)
                #expect(r.status == 0 && r.out == expected, "\(mode) \(threads): \(r.err)")
            }
        }
        let stats = ckpt(["tokenize", tok, "--file", file, "--stats"])
        let v = try JSONParser.parse(stats.out)
        #expect(v["texts"]?.int == lines.count && v["bytes"]?.int == lines.reduce(0) { $0 + $1.utf8.count })
    }

    @Test func badFilesAreNamedWithTheirLine() throws {
        let dir = ScratchDirectory()
        dir.write("bad.txt", Array("the cat\nsat\n".utf8) + [0x63, 0xE9, 0x0A])
        let r = ckpt(["tokenize", Fixtures.path("bert-tied"), "--file", dir.file("bad.txt"), "--json"])
        #expect(r.status == 1 && r.err.contains("bad.txt:3: invalid UTF-8"), "\(r.err)")
        dir.write("nul.txt", Array("the cat\0\n".utf8))
        let n = ckpt(["tokenize", Fixtures.path("bert-tied"), "--file", dir.file("nul.txt"), "--stats"])
        #expect(n.status == 1 && n.err.contains("nul.txt:1: binary data"), "\(n.err)")
        let missing = ckpt(["tokenize", Fixtures.path("bert-tied"), "--file", dir.file("none.txt")])
        #expect(missing.status == 1 && missing.err.contains("none.txt"), "\(missing.err)")
    }
}
