// TrainingModel — BERT and DistilBERT masked-LM with an explicit
// backward pass. Each step runs a forward that keeps what the backward needs
// (layer inputs, layer-norm statistics, attention probabilities, dropout
// masks), then the backward in reverse, adding into one gradient arena laid
// out like the weight arena. The optimizer lives in the Train module.
//
// Packed batches: only real tokens enter the matrix products, attention is
// computed per sequence, and the MLM transform and vocabulary projection run
// at the labelled positions only. The body (embeddings and layers) is in
// TrainingBody.swift, the heads and their losses in TrainingHeads.swift.
//
// Legend: N packed tokens, M labelled tokens, H hidden, I intermediate,
// V vocabulary, nh heads, hd = H / nh, L a sequence's length.

import Dispatch
import Formats

#if canImport(Glibc)
import Glibc
#endif

/// One trainable tensor: its Hugging Face name (as `BertForMaskedLM`,
/// `BertForSequenceClassification` and the DistilBERT classes name it),
/// shape and place in the arenas.
public struct ParameterTensor: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    /// Offset in the weight and gradient arenas, in floats.
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    /// False for biases and layer-norm parameters, which get no weight decay
    /// (transformers' Trainer grouping).
    public let decay: Bool
}

/// A growable, uninitialised buffer of trivial values, allocated once and
/// reused while the shapes fit.
final class Scratch<T>: @unchecked Sendable {
    private(set) var base: UnsafeMutablePointer<T>
    private(set) var capacity = 0
    init() { base = .allocate(capacity: 1) }
    deinit { base.deallocate() }
    /// At least `n` elements (contents undefined after a growth).
    @discardableResult
    func reserve(_ n: Int) -> UnsafeMutablePointer<T> {
        if n > capacity {
            base.deallocate()
            base = .allocate(capacity: max(1, n))
            capacity = n
        }
        return base
    }
    var pointer: UnsafeMutablePointer<T> { base }
}

/// An encoder with a training head whose weights live in one arena, with gradients.
public final class TrainingModel: @unchecked Sendable {
    public let config: EncoderConfig
    /// What sits on the encoder and what it is trained for.
    public let head: TrainingHead
    /// Whether the decoder is the word-embedding matrix (one parameter).
    public let tiedDecoder: Bool
    /// Every trainable tensor, in a fixed order (the arena order).
    public let parameters: [ParameterTensor]
    /// Total floats in the arenas.
    public let parameterCount: Int
    /// The weights, laid out as `parameters` says.
    public let weights: UnsafeMutableBufferPointer<Float>
    /// The gradients, same layout; steps add into it until `zeroGradients()`.
    public let gradients: UnsafeMutableBufferPointer<Float>
    /// Threads for BLAS and ckpt's own loops.
    public var workerCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    /// The precision of the matrix products (``Precision/fp32`` unless the
    /// caller asks for ``Precision/bf16`` on a CPU that has it).
    public var precision: Precision = .fp32
    /// The kernel every product runs on.
    public var kernel: SgemmKernel { precision.kernel }

    // Offsets of each weight in the arenas.
    struct LayerOffsets { var qkvW = 0, qkvB = 0, oW = 0, oB = 0, ln1W = 0, ln1B = 0, iW = 0, iB = 0, o2W = 0, o2B = 0, ln2W = 0, ln2B = 0 }
    let word: Int, position: Int, tokenType: Int, embLnW: Int, embLnB: Int
    let layerOffsets: [LayerOffsets]
    // Masked-LM head (zero when absent).
    let headW: Int, headB: Int, headLnW: Int, headLnB: Int, decoderW: Int, decoderB: Int
    // Classification head: pooler / pre_classifier, classifier (zero when absent).
    let poolW: Int, poolB: Int, clsW: Int, clsB: Int

