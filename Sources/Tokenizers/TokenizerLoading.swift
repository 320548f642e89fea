// Tokenizer loading: tokenizer.json (each component built from its JSON),
// or a BERT vocab.txt with its tokenizer_config.json / special_tokens_map.json.

import Formats

extension Tokenizer {
    // MARK: - Loading

    /// Loads the tokenizer of a model directory (or a tokenizer.json / vocab.txt
    /// file): tokenizer.json when present, else vocab.txt with the BERT settings
    /// of tokenizer_config.json and special_tokens_map.json.
    ///
    /// - Throws: `TokenizerError` naming the file and what is wrong or unsupported.
    public init(path: String) throws {
        if FileSystem.isDirectory(path) {
            let tj = FileSystem.join(path, "tokenizer.json")
            if FileSystem.isFile(tj) { try self.init(tokenizerJSON: try readFile(tj), path: tj); return }
            let vt = FileSystem.join(path, "vocab.txt")
            guard FileSystem.isFile(vt) else { throw TokenizerError.missing(path: path) }
            func optional(_ name: String) throws -> [UInt8]? {
                let p = FileSystem.join(path, name)
                return FileSystem.isFile(p) ? try readFile(p) : nil
            }
            try self.init(vocabTxt: try readFile(vt), path: vt, tokenizerConfig: try optional("tokenizer_config.json"),
                          specialTokensMap: try optional("special_tokens_map.json"))
            return
        }
        let bytes = try readFile(path)
        if FileSystem.basename(path).hasSuffix(".txt") {
            try self.init(vocabTxt: bytes, path: path, tokenizerConfig: nil, specialTokensMap: nil)
        } else {
            try self.init(tokenizerJSON: bytes, path: path)
        }
    }

    /// Loads the tokenizer carried by a checkpoint (its `files`, e.g. from a
    /// model directory or a ckpt-hdf5 store's `/files`): tokenizer.json when
    /// present, else vocab.txt with the BERT configs.
    ///
    /// - Throws: `TokenizerError.missing` when neither file is there.
    public init(files: [(name: String, bytes: [UInt8])], path: String) throws {
        func file(_ name: String) -> [UInt8]? { files.first { $0.name == name }?.bytes }
        if let tj = file("tokenizer.json") {
            try self.init(tokenizerJSON: tj, path: FileSystem.join(path, "tokenizer.json"))
        } else if let vt = file("vocab.txt") {
            try self.init(vocabTxt: vt, path: FileSystem.join(path, "vocab.txt"), tokenizerConfig: file("tokenizer_config.json"),
                          specialTokensMap: file("special_tokens_map.json"))
        } else {
            throw TokenizerError.missing(path: path)
        }
    }

    /// Loads tokenizer.json bytes.
    public init(tokenizerJSON bytes: [UInt8], path: String) throws {
        try self.init(tokenizerJSON: bytes, path: path, readingVocabularyApart: true)
    }

    /// `readingVocabularyApart: false` parses the whole file with json-c (the
    /// tests compare both ways).
    init(tokenizerJSON bytes: [UInt8], path: String, readingVocabularyApart: Bool) throws {
        var json: JSONValue
        // The vocabulary, most of the file, is read on its own; json-c parses
        // the rest (see VocabularyReader).
        var vocabulary = readingVocabularyApart ? VocabularyReader.split(bytes) : nil
        do {
            json = try JSONParser.parse(vocabulary?.document ?? bytes, path: path)
            if vocabulary != nil && json["model"]?["vocab"]?.object?.count != 0 {
                vocabulary = nil
                json = try JSONParser.parse(bytes, path: path)
            }
        } catch let e as JSONError {
            throw TokenizerError.invalid(path: path, reason: e.reason)
        }
        guard let modelJSON = json["model"], modelJSON.object != nil else {
            throw TokenizerError.invalid(path: path, reason: "missing \"model\"")
        }
        let model = try Tokenizer.loadModel(modelJSON, vocabulary: vocabulary.map { ($0.entries, $0.ids) }, path: path)
        let normalizer = try json["normalizer"].flatMap { $0.isNull ? nil : try Normalizer.load($0, path: path) }
        let pre = try json["pre_tokenizer"].flatMap { $0.isNull ? nil : try PreTokenizer.load($0, path: path) }

        var added: [AddedToken] = []
        for t in json["added_tokens"]?.array ?? [] {
            guard let id = t["id"]?.int, let content = t["content"]?.string else {
                throw TokenizerError.invalid(path: path, reason: "added token \(t.serialized()) lacks \"id\" or \"content\"")
            }
            guard id >= 0 && id < 1 << 24 else {
                throw TokenizerError.invalid(path: path, reason: "added token \(JSONValue.string(content).serialized()) has id \(id), not a valid id")
            }
            let special = t["special"]?.bool ?? false
            added.append(AddedToken(id: id, content: content, special: special,
                                    singleWord: t["single_word"]?.bool ?? false, lstrip: t["lstrip"]?.bool ?? false,
                                    rstrip: t["rstrip"]?.bool ?? false, normalized: t["normalized"]?.bool ?? !special))
        }
        let addedByContent = Dictionary(added.map { ($0.content, $0.id) }, uniquingKeysWith: { a, _ in a })
        let idOf: (String) -> Int? = { addedByContent[$0] ?? model.id(of: $0) }
        let post = try json["post_processor"].flatMap { $0.isNull ? nil : try PostProcessor.load($0, path: path, idOf: idOf) }
        let decoder = try json["decoder"].flatMap { $0.isNull ? nil : try Decoder.load($0, path: path) } ?? .none
        self.init(normalizer: normalizer, preTokenizer: pre, model: model, postProcessor: post, decoder: decoder, added: added)
    }

