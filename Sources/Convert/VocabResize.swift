// VocabResizer — moves a model onto another tokenizer: every row of the
// vocabulary tensors (word embeddings, an untied decoder, the decoder bias) is
// found by its token string, special tokens by their role; new tokens are
// initialised from the old tokenizer's pieces of their surface form, or from
// the old rows' distribution. The output is self-checked before it appears.

import Formats
import Model
import Tokenizers

/// How rows of tokens the old vocabulary lacks are initialised.
public enum VocabInit: String, Sendable, CaseIterable {
    /// The mean of the old rows of the token's pieces under the old tokenizer.
    case subwordMean = "subword-mean"
    /// transformers' `mean_resizing`: a normal around the old rows' mean with
    /// 1e-9 × their covariance.
    case mean
    /// Normal(0, initializer_range); bias 0 (transformers' old behaviour).
    case normal
}

public struct ResizeOptions: Sendable {
    public var initialization: VocabInit = .subwordMean
    /// Round the number of rows up to a multiple of this.
    public var padToMultipleOf: Int? = nil
    public var seed: UInt64 = 0
    /// Output format (default: the source's; `.bin` sources become safetensors).
    public var target: ConvertOptions.Target? = nil
    public var overwrite = false
    /// Text files whose tokens (under the new tokenizer) measure coverage.
    public var corpus: [String] = []
    /// Texts for the self-check, besides sequences built from copied tokens.
    public var sampleTexts: [String] = []
    /// The old row of each new id, when the caller knows it (trim-vocab);
    /// otherwise rows are found by role and token string.
    public var sourceRows: [Int]? = nil
    public init() {}
}

/// What a resize did.
public struct ResizeReport: Sendable {
    public var oldRows = 0, newRows = 0, tokenizerSize = 0
    public var copied = 0, added = 0, specials = 0, paddingRows = 0
    /// New tokens by the number of old pieces averaged (0: fell back to `mean`).
    public var piecesHistogram: [Int: Int] = [:]
    /// Special tokens whose id changed: (role, old id, new id).
    public var movedSpecials: [(role: String, old: Int, new: Int)] = []
    public var vocabTensors: [String] = []
    /// Share of the corpus's tokens whose row was copied (specials included).
    public var coverage: Double? = nil
    public var corpusTokens = 0
    /// Self-check: sequences compared, values compared (hidden states and
    /// logits at copied tokens), the largest difference (hidden states
    /// absolute, logits relative to the position's largest logit).
    public var checkedSequences = 0
    public var checkedValues = 0
    public var maxDifference: Float = 0
    public var outputs: [String] = []
}

public enum VocabResizer {
    static let tokenizerFiles = Set(tokenizerFileNames)

    /// Writes `source` moved onto the tokenizer in `tokenizerDirectory` to `destination`.
    ///
    /// - Throws: `ConvertError` (no tokenizer, no config, a failed self-check,
    ///   …) and the formats' errors; nothing appears at `destination` then.
    public static func resize(_ source: Checkpoint, tokenizerDirectory: String, to destination: String,
                              options: ResizeOptions) throws -> ResizeReport {
        try resize(source, tokenizerDirectory: tokenizerDirectory, to: destination, options: options, loaded: nil)
    }