    /// Takes the weights of an encoder for `head`.
    ///
    /// Masked LM: the decoder is tied to the word embeddings when the config
    /// says so (`tie_word_embeddings`, true by default), as transformers ties
    /// them on load. A base model (no head) gets one when
    /// `initializeMissingHead` is set, initialised as transformers does for
    /// `BertForMaskedLM` / `DistilBertForMaskedLM` loaded from a base
    /// checkpoint: the transform's weight from normal(0, `initializerRange`),
    /// zero biases, unit layer norm, the decoder tied to the word embeddings
    /// (or a copy of them when untied).
    ///
    /// Classification: the pooler (BERT) or pre-classifier (DistilBERT) and
    /// the classifier are taken from the encoder when it has them; each one
    /// missing is initialised as transformers initialises it (weights from
    /// normal(0, `initializerRange`), zero biases), whatever
    /// `initializeMissingHead` says.
    ///
    /// - Throws: `ModelError.config` for a model without the masked-LM head
    ///   when `initializeMissingHead` is false, or whose classifier has
    ///   another number of labels.
    public convenience init(encoder: Encoder, head: TrainingHead = .maskedLM, initializeMissingHead: Bool = false,
                            initializerRange: Float = 0.02, seed: UInt64 = 0) throws {
        if case let .classification(c) = head, let w = encoder.classifier, w.labels != c.labels {
            throw ModelError.config(path: "model", reason: "the checkpoint's classifier has \(w.labels) labels, not \(c.labels)")
        }
        guard head != .maskedLM || encoder.hasMLMHead || initializeMissingHead else {
            throw ModelError.config(path: "model", reason: "the checkpoint has no masked-LM head to train")
        }
        self.init(config: encoder.config, tied: encoder.config.tieWordEmbeddings, head: head)
        func put(_ offset: Int, _ values: [Float]) {
            values.withUnsafeBufferPointer { (weights.baseAddress! + offset).update(from: $0.baseAddress!, count: $0.count) }
        }
        put(word, encoder.word); put(position, encoder.position)
        if config.hasTokenTypes { put(tokenType, encoder.tokenType) }
        put(embLnW, encoder.embLnW); put(embLnB, encoder.embLnB)
        for (o, l) in zip(layerOffsets, encoder.layers) {
            put(o.qkvW, l.qkvW); put(o.qkvB, l.qkvB); put(o.oW, l.oW); put(o.oB, l.oB)
            put(o.ln1W, l.ln1W); put(o.ln1B, l.ln1B); put(o.iW, l.iW); put(o.iB, l.iB)
            put(o.o2W, l.o2W); put(o.o2B, l.o2B); put(o.ln2W, l.ln2W); put(o.ln2B, l.ln2B)
        }
        let H = config.hidden
        var rng = SplitMix64(seed: seed)
        func normal(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextNormal() * initializerRange } }
        switch head {
        case .maskedLM:
            if encoder.hasMLMHead {
                put(headW, encoder.headW); put(headB, encoder.headB); put(headLnW, encoder.headLnW); put(headLnB, encoder.headLnB)
                if !tiedDecoder { put(decoderW, encoder.decoderW) }
                put(decoderB, encoder.decoderB)
            } else {
                put(headW, normal(H * H))
                put(headLnW, [Float](repeating: 1, count: H))
                if !tiedDecoder { put(decoderW, encoder.word) }
            }
        case let .classification(c):
            if let p = encoder.pooler { put(poolW, p.weight); put(poolB, p.bias) } else { put(poolW, normal(H * H)) }
            if let w = encoder.classifier { put(clsW, w.weight); put(clsB, w.bias) } else { put(clsW, normal(c.labels * H)) }
        }
    }

    /// Lays out the arenas (weights zero) for `config`.
    init(config: EncoderConfig, tied: Bool, head: TrainingHead = .maskedLM) {
        self.config = config
        self.head = head
        self.tiedDecoder = head == .maskedLM && tied
        let H = config.hidden, I = config.intermediate, V = config.vocabSize
        var params: [ParameterTensor] = []
        var total = 0
        func add(_ name: String, _ shape: [Int], decay: Bool) -> Int {
            let p = ParameterTensor(name: name, shape: shape, offset: total, decay: decay)
            params.append(p)
            total += p.count
            return p.offset
        }
        let base = config.basePrefix
        word = add(base + "embeddings.word_embeddings.weight", [V, H], decay: true)
        position = add(base + "embeddings.position_embeddings.weight", [config.maxPositions, H], decay: true)
        tokenType = config.hasTokenTypes ? add(base + "embeddings.token_type_embeddings.weight", [config.typeVocabSize, H], decay: true) : 0
        embLnW = add(base + "embeddings.LayerNorm.weight", [H], decay: false)
        embLnB = add(base + "embeddings.LayerNorm.bias", [H], decay: false)
        let n = config.kind == .distilbert ? Encoder.distilBertLayerNames : Encoder.bertLayerNames
        var layers: [LayerOffsets] = []
        for l in 0..<config.layers {
            let p = base + n.prefix + "\(l)."
            var o = LayerOffsets()
            // Query, key and value consecutive: one (3H, H) matrix and one (3H) bias.
            o.qkvW = add(p + n.q + ".weight", [H, H], decay: true)
            _ = add(p + n.k + ".weight", [H, H], decay: true)
            _ = add(p + n.v + ".weight", [H, H], decay: true)
            o.qkvB = add(p + n.q + ".bias", [H], decay: false)
            _ = add(p + n.k + ".bias", [H], decay: false)
            _ = add(p + n.v + ".bias", [H], decay: false)
            o.oW = add(p + n.out + ".weight", [H, H], decay: true)
            o.oB = add(p + n.out + ".bias", [H], decay: false)
            o.ln1W = add(p + n.norm1 + ".weight", [H], decay: false)
            o.ln1B = add(p + n.norm1 + ".bias", [H], decay: false)
            o.iW = add(p + n.up + ".weight", [I, H], decay: true)
            o.iB = add(p + n.up + ".bias", [I], decay: false)
            o.o2W = add(p + n.down + ".weight", [H, I], decay: true)
            o.o2B = add(p + n.down + ".bias", [H], decay: false)
            o.ln2W = add(p + n.norm2 + ".weight", [H], decay: false)
            o.ln2B = add(p + n.norm2 + ".bias", [H], decay: false)
            layers.append(o)
        }
        layerOffsets = layers
        switch head {
        case .maskedLM:
            let names = config.headNames
            headW = add(names.transform + ".weight", [H, H], decay: true)
            headB = add(names.transform + ".bias", [H], decay: false)
            headLnW = add(names.norm + ".weight", [H], decay: false)
            headLnB = add(names.norm + ".bias", [H], decay: false)
            decoderW = tied ? word : add(names.decoderWeight, [V, H], decay: true)
            decoderB = add(names.decoderBias, [V], decay: false)
            poolW = 0; poolB = 0; clsW = 0; clsB = 0
        case let .classification(c):
            let pool = config.headNames.pooler, cls = config.headNames.classifier
            poolW = add(pool + ".weight", [H, H], decay: true)
            poolB = add(pool + ".bias", [H], decay: false)
            clsW = add(cls + ".weight", [c.labels, H], decay: true)
            clsB = add(cls + ".bias", [c.labels], decay: false)
            headW = 0; headB = 0; headLnW = 0; headLnB = 0; decoderW = 0; decoderB = 0
        }
        parameters = params
        parameterCount = total
        weights = .allocate(capacity: total)
        weights.initialize(repeating: 0)
        gradients = .allocate(capacity: total)
        gradients.initialize(repeating: 0)
    }

    deinit {
        weights.deallocate()
        gradients.deallocate()
    }

    /// The parameter called `name`, if any.
    public func parameter(named name: String) -> ParameterTensor? { parameters.first { $0.name == name } }

    /// A copy of one tensor's weights.
    public func values(of p: ParameterTensor) -> [Float] { Array(weights[p.offset..<(p.offset + p.count)]) }

    /// A copy of one tensor's gradient.
    public func gradient(of p: ParameterTensor) -> [Float] { Array(gradients[p.offset..<(p.offset + p.count)]) }

    /// Sets every gradient to zero.
    public func zeroGradients() { gradients.update(repeating: 0) }

    /// Multiply-adds × 2 of one training step over `batch` (forward and
    /// backward matrix products), for GFLOP/s figures.
    public func flops(_ batch: TrainingBatch) -> Double {
        let H = Double(config.hidden), I = Double(config.intermediate), V = Double(config.vocabSize)
        let N = Double(batch.tokenCount), M = Double(batch.labelledCount), B = Double(batch.sequences.count)
        let squares = batch.sequences.reduce(0.0) { $0 + Double($1.count * $1.count) }
        var forward = Double(config.layers) * (2 * N * (4 * H * H + 2 * H * I) + 4 * squares * H)
        switch head {
        case .maskedLM: forward += 2 * M * (H * H + H * V)
        case let .classification(c): forward += 2 * B * (H * H + H * Double(c.labels))
        }
        return 3 * forward
    }

    // MARK: - Tape

    /// What the forward keeps for the backward, per layer.
    final class LayerTape {
        let qkv = Scratch<Float>(), probs = Scratch<Float>(), ctx = Scratch<Float>()
        let r1 = Scratch<Float>(), mean1 = Scratch<Float>(), rstd1 = Scratch<Float>(), h1 = Scratch<Float>()
        let u = Scratch<Float>(), r2 = Scratch<Float>(), mean2 = Scratch<Float>(), rstd2 = Scratch<Float>()
        let attnMask = Scratch<UInt8>(), aMask = Scratch<UInt8>(), dMask = Scratch<UInt8>()
    }

    final class Tape {
        let emb = Scratch<Float>(), embMean = Scratch<Float>(), embRstd = Scratch<Float>(), embMask = Scratch<UInt8>()
        var xs: [Scratch<Float>] = []
        var layers: [LayerTape] = []
        // Head, at the labelled rows (masked LM) or the first token of each sequence (classification).
        let xm = Scratch<Float>(), t = Scratch<Float>(), act = Scratch<Float>(), hMean = Scratch<Float>(), hRstd = Scratch<Float>()
        let z = Scratch<Float>(), logits = Scratch<Float>(), headMask = Scratch<UInt8>(), headInputMask = Scratch<UInt8>()
        // Working buffers.
        let tmp = Scratch<Float>(), inter = Scratch<Float>(), dx = Scratch<Float>(), dr = Scratch<Float>()
        let dqkv = Scratch<Float>(), dctx = Scratch<Float>(), dinter = Scratch<Float>(), dxm = Scratch<Float>()
        let workerA = Scratch<Float>(), workerB = Scratch<Float>()
    }

    let tape = Tape()

    // MARK: - Steps

    /// Runs forward and backward over `batch`, adding `lossScale ×` the
    /// gradient of the summed loss into `gradients`.
    ///
    /// For gradient accumulation that equals one large batch, pass the inverse
    /// of `lossDenominator` summed over the whole accumulated batch to every
    /// micro-batch (masked LM: its labelled tokens).
    /// - Parameters:
    ///   - dropout: rates for this step (`.none` for exact comparisons).
    ///   - seed: the dropout masks' seed for sequences without their own
    ///     (`TrainingBatch.seeds`); the same seeds give the same masks.
    /// - Returns: the summed loss (Double): cross-entropy over the labelled
    ///   tokens, or the head's loss over the sequences.
    /// - Throws: `ModelError.input` for ids, labels, targets, positions or
    ///   token types out of range.
    @discardableResult
    public func accumulateGradients(_ batch: TrainingBatch, lossScale: Float, dropout: DropoutRates = .none, seed: UInt64 = 0) throws -> Double {
        try run(batch, dropout: dropout, seed: seed, backwardScale: lossScale).loss
    }

    /// The summed loss of `batch`, forward only and without dropout (evaluation).
    public func loss(_ batch: TrainingBatch) throws -> Double {
        try run(batch, dropout: .none, seed: 0, backwardScale: nil).loss
    }

    /// The summed loss and, for a classification head, the logits (B × C,
    /// one row per sequence), forward only and without dropout.
    public func evaluate(_ batch: TrainingBatch) throws -> (loss: Double, logits: [Float]) {
        try run(batch, dropout: .none, seed: 0, backwardScale: nil)
    }

    private func validate(_ batch: TrainingBatch) throws {
        let V = config.vocabSize
        if let bad = batch.ids.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.input("token id \(bad) is outside the vocabulary (\(V))") }
        if let bad = batch.labels.first(where: { $0 != TrainingBatch.ignoreIndex && ($0 < 0 || $0 >= V) }) {
            throw ModelError.input("label \(bad) is outside the vocabulary (\(V))")
        }
        if let longest = batch.sequences.map(\.count).max(), longest > config.maxLength {
            throw ModelError.input("a sequence of \(longest) tokens exceeds the \(config.maxLength) positions of max_position_embeddings \(config.maxPositions)")
        }
        if let bad = batch.positions.first(where: { $0 < 0 || $0 >= config.maxLength }) {
            throw ModelError.input("position \(bad) exceeds the \(config.maxLength) positions of max_position_embeddings \(config.maxPositions)")
        }
        // DistilBERT has no token-type embeddings: its types are ignored, as
        // transformers' DistilBERT tokenizer drops them.
        if config.hasTokenTypes, let bad = batch.tokenTypes.first(where: { $0 < 0 || $0 >= config.typeVocabSize }) {
            throw ModelError.input("token type \(bad) is outside type_vocab_size \(config.typeVocabSize)")
        }
        let H = config.hidden, I = config.intermediate
        guard !batch.tokenCount.multipliedReportingOverflow(by: max(3 * H, I, V)).overflow,
              batch.tokenCount <= 1 << 24 else { throw ModelError.input("a batch of \(batch.tokenCount) tokens is too large") }
        if case let .classification(c) = head, !batch.sequences.isEmpty {
            switch c.loss {
            case let .crossEntropy(weights, _):
                guard batch.classLabels.count == batch.sequences.count else { throw ModelError.input("a sequence has no class label") }
                if let bad = batch.classLabels.first(where: { $0 < 0 || $0 >= c.labels }) {
                    throw ModelError.input("class \(bad) is outside the \(c.labels) labels")
                }
                if let w = weights, w.count != c.labels { throw ModelError.input("\(w.count) class weights for \(c.labels) labels") }
            case .binaryCrossEntropy, .meanSquaredError:
                guard batch.targetWidth == c.labels, batch.targetValues.count == batch.sequences.count * c.labels else {
                    throw ModelError.input("targets of width \(batch.targetWidth) for \(c.labels) labels")
                }
                if let bad = batch.targetValues.first(where: { !$0.isFinite }) { throw ModelError.input("target \(bad) is not a finite number") }
            }
        }
    }

    private func run(_ batch: TrainingBatch, dropout: DropoutRates, seed: UInt64, backwardScale: Float?) throws -> (loss: Double, logits: [Float]) {
        try validate(batch)
        // No tokens, or (masked LM) no labelled token: no loss, no gradient.
        if batch.tokenCount == 0 || (head == .maskedLM && batch.labelledCount == 0) { return (0, []) }
        let threads = workerCount
        // Products split across the workers by rows, each single-threaded
        // (see `linear`); attention runs one (sequence, head) per worker.
        setMatmulThreads(1)
        defer { setMatmulThreads(threads) }
        // Each sequence's dropout stream: its own seed, or one derived from `seed` and its place.
        let seeds = batch.seeds.count == batch.sequences.count ? batch.seeds : batch.sequences.indices.map { mix(seed, UInt64($0)) }
        let pass = forwardBody(batch, dropout: dropout, seeds: seeds)
        let xL = tape.xs[config.layers].pointer
        let result: (loss: Double, logits: [Float])
        switch head {
        case .maskedLM:
            result = (maskedLMHead(batch, xL: xL, backwardScale: backwardScale), [])
        case let .classification(c):
            result = classificationHead(batch, c, xL: xL, dropout: dropout.classifier, seeds: seeds, backwardScale: backwardScale)
        }
        if backwardScale != nil { backwardBody(batch, pass) }
        return result
    }
}