    /// Loads a BERT vocab.txt with transformers' BertTokenizer settings.
    public init(vocabTxt bytes: [UInt8], path: String, tokenizerConfig: [UInt8]?, specialTokensMap: [UInt8]?) throws {
        let entries = VocabFile.parse(bytes).enumerated().map { ($0.element, $0.offset) }
        let dir = FileSystem.dirname(path)
        var config = JSONObject()
        for (name, b) in [("tokenizer_config.json", tokenizerConfig), ("special_tokens_map.json", specialTokensMap)] {
            guard let b else { continue }
            let p = FileSystem.join(dir, name)
            guard let o = (try JSONParser.parse(b, path: p)).object else {
                throw TokenizerError.invalid(path: p, reason: "expected a JSON object")
            }
            for (k, v) in o { config[k] = v }
        }
        func token(_ role: String, _ fallback: String) -> String {
            config[role]?.string ?? config[role]?["content"]?.string ?? fallback
        }
        let lower = config["do_lower_case"]?.bool ?? true
        let unk = token("unk_token", "[UNK]")
        let model = Model.wordPiece(try WordPiece(entries: entries, unkToken: unk, prefix: "##", maxInputChars: 100, path: path))
        let id = model.id(of:)
        let normalizer = Normalizer.bert(cleanText: true, chineseChars: config["tokenize_chinese_chars"]?.bool ?? true,
                                         stripAccents: config["strip_accents"]?.bool, lowercase: lower)
        var added: [AddedToken] = []
        for (role, fallback) in [("pad_token", "[PAD]"), ("unk_token", "[UNK]"), ("cls_token", "[CLS]"),
                                 ("sep_token", "[SEP]"), ("mask_token", "[MASK]")] {
            let t = token(role, fallback)
            guard let id = id(t) else {
                if config[role] == nil { continue }
                throw TokenizerError.invalid(path: path, reason: "\(role) \(JSONValue.string(t).serialized()) is not in the vocabulary")
            }
            if !added.contains(where: { $0.id == id }) {
                added.append(AddedToken(id: id, content: t, special: true, singleWord: false, lstrip: false, rstrip: false, normalized: false))
            }
        }
        let cls = token("cls_token", "[CLS]"), sep = token("sep_token", "[SEP]")
        guard let clsID = id(cls), let sepID = id(sep) else {
            throw TokenizerError.invalid(path: path, reason: "the vocabulary lacks \(cls) or \(sep)")
        }
        let c = TemplatePiece.special(ids: [clsID], tokens: [cls], typeID: 0)
        let post = PostProcessor(single: [c, .sequence(index: 0, typeID: 0), .special(ids: [sepID], tokens: [sep], typeID: 0)],
                                 pair: [c, .sequence(index: 0, typeID: 0), .special(ids: [sepID], tokens: [sep], typeID: 0),
                                        .sequence(index: 1, typeID: 1), .special(ids: [sepID], tokens: [sep], typeID: 1)],
                                 trimOffsets: false, addPrefixSpace: false)
        self.init(normalizer: normalizer, preTokenizer: .bert, model: model, postProcessor: post,
                  decoder: .wordPiece(prefix: "##", cleanup: true), added: added)
    }

