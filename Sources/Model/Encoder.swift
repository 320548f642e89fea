// Encoder — BERT, DistilBERT and RoBERTa-family forward in fp32 on the CPU,
// with the masked-LM head. Weights are bound by their Hugging Face names.
//
// Legend: B batch, T sequence length, H hidden size, I intermediate size,
// V vocabulary, nh heads, hd = H / nh.

import Dispatch
import Formats

#if canImport(Glibc)
import Glibc
#endif

/// What cannot be run.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// The config lacks a field or names an unsupported architecture/activation.
    case config(path: String, reason: String)
    /// Tensors missing, unexpected or of the wrong shape (all of them, by name).
    case binding(path: String, problems: [String])
    /// Inputs that do not fit the model (ids past the vocabulary, too long, …).
    case input(String)

    public var description: String {
        switch self {
        case let .config(p, r): return "\(p): \(r)"
        case let .binding(p, problems): return "\(p): cannot bind the weights:\n  " + problems.joined(separator: "\n  ")
        case let .input(r): return "invalid input: \(r)"
        }
    }
}

/// The outputs of one forward pass.
public struct EncoderOutput: Sendable {
    /// `(B, T, H)`.
    public var lastHiddenState: [Float]
    /// Embedding output then every layer's output, each `(B, T, H)`, when asked.
    public var hiddenStates: [[Float]]
    /// `(B, T, V)` for a model with a masked-LM head, or `(M, V)` at the
    /// `logitPositions` asked for.
    public var logits: [Float]?
    /// The flat `(B × T)` positions whose logits `logits` holds, in order;
    /// nil when it holds every position.
    public var logitPositions: [Int]?
}

/// A dense layer's weights: `(outputs, inputs)` row-major and `(outputs)`.
public struct DenseWeights: Sendable {
    public var weight: [Float]
    public var bias: [Float]
    /// The number of outputs.
    public var labels: Int { bias.count }
}

/// A BERT or DistilBERT encoder, optionally with its masked-LM head or its
/// sequence-classification head.
public final class Encoder: @unchecked Sendable {
    public let config: EncoderConfig
    /// True when the checkpoint has the masked-LM head.
    public let hasMLMHead: Bool
    /// Threads for BLAS and ckpt's own loops (default: the number of cores).
    public var workerCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Where one encoder layer's parameters live in a checkpoint.
    struct LayerNames {
        let prefix, q, k, v, out, norm1, up, down, norm2: String
    }

    static let bertLayerNames = LayerNames(
        prefix: "encoder.layer.", q: "attention.self.query", k: "attention.self.key", v: "attention.self.value",
        out: "attention.output.dense", norm1: "attention.output.LayerNorm", up: "intermediate.dense",
        down: "output.dense", norm2: "output.LayerNorm")
    static let distilBertLayerNames = LayerNames(
        prefix: "transformer.layer.", q: "attention.q_lin", k: "attention.k_lin", v: "attention.v_lin",
        out: "attention.out_lin", norm1: "sa_layer_norm", up: "ffn.lin1", down: "ffn.lin2", norm2: "output_layer_norm")

    struct Layer {
        var qkvW: [Float]   // (3H, H): query, key, value stacked
        var qkvB: [Float]   // (3H)
        var oW: [Float], oB: [Float]        // (H, H), (H)
        var ln1W: [Float], ln1B: [Float]
        var iW: [Float], iB: [Float]        // (I, H), (I)
        var o2W: [Float], o2B: [Float]      // (H, I), (H)
        var ln2W: [Float], ln2B: [Float]
    }

    let word: [Float]       // (V, H)
    let position: [Float]   // (P, H)
    let tokenType: [Float]  // (Tv, H) or empty
    let embLnW: [Float], embLnB: [Float]
    let layers: [Layer]
    // Masked-LM head.
    let headW: [Float], headB: [Float]      // (H, H)
    let headLnW: [Float], headLnB: [Float]
    let decoderW: [Float]                   // (V, H)
    let decoderB: [Float]                   // (V)
    /// BERT's pooler (`bert.pooler.dense`) or DistilBERT's `pre_classifier`, when the checkpoint has it.
    public let pooler: DenseWeights?
    /// The sequence classifier (`classifier`), when the checkpoint has it.
    public let classifier: DenseWeights?
    /// Tensors of the checkpoint the encoder and its heads did not use.
    public let unusedTensors: [String]
    /// The checkpoint's names of the masked-LM head tensors it has.
    public let mlmTensorNames: [String]

