// Every reader of untrusted input as a function of bytes: what the fuzzers
// (fuzz/, `make fuzz`) drive and what the regression tests replay. A harness
// hands its input to the reader the way the command line does — most readers
// take a path and map the file, so the bytes are written to a scratch file —
// then uses the result (reads every tensor, encodes texts). An error thrown
// is a pass: the contract is a result or a clear error, never a crash.
//
// Resource contract (docs/fuzzing.md): no single allocation above 256 MiB,
// at most 2 GiB resident, no input running longer than 10 s (libFuzzer's
// -malloc_limit_mb, -rss_limit_mb, -timeout); nesting capped by the readers
// (JSON at depth 256, pickle tuples by the unpickler).

import Formats
import Model
import Tasks
import Tokenizers
import Train

#if canImport(Glibc)
import Glibc
#endif

/// One untrusted input and the reader it feeds.
public enum Harness: String, CaseIterable, Sendable {
    /// A `.safetensors` file: header, data layout, every tensor read.
    case safetensors
    /// `model.safetensors.index.json`, its shards taken from the fixtures.
    case shardIndex = "shard-index"
    /// A PyTorch `.bin`: the zip container (or the legacy format) and the pickle in it.
    case pytorch
    /// A ckpt-hdf5 store.
    case hdf5
    /// JSON through the strict (json-c) and the Python-compatible paths.
    case json
    /// `config.json` to the encoder's configuration.
    case config
    /// `tokenizer.json` to a tokenizer (the vocabulary reader included), then encoding.
    case tokenizerJSON = "tokenizer-json"
    /// `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json`
    /// (the input split at NUL bytes) to a tokenizer, then encoding.
    case vocabTxt = "vocab-txt"
    /// A training corpus: text (one document per line) and JSONL.
    case corpus
    /// A labelled file for `train --task`: CSV, TSV or JSONL.
    case labelled
    /// `trainer_state.json` or `optimizer.safetensors` of a checkpoint being resumed.
    case trainerState = "trainer-state"
}

/// Runs harnesses; holds what they share (fixtures loaded once, a scratch directory).
public final class HarnessRunner: @unchecked Sendable {
    let fixtures: String
    let scratch: String
    private var tokenizer: Tokenizer?
    private var trainer: (trainer: Trainer, checkpoint: String)?
    /// The fixture checkpoint's file an earlier `trainerState` input replaced,
    /// and its bytes as the run wrote them.
    private var replaced: (path: String, original: [UInt8])?
    /// Print the error each input ends with (the replayer's
    /// `CKPT_FUZZ_VERBOSE=1`): which check refused it, or where it got to.
    public var reportErrors = false

