// MaskedLMTrainingModel — BERT and DistilBERT masked-LM with an explicit
// backward pass. Each step runs a forward that keeps what the backward needs
// (layer inputs, layer-norm statistics, attention probabilities, dropout
// masks), then the backward in reverse, adding into one gradient arena laid
// out like the weight arena. The optimizer lives in the Train module.
//
// Packed batches: only real tokens enter the matrix products, attention is
// computed per sequence, and the MLM transform and vocabulary projection run
// at the labelled positions only.
//
// Legend: N packed tokens, M labelled tokens, H hidden, I intermediate,
// V vocabulary, nh heads, hd = H / nh, L a sequence's length.

import Dispatch
import Formats

#if canImport(Glibc)
import Glibc
#endif

/// One trainable tensor: its Hugging Face name (as `BertForMaskedLM` /
/// `DistilBertForMaskedLM` name it), shape and place in the arenas.
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

/// A masked-LM model whose weights live in one arena, with gradients.
public final class MaskedLMTrainingModel: @unchecked Sendable {
    public let config: EncoderConfig
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

    // Offsets of each weight in the arenas.
    struct LayerOffsets { var qkvW = 0, qkvB = 0, oW = 0, oB = 0, ln1W = 0, ln1B = 0, iW = 0, iB = 0, o2W = 0, o2B = 0, ln2W = 0, ln2B = 0 }
    let word: Int, position: Int, tokenType: Int, embLnW: Int, embLnB: Int
    let layerOffsets: [LayerOffsets]
    let headW: Int, headB: Int, headLnW: Int, headLnB: Int, decoderW: Int, decoderB: Int

    /// Takes the weights of a masked-LM encoder. The decoder is tied to the
    /// word embeddings when the config says so (`tie_word_embeddings`, true by
    /// default), as transformers ties them on load.
    ///
    /// - Throws: `ModelError.config` for a model without the masked-LM head.
    /// A base model (no head) gets one when `initializeMissingHead` is set,
    /// initialised as transformers does for `BertForMaskedLM` /
    /// `DistilBertForMaskedLM` loaded from a base checkpoint: the transform's
    /// weight from normal(0, `initializerRange`), zero biases, unit layer norm,
    /// the decoder tied to the word embeddings (or a copy of them when untied).
    ///
    /// - Throws: `ModelError.config` for a model without the masked-LM head
    ///   when `initializeMissingHead` is false.
    public convenience init(encoder: Encoder, initializeMissingHead: Bool = false, initializerRange: Float = 0.02,
                            seed: UInt64 = 0) throws {
        guard encoder.hasMLMHead || initializeMissingHead else {
            throw ModelError.config(path: "model", reason: "the checkpoint has no masked-LM head to train")
        }
        self.init(config: encoder.config, tied: encoder.config.tieWordEmbeddings)
        func put(_ offset: Int, _ values: [Float]) {
            values.withUnsafeBufferPointer { (weights.baseAddress! + offset).update(from: $0.baseAddress!, count: $0.count) }
        }
        put(word, encoder.word); put(position, encoder.position)
        if config.kind == .bert { put(tokenType, encoder.tokenType) }
        put(embLnW, encoder.embLnW); put(embLnB, encoder.embLnB)
        for (o, l) in zip(layerOffsets, encoder.layers) {
            put(o.qkvW, l.qkvW); put(o.qkvB, l.qkvB); put(o.oW, l.oW); put(o.oB, l.oB)
            put(o.ln1W, l.ln1W); put(o.ln1B, l.ln1B); put(o.iW, l.iW); put(o.iB, l.iB)
            put(o.o2W, l.o2W); put(o.o2B, l.o2B); put(o.ln2W, l.ln2W); put(o.ln2B, l.ln2B)
        }
        if encoder.hasMLMHead {
            put(headW, encoder.headW); put(headB, encoder.headB); put(headLnW, encoder.headLnW); put(headLnB, encoder.headLnB)
            if !tiedDecoder { put(decoderW, encoder.decoderW) }
            put(decoderB, encoder.decoderB)
        } else {
            let H = config.hidden
            var rng = SplitMix64(seed: seed)
            put(headW, (0..<(H * H)).map { _ in rng.nextNormal() * initializerRange })
            put(headLnW, [Float](repeating: 1, count: H))
            if !tiedDecoder { put(decoderW, encoder.word) }
        }
    }