    /// `loaded`: the old and the new tokenizer when the caller has them
    /// already (trim-vocab), so that they are not parsed again.
    static func resize(_ source: Checkpoint, tokenizerDirectory: String, to destination: String, options: ResizeOptions,
                       loaded: (old: Tokenizer, new: Tokenizer)?) throws -> ResizeReport {
        let dst = FileSystem.normalized(destination)
        guard var config = source.config else { throw ConvertError(path: source.path, reason: "no config.json: cannot tell the vocabulary size") }
        guard let oldV = config.vocabSize, oldV > 0 else { throw ConvertError(path: source.path, reason: "config.json has no vocab_size") }
        let oldTokFiles = source.files.filter { tokenizerFiles.contains($0.name) }
        guard !oldTokFiles.isEmpty else { throw ConvertError(path: source.path, reason: "no tokenizer files: the old token strings are unknown") }
        let oldTok = try loaded?.old ?? Tokenizer(files: oldTokFiles, path: source.path)
        let newFiles = try readTokenizerFiles(in: tokenizerDirectory)
        guard !newFiles.isEmpty else { throw ConvertError(path: tokenizerDirectory, reason: "no tokenizer files (tokenizer.json or vocab.txt)") }
        let newTok = try loaded?.new ?? Tokenizer(files: newFiles, path: tokenizerDirectory)
        let oldRoles = try TokenizerSummary(files: oldTokFiles, directory: source.path)?.specialTokens ?? [:]
        let newRoles = try TokenizerSummary(files: newFiles, directory: tokenizerDirectory)?.specialTokens ?? [:]

        try checkPositionOffset(config, source: source.path, newTok: newTok, newPad: newRoles[.pad], tokenizerDirectory: tokenizerDirectory)

        var report = ResizeReport()
        let tokCount = newTok.idCount
        guard tokCount > 0, tokCount < 10_000_000 else { throw ConvertError(path: tokenizerDirectory, reason: "a vocabulary of \(tokCount) tokens") }
        guard newTok.count == tokCount else {
            throw ConvertError(path: tokenizerDirectory, reason: "token ids go up to \(tokCount - 1) but only \(newTok.count) ids have a token (a repeated vocabulary entry?)")
        }
        var newStrings: [String] = []
        for i in 0..<tokCount {
            guard let t = newTok.token(of: i) else {
                throw ConvertError(path: tokenizerDirectory, reason: "token ids are not contiguous: id \(i) has no token")
            }
            newStrings.append(t)
        }
        var rows = tokCount
        if let m = options.padToMultipleOf, m > 1 { rows = (tokCount + m - 1) / m * m }
        report.oldRows = oldV; report.newRows = rows; report.tokenizerSize = tokCount
        report.paddingRows = rows - tokCount

        // Where each new row comes from: an old id, or nothing (a new token).
        var sourceRow = [Int](repeating: -1, count: rows)
        if let given = options.sourceRows {
            for (i, r) in given.enumerated() where i < tokCount && r >= 0 && r < oldV { sourceRow[i] = r }
        }
        var specialNew = Set<Int>()
        for role in SpecialTokenRole.allCases {
            guard let nt = newRoles[role], let ni = newTok.id(of: nt), ni < tokCount else { continue }
            specialNew.insert(ni)
            if options.sourceRows == nil, let ot = oldRoles[role], let oi = oldTok.id(of: ot), oi < oldV {
                sourceRow[ni] = oi
                if oi != ni { report.movedSpecials.append((role.rawValue, oi, ni)) }
            }
        }
        // By string: every other token, and specials whose role the old
        // tokenizer does not name (a bare vocab.txt) but whose spelling it has.
        for i in 0..<tokCount where sourceRow[i] < 0 {
            if let oi = oldTok.id(of: newStrings[i]), oi < oldV { sourceRow[i] = oi }
        }
        report.specials = specialNew.filter { sourceRow[$0] >= 0 }.count
        report.copied = (0..<tokCount).filter { sourceRow[$0] >= 0 }.count - report.specials
        report.added = (0..<tokCount).filter { sourceRow[$0] < 0 }.count

        // Pieces of each new token under the old tokenizer (subword-mean).
        var pieces = [[Int]](repeating: [], count: rows)
        if options.initialization == .subwordMean {
            let unk = oldTok.unknownID
            for i in 0..<tokCount where sourceRow[i] < 0 {
                pieces[i] = oldTok.pieces(ofVocabularyToken: newStrings[i]).filter { $0 != unk && $0 >= 0 && $0 < oldV }
                report.piecesHistogram[pieces[i].count, default: 0] += 1
            }
        }

        // The vocabulary tensors: first dimension oldV, known names.
        let dropped = Set(source.ties.filter(\.aliasStored).map(\.alias))
        func isVocabTensor(_ t: TensorInfo) -> Bool {
            guard t.shape.first == oldV, t.dtype.isCastableFloat, !dropped.contains(t.name) else { return false }
            return t.name.hasSuffix("word_embeddings.weight")
                || ["cls.predictions.decoder.weight", "cls.predictions.decoder.bias", "cls.predictions.bias",
                    "vocab_projector.weight", "vocab_projector.bias",
                    "lm_head.decoder.weight", "lm_head.decoder.bias", "lm_head.bias"].contains(t.name)
        }
        let vocabTensors = source.tensors.filter(isVocabTensor)
        guard vocabTensors.contains(where: { $0.name.hasSuffix("word_embeddings.weight") }) else {
            throw ConvertError(path: source.path, reason: "no word_embeddings.weight tensor with \(oldV) rows")
        }
        report.vocabTensors = vocabTensors.map(\.name)
        let initRange = Float(config.initializerRange ?? 0.02)
        var replaced: [String: TensorData] = [:]
        for (k, t) in vocabTensors.enumerated() {
            var rng = SplitMix64(seed: options.seed &+ UInt64(k) &* 0x9E37_79B9)
            let data = try source.data(t.name)
            let old = try data.floats()
            data.releasePages()
            let width = t.shape.count == 2 ? t.shape[1] : 1
            let out = try resizeRows(old, rows: oldV, width: width, sourceRow: sourceRow, pieces: pieces, newRows: rows,
                                     initialization: options.initialization, initRange: initRange, rng: &rng, name: t.name, path: source.path)
            guard let info = TensorInfo(name: t.name, dtype: .f32, shape: [rows] + t.shape.dropFirst()) else {
                throw ConvertError(path: source.path, reason: "\(t.name) would be too large")
            }
            let f32 = TensorData(info: info) { dst in out.withUnsafeBytes { dst.copyMemory(from: $0) } }
            replaced[t.name] = t.dtype == .f32 ? f32 : try f32.converted(to: t.dtype)
        }

        // config.json: the new size, and the pad id where it moved.
        config.set("vocab_size", .number(JSONNumber(rows)))
        if let pad = newRoles[.pad].flatMap({ newTok.id(of: $0) }), config.padTokenID != nil, config.padTokenID != pad {
            config.padTokenID = pad
        }
        // A SentencePiece model describes the old vocabulary: left out.
        let stale: Set<String> = ["config.json", "trainer_state.json", "sentencepiece.bpe.model", "spiece.model"]
        var files = source.files.filter { !tokenizerFiles.contains($0.name) && !stale.contains($0.name) }
        files.insert(("config.json", config.serialized()), at: 0)
        files += newFiles

        // Write under a temporary name, check, then move into place.
        let target = options.target ?? (source.format == .hdf5 ? .hdf5 : .safetensors)
        try checkDestination(dst, target: target, overwrite: options.overwrite, source: source)
        let temp = FileSystem.temporaryName(beside: dst) + (target == .hdf5 ? ".h5" : "")
        defer { if FileSystem.exists(temp) { try? FileSystem.removeDirectory(temp) } }
        let plan = source.tensors.filter { !dropped.contains($0.name) }.map { replaced[$0.name]?.info ?? $0 }
        _ = try Converter.write(plan, files: files, metadata: source.metadata, to: temp, target: target,
                                options: ConvertOptions(target: target)) { info in
            try replaced[info.name] ?? source.data(info.name)
        }
        replaced = [:]
        try selfCheck(old: source, newPath: temp, oldTok: oldTok, newTok: newTok, sourceRow: sourceRow, tokCount: tokCount,
                      specials: specialNew, options: options, report: &report, destination: dst)
        try FileSystem.publish(temp, as: dst)
        report.outputs = [dst]

        if !options.corpus.isEmpty {
            var copied = 0, total = 0
            for path in options.corpus {
                let lines = textLines(try readFile(path, limit: 1 << 32)).filter { !$0.isEmpty }
                for e in newTok.encodeBatch(lines, addSpecialTokens: false, threads: 2) {
                    total += e.ids.count
                    copied += e.ids.filter { $0 < rows && sourceRow[$0] >= 0 }.count
                }
            }
            report.corpusTokens = total
            report.coverage = total > 0 ? Double(copied) / Double(total) : nil
        }
        return report
    }

