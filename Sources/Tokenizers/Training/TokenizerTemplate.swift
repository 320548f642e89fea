// TokenizerTemplate — everything of a tokenizer but its vocabulary: the
// pipeline (normalizer, pre-tokenizer, post-processor, decoder), the model's
// settings, the special tokens and the tokenizer_config.json fields. Built for
// BERT (WordPiece) or RoBERTa (byte-level BPE), or taken from an existing
// tokenizer (`--from`, as transformers' `train_new_from_iterator`); filled with
// a trained vocabulary it becomes the files of a tokenizer directory.

import Formats

public struct TokenizerTemplate: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case wordpiece, bpe }
    public var kind: Kind
    /// tokenizer.json members kept as they are.
    var normalizer: JSONValue, preTokenizer: JSONValue, postProcessor: JSONValue, decoder: JSONValue
    /// The model's members other than its vocabulary (and merges).
    var modelSettings: [(String, JSONValue)]
    /// Special tokens: their added-token entries (without ids), in id order.
    var specials: [JSONObject]
    /// tokenizer_config.json and special_tokens_map.json members.
    var config: [(String, JSONValue)]
    var specialMap: [(String, JSONValue)]

    public var specialTokens: [String] { specials.compactMap { $0["content"]?.string } }
    public var continuingSubwordPrefix: String? { modelSettings.first { $0.0 == "continuing_subword_prefix" }?.1.string }
    public var endOfWordSuffix: String? { modelSettings.first { $0.0 == "end_of_word_suffix" }?.1.string }

    /// The words training counts: this template's normalizer and pre-tokenizer.
    public func pipeline() throws -> TrainingPipeline {
        try TrainingPipeline(tokenizerJSON: .object(JSONObject([("normalizer", normalizer), ("pre_tokenizer", preTokenizer)])), path: "")
    }

    /// Whether the pre-tokenizer is byte-level (then the 256 byte symbols are the initial alphabet).
    public var isByteLevel: Bool {
        func has(_ v: JSONValue) -> Bool {
            v["type"]?.string == "ByteLevel" || (v["pretokenizers"]?.array ?? []).contains(where: has)
        }
        return has(preTokenizer)
    }

    static func special(_ content: String, lstrip: Bool = false) -> JSONObject {
        JSONObject([("content", .string(content)), ("single_word", .bool(false)), ("lstrip", .bool(lstrip)),
                    ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(true))])
    }

    /// BERT's: BertNormalizer, BertPreTokenizer, [CLS] A [SEP] (B [SEP]), WordPiece with `##`.
    public static func bert(lowercase: Bool, stripAccents: Bool?) -> TokenizerTemplate {
        let pair: JSONValue = .array(["[CLS]", "A", "[SEP]", "B", "[SEP]"].enumerated().map { i, t in
            t.count == 1 ? .object(JSONObject([("Sequence", .object(JSONObject([("id", .string(t)), ("type_id", .number(JSONNumber(i < 3 ? 0 : 1)))])))]))
                : .object(JSONObject([("SpecialToken", .object(JSONObject([("id", .string(t)), ("type_id", .number(JSONNumber(i < 3 ? 0 : 1)))])))]))
        })
        let single: JSONValue = .array(Array(pair.array!.prefix(3)))
        return TokenizerTemplate(
            kind: .wordpiece,
            normalizer: .object(JSONObject([("type", .string("BertNormalizer")), ("clean_text", .bool(true)), ("handle_chinese_chars", .bool(true)),
                                            ("strip_accents", stripAccents.map { .bool($0) } ?? .null), ("lowercase", .bool(lowercase))])),
            preTokenizer: .object(JSONObject([("type", .string("BertPreTokenizer"))])),
            postProcessor: .object(JSONObject([("type", .string("TemplateProcessing")), ("single", single), ("pair", pair),
                                               ("special_tokens", .object(JSONObject()))])),
            decoder: .object(JSONObject([("type", .string("WordPiece")), ("prefix", .string("##")), ("cleanup", .bool(true))])),
            modelSettings: [("unk_token", .string("[UNK]")), ("continuing_subword_prefix", .string("##")),
                            ("max_input_chars_per_word", .number(JSONNumber(100)))],
            specials: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map { special($0) },
            config: [("do_lower_case", .bool(lowercase)), ("tokenize_chinese_chars", .bool(true)),
                     ("strip_accents", stripAccents.map { .bool($0) } ?? .null), ("model_max_length", .number(JSONNumber(512))),
                     ("tokenizer_class", .string("BertTokenizer"))],
            specialMap: [("unk_token", .string("[UNK]")), ("sep_token", .string("[SEP]")), ("pad_token", .string("[PAD]")),
                         ("cls_token", .string("[CLS]")), ("mask_token", .string("[MASK]"))])
    }

    /// RoBERTa's: byte-level pre-tokenizer and decoder, `<s> A </s>` post-processing, BPE.
    public static func roberta() -> TokenizerTemplate {
        let byteLevel: [(String, JSONValue)] = [("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)), ("use_regex", .bool(true))]
        return TokenizerTemplate(
            kind: .bpe,
            normalizer: .null,
            preTokenizer: .object(JSONObject([("type", .string("ByteLevel"))] + byteLevel)),
            postProcessor: .object(JSONObject([("type", .string("RobertaProcessing")), ("sep", .array([.string("</s>"), .number(JSONNumber(2))])),
                                               ("cls", .array([.string("<s>"), .number(JSONNumber(0))])), ("trim_offsets", .bool(true)),
                                               ("add_prefix_space", .bool(false))])),
            decoder: .object(JSONObject([("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)), ("trim_offsets", .bool(true)),
                                         ("use_regex", .bool(true))])),
            modelSettings: [("dropout", .null), ("unk_token", .null), ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
                            ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false))],
            specials: [special("<s>"), special("<pad>"), special("</s>"), special("<unk>"), special("<mask>", lstrip: true)],
            config: [("add_prefix_space", .bool(false)), ("errors", .string("replace")), ("trim_offsets", .bool(true)),
                     ("model_max_length", .number(JSONNumber(512))), ("tokenizer_class", .string("RobertaTokenizer"))],
            specialMap: [("bos_token", .string("<s>")), ("eos_token", .string("</s>")), ("unk_token", .string("<unk>")),
                         ("sep_token", .string("</s>")), ("pad_token", .string("<pad>")), ("cls_token", .string("<s>")),
                         ("mask_token", .string("<mask>"))])
    }

    /// The template of an existing tokenizer directory (its tokenizer.json),
    /// as transformers' `train_new_from_iterator` keeps it: the pipeline, the
    /// model's settings, the special added tokens (with their flags) in id
    /// order, tokenizer_config.json and special_tokens_map.json.
    ///
    /// - Throws: `TokenizerError` when there is no tokenizer.json or its model
    ///   is neither WordPiece nor BPE.
    public static func from(directory: String) throws -> TokenizerTemplate {
        let path = FileSystem.join(directory, "tokenizer.json")
        guard FileSystem.isFile(path) else {
            throw TokenizerError.invalid(path: directory, reason: "no tokenizer.json to retrain (--from needs a tokenizers-format directory)")
        }
        let json = try JSONParser.parse(try readFile(path, limit: 1 << 28), path: path)
        guard let model = json["model"]?.object, let type = model["type"]?.string else {
            throw TokenizerError.invalid(path: path, reason: "no model")
        }
        let kind: Kind
        switch type {
        case "WordPiece": kind = .wordpiece
        case "BPE": kind = .bpe
        default: throw TokenizerError.unsupported(path: path, what: "retraining a \(type) model (only WordPiece and BPE)")
        }
        let added = (json["added_tokens"]?.array ?? []).compactMap(\.object).filter { $0["special"]?.bool == true }
            .sorted { ($0["id"]?.int ?? 0) < ($1["id"]?.int ?? 0) }
        func file(_ name: String) -> [(String, JSONValue)] {
            let p = FileSystem.join(directory, name)
            guard FileSystem.isFile(p), let v = try? JSONParser.parse(try readFile(p, limit: 1 << 24), path: p), let o = v.object else { return [] }
            return o.keys.filter { $0 != "added_tokens_decoder" }.map { ($0, o[$0]!) }
        }
        return TokenizerTemplate(
            kind: kind, normalizer: json["normalizer"] ?? .null, preTokenizer: json["pre_tokenizer"] ?? .null,
            postProcessor: json["post_processor"] ?? .null, decoder: json["decoder"] ?? .null,
            modelSettings: model.keys.filter { !["vocab", "merges"].contains($0) }.map { ($0, model[$0]!) },
            specials: added.map { a in JSONObject(a.keys.filter { $0 != "id" }.map { ($0, a[$0]!) }) },
            config: file("tokenizer_config.json"), specialMap: file("special_tokens_map.json"))
    }

    // MARK: - Output

    /// The files of the trained tokenizer: tokenizer.json, vocab.txt
    /// (WordPiece) or vocab.json + merges.txt (BPE), tokenizer_config.json and
    /// special_tokens_map.json.
    public func files(_ r: BPETrainingResult) -> [(name: String, bytes: [UInt8])] {
        var ids: [ExactString: Int] = [:]
        for (i, t) in r.vocabulary.enumerated() { ids[ExactString(t)] = i }
        let vocab = JSONValue.object(JSONObject(r.vocabulary.enumerated().map { ($0.element, .number(JSONNumber($0.offset))) }))
        var model: [(String, JSONValue)] = [("type", .string(kind == .wordpiece ? "WordPiece" : "BPE"))] + modelSettings.filter { $0.0 != "type" }
        model.append(("vocab", vocab))
        if kind == .bpe { model.append(("merges", .array(r.merges.map { .array([.string($0.0), .string($0.1)]) }))) }
        let addedTokens: [JSONValue] = specials.compactMap { s in
            guard let c = s["content"]?.string, let id = ids[ExactString(c)] else { return nil }
            return .object(JSONObject([("id", .number(JSONNumber(id)))] + s.keys.map { ($0, s[$0]!) }))
        }
        let document = JSONValue.object(JSONObject([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", .array(addedTokens)),
            ("normalizer", normalizer), ("pre_tokenizer", preTokenizer), ("post_processor", remap(postProcessor, ids)),
            ("decoder", decoder), ("model", .object(JSONObject(model))),
        ]))
        var out: [(name: String, bytes: [UInt8])] = [("tokenizer.json", Array(document.serialized(indent: 2).utf8) + [0x0A])]
        switch kind {
        case .wordpiece:
            out.append(("vocab.txt", Array(r.vocabulary.map { $0 + "\n" }.joined().utf8)))
        case .bpe:
            out.append(("vocab.json", Array(vocab.serialized().utf8)))
            out.append(("merges.txt", Array(("#version: 0.2\n" + r.merges.map { "\($0.0) \($0.1)\n" }.joined()).utf8)))
        }
        // Roles whose token is not in the vocabulary are dropped; then the
        // model-specific tokenizer class (which would add them) is too.
        let roles = specialMap.filter { _, v in v.string.map { ids[ExactString($0)] != nil } ?? true }
        var settings = config
        if roles.count < specialMap.count { settings.removeAll { $0.0 == "tokenizer_class" } }
        out.append(("tokenizer_config.json", Array(JSONValue.object(JSONObject(settings + roles.filter { k, _ in !settings.contains { $0.0 == k } }))
            .serialized(indent: 2).utf8) + [0x0A]))
        out.append(("special_tokens_map.json", Array(JSONValue.object(JSONObject(roles)).serialized(indent: 2).utf8) + [0x0A]))
        return out
    }

    /// The post-processor with its special tokens' ids looked up in the new
    /// vocabulary; null when one of them is not in it (e.g. `--special-tokens`
    /// without `<s>`): it could not add them.
    func remap(_ v: JSONValue, _ ids: [ExactString: Int]) -> JSONValue {
        guard var o = v.object, let type = o["type"]?.string else { return v }
        var missing = false
        func id(_ t: String) -> JSONValue {
            guard let i = ids[ExactString(t)] else { missing = true; return .null }
            return .number(JSONNumber(i))
        }
        switch type {
        case "RobertaProcessing", "BertProcessing":
            for k in ["sep", "cls"] {
                if let t = o[k]?.array?.first?.string { o[k] = .array([.string(t), id(t)]) }
            }
        case "TemplateProcessing":
            var names: [String] = []
            for k in ["single", "pair"] {
                for piece in o[k]?.array ?? [] { if let n = piece["SpecialToken"]?["id"]?.string, !names.contains(n) { names.append(n) } }
            }
            o["special_tokens"] = .object(JSONObject(names.map { n in
                (n, .object(JSONObject([("id", .string(n)), ("ids", .array([id(n)])), ("tokens", .array([.string(n)]))])))
            }))
        case "Sequence":
            let parts = (o["processors"]?.array ?? []).map { remap($0, ids) }
            missing = parts.contains { $0.isNull }
            o["processors"] = .array(parts)
        default: break
        }
        return missing ? .null : .object(o)
    }
}

extension TokenizerTemplate {
    /// Replaces the special tokens (in id order); tokens already in the
    /// template keep their flags.
    public mutating func setSpecialTokens(_ tokens: [String]) {
        let old = Dictionary(specials.compactMap { s in s["content"]?.string.map { (ExactString($0), s) } }, uniquingKeysWith: { a, _ in a })
        specials = tokens.map { old[ExactString($0)] ?? TokenizerTemplate.special($0) }
    }
}