    /// Lays out the arenas (weights zero) for `config`.
    init(config: EncoderConfig, tied: Bool) {
        self.config = config
        self.tiedDecoder = tied
        let H = config.hidden, I = config.intermediate, V = config.vocabSize
        var params: [ParameterTensor] = []
        var total = 0
        func add(_ name: String, _ shape: [Int], decay: Bool) -> Int {
            let p = ParameterTensor(name: name, shape: shape, offset: total, decay: decay)
            params.append(p)
            total += p.count
            return p.offset
        }
        let bert = config.kind == .bert
        let base = bert ? "bert." : "distilbert."
        word = add(base + "embeddings.word_embeddings.weight", [V, H], decay: true)
        position = add(base + "embeddings.position_embeddings.weight", [config.maxPositions, H], decay: true)
        tokenType = bert ? add(base + "embeddings.token_type_embeddings.weight", [config.typeVocabSize, H], decay: true) : 0
        embLnW = add(base + "embeddings.LayerNorm.weight", [H], decay: false)
        embLnB = add(base + "embeddings.LayerNorm.bias", [H], decay: false)
        let n = bert ? Encoder.bertLayerNames : Encoder.distilBertLayerNames
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
        let head = bert
            ? ["cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm", "cls.predictions.decoder"]
            : ["vocab_transform", "vocab_layer_norm", "vocab_projector"]
        headW = add(head[0] + ".weight", [H, H], decay: true)
        headB = add(head[0] + ".bias", [H], decay: false)
        headLnW = add(head[1] + ".weight", [H], decay: false)
        headLnB = add(head[1] + ".bias", [H], decay: false)
        decoderW = tied ? word : add(head[2] + ".weight", [V, H], decay: true)
        decoderB = add(head[2] + ".bias", [V], decay: false)
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
    public func flops(_ batch: MaskedLMBatch) -> Double {
        let H = Double(config.hidden), I = Double(config.intermediate), V = Double(config.vocabSize)
        let N = Double(batch.tokenCount), M = Double(batch.labelledCount)
        let squares = batch.sequences.reduce(0.0) { $0 + Double($1.count * $1.count) }
        let forward = Double(config.layers) * (2 * N * (4 * H * H + 2 * H * I) + 4 * squares * H) + 2 * M * (H * H + H * V)
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
        // Head, at the labelled rows.
        let xm = Scratch<Float>(), t = Scratch<Float>(), act = Scratch<Float>(), hMean = Scratch<Float>(), hRstd = Scratch<Float>()
        let z = Scratch<Float>(), logits = Scratch<Float>()
        // Working buffers.
        let tmp = Scratch<Float>(), inter = Scratch<Float>(), dx = Scratch<Float>(), dr = Scratch<Float>()
        let dqkv = Scratch<Float>(), dctx = Scratch<Float>(), dinter = Scratch<Float>(), dxm = Scratch<Float>()
        let workerA = Scratch<Float>(), workerB = Scratch<Float>()
    }

    private let tape = Tape()

    // MARK: - Steps

    /// Runs forward and backward over `batch`, adding `lossScale ×` the
    /// gradient of the summed cross-entropy into `gradients`.
    ///
    /// For gradient accumulation that equals one large batch, pass
    /// `1 / (labelled tokens of the whole accumulated batch)` to every micro-batch.
    /// - Parameters:
    ///   - dropout: rates for this step (`.none` for exact comparisons).
    ///   - seed: the dropout masks' seed; the same seed gives the same masks.
    /// - Returns: the summed cross-entropy over the labelled tokens (Double).
    /// - Throws: `ModelError.input` for ids, labels, positions or token types out of range.
    @discardableResult
    public func accumulateGradients(_ batch: MaskedLMBatch, lossScale: Float, dropout: DropoutRates = .none, seed: UInt64 = 0) throws -> Double {
        try run(batch, dropout: dropout, seed: seed, backwardScale: lossScale)
    }

    /// The summed cross-entropy over the labelled tokens of `batch`, forward
    /// only and without dropout (evaluation).
    public func loss(_ batch: MaskedLMBatch) throws -> Double {
        try run(batch, dropout: .none, seed: 0, backwardScale: nil)
    }

    private func validate(_ batch: MaskedLMBatch) throws {
        let V = config.vocabSize
        if let bad = batch.ids.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.input("token id \(bad) is outside the vocabulary (\(V))") }
        if let bad = batch.labels.first(where: { $0 != MaskedLMBatch.ignoreIndex && ($0 < 0 || $0 >= V) }) {
            throw ModelError.input("label \(bad) is outside the vocabulary (\(V))")
        }
        if let bad = batch.positions.first(where: { $0 < 0 || $0 >= config.maxPositions }) {
            throw ModelError.input("position \(bad) exceeds max_position_embeddings \(config.maxPositions)")
        }
        let types = config.kind == .bert ? config.typeVocabSize : 1
        if let bad = batch.tokenTypes.first(where: { $0 < 0 || $0 >= types }) {
            throw ModelError.input("token type \(bad) is outside type_vocab_size \(types)")
        }
        let H = config.hidden, I = config.intermediate
        guard !batch.tokenCount.multipliedReportingOverflow(by: max(3 * H, I, V)).overflow,
              batch.tokenCount <= 1 << 24 else { throw ModelError.input("a batch of \(batch.tokenCount) tokens is too large") }
    }