    /// Binds the weights of `checkpoint` (cast to f32).
    ///
    /// - Throws: `ModelError` listing every missing, unexpected or mis-shaped tensor.
    public init(checkpoint: Checkpoint) throws {
        guard let cfg = checkpoint.config else {
            throw ModelError.config(path: checkpoint.path, reason: "no config.json: cannot tell the architecture")
        }
        let config = try EncoderConfig(cfg, path: checkpoint.path)
        self.config = config
        var binder = WeightBinder(checkpoint: checkpoint, kind: config.kind)
        let H = config.hidden, I = config.intermediate, V = config.vocabSize
        let e = "embeddings."
        word = binder.take(e + "word_embeddings.weight", [V, H])
        position = binder.take(e + "position_embeddings.weight", [config.maxPositions, H])
        tokenType = config.hasTokenTypes ? binder.take(e + "token_type_embeddings.weight", [config.typeVocabSize, H]) : []
        embLnW = binder.take(e + "LayerNorm.weight", [H])
        embLnB = binder.take(e + "LayerNorm.bias", [H])
        // Per-layer parameter names (suffixes after the layer prefix), as data.
        let n = config.kind == .distilbert ? Encoder.distilBertLayerNames : Encoder.bertLayerNames
        var layers: [Layer] = []
        for l in 0..<config.layers {
            let p = n.prefix + "\(l)."
            func w(_ suffix: String, _ shape: [Int]) -> [Float] { binder.take(p + suffix, shape) }
            layers.append(Layer(
                qkvW: w(n.q + ".weight", [H, H]) + w(n.k + ".weight", [H, H]) + w(n.v + ".weight", [H, H]),
                qkvB: w(n.q + ".bias", [H]) + w(n.k + ".bias", [H]) + w(n.v + ".bias", [H]),
                oW: w(n.out + ".weight", [H, H]), oB: w(n.out + ".bias", [H]),
                ln1W: w(n.norm1 + ".weight", [H]), ln1B: w(n.norm1 + ".bias", [H]),
                iW: w(n.up + ".weight", [I, H]), iB: w(n.up + ".bias", [I]),
                o2W: w(n.down + ".weight", [H, I]), o2B: w(n.down + ".bias", [H]),
                ln2W: w(n.norm2 + ".weight", [H]), ln2B: w(n.norm2 + ".bias", [H])))
        }
        self.layers = layers
        let head = binder.hasHead
        hasMLMHead = head
        let bodyNames = binder.used
        if head {
            if config.kind == .bert {
                headW = binder.takeHead("cls.predictions.transform.dense.weight", [H, H])
                headB = binder.takeHead("cls.predictions.transform.dense.bias", [H])
                headLnW = binder.takeHead("cls.predictions.transform.LayerNorm.weight", [H])
                headLnB = binder.takeHead("cls.predictions.transform.LayerNorm.bias", [H])
                decoderW = binder.takeHead("cls.predictions.decoder.weight", [V, H], tiedTo: word, tie: cfg.tieWordEmbeddings)
                // The decoder's own bias is what the forward adds; tied checkpoints
                // store it only as cls.predictions.bias.
                decoderB = binder.takeHead("cls.predictions.decoder.bias", [V], alias: "cls.predictions.bias")
            } else if config.kind == .roberta {
                headW = binder.takeHead("lm_head.dense.weight", [H, H])
                headB = binder.takeHead("lm_head.dense.bias", [H])
                headLnW = binder.takeHead("lm_head.layer_norm.weight", [H])
                headLnB = binder.takeHead("lm_head.layer_norm.bias", [H])
                decoderW = binder.takeHead("lm_head.decoder.weight", [V, H], tiedTo: word, tie: cfg.tieWordEmbeddings)
                // As BERT's: the decoder's own bias is what the forward adds;
                // tied checkpoints store it only as lm_head.bias.
                decoderB = binder.takeHead("lm_head.decoder.bias", [V], alias: "lm_head.bias")
            } else {
                headW = binder.takeHead("vocab_transform.weight", [H, H])
                headB = binder.takeHead("vocab_transform.bias", [H])
                headLnW = binder.takeHead("vocab_layer_norm.weight", [H])
                headLnB = binder.takeHead("vocab_layer_norm.bias", [H])
                decoderW = binder.takeHead("vocab_projector.weight", [V, H], tiedTo: word, tie: cfg.tieWordEmbeddings)
                decoderB = binder.takeHead("vocab_projector.bias", [V])
            }
        } else {
            headW = []; headB = []; headLnW = []; headLnB = []; decoderW = []; decoderB = []
        }
        mlmTensorNames = binder.used.subtracting(bodyNames).sorted()
        // The classification head, each part when present (a BERT checkpoint
        // usually has a pooler but no classifier).
        // RoBERTa's head is classifier.dense → tanh → classifier.out_proj.
        let names: (pool: String, cls: String)
        switch config.kind {
        case .bert: names = (binder.prefix + "pooler.dense", "classifier")
        case .distilbert: names = ("pre_classifier", "classifier")
        case .roberta: names = ("classifier.dense", "classifier.out_proj")
        }
        pooler = binder.takeOptionalDense(names.pool, outputs: H, inputs: H)
        classifier = binder.takeOptionalDense(names.cls, outputs: nil, inputs: H)
        unusedTensors = binder.unused
        try binder.finish(path: checkpoint.path)
    }

