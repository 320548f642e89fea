// TokenizerTrim — the tokenizer files of a vocabulary reduced to some of its
// ids (ckpt trim-vocab): the kept pieces keep their order and get ids 0, 1, …;
// every place a file names an id follows (the model's unknown piece, added
// tokens, the post-processor's special tokens, tokenizer_config.json's
// added_tokens_decoder, vocab.txt).

import Formats

extension Tokenizer {
    /// Ids a trimmed vocabulary must keep whatever a corpus uses: Unigram's
    /// byte-fallback pieces and its lowest-scoring piece (the unknown
    /// piece's score is relative to it).
    public var structuralIDs: Set<Int> {
        guard case let .unigram(m) = model else { return [] }
        var ids = Set<Int>()
        if m.byteFallback {
            for b in 0..<256 { if let id = m.vocab[ExactString(Unigram.byteToken(UInt8(b)))] { ids.insert(id) } }
        }
        if let low = m.pieces.indices.min(by: { m.pieces[$0].score < m.pieces[$1].score }) { ids.insert(low) }
        return ids
    }
}

public struct TokenizerTrim {
    let files: [(name: String, bytes: [UInt8])]
    let path: String
    /// tokenizer.json, parsed once.
    let json: JSONObject

    /// Reads the tokenizer files of a model (`files`, from `path`).
    ///
    /// - Throws: `TokenizerError` when tokenizer.json is missing or not a JSON object.
    public init(files: [(name: String, bytes: [UInt8])], path: String) throws {
        guard let tj = files.first(where: { $0.name == "tokenizer.json" }) else { throw TokenizerError.missing(path: path) }
        let tjPath = FileSystem.join(path, "tokenizer.json")
        guard let json = try JSONParser.parse(tj.bytes, path: tjPath).object else {
            throw TokenizerError.invalid(path: tjPath, reason: "expected a JSON object")
        }
        self.files = files
        self.path = path
        self.json = json
    }

    /// A post-processor with each special-token id (Template's `ids`, Bert's
    /// and Roberta's `cls`/`sep` pairs, inside Sequence's processors too)
    /// replaced by `f`.
    static func mapSpecialIDs(_ v: JSONValue, _ f: (Int) throws -> Int) rethrows -> JSONValue {
        switch v {
        case let .object(o):
            var out = JSONObject()
            for (k, x) in o {
                if k == "ids", let a = x.array {
                    out[k] = .array(try a.map { v in try v.int.map { .number(JSONNumber(try f($0))) } ?? v })
                } else if k == "cls" || k == "sep", let a = x.array, a.count == 2, let id = a[1].int {
                    out[k] = .array([a[0], .number(JSONNumber(try f(id)))])
                } else {
                    out[k] = try mapSpecialIDs(x, f)
                }
            }
            return .object(out)
        case let .array(a): return .array(try a.map { try mapSpecialIDs($0, f) })
        default: return v
        }
    }

    /// The ids tokenizer.json names outside its model: the post-processor's
    /// special tokens and `padding.pad_id` (a trim must keep them).
    public var referencedIDs: Set<Int> {
        var ids = Set<Int>()
        if let post = json["post_processor"] { _ = TokenizerTrim.mapSpecialIDs(post) { ids.insert($0); return $0 } }
        if let pad = json["padding"]?["pad_id"]?.int { ids.insert(pad) }
        return ids
    }

    /// The tokenizer files rewritten for the ids `kept` (ascending); other
    /// tokenizer files (a SentencePiece `.model`, which would describe the old
    /// vocabulary) are left out.
    ///
    /// - Throws: `TokenizerError` when tokenizer.json is not a Unigram or
    ///   WordPiece model, or names an id that is not kept.
    public func files(kept: [Int]) throws -> [(name: String, bytes: [UInt8])] {
        var newID: [Int: Int] = [:]
        for (i, id) in kept.enumerated() { newID[id] = i }
        let tjPath = FileSystem.join(path, "tokenizer.json")
        var json = self.json
        guard var model = json["model"]?.object else {
            throw TokenizerError.invalid(path: tjPath, reason: "missing \"model\"")
        }
        var tokens: [String] = []
        switch model["type"]?.string {
        case "Unigram"?:
            let vocab = model["vocab"]?.array ?? []
            let list = kept.filter { $0 < vocab.count }.map { vocab[$0] }
            tokens = list.map { $0.array?.first?.string ?? "" }
            model["vocab"] = .array(list)
            if let u = model["unk_id"]?.int { model["unk_id"] = .number(JSONNumber(try remap(u))) }
        case "WordPiece"?:
            var byID: [Int: String] = [:]
            for (t, v) in model["vocab"]?.object ?? JSONObject() { if let id = v.int, newID[id] != nil { byID[newID[id]!] = t } }
            let ordered = byID.keys.sorted()
            tokens = ordered.map { byID[$0]! }
            model["vocab"] = .object(JSONObject(ordered.map { (byID[$0]!, .number(JSONNumber($0))) }))
        case let other:
            throw TokenizerError.unsupported(path: tjPath, what: "trimming a \(other ?? "untyped") model")
        }
        json["model"] = .object(model)
        func remap(_ id: Int) throws -> Int {
            guard let n = newID[id] else { throw TokenizerError.invalid(path: tjPath, reason: "id \(id) is named but not kept") }
            return n
        }
        if let added = json["added_tokens"]?.array {
            json["added_tokens"] = .array(try added.map { t in
                guard var o = t.object, let id = o["id"]?.int else { return t }
                o["id"] = .number(JSONNumber(try remap(id)))
                return .object(o)
            })
        }
        if let post = json["post_processor"] { json["post_processor"] = try TokenizerTrim.mapSpecialIDs(post, remap) }
        if var padding = json["padding"]?.object, let id = padding["pad_id"]?.int {
            padding["pad_id"] = .number(JSONNumber(try remap(id)))
            json["padding"] = .object(padding)
        }

        var out: [(name: String, bytes: [UInt8])] = [("tokenizer.json", Array(JSONValue.object(json).serialized(indent: 2).utf8))]
        for f in files where f.name == "tokenizer_config.json" {
            let p = FileSystem.join(path, f.name)
            guard var config = try JSONParser.parse(f.bytes, path: p).object else { continue }
            if let decoder = config["added_tokens_decoder"]?.object {
                config["added_tokens_decoder"] = .object(JSONObject(try decoder.map { k, v in (try Int(k).map { String(try remap($0)) } ?? k, v) }))
            }
            out.append((f.name, Array(JSONValue.object(config).serialized(indent: 2).utf8)))
        }
        for f in files where f.name == "special_tokens_map.json" { out.append(f) }
        if files.contains(where: { $0.name == "vocab.txt" }) {
            out.append(("vocab.txt", Array((tokens.joined(separator: "\n") + "\n").utf8)))
        }
        return out
    }
}
