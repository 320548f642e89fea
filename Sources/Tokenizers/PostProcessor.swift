// Post-processors: the special tokens around one text or a pair
// (TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel).

import Formats

/// One element of a template: a special token or a sequence.
enum TemplatePiece: Sendable {
    case special(ids: [Int], tokens: [String], typeID: Int)
    case sequence(index: Int, typeID: Int)  // 0 = A, 1 = B
}

/// Adds special tokens to encodings.
struct PostProcessor: Sendable {
    let single: [TemplatePiece]
    let pair: [TemplatePiece]
    /// RoBERTa's `trim_offsets`: offsets lose leading/trailing spaces.
    let trimOffsets: Bool
    let addPrefixSpace: Bool

    func process(_ a: Encoding, _ b: Encoding?) -> Encoding {
        var parts = [a]
        if let b { parts.append(b) }
        var out = Encoding()
        for piece in (b == nil ? single : pair) {
            switch piece {
            case let .special(ids, tokens, typeID):
                for (id, t) in zip(ids, tokens) {
                    out.append(id: id, token: t, offsets: (0, 0), word: nil, special: true, typeID: typeID)
                }
            case let .sequence(index, typeID):
                guard index < parts.count else { continue }
                let e = parts[index]
                for k in e.ids.indices {
                    out.append(id: e.ids[k], token: e.tokens[k], offsets: e.offsets[k], word: e.wordIDs[k],
                               special: false, typeID: typeID)
                }
            }
        }
        return out
    }

    static func load(_ json: JSONValue, path: String, idOf: (String) -> Int?) throws -> PostProcessor {
        guard let type = json["type"]?.string else {
            throw TokenizerError.invalid(path: path, reason: "post_processor without a \"type\"")
        }
        func special(_ pair: JSONValue?, _ role: String) throws -> (String, Int) {
            guard let a = pair?.array, a.count == 2, let t = a[0].string, let id = a[1].int else {
                throw TokenizerError.invalid(path: path, reason: "\(type) without a valid \"\(role)\"")
            }
            guard idOf(t) == id else {
                throw TokenizerError.invalid(path: path, reason: "\(type) \(role) token \"\(t)\" is not id \(id) in the vocabulary")
            }
            return (t, id)
        }
        switch type {
        case "BertProcessing", "RobertaProcessing":
            let (cls, clsID) = try special(json["cls"], "cls")
            let (sep, sepID) = try special(json["sep"], "sep")
            let c = TemplatePiece.special(ids: [clsID], tokens: [cls], typeID: 0)
            let s0 = TemplatePiece.special(ids: [sepID], tokens: [sep], typeID: 0)
            if type == "BertProcessing" {
                let s1 = TemplatePiece.special(ids: [sepID], tokens: [sep], typeID: 1)
                return PostProcessor(single: [c, .sequence(index: 0, typeID: 0), s0],
                                     pair: [c, .sequence(index: 0, typeID: 0), s0, .sequence(index: 1, typeID: 1), s1],
                                     trimOffsets: false, addPrefixSpace: false)
            }
            // RoBERTa: <s> A </s></s> B </s>, all type 0.
            return PostProcessor(single: [c, .sequence(index: 0, typeID: 0), s0],
                                 pair: [c, .sequence(index: 0, typeID: 0), s0, s0, .sequence(index: 1, typeID: 0), s0],
                                 trimOffsets: json["trim_offsets"]?.bool ?? true,
                                 addPrefixSpace: json["add_prefix_space"]?.bool ?? true)
        case "ByteLevel":
            // No special tokens; byte-level offsets trimmed of their spaces (as RoBERTa's).
            return PostProcessor(single: [.sequence(index: 0, typeID: 0)],
                                 pair: [.sequence(index: 0, typeID: 0), .sequence(index: 1, typeID: 1)],
                                 trimOffsets: json["trim_offsets"]?.bool ?? true,
                                 addPrefixSpace: json["add_prefix_space"]?.bool ?? true)
        case "TemplateProcessing":
            var specials: [String: (ids: [Int], tokens: [String])] = [:]
            for (name, v) in json["special_tokens"]?.object ?? JSONObject() {
                guard let ids = v["ids"]?.array?.compactMap(\.int), let toks = v["tokens"]?.array?.compactMap(\.string),
                      ids.count == toks.count else {
                    throw TokenizerError.invalid(path: path, reason: "TemplateProcessing special token \"\(name)\" is malformed")
                }
                for (t, id) in zip(toks, ids) where idOf(t) != id {
                    throw TokenizerError.invalid(path: path, reason: "TemplateProcessing token \"\(t)\" is not id \(id) in the vocabulary")
                }
                specials[name] = (ids, toks)
            }
            func template(_ key: String) throws -> [TemplatePiece] {
                guard let items = json[key]?.array else {
                    throw TokenizerError.invalid(path: path, reason: "TemplateProcessing without \"\(key)\"")
                }
                return try items.map { item in
                    if let s = item["SpecialToken"] {
                        guard let name = s["id"]?.string, let sp = specials[name] else {
                            throw TokenizerError.invalid(path: path, reason: "template uses an undeclared special token")
                        }
                        return .special(ids: sp.ids, tokens: sp.tokens, typeID: s["type_id"]?.int ?? 0)
                    }
                    if let s = item["Sequence"] {
                        return .sequence(index: s["id"]?.string == "B" ? 1 : 0, typeID: s["type_id"]?.int ?? 0)
                    }
                    throw TokenizerError.invalid(path: path, reason: "template item \(item.serialized()) is neither SpecialToken nor Sequence")
                }
            }
            return PostProcessor(single: try template("single"), pair: try template("pair"), trimOffsets: false, addPrefixSpace: false)
        default:
            throw TokenizerError.unsupported(path: path, what: "post_processor \"\(type)\"")
        }
    }
}