    /// A model with random weights, initialised as transformers does it:
    /// normal(0, initializerRange) matrices and embeddings, zero biases, unit
    /// layer norms (for benchmarks and pretraining from scratch).
    public init(config: EncoderConfig, initializerRange: Float = 0.02, mlmHead: Bool, seed: UInt64 = 0) {
        self.config = config
        var rng = SplitMix64(seed: seed)
        func normal(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextNormal() * initializerRange } }
        func zeros(_ n: Int) -> [Float] { [Float](repeating: 0, count: n) }
        func ones(_ n: Int) -> [Float] { [Float](repeating: 1, count: n) }
        let H = config.hidden, I = config.intermediate, V = config.vocabSize
        word = normal(V * H)
        position = normal(config.maxPositions * H)
        tokenType = config.hasTokenTypes ? normal(config.typeVocabSize * H) : []
        embLnW = ones(H); embLnB = zeros(H)
        layers = (0..<config.layers).map { _ in
            Layer(qkvW: normal(3 * H * H), qkvB: zeros(3 * H), oW: normal(H * H), oB: zeros(H), ln1W: ones(H), ln1B: zeros(H),
                  iW: normal(I * H), iB: zeros(I), o2W: normal(H * I), o2B: zeros(H), ln2W: ones(H), ln2B: zeros(H))
        }
        hasMLMHead = mlmHead
        if mlmHead {
            headW = normal(H * H); headB = zeros(H); headLnW = ones(H); headLnB = zeros(H)
            decoderW = word; decoderB = zeros(V)
        } else {
            headW = []; headB = []; headLnW = []; headLnB = []; decoderW = []; decoderB = []
        }
        pooler = nil
        classifier = nil
        unusedTensors = []
        mlmTensorNames = []
    }

    /// Multiply-adds × 2 of one forward pass over `(B, T)` tokens (matrix
    /// products only), for GFLOP/s figures.
    public func flops(batch B: Int, length T: Int) -> Double {
        let H = Double(config.hidden), I = Double(config.intermediate), N = Double(B * T)
        let perLayer = 2 * N * (4 * H * H + 2 * H * I) + 2 * 2 * Double(B) * Double(T) * Double(T) * H
        var total = Double(config.layers) * perLayer
        if hasMLMHead { total += 2 * N * (H * H + H * Double(config.vocabSize)) }
        return total
    }

    // MARK: - Scratch buffers

    /// The intermediate buffers of one forward pass: (BT, 3H), (BT, H) twice, (BT, I).
    struct Scratch {
        var tokens: Int
        var qkv: [Float], ctx: [Float], tmp: [Float], inter: [Float]
    }

    private let scratchLock = ScratchLock()
    nonisolated(unsafe) private var cachedScratch: Scratch?

    /// Moves the cached buffers out if they fit `tokens`, else allocates them.
    private func takeScratch(tokens: Int) -> Scratch {
        let H = config.hidden, I = config.intermediate
        let cached: Scratch? = scratchLock.run {
            defer { cachedScratch = nil }
            return cachedScratch
        }
        if let c = cached, c.tokens == tokens { return c }
        return Scratch(tokens: tokens, qkv: [Float](repeating: 0, count: tokens * 3 * H),
                       ctx: [Float](repeating: 0, count: tokens * H), tmp: [Float](repeating: 0, count: tokens * H),
                       inter: [Float](repeating: 0, count: tokens * I))
    }

    private func returnScratch(_ s: Scratch) {
        scratchLock.run { cachedScratch = s }
    }

    // MARK: - Forward

    /// `x = LayerNorm(sublayer + x)`: the residual connection closing each sublayer.
    /// Rows are split across `threads` (they are independent).
    static func addAndNorm(_ x: inout [Float], _ sublayer: inout [Float], weight: [Float], bias: [Float],
                           rows: Int, cols: Int, eps: Float, threads: Int = 1) {
        sublayer.withUnsafeMutableBufferPointer { sb in
            x.withUnsafeMutableBufferPointer { xb in
                nonisolated(unsafe) let s = sb.baseAddress!, xp = xb.baseAddress!
                weight.withUnsafeBufferPointer { wb in
                    bias.withUnsafeBufferPointer { bb in
                        nonisolated(unsafe) let w = wb.baseAddress!, b = bb.baseAddress!
                        parallelRanges(rows, threads) { r in
                            let lo = r.lowerBound * cols, count = r.count * cols
                            for i in lo..<(lo + count) { s[i] += xp[i] }
                            layerNormForward(out: xp + lo, mean: nil, rstd: nil, input: s + lo, weight: w, bias: b,
                                             rows: r.count, cols: cols, eps: eps)
                        }
                    }
                }
            }
        }
    }

    /// Runs the encoder (and the MLM head when present).
    ///
    /// - Parameters:
    ///   - inputIDs: `(B, T)` token ids, row-major.
    ///   - attentionMask: `(B, T)`, 1 for real tokens, 0 for padding.
    ///   - tokenTypeIDs: `(B, T)` segment ids (BERT), zeros when nil.
    ///   - hiddenStates: keep the embedding output and every layer's output.
    ///   - logitPositions: the flat positions (`b × T + t`) the masked-LM head
    ///     runs at (nil: every position; empty: none). A 250,002-piece
    ///     vocabulary makes a full `(B, T, V)` a gigabyte at B 8 × T 128.
    /// - Throws: `ModelError.input` for ids past the vocabulary or sequences
    ///   longer than the position table.
    public func forward(inputIDs: [Int], attentionMask: [Int]? = nil, tokenTypeIDs: [Int]? = nil,
                        batch B: Int, length T: Int, hiddenStates keep: Bool = false,
                        logitPositions: [Int]? = nil) throws -> EncoderOutput {
        let H = config.hidden, V = config.vocabSize, I = config.intermediate
        let nh = config.heads, hd = H / nh
        guard B >= 1, T >= 1, B <= 1 << 20,
              !(B * T).multipliedReportingOverflow(by: max(3 * H, I, V, T)).overflow else {
            throw ModelError.input("a (\(B), \(T)) batch is empty or too large")
        }
        let BT = B * T
        guard inputIDs.count == BT else { throw ModelError.input("\(inputIDs.count) ids for a (\(B), \(T)) batch") }
        guard T <= config.maxLength else {
            throw ModelError.input("length \(T) exceeds the \(config.maxLength) positions of max_position_embeddings \(config.maxPositions)")
        }
        if let bad = inputIDs.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.input("token id \(bad) is outside the vocabulary (\(V))") }
        let mask = attentionMask ?? [Int](repeating: 1, count: BT)
        let types = tokenTypeIDs ?? [Int](repeating: 0, count: BT)
        if config.hasTokenTypes, let bad = types.first(where: { $0 < 0 || $0 >= config.typeVocabSize }) {
            throw ModelError.input("token type \(bad) is outside type_vocab_size \(config.typeVocabSize)")
        }

        var x = [Float](repeating: 0, count: BT * H)          // (B, T, H)
        // Scratch buffers, reused across calls of the same shape.
        var buffers = takeScratch(tokens: BT)
        // Products are split across the workers by rows, each single-threaded
        // (see `linear`), and so is attention: BLAS runs on one thread here.
        setMatmulThreads(1)
        defer { setMatmulThreads(workerCount) }
        defer { returnScratch(buffers) }
        var states: [[Float]] = []

        // Embeddings: (word + token type) + position, then layer norm.
        let positions = config.positionIDs(inputIDs, batch: B, length: T)
        x.withUnsafeMutableBufferPointer { xb in
            for n in 0..<BT {
                let row = xb.baseAddress! + n * H
                let id = inputIDs[n], p = positions[n]
                for c in 0..<H { row[c] = word[id * H + c] }
                if config.hasTokenTypes {
                    let ty = types[n]
                    for c in 0..<H { row[c] += tokenType[ty * H + c] }
                }
                for c in 0..<H { row[c] += position[p * H + c] }
            }
            layerNormForward(out: xb.baseAddress!, mean: nil, rstd: nil, input: xb.baseAddress!, weight: embLnW, bias: embLnB,
                             rows: BT, cols: H, eps: config.layerNormEps)
        }
        if keep { states.append(x) }

        let scale = 1 / Float(hd).squareRoot()
        let eps = config.layerNormEps
        for layer in layers {
            // QKV: (BT, 3H) = x (BT, H) · qkvWᵀ + b
            linear(out: &buffers.qkv, ldOut: 3 * H, input: x, ldIn: H, weight: layer.qkvW, bias: layer.qkvB,
                   rows: BT, outFeatures: 3 * H, inFeatures: H, threads: workerCount)
            // Attention, one (sequence, head) pair per task, spread over the
            // cores; each task's products are small, so BLAS runs them on one thread.
            let pairs = B * nh
            let workers = max(1, min(pairs, workerCount))
            nonisolated(unsafe) let scoreBuffer = UnsafeMutablePointer<Float>.allocate(capacity: workers * T * T)
            defer { scoreBuffer.deallocate() }
            buffers.qkv.withUnsafeBufferPointer { qkvb in
                buffers.ctx.withUnsafeMutableBufferPointer { cb in
                    nonisolated(unsafe) let qkvp = qkvb.baseAddress!, ctxp = cb.baseAddress!
                    let maskRef = mask
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let sb = scoreBuffer + w * T * T
                        var pair = w
                        while pair < pairs {
                            let b = pair / nh, h = pair % nh
                            let base = qkvp + b * T * 3 * H
                            let q = base + h * hd, k = base + H + h * hd, v = base + 2 * H + h * hd
                            // scores (T, T) = q (T, hd) · kᵀ / √hd
                            gemm(transA: false, transB: true, m: T, n: T, k: hd, alpha: scale,
                                 a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: sb, ldc: T)
                            for j in 0..<T where maskRef[b * T + j] == 0 {
                                for i in 0..<T { sb[i * T + j] = -Float.greatestFiniteMagnitude }
                            }
                            softmaxRows(sb, rows: T, cols: T, ld: T)
                            // ctx (T, hd) = p (T, T) · v (T, hd)
                            gemm(transA: false, transB: false, m: T, n: hd, k: T, alpha: 1,
                                 a: sb, lda: T, b: v, ldb: 3 * H, beta: 0, c: ctxp + b * T * H + h * hd, ldc: H)
                            pair += workers
                        }
                    }
                }
            }
            // Attention output, residual, layer norm.
            linear(out: &buffers.tmp, ldOut: H, input: buffers.ctx, ldIn: H, weight: layer.oW, bias: layer.oB, rows: BT, outFeatures: H, inFeatures: H, threads: workerCount)
            Encoder.addAndNorm(&x, &buffers.tmp, weight: layer.ln1W, bias: layer.ln1B, rows: BT, cols: H, eps: eps, threads: workerCount)
            // Feed-forward, residual, layer norm.
            linear(out: &buffers.inter, ldOut: I, input: x, ldIn: H, weight: layer.iW, bias: layer.iB, rows: BT, outFeatures: I, inFeatures: H, threads: workerCount)
            buffers.inter.withUnsafeMutableBufferPointer { ib in
                nonisolated(unsafe) let p = ib.baseAddress!
                let act = config.activation
                parallelRanges(BT, workerCount) { r in activationForward(p + r.lowerBound * I, count: r.count * I, act) }
            }
            linear(out: &buffers.tmp, ldOut: H, input: buffers.inter, ldIn: I, weight: layer.o2W, bias: layer.o2B, rows: BT, outFeatures: H, inFeatures: I, threads: workerCount)
            Encoder.addAndNorm(&x, &buffers.tmp, weight: layer.ln2W, bias: layer.ln2B, rows: BT, cols: H, eps: eps, threads: workerCount)
            if keep { states.append(x) }
        }

        var logits: [Float]? = nil
        if hasMLMHead && logitPositions?.isEmpty != true {
            if let bad = logitPositions?.first(where: { $0 < 0 || $0 >= BT }) { throw ModelError.input("logit position \(bad) is outside the batch") }
            // The rows the head runs on: every position, or those asked for.
            let M = logitPositions?.count ?? BT
            var rows = x
            if let p = logitPositions {
                rows = [Float](repeating: 0, count: M * H)
                for (m, n) in p.enumerated() { for c in 0..<H { rows[m * H + c] = x[n * H + c] } }
            }
            // transform: dense, activation, layer norm; then the decoder (V, H) + bias.
            linear(out: &buffers.tmp, ldOut: H, input: rows, ldIn: H, weight: headW, bias: headB, rows: M, outFeatures: H, inFeatures: H, threads: workerCount)
            buffers.tmp.withUnsafeMutableBufferPointer { tb in
                activationForward(tb.baseAddress!, count: M * H, config.headActivation)
                layerNormForward(out: tb.baseAddress!, mean: nil, rstd: nil, input: tb.baseAddress!, weight: headLnW, bias: headLnB,
                                 rows: M, cols: H, eps: eps)
            }
            var out = [Float](repeating: 0, count: M * V)
            linear(out: &out, ldOut: V, input: buffers.tmp, ldIn: H, weight: decoderW, bias: decoderB, rows: M, outFeatures: V, inFeatures: H, threads: workerCount)
            logits = out
        }
        return EncoderOutput(lastHiddenState: x, hiddenStates: states, logits: logits, logitPositions: logitPositions)
    }
}

extension Encoder {
    /// The sequence-classification logits `(B, C)` of a forward's last hidden
    /// state `(B, T, H)`: the first token through BERT's pooler (dense, tanh),
    /// RoBERTa's classifier.dense (tanh) or DistilBERT's pre_classifier
    /// (dense, ReLU), then the classifier (dropout is off at inference).
    /// Empty without a classifier.
    public func classificationLogits(hidden: [Float], batch B: Int, length T: Int) -> [Float] {
        guard let pool = pooler, let cls = classifier else { return [] }
        let H = config.hidden, C = cls.labels
        var out = [Float](repeating: 0, count: B * C)
        var a = [Float](repeating: 0, count: H)
        for b in 0..<B {
            let x = b * T * H
            for o in 0..<H {
                var s = pool.bias[o]
                for i in 0..<H { s += pool.weight[o * H + i] * hidden[x + i] }
                a[o] = config.kind == .distilbert ? max(0, s) : tanhf(s)
            }
            for c in 0..<C {
                var s = cls.bias[c]
                for i in 0..<H { s += cls.weight[c * H + i] * a[i] }
                out[b * C + c] = s
            }
        }
        return out
    }
}