    private func run(_ batch: MaskedLMBatch, dropout: DropoutRates, seed: UInt64, backwardScale: Float?) throws -> Double {
        try validate(batch)
        let N = batch.tokenCount
        let labelled = batch.labels.indices.filter { batch.labels[$0] != MaskedLMBatch.ignoreIndex }
        let M = labelled.count
        if N == 0 { return 0 }
        let H = config.hidden, I = config.intermediate, V = config.vocabSize
        let nh = config.heads, hd = H / nh, L = config.layers
        let bert = config.kind == .bert
        let eps = config.layerNormEps, act = config.activation
        let threads = workerCount
        // Products split across the workers by rows, each single-threaded
        // (see `linear`); attention runs one (sequence, head) per worker.
        setMatmulThreads(1)
        defer { setMatmulThreads(threads) }
        let W = weights.baseAddress!, G = gradients.baseAddress!
        var rng = SplitMix64(seed: seed)
        let dropHidden = dropout.hidden, dropAttention = dropout.attention

        // Attention probabilities: nh L² floats per sequence.
        var attnOffsets: [Int] = []
        var attnTotal = 0, maxLen = 0
        for s in batch.sequences {
            attnOffsets.append(attnTotal)
            attnTotal += nh * s.count * s.count
            maxLen = max(maxLen, s.count)
        }

        let t = tape
        while t.xs.count < L + 1 { t.xs.append(Scratch()) }
        while t.layers.count < L { t.layers.append(LayerTape()) }

        // Embeddings: word (+ token type) + position, layer norm, dropout.
        let e = t.emb.reserve(N * H)
        for n in 0..<N {
            let row = e + n * H
            let w = W + word + batch.ids[n] * H, p = W + position + batch.positions[n] * H
            if bert {
                let ty = W + tokenType + batch.tokenTypes[n] * H
                for c in 0..<H { row[c] = (w[c] + ty[c]) + p[c] }
            } else {
                for c in 0..<H { row[c] = w[c] + p[c] }
            }
        }
        let x0 = t.xs[0].reserve(N * H)
        layerNorm(out: x0, mean: t.embMean.reserve(N), rstd: t.embRstd.reserve(N), input: e,
                  weight: W + embLnW, bias: W + embLnB, rows: N, cols: H, eps: eps)
        if dropHidden > 0 { applyDropout(x0, mask: t.embMask.reserve(N * H), count: N * H, p: dropHidden, rng: &rng) }

        let scale = 1 / Float(hd).squareRoot()
        let workers = max(1, min(batch.sequences.count * nh, threads))
        let workerA = t.workerA.reserve(workers * maxLen * maxLen), workerB = t.workerB.reserve(workers * maxLen * maxLen)
        let tmp = t.tmp.reserve(N * H), inter = t.inter.reserve(N * I)

        for l in 0..<L {
            let o = layerOffsets[l], lt = t.layers[l]
            let x = t.xs[l].pointer, out = t.xs[l + 1].reserve(N * H)
            let qkv = lt.qkv.reserve(N * 3 * H), ctx = lt.ctx.reserve(N * H), probs = lt.probs.reserve(attnTotal)
            linear(out: qkv, ldOut: 3 * H, input: x, ldIn: H, weight: W + o.qkvW, bias: W + o.qkvB, rows: N, outFeatures: 3 * H, inFeatures: H, threads: threads)
            let attnMask: UnsafeMutablePointer<UInt8>? = dropAttention > 0 ? lt.attnMask.reserve(attnTotal) : nil
            if let attnMask { fillDropoutMask(attnMask, count: attnTotal, p: dropAttention, rng: &rng) }
            forEachHead(batch.sequences, heads: nh, workers: workers) { b, h, w in
                let s = batch.sequences[b], len = s.count
                let base = qkv + s.lowerBound * 3 * H
                let q = base + h * hd, k = base + H + h * hd, v = base + 2 * H + h * hd
                let off = attnOffsets[b] + h * len * len
                let p = probs + off
                gemm(transA: false, transB: true, m: len, n: len, k: hd, alpha: scale, a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: p, ldc: len)
                softmaxRows(p, rows: len, cols: len, ld: len)
                var used = UnsafePointer(p)
                if let attnMask {
                    let pd = workerA + w * maxLen * maxLen
                    dropoutCopy(pd, p, mask: attnMask + off, count: len * len, p: dropAttention)
                    used = UnsafePointer(pd)
                }
                gemm(transA: false, transB: false, m: len, n: hd, k: len, alpha: 1, a: used, lda: len, b: v, ldb: 3 * H,
                     beta: 0, c: ctx + s.lowerBound * H + h * hd, ldc: H)
            }
            // Attention output (+ dropout in BERT), residual, layer norm.
            linear(out: tmp, ldOut: H, input: ctx, ldIn: H, weight: W + o.oW, bias: W + o.oB, rows: N, outFeatures: H, inFeatures: H, threads: threads)
            if bert && dropHidden > 0 { applyDropout(tmp, mask: lt.aMask.reserve(N * H), count: N * H, p: dropHidden, rng: &rng) }
            let r1 = lt.r1.reserve(N * H), h1 = lt.h1.reserve(N * H)
            for i in 0..<(N * H) { r1[i] = tmp[i] + x[i] }
            layerNorm(out: h1, mean: lt.mean1.reserve(N), rstd: lt.rstd1.reserve(N), input: r1,
                      weight: W + o.ln1W, bias: W + o.ln1B, rows: N, cols: H, eps: eps)
            // Feed-forward, dropout, residual, layer norm.
            let u = lt.u.reserve(N * I)
            linear(out: u, ldOut: I, input: h1, ldIn: H, weight: W + o.iW, bias: W + o.iB, rows: N, outFeatures: I, inFeatures: H, threads: threads)
            activation(out: inter, input: u, count: N * I, act)
            linear(out: tmp, ldOut: H, input: inter, ldIn: I, weight: W + o.o2W, bias: W + o.o2B, rows: N, outFeatures: H, inFeatures: I, threads: threads)
            if dropHidden > 0 { applyDropout(tmp, mask: lt.dMask.reserve(N * H), count: N * H, p: dropHidden, rng: &rng) }
            let r2 = lt.r2.reserve(N * H)
            for i in 0..<(N * H) { r2[i] = tmp[i] + h1[i] }
            layerNorm(out: out, mean: lt.mean2.reserve(N), rstd: lt.rstd2.reserve(N), input: r2,
                      weight: W + o.ln2W, bias: W + o.ln2B, rows: N, cols: H, eps: eps)
        }

        // Head at the labelled rows: dense, activation, layer norm, decoder.
        guard M > 0 else { return 0 }
        let xL = t.xs[L].pointer
        let xm = t.xm.reserve(M * H), ht = t.t.reserve(M * H), ha = t.act.reserve(M * H), z = t.z.reserve(M * H)
        for (m, n) in labelled.enumerated() { (xm + m * H).update(from: xL + n * H, count: H) }
        linear(out: ht, ldOut: H, input: xm, ldIn: H, weight: W + headW, bias: W + headB, rows: M, outFeatures: H, inFeatures: H, threads: threads)
        activation(out: ha, input: ht, count: M * H, act)
        layerNorm(out: z, mean: t.hMean.reserve(M), rstd: t.hRstd.reserve(M), input: ha,
                  weight: W + headLnW, bias: W + headLnB, rows: M, cols: H, eps: eps)
        let logits = t.logits.reserve(M * V)
        linear(out: logits, ldOut: V, input: z, ldIn: H, weight: W + decoderW, bias: W + decoderB, rows: M, outFeatures: V, inFeatures: H, threads: threads)

        // Cross-entropy; the logits become their gradient in place.
        var lossSum = 0.0
        for (m, n) in labelled.enumerated() {
            let row = logits + m * V, label = batch.labels[n]
            var mx = -Float.infinity
            for j in 0..<V where row[j] > mx { mx = row[j] }
            var sum = 0.0
            for j in 0..<V { sum += Double(expf(row[j] - mx)) }
            let lse = Double(mx) + log(sum)
            lossSum += lse - Double(row[label])
            if let g = backwardScale {
                let inv = Float(1 / sum)
                for j in 0..<V { row[j] = expf(row[j] - mx) * inv * g }
                row[label] -= g
            }
        }
        guard backwardScale != nil else { return lossSum }

        // MARK: Backward — head.
        let dz = t.dxm.reserve(M * H)
        gemm(transA: true, transB: false, m: V, n: H, k: M, alpha: 1, a: logits, lda: V, b: z, ldb: H, beta: 1, c: G + decoderW, ldc: H, threads: threads)
        addColumnSums(G + decoderB, logits, rows: M, cols: V, ld: V)
        gemm(transA: false, transB: false, m: M, n: H, k: V, alpha: 1, a: logits, lda: V, b: W + decoderW, ldb: H, beta: 0, c: dz, ldc: H, threads: threads)
        layerNormBackward(dInput: dz, dOut: dz, input: ha, mean: t.hMean.pointer, rstd: t.hRstd.pointer, weight: W + headLnW,
                          dWeight: G + headLnW, dBias: G + headLnB, rows: M, cols: H)
        activationGradient(dz, input: ht, count: M * H, act)
        gemm(transA: true, transB: false, m: H, n: H, k: M, alpha: 1, a: dz, lda: H, b: xm, ldb: H, beta: 1, c: G + headW, ldc: H, threads: threads)
        addColumnSums(G + headB, dz, rows: M, cols: H, ld: H)
        let dx = t.dx.reserve(N * H)
        dx.update(repeating: 0, count: N * H)
        let dxm = t.xm.pointer  // xm is no longer needed: reuse it for dxm
        gemm(transA: false, transB: false, m: M, n: H, k: H, alpha: 1, a: dz, lda: H, b: W + headW, ldb: H, beta: 0, c: dxm, ldc: H, threads: threads)
        for (m, n) in labelled.enumerated() { (dx + n * H).update(from: dxm + m * H, count: H) }

        // MARK: Backward — layers, last to first. `dx` holds the gradient of
        // the layer's output on entry and of its input on exit.
        let dr = t.dr.reserve(N * H), dqkv = t.dqkv.reserve(N * 3 * H), dctx = t.dctx.reserve(N * H), dinter = t.dinter.reserve(N * I)
        for l in stride(from: L - 1, through: 0, by: -1) {
            let o = layerOffsets[l], lt = t.layers[l]
            let x = t.xs[l].pointer, qkv = lt.qkv.pointer, probs = lt.probs.pointer, h1 = lt.h1.pointer, u = lt.u.pointer
            // Output layer norm; the residual passes its gradient to h1.
            layerNormBackward(dInput: dr, dOut: dx, input: lt.r2.pointer, mean: lt.mean2.pointer, rstd: lt.rstd2.pointer,
                              weight: W + o.ln2W, dWeight: G + o.ln2W, dBias: G + o.ln2B, rows: N, cols: H)
            dx.update(from: dr, count: N * H)
            var dd = UnsafePointer(dr)
            if dropHidden > 0 { dropoutBackward(tmp, dr, mask: lt.dMask.pointer, count: N * H, p: dropHidden); dd = UnsafePointer(tmp) }
            // Feed-forward: down projection, activation, up projection.
            activation(out: inter, input: u, count: N * I, act)
            gemm(transA: true, transB: false, m: H, n: I, k: N, alpha: 1, a: dd, lda: H, b: inter, ldb: I, beta: 1, c: G + o.o2W, ldc: I, threads: threads)
            addColumnSums(G + o.o2B, dd, rows: N, cols: H, ld: H)
            gemm(transA: false, transB: false, m: N, n: I, k: H, alpha: 1, a: dd, lda: H, b: W + o.o2W, ldb: I, beta: 0, c: dinter, ldc: I, threads: threads)
            activationGradient(dinter, input: u, count: N * I, act)
            gemm(transA: true, transB: false, m: I, n: H, k: N, alpha: 1, a: dinter, lda: I, b: h1, ldb: H, beta: 1, c: G + o.iW, ldc: H, threads: threads)
            addColumnSums(G + o.iB, dinter, rows: N, cols: I, ld: I)
            gemm(transA: false, transB: false, m: N, n: H, k: I, alpha: 1, a: dinter, lda: I, b: W + o.iW, ldb: H, beta: 1, c: dx, ldc: H, threads: threads)
            // Attention layer norm; the residual passes its gradient to x.
            layerNormBackward(dInput: dr, dOut: dx, input: lt.r1.pointer, mean: lt.mean1.pointer, rstd: lt.rstd1.pointer,
                              weight: W + o.ln1W, dWeight: G + o.ln1W, dBias: G + o.ln1B, rows: N, cols: H)
            dx.update(from: dr, count: N * H)
            var da = UnsafePointer(dr)
            if bert && dropHidden > 0 { dropoutBackward(tmp, dr, mask: lt.aMask.pointer, count: N * H, p: dropHidden); da = UnsafePointer(tmp) }
            gemm(transA: true, transB: false, m: H, n: H, k: N, alpha: 1, a: da, lda: H, b: lt.ctx.pointer, ldb: H, beta: 1, c: G + o.oW, ldc: H, threads: threads)
            addColumnSums(G + o.oB, da, rows: N, cols: H, ld: H)
            gemm(transA: false, transB: false, m: N, n: H, k: H, alpha: 1, a: da, lda: H, b: W + o.oW, ldb: H, beta: 0, c: dctx, ldc: H, threads: threads)
            // Attention, per sequence and head.
            let attnMask: UnsafeMutablePointer<UInt8>? = dropAttention > 0 ? lt.attnMask.pointer : nil
            forEachHead(batch.sequences, heads: nh, workers: workers) { b, h, w in
                let s = batch.sequences[b], len = s.count
                let base = qkv + s.lowerBound * 3 * H, dbase = dqkv + s.lowerBound * 3 * H
                let q = base + h * hd, k = base + H + h * hd, v = base + 2 * H + h * hd
                let off = attnOffsets[b] + h * len * len
                let p = probs + off
                let dP = workerB + w * maxLen * maxLen
                let dc = dctx + s.lowerBound * H + h * hd
                var used = UnsafePointer(p)
                if let attnMask {
                    let pd = workerA + w * maxLen * maxLen
                    dropoutCopy(pd, p, mask: attnMask + off, count: len * len, p: dropAttention)
                    used = UnsafePointer(pd)
                }
                // dP' = dctx · vᵀ; dv = P'ᵀ · dctx.
                gemm(transA: false, transB: true, m: len, n: len, k: hd, alpha: 1, a: dc, lda: H, b: v, ldb: 3 * H, beta: 0, c: dP, ldc: len)
                gemm(transA: true, transB: false, m: len, n: hd, k: len, alpha: 1, a: used, lda: len, b: dc, ldb: H,
                     beta: 0, c: dbase + 2 * H + h * hd, ldc: 3 * H)
                if let attnMask { dropoutBackward(dP, dP, mask: attnMask + off, count: len * len, p: dropAttention) }
                // Softmax: dS = P ⊙ (dP − rowsum(dP ⊙ P)).
                for i in 0..<len {
                    let pr = p + i * len, gr = dP + i * len
                    var dot: Float = 0
                    for j in 0..<len { dot += pr[j] * gr[j] }
                    for j in 0..<len { gr[j] = pr[j] * (gr[j] - dot) }
                }
                // dq = scale · dS · k; dk = scale · dSᵀ · q.
                gemm(transA: false, transB: false, m: len, n: hd, k: len, alpha: scale, a: dP, lda: len, b: k, ldb: 3 * H,
                     beta: 0, c: dbase + h * hd, ldc: 3 * H)
                gemm(transA: true, transB: false, m: len, n: hd, k: len, alpha: scale, a: dP, lda: len, b: q, ldb: 3 * H,
                     beta: 0, c: dbase + H + h * hd, ldc: 3 * H)
            }
            gemm(transA: true, transB: false, m: 3 * H, n: H, k: N, alpha: 1, a: dqkv, lda: 3 * H, b: x, ldb: H, beta: 1, c: G + o.qkvW, ldc: H, threads: threads)
            addColumnSums(G + o.qkvB, dqkv, rows: N, cols: 3 * H, ld: 3 * H)
            gemm(transA: false, transB: false, m: N, n: H, k: 3 * H, alpha: 1, a: dqkv, lda: 3 * H, b: W + o.qkvW, ldb: H, beta: 1, c: dx, ldc: H, threads: threads)
        }

        // MARK: Backward — embeddings.
        if dropHidden > 0 { dropoutBackward(dx, dx, mask: t.embMask.pointer, count: N * H, p: dropHidden) }
        layerNormBackward(dInput: dr, dOut: dx, input: e, mean: t.embMean.pointer, rstd: t.embRstd.pointer, weight: W + embLnW,
                          dWeight: G + embLnW, dBias: G + embLnB, rows: N, cols: H)
        for n in 0..<N {
            let g = dr + n * H
            let gw = G + word + batch.ids[n] * H, gp = G + position + batch.positions[n] * H
            for c in 0..<H { gw[c] += g[c]; gp[c] += g[c] }
            if bert {
                let gt = G + tokenType + batch.tokenTypes[n] * H
                for c in 0..<H { gt[c] += g[c] }
            }
        }
        return lossSum
    }

