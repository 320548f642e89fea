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
    /// The vocabulary entries (columns) `logits` holds, in order; nil when
    /// it holds all `V`.
    public var logitColumns: [Int]? = nil
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
    /// The precision of the matrix products (``Precision/fp32`` unless the
    /// caller asks for ``Precision/bf16`` on a CPU that has it).
    public var precision: Precision = .fp32
    /// The kernel every product runs on.
    public var kernel: SgemmKernel { precision.kernel }

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
        let names = config.headNames
        if head {
            headW = binder.takeHead(names.transform + ".weight", [H, H])
            headB = binder.takeHead(names.transform + ".bias", [H])
            headLnW = binder.takeHead(names.norm + ".weight", [H])
            headLnB = binder.takeHead(names.norm + ".bias", [H])
            decoderW = binder.takeHead(names.decoderWeight, [V, H], tiedTo: word, tie: cfg.tieWordEmbeddings)
            // The decoder's own bias is what the forward adds; tied checkpoints
            // store it only under the head's name (cls.predictions.bias, lm_head.bias).
            decoderB = binder.takeHead(names.decoderBias, [V], alias: names.tiedDecoderBias)
        } else {
            headW = []; headB = []; headLnW = []; headLnB = []; decoderW = []; decoderB = []
        }
        mlmTensorNames = binder.used.subtracting(bodyNames).sorted()
        // The classification head, each part when present (a BERT checkpoint
        // usually has a pooler but no classifier).
        // The pooler is under the checkpoint's own base prefix (a base
        // checkpoint may have none); RoBERTa's is classifier.dense.
        let pool = config.kind == .bert ? binder.prefix + "pooler.dense" : names.pooler
        pooler = binder.takeOptionalDense(pool, outputs: H, inputs: H)
        classifier = binder.takeOptionalDense(names.classifier, outputs: nil, inputs: H)
        unusedTensors = binder.unused
        try binder.finish(path: checkpoint.path)
    }

    /// A model with random weights, initialised as transformers does it:
    /// normal(0, initializerRange) matrices and embeddings, zero biases, unit
    /// layer norms, and the pad rows (`padding_idx`: the word table's
    /// pad_token_id row, RoBERTa's position pad row) zero (for benchmarks and
    /// pretraining from scratch).
    public init(config: EncoderConfig, initializerRange: Float = 0.02, mlmHead: Bool, seed: UInt64 = 0) {
        self.config = config
        var rng = SplitMix64(seed: seed)
        func normal(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextNormal() * initializerRange } }
        func zeros(_ n: Int) -> [Float] { [Float](repeating: 0, count: n) }
        func ones(_ n: Int) -> [Float] { [Float](repeating: 1, count: n) }
        let H = config.hidden, I = config.intermediate, V = config.vocabSize
        var word = normal(V * H), position = normal(config.maxPositions * H)
        if let pad = config.padTokenID, pad >= 0 {
            if pad < V { for c in 0..<H { word[pad * H + c] = 0 } }
            if config.kind == .roberta && pad < config.maxPositions { for c in 0..<H { position[pad * H + c] = 0 } }
        }
        self.word = word
        self.position = position
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

    /// Scratch buffers of the last forward, reused by the next of the same shape.
    let scratchLock = ScratchLock()
    nonisolated(unsafe) var cachedScratch: Scratch?
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
