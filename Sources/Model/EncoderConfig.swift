// EncoderConfig — the architecture settings of config.json: BERT,
// DistilBERT, and the RoBERTa family (RoBERTa, XLM-RoBERTa, CamemBERT).

import Formats

/// Architecture settings read from config.json.
public struct EncoderConfig: Sendable, Equatable {
    /// The layer layout: BERT, DistilBERT, or RoBERTa (BERT's layers under
    /// `roberta.`, positions after the pad id, its own heads).
    public enum Kind: String, Sendable { case bert, distilbert, roberta }
    public var kind: Kind
    /// config.json's `model_type` (roberta, xlm-roberta and camembert share
    /// `.roberta`; it names their transformers classes).
    public var modelType: String
    /// `pad_token_id`: the embedding row that gets no gradient (torch's
    /// `padding_idx`); RoBERTa's position ids start after it.
    public var padTokenID: Int?
    /// Where the first token's position embedding is: `pad_token_id + 1`
    /// for RoBERTa (transformers' `create_position_ids_from_input_ids`), 0 otherwise.
    public var positionOffset: Int
    public var vocabSize: Int
    public var hidden: Int
    public var layers: Int
    public var heads: Int
    public var intermediate: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var activation: Activation
    public var layerNormEps: Float
    /// Dropout after the embeddings and sublayers (`hidden_dropout_prob` / `dropout`).
    public var hiddenDropout: Float
    /// Dropout of the attention probabilities (`attention_probs_dropout_prob` / `attention_dropout`).
    public var attentionDropout: Float
    /// Dropout before a sequence classifier: BERT's `classifier_dropout`
    /// (else the hidden rate), DistilBERT's `seq_classif_dropout` (0.2).
    public var classifierDropout: Float
    /// Whether the MLM decoder shares the word embeddings (`tie_word_embeddings`).
    public var tieWordEmbeddings: Bool

    /// Reads BERT, DistilBERT or RoBERTa-family fields.
    public init(_ c: ModelConfig, path: String) throws {
        let type = c.modelType ?? (c.architectures.first?.lowercased().hasPrefix("distilbert") == true ? "distilbert" : "bert")
        switch type {
        case "bert": kind = .bert
        case "distilbert": kind = .distilbert
        case "roberta", "xlm-roberta", "camembert": kind = .roberta
        default:
            throw ModelError.config(path: path, reason: "model_type \"\(type)\" is not BERT, DistilBERT, RoBERTa, XLM-RoBERTa or CamemBERT")
        }
        modelType = type
        // transformers' default when the key is absent (0 for BERT and
        // DistilBERT, 1 for RoBERTa); an explicit null means none.
        let padValue = c.json["pad_token_id"]
        padTokenID = padValue == nil ? (kind == .roberta ? 1 : 0) : padValue!.int
        if kind == .roberta {
            let pad = padTokenID ?? 1
            guard pad >= 0 && pad < 1 << 20 else { throw ModelError.config(path: path, reason: "pad_token_id \(pad) is not a valid id") }
            padTokenID = pad
            positionOffset = pad + 1
        } else {
            positionOffset = 0
        }
        func need(_ v: Int?, _ name: String) throws -> Int {
            guard let v, v > 0 else { throw ModelError.config(path: path, reason: "config lacks \(name)") }
            return v
        }
        vocabSize = try need(c.vocabSize, "vocab_size")
        hidden = try need(c.hiddenSize, kind == .bert ? "hidden_size" : "dim")
        layers = try need(c.layerCount, kind == .bert ? "num_hidden_layers" : "n_layers")
        heads = try need(c.headCount, kind == .bert ? "num_attention_heads" : "n_heads")
        intermediate = try need(c.intermediateSize, kind == .bert ? "intermediate_size" : "hidden_dim")
        maxPositions = try need(c.maxPositions, "max_position_embeddings")
        typeVocabSize = kind == .distilbert ? 0 : (c.typeVocabSize ?? 2)
        let actName = c.hiddenAct ?? "gelu"
        guard let act = Activation(configName: actName) else {
            throw ModelError.config(path: path, reason: "activation \"\(actName)\" is not supported")
        }
        activation = act
        layerNormEps = Float(c.layerNormEps ?? 1e-12)
        hiddenDropout = Float(c.hiddenDropout ?? 0.1)
        attentionDropout = Float(c.attentionDropout ?? 0.1)
        classifierDropout = kind != .distilbert ? Float(c.json["classifier_dropout"]?.double ?? Double(hiddenDropout))
            : Float(c.json["seq_classif_dropout"]?.double ?? 0.2)
        tieWordEmbeddings = c.tieWordEmbeddings
        for (name, p) in [("hidden dropout", hiddenDropout), ("attention dropout", attentionDropout),
                          ("classifier dropout", classifierDropout)] where !(p >= 0 && p < 1) {
            throw ModelError.config(path: path, reason: "\(name) \(p) is not in [0, 1)")
        }
        let limits = [("vocab_size", vocabSize, 10_000_000), ("hidden size", hidden, 65_536), ("layers", layers, 1_000),
                      ("heads", heads, 4_096), ("intermediate size", intermediate, 1 << 20),
                      ("max_position_embeddings", maxPositions, 1 << 20), ("type_vocab_size", typeVocabSize, 1 << 16)]
        for (name, value, limit) in limits where value > limit {
            throw ModelError.config(path: path, reason: "\(name) \(value) is over the supported \(limit)")
        }
        guard maxPositions > positionOffset else {
            throw ModelError.config(path: path, reason: "max_position_embeddings \(maxPositions) leaves no position after pad_token_id \(positionOffset - 1)")
        }
        guard hidden % heads == 0 else {
            throw ModelError.config(path: path, reason: "hidden size \(hidden) is not a multiple of \(heads) heads")
        }
    }