    // MARK: - Helpers

    /// Layer norm over rows, split across the workers (rows are independent).
    private func layerNorm(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                           input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                           rows: Int, cols: Int, eps: Float) {
        nonisolated(unsafe) let o = out, m = mean, r = rstd, i = input, w = weight, b = bias
        parallelRanges(rows, workerCount) { range in
            let lo = range.lowerBound
            layerNormForward(out: o + lo * cols, mean: m + lo, rstd: r + lo, input: i + lo * cols, weight: w, bias: b,
                             rows: range.count, cols: cols, eps: eps)
        }
    }

    /// `out = act(input)`, split across the workers.
    private func activation(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, _ act: Activation) {
        nonisolated(unsafe) let o = out, i = input
        parallelRanges(count, workerCount) { r in
            (o + r.lowerBound).update(from: i + r.lowerBound, count: r.count)
            activationForward(o + r.lowerBound, count: r.count, act)
        }
    }

    /// `grad *= act'(input)`, split across the workers.
    private func activationGradient(_ grad: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, _ act: Activation) {
        nonisolated(unsafe) let g = grad, i = input
        parallelRanges(count, workerCount) { r in activationBackward(g + r.lowerBound, input: i + r.lowerBound, count: r.count, act) }
    }

    /// Runs `body(sequence, head, worker)` for every (sequence, head) pair,
    /// pairs dealt to the workers in a fixed order; BLAS runs single-threaded
    /// inside.
    private func forEachHead(_ sequences: [Range<Int>], heads: Int, workers: Int, _ body: (Int, Int, Int) -> Void) {
        let pairs = sequences.count * heads
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let run = body
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var pair = w
                while pair < pairs {
                    run(pair / heads, pair % heads, w)
                    pair += workers
                }
            }
        }
    }
}