    /// `fixtures` is the repository's `Tests/Fixtures`.
    public init(fixtures: String) throws {
        self.fixtures = fixtures
        let tmp = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array(FileSystem.join(tmp, "ckpt-fuzz-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw TrainingError(path: "/tmp", reason: "cannot make a scratch directory") }
        scratch = String(cString: made)
    }

    deinit { removeScratch() }

    /// Removes the scratch directory (a process that exits never deinitialises the runner).
    public func removeScratch() { _ = try? FileSystem.removeDirectory(scratch) }

    /// Feeds `data` to `harness`'s reader. Errors are swallowed: only a crash,
    /// a sanitizer report or a broken resource bound is a finding.
    public func run(_ harness: Harness, _ data: [UInt8]) {
        do {
            switch harness {
            case .safetensors: try safetensors(data)
            case .shardIndex: try shardIndex(data)
            case .pytorch: try pytorch(data)
            case .hdf5: try hdf5(data)
            case .json: try json(data)
            case .config: try config(data)
            case .tokenizerJSON: try tokenizerJSON(data)
            case .vocabTxt: try vocabTxt(data)
            case .corpus: try corpus(data)
            case .labelled: try labelled(data)
            case .trainerState: try trainerState(data)
            }
        } catch {
            if reportErrors { print("\(harness.rawValue): \(error)") }
        }
    }

    // MARK: - Formats

    func write(_ name: String, _ data: [UInt8]) throws -> String {
        let path = FileSystem.join(scratch, name)
        try Self.put(path, data)
        return path
    }

    /// Writes a scratch file in place (no temporary name: nothing else reads it).
    static func put(_ path: String, _ data: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw TrainingError(path: path, reason: "cannot write a scratch file") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw TrainingError(path: path, reason: "short write") }
    }

    /// Reads every tensor of `store` as float, as a conversion would.
    func readAll(_ store: TensorStore) throws {
        for t in store.tensors {
            let d = try store.data(t.name)
            if [.f16, .bf16, .f32, .f64].contains(t.dtype) { _ = try d.floats().reduce(0, +) } else { _ = d.byteArray.count }
        }
    }

    func safetensors(_ data: [UInt8]) throws {
        try readAll(try SafeTensorsFile(path: try write("model.safetensors", data)))
    }

    /// The index beside copies of the `bert-sharded` fixture's shards (a
    /// name that leaves the directory is refused by the reader first).
    func shardIndex(_ data: [UInt8]) throws {
        let dir = FileSystem.join(scratch, "sharded")
        if !FileSystem.isDirectory(dir) {
            try FileSystem.makeDirectories(dir)
            let source = FileSystem.join(fixtures, "bert-sharded")
            for name in try FileSystem.list(source) where name.hasSuffix(".safetensors") {
                try Self.put(FileSystem.join(dir, name), try readFile(FileSystem.join(source, name)))
            }
        }
        let index = FileSystem.join(dir, "model.safetensors.index.json")
        try Self.put(index, data)
        try readAll(try ShardedSafeTensors(indexPath: index))
    }

    func pytorch(_ data: [UInt8]) throws {
        try readAll(try PyTorchFile(path: try write("pytorch_model.bin", data)))
    }

    func hdf5(_ data: [UInt8]) throws {
        try readAll(try HDF5Store(path: try write("model.h5", data)))
    }

    func json(_ data: [UInt8]) throws {
        _ = try? JSONParser.parse(data, path: "fuzz.json", mode: .strict).serialized()
        _ = try JSONParser.parse(data, path: "fuzz.json", mode: .python).serialized()
    }

    func config(_ data: [UInt8]) throws {
        var c = try ModelConfig(bytes: data, path: "config.json")
        _ = (c.initializerRange, c.padTokenID, c.storageDType, c.serialized())
        let e = try EncoderConfig(c, path: "config.json")
        _ = e.positionIDs([0, 1, 2], batch: 1, length: 3)
        _ = (e.hasTokenTypes, e.maxLength, e.headActivation, e.basePrefix, e.classStem, e.headNames)
        // What resize-vocab and convert write back.
        c.vocabSize = e.vocabSize + 8
        c.setStorageDType(.bf16)
        _ = c.serialized()
    }

    // MARK: - Tokenizers

    static let texts = [
        "Hello, world! The model's tokenizer.", "ünïcödé — ﬁ ½ ℌ 한국어 中文 日本語 🤗", "  leading and trailing  ",
        "[CLS] special [SEP] [MASK] <s></s><pad>", "a\u{0}b\u{7f}c\u{85}d\u{2028}e", String(repeating: "x", count: 300), "",
    ]

    func exercise(_ tok: Tokenizer) {
        for t in Self.texts {
            let e = tok.encode(t)
            _ = tok.decode(e.ids)
            _ = tok.encode(t, maxLength: 8, keep: .tail)
            _ = try? tok.windows(t, maxLength: 8, stride: 2)          // long texts in chunks
        }
        _ = tok.encode(Self.texts[0], pair: Self.texts[1])
        for side in TruncationSide.allCases { _ = tok.encode(Self.texts[5], pair: Self.texts[1], maxLength: 12, keep: side) }
        _ = tok.encodeBatch(Self.texts, threads: 2)
    }

    func tokenizerJSON(_ data: [UInt8]) throws {
        exercise(try Tokenizer(tokenizerJSON: data, path: "tokenizer.json"))
    }

    func vocabTxt(_ data: [UInt8]) throws {
        let parts = data.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false).map(Array.init)
        let tok = try Tokenizer(vocabTxt: parts[0], path: "vocab.txt", tokenizerConfig: parts.count > 1 ? parts[1] : nil,
                                specialTokensMap: parts.count > 2 ? parts[2] : nil)
        exercise(tok)
    }

    // MARK: - Training inputs