    /// Whether the model has token-type (segment) embeddings.
    public var hasTokenTypes: Bool { kind != .distilbert }

    /// The longest sequence the position table allows.
    public var maxLength: Int { maxPositions - positionOffset }

    /// The activation inside the masked-LM head's transform: RoBERTa's
    /// `lm_head` always uses the exact GELU; BERT's follows `hidden_act`.
    public var headActivation: Activation { kind == .roberta ? .gelu : activation }

    /// The base model's tensor prefix in task checkpoints.
    public var basePrefix: String {
        switch kind {
        case .bert: return "bert."
        case .distilbert: return "distilbert."
        case .roberta: return "roberta."
        }
    }

    /// The transformers class-name stem: Bert, DistilBert, Roberta, XLMRoberta, Camembert.
    public var classStem: String {
        switch (kind, modelType) {
        case (.bert, _): return "Bert"
        case (.distilbert, _): return "DistilBert"
        case (.roberta, "xlm-roberta"): return "XLMRoberta"
        case (.roberta, "camembert"): return "Camembert"
        case (.roberta, _): return "Roberta"
        }
    }

    /// The position embedding row of each token of `(B, T)` ids, as
    /// transformers computes position ids: BERT and DistilBERT count from 0;
    /// RoBERTa counts the tokens that are not the pad id from `pad + 1`, and
    /// gives pad tokens the pad row.
    public func positionIDs(_ ids: [Int], batch B: Int, length T: Int) -> [Int] {
        guard kind == .roberta, let pad = padTokenID else { return (0..<(B * T)).map { $0 % T } }
        var out = [Int](repeating: pad, count: B * T)
        for b in 0..<B {
            var n = 0
            for t in 0..<T where ids[b * T + t] != pad {
                n += 1
                out[b * T + t] = pad + n
            }
        }
        return out
    }
}

/// Where a family's heads live in a checkpoint (transformers' names).
public struct HeadTensorNames: Sendable, Equatable {
    /// Masked LM: the transform's dense layer and layer norm (prefixes of
    /// `.weight` / `.bias`), the decoder's weight and bias.
    public let transform, norm, decoderWeight, decoderBias: String
    /// The name transformers stores the decoder bias under when it is tied
    /// (nil: the bias is its own tensor).
    public let tiedDecoderBias: String?
    /// Classification: the dense layer on the first token (BERT's pooler,
    /// under the base prefix) and the classifier (prefixes).
    public let pooler, classifier: String
}

extension EncoderConfig {
    public var headNames: HeadTensorNames {
        switch kind {
        case .bert:
            return HeadTensorNames(transform: "cls.predictions.transform.dense", norm: "cls.predictions.transform.LayerNorm",
                                   decoderWeight: "cls.predictions.decoder.weight", decoderBias: "cls.predictions.decoder.bias",
                                   tiedDecoderBias: "cls.predictions.bias", pooler: "bert.pooler.dense", classifier: "classifier")
        case .distilbert:
            return HeadTensorNames(transform: "vocab_transform", norm: "vocab_layer_norm", decoderWeight: "vocab_projector.weight",
                                   decoderBias: "vocab_projector.bias", tiedDecoderBias: nil, pooler: "pre_classifier",
                                   classifier: "classifier")
        case .roberta:
            return HeadTensorNames(transform: "lm_head.dense", norm: "lm_head.layer_norm", decoderWeight: "lm_head.decoder.weight",
                                   decoderBias: "lm_head.decoder.bias", tiedDecoderBias: "lm_head.bias", pooler: "classifier.dense",
                                   classifier: "classifier.out_proj")
        }
    }
}