// MARK: - Dropout

/// Fills `mask` with 1 (keep, probability 1 − p) or 0, four values per
/// 64-bit draw (16-bit uniforms).
func fillDropoutMask(_ mask: UnsafeMutablePointer<UInt8>, count: Int, p: Float, rng: inout SplitMix64) {
    let threshold = UInt64((Double(p) * 65536).rounded())
    var i = 0
    while i < count {
        var bits = rng.next()
        for _ in 0..<4 where i < count {
            mask[i] = (bits & 0xFFFF) >= threshold ? 1 : 0
            bits >>= 16
            i += 1
        }
    }
}

/// Draws a mask and applies it in place: kept values are scaled by 1 / (1 − p).
func applyDropout(_ x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<UInt8>, count: Int, p: Float, rng: inout SplitMix64) {
    fillDropoutMask(mask, count: count, p: p, rng: &rng)
    dropoutCopy(x, x, mask: mask, count: count, p: p)
}

/// `out = x ⊙ mask / (1 − p)` (`out` may alias `x`).
func dropoutCopy(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, mask: UnsafePointer<UInt8>, count: Int, p: Float) {
    let scale = 1 / (1 - p)
    for i in 0..<count { out[i] = mask[i] != 0 ? x[i] * scale : 0 }
}

/// The gradient through a dropout: the same as applying it.
func dropoutBackward(_ out: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>, mask: UnsafePointer<UInt8>, count: Int, p: Float) {
    dropoutCopy(out, grad, mask: mask, count: count, p: p)
}