    /// Refuses an output that exists (without `overwrite`) or an HDF5 target
    /// that is not a `.h5` path, before any work.
    static func checkDestination(_ dst: String, target: ConvertOptions.Target, overwrite: Bool, source: Checkpoint) throws {
        if target == .hdf5 && !(dst.hasSuffix(".h5") || dst.hasSuffix(".hdf5")) {
            throw ConvertError(path: dst, reason: "an HDF5 output is a store file: give a path ending in .h5")
        }
        if FileSystem.exists(dst) && !overwrite {
            throw ConvertError(path: dst, reason: "already exists; pass --force to replace it")
        }
        if overwrite && FileSystem.isDirectory(dst) { try Converter.checkReplaceable(dst, source: source.path) }
    }

    /// RoBERTa-family position ids start at `pad_token_id + 1`: a tokenizer
    /// whose pad token has another id would move every position. Refused,
    /// with the way out.
    static func checkPositionOffset(_ config: ModelConfig, source: String, newTok: Tokenizer, newPad: String?,
                                    tokenizerDirectory: String) throws {
        // The family and its pad id as the encoder reads them (a config the
        // encoder cannot read is the self-check's to refuse).
        guard let encoder = try? EncoderConfig(config, path: source), encoder.positionOffset > 0,
              let modelPad = encoder.padTokenID else { return }
        guard let newPad, let id = newTok.id(of: newPad), id != modelPad else { return }
        throw ConvertError(path: tokenizerDirectory, reason: "the pad token \(newPad) is id \(id), but \(source) has pad_token_id \(modelPad): "
            + "\(encoder.modelType) counts positions from pad_token_id + 1, so every position would shift. "
            + "Give the tokenizer the model's special-token order (ckpt train-tokenizer --special-tokens '<s>,<pad>,</s>,<unk>,<mask>')")
    }