    static func loadModel(_ json: JSONValue, vocabulary: (entries: [(String, Int)], ids: [ExactString: Int])? = nil,
                          path: String) throws -> Model {
        let type = json["type"]?.string ?? (json["merges"] != nil ? "BPE" : "WordPiece")
        if type == "Unigram" { return .unigram(try loadUnigram(json, path: path)) }
        guard let vocabObj = json["vocab"]?.object else {
            throw TokenizerError.invalid(path: path, reason: "\(type) model without a \"vocab\" object")
        }
        var entries: [(String, Int)] = vocabulary?.entries ?? []
        if vocabulary == nil {
            entries.reserveCapacity(vocabObj.count)
            for (t, v) in vocabObj { entries.append((t, v.int ?? -1)) }
        }
        for (t, id) in entries where !(id >= 0 && id < 1 << 24) {
            throw TokenizerError.invalid(path: path, reason: "vocab id of \(JSONValue.string(t).serialized()) is not a valid id")
        }
        switch type {
        case "WordPiece":
            return .wordPiece(try WordPiece(entries: entries, ids: vocabulary?.ids, unkToken: json["unk_token"]?.string ?? "[UNK]",
                                            prefix: json["continuing_subword_prefix"]?.string ?? "##",
                                            maxInputChars: json["max_input_chars_per_word"]?.int ?? 100, path: path))
        case "BPE":
            if let s = json["continuing_subword_prefix"]?.string, !s.isEmpty {
                throw TokenizerError.unsupported(path: path, what: "BPE continuing_subword_prefix")
            }
            if let s = json["end_of_word_suffix"]?.string, !s.isEmpty {
                throw TokenizerError.unsupported(path: path, what: "BPE end_of_word_suffix")
            }
            if json["byte_fallback"]?.bool == true { throw TokenizerError.unsupported(path: path, what: "BPE byte_fallback") }
            if json["ignore_merges"]?.bool == true { throw TokenizerError.unsupported(path: path, what: "BPE ignore_merges") }
            if let d = json["dropout"]?.double, d > 0 { throw TokenizerError.unsupported(path: path, what: "BPE dropout") }
            var merges: [(String, String)] = []
            for m in json["merges"]?.array ?? [] {
                if let s = m.string {
                    let parts = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                    guard parts.count == 2 else { throw TokenizerError.invalid(path: path, reason: "merge \"\(s)\" is not two tokens") }
                    merges.append((parts[0], parts[1]))
                } else if let a = m.array, a.count == 2, let x = a[0].string, let y = a[1].string {
                    merges.append((x, y))
                } else {
                    throw TokenizerError.invalid(path: path, reason: "merge \(m.serialized()) is not two tokens")
                }
            }
            var vocab: [String: Int] = [:]
            vocab.reserveCapacity(entries.count)
            for (t, i) in entries where vocab[t] == nil { vocab[t] = i }
            return .bpe(try BPE(vocab: vocab, merges: merges, unkToken: json["unk_token"]?.string, path: path))
        default:
            throw TokenizerError.unsupported(path: path, what: "model \"\(type)\"")
        }
    }

    /// A Unigram model: `vocab` is a list of [piece, score].
    static func loadUnigram(_ json: JSONValue, path: String) throws -> Unigram {
        guard let list = json["vocab"]?.array else {
            throw TokenizerError.invalid(path: path, reason: "Unigram model without a \"vocab\" list")
        }
        var pieces: [(String, Double)] = []
        pieces.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            guard let pair = item.array, pair.count == 2, let piece = pair[0].string, let score = pair[1].double else {
                throw TokenizerError.invalid(path: path, reason: "Unigram vocab entry \(i) is not [piece, score]")
            }
            pieces.append((piece, score))
        }
        var unk: Int? = nil
        if let u = json["unk_id"], !u.isNull {
            guard let id = u.int else { throw TokenizerError.invalid(path: path, reason: "Unigram unk_id \(u.serialized()) is not an id") }
            unk = id
        }
        if let a = json["alpha"]?.double, a != 0 { throw TokenizerError.unsupported(path: path, what: "Unigram sampling (alpha)") }
        return try Unigram(pieces: pieces, unkID: unk, byteFallback: json["byte_fallback"]?.bool ?? false, path: path)
    }
}