    func fixtureTokenizer() throws -> Tokenizer {
        if let t = tokenizer { return t }
        let dir = FileSystem.join(fixtures, "model-goldens/distilbert")
        let t = try Tokenizer(files: try Checkpoint(path: dir).files, path: dir)
        tokenizer = t
        return t
    }

    func corpus(_ data: [UInt8]) throws {
        let tok = try fixtureTokenizer()
        var options = CorpusOptions()
        options.maxLength = 16
        for name in ["corpus.txt", "corpus.jsonl"] {
            _ = try? Corpus.load([try write(name, data)], tokenizer: tok, vocabSize: tok.count, options: options, threads: 2)
        }
        options.groupTexts = 8
        _ = try Corpus.load([try write("grouped.txt", data)], tokenizer: tok, vocabSize: tok.count, options: options, threads: 2)
    }

    /// Reads the file as each format, then goes on as `ckpt train --task`
    /// does: the label set, the tokenized examples, the stratified split.
    func labelled(_ data: [UInt8]) throws {
        let tok = try fixtureTokenizer()
        for (name, kind) in [("data.csv", TaskKind.classification), ("data.tsv", .multiLabel), ("data.jsonl", .regression)] {
            guard let records = try? LabelledData.read(try write(name, data), columns: LabelledColumns(), kind: kind) else { continue }
            let labels = kind == .regression ? ["LABEL_0"] : LabelledData.labelSet(records, given: nil)
            guard let examples = try? LabelledData.examples(records, labels: labels, kind: kind, tokenizer: tok, maxLength: 16,
                                                            keep: data.count % 2 == 0 ? .head : .tail, threads: 2) else { continue }
            _ = LabelledData.stratifiedSplit(examples, ratio: 0.25, seed: UInt64(data.count))
        }
    }

    /// A trainer on the distilbert fixture with one checkpoint written, made once.
    func fixtureTrainer() throws -> (trainer: Trainer, checkpoint: String) {
        if let t = trainer { return t }
        let modelDir = FileSystem.join(fixtures, "model-goldens/distilbert")
        let ckpt = try Checkpoint(path: modelDir)
        let model = try TrainingModel(encoder: try Encoder(checkpoint: ckpt))
        model.workerCount = 1
        let tok = try fixtureTokenizer()
        let text = (0..<40).map { "the cat sat on the mat \($0 % 7). a bird saw the tree!" }.joined(separator: "\n")
        let examples = try Corpus.load([try write("train.txt", Array(text.utf8))], tokenizer: tok, vocabSize: tok.count,
                                       options: CorpusOptions())
        var options = TrainingOptions()
        options.batchSize = 4
        options.maxSteps = 1
        let roles = TokenRoles(maskID: 4, specialIDs: [0, 2, 3, 4], continuationIDs: [], randomRange: tok.count)
        let files = ckpt.files.filter { $0.name != "config.json" }
        let out = FileSystem.join(scratch, "run")
        var cadence = TrainingCadence()
        cadence.saveSteps = 1                   // checkpoint-1, the one every input resumes
        let t = try Trainer(model: model, objective: MaskedLMObjective(train: ExampleSet(examples), eval: ExampleSet([]), roles: roles, options: options),
                            files: CheckpointFiles(config: ckpt.config ?? ModelConfig(json: JSONObject()), tokenizerFiles: files,
                                                   extraTensors: []),
                            options: options, cadence: cadence, output: out)
        _ = try t.run(progress: { _ in })
        guard let last = Trainer.checkpoints(in: out).last else { throw TrainingError(path: out, reason: "no checkpoint written") }
        trainer = (t, last.path)
        return (t, last.path)
    }

    /// The input is the checkpoint's `trainer_state.json` when it starts with `{`
    /// (after whitespace), else its `optimizer.safetensors`; the other file is
    /// the one the run wrote.
    func trainerState(_ data: [UInt8]) throws {
        let (trainer, checkpoint) = try fixtureTrainer()
        let isState = data.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } == UInt8(ascii: "{")
        let path = FileSystem.join(checkpoint, isState ? "trainer_state.json" : "optimizer.safetensors")
        if let r = replaced, r.path != path {
            try Self.put(r.path, r.original)
            replaced = nil
        }
        if replaced == nil { replaced = (path, try readFile(path)) }
        try Self.put(path, data)
        try trainer.resume(from: checkpoint, force: data.count % 2 == 0)
    }
}