    /// The new `(newRows, width)` values: copied rows, initialised rows, padding.
    static func resizeRows(_ old: [Float], rows oldRows: Int, width: Int, sourceRow: [Int], pieces: [[Int]], newRows: Int,
                           initialization: VocabInit, initRange: Float, rng: inout SplitMix64, name: String, path: String) throws -> [Float] {
        var out = [Float](repeating: 0, count: newRows * width)
        let isBias = width == 1
        // The old rows' mean (and, for matrices, a sampler of the mean_resizing normal).
        var mean = [Double](repeating: 0, count: width)
        for r in 0..<oldRows { for c in 0..<width { mean[c] += Double(old[r * width + c]) } }
        for c in 0..<width { mean[c] /= Double(oldRows) }
        lazy var sampler = MeanResizingSampler(old, rows: oldRows, width: width, mean: mean)
        var biasStd = 0.0
        if isBias {
            var v = 0.0
            for r in 0..<oldRows { let d = Double(old[r]) - mean[0]; v += d * d }
            biasStd = (v / Double(max(1, oldRows - 1))).squareRoot()
        }
        var sampledRows: [Int] = []
        func meanRow(_ i: Int) {
            if isBias {
                out[i] = Float(mean[0] + 1e-9 * biasStd * Double(rng.nextNormal()))
            } else {
                sampledRows.append(i)  // drawn together below
            }
        }
        for i in 0..<newRows {
            let s = sourceRow[i]
            if s >= 0 {
                for c in 0..<width { out[i * width + c] = old[s * width + c] }
                continue
            }
            switch initialization {
            case .normal:
                if !isBias { for c in 0..<width { out[i * width + c] = rng.nextNormal() * initRange } }
            case .mean:
                meanRow(i)
            case .subwordMean:
                let p = pieces[i]
                if p.isEmpty { meanRow(i); continue }
                for c in 0..<width {
                    var sum = 0.0
                    for j in p { sum += Double(old[j * width + c]) }
                    out[i * width + c] = Float(sum / Double(p.count))
                }
            }
        }
        if !sampledRows.isEmpty {
            let rowsOut = sampler.sample(count: sampledRows.count, &rng)
            for (k, i) in sampledRows.enumerated() {
                for c in 0..<width { out[i * width + c] = rowsOut[k * width + c] }
            }
        }
        return out
    }
}

