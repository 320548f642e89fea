// ModelConfig — a Hugging Face `config.json`, with typed access to the fields
// ckpt uses (BERT and DistilBERT names) and every other key kept verbatim and in
// order.

/// A `config.json` value that is not what ckpt needs.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// The config file.
    public let path: String
    /// What is wrong.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// A model configuration. Reading a field never changes the file; writing one
/// replaces its value in place (or appends the key), so the file written back
/// differs from the original only where something was set.
public struct ModelConfig: Sendable, Equatable {
    /// All keys and values, in file order.
    public private(set) var json: JSONObject

    /// Wraps a parsed object.
    public init(json: JSONObject) { self.json = json }

    /// Parses `config.json` bytes, checking the kinds of the fields ckpt reads.
    ///
    /// - Throws: `JSONError` for invalid JSON, `ConfigError` for a field of the
    ///   wrong kind.
    public init(bytes: [UInt8], path: String) throws {
        let value = try JSONParser.parse(bytes, path: path, mode: .python)
        guard let obj = value.object else {
            throw ConfigError(path: path, reason: "expected a JSON object, found \(value.kindName)")
        }
        self.json = obj
        let ints = ["vocab_size", "hidden_size", "dim", "num_hidden_layers", "n_layers", "num_attention_heads",
                    "n_heads", "intermediate_size", "hidden_dim", "max_position_embeddings", "type_vocab_size"]
        for key in ints {
            if let v = obj[key], !v.isNull {
                guard let i = v.int, i >= 0 else {
                    throw ConfigError(path: path, reason: "\"\(key)\" must be a non-negative integer, found \(v.serialized())")
                }
            }
        }
        for key in ["model_type", "hidden_act", "activation"] {
            if let v = obj[key], !v.isNull, v.string == nil {
                throw ConfigError(path: path, reason: "\"\(key)\" must be a string, found \(v.kindName)")
            }
        }
        if let v = obj["tie_word_embeddings"], !v.isNull, v.bool == nil {
            throw ConfigError(path: path, reason: "\"tie_word_embeddings\" must be true or false, found \(v.serialized())")
        }
    }

    /// The file's text: 2-space indent, keys in their original order, non-ASCII
    /// escaped, trailing newline (transformers' layout, minus its key sorting).
    public func serialized() -> [UInt8] {
        Array((JSONValue.object(json).serialized(indent: 2, asciiOnly: true) + "\n").utf8)
    }

    /// Sets (or, with `nil`, removes) a raw value.
    public mutating func set(_ key: String, _ value: JSONValue?) { json[key] = value }

    // MARK: - Typed fields

    private func int(_ keys: String...) -> Int? {
        for k in keys { if let v = json[k]?.int { return v } }
        return nil
    }

    /// `model_type` (`"bert"`, `"distilbert"`, …).
    public var modelType: String? { json["model_type"]?.string }
    /// `architectures` (`["BertForMaskedLM"]`).
    public var architectures: [String] { json["architectures"]?.array?.compactMap(\.string) ?? [] }
    /// True for DistilBERT configs, which use their own field names.
    public var isDistilBERT: Bool { modelType == "distilbert" }

    /// `vocab_size`.
    public var vocabSize: Int? {
        get { int("vocab_size") }
        set { json["vocab_size"] = newValue.map { .number(JSONNumber($0)) } }
    }
    /// `hidden_size` (DistilBERT: `dim`).
    public var hiddenSize: Int? { int("hidden_size", "dim") }
    /// `num_hidden_layers` (DistilBERT: `n_layers`).
    public var layerCount: Int? { int("num_hidden_layers", "n_layers") }
    /// `num_attention_heads` (DistilBERT: `n_heads`).
    public var headCount: Int? { int("num_attention_heads", "n_heads") }
    /// `intermediate_size` (DistilBERT: `hidden_dim`).
    public var intermediateSize: Int? { int("intermediate_size", "hidden_dim") }
    /// `max_position_embeddings`.
    public var maxPositions: Int? { int("max_position_embeddings") }
    /// `type_vocab_size` (DistilBERT has none).
    public var typeVocabSize: Int? { int("type_vocab_size") }
    /// `hidden_act` (DistilBERT: `activation`).
    public var hiddenAct: String? { json["hidden_act"]?.string ?? json["activation"]?.string }
    /// `layer_norm_eps` (DistilBERT fixes it at 1e-12).
    public var layerNormEps: Double? { json["layer_norm_eps"]?.double ?? (isDistilBERT ? 1e-12 : nil) }
    /// `initializer_range`.
    public var initializerRange: Double? { json["initializer_range"]?.double }
    /// `hidden_dropout_prob` (DistilBERT: `dropout`).
    public var hiddenDropout: Double? { json["hidden_dropout_prob"]?.double ?? json["dropout"]?.double }
    /// `attention_probs_dropout_prob` (DistilBERT: `attention_dropout`).
    public var attentionDropout: Double? { json["attention_probs_dropout_prob"]?.double ?? json["attention_dropout"]?.double }
    /// `tie_word_embeddings`; transformers' default is true.
    public var tieWordEmbeddings: Bool { json["tie_word_embeddings"]?.bool ?? true }
    /// `pad_token_id`.
    public var padTokenID: Int? {
        get { int("pad_token_id") }
        set { json["pad_token_id"] = newValue.map { .number(JSONNumber($0)) } }
    }
    /// The storage type the config records (`dtype`, or the older `torch_dtype`).
    public var storageDType: String? { json["dtype"]?.string ?? json["torch_dtype"]?.string }

    /// Records a new storage type in whichever of `dtype` / `torch_dtype` the
    /// config already has (neither is added).
    public mutating func setStorageDType(_ dtype: DType) {
        for key in ["dtype", "torch_dtype"] where json[key]?.string != nil {
            json[key] = .string(dtype.torchName)
        }
    }
}
