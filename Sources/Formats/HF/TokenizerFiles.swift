// Tokenizer files of a model directory: what ckpt needs to know about them for
// inspection and consistency checks. Encoding lives in the tokenizers module.

/// Facts read from a model's tokenizer files.
public struct TokenizerSummary: Sendable, Equatable {
    /// The tokenizer model type from tokenizer.json (`"WordPiece"`, `"BPE"`, …),
    /// or `"WordPiece"` for a bare vocab.txt.
    public var model: String?
    /// The number of ids the tokenizer can produce (base vocabulary plus added tokens).
    public var vocabSize: Int
    /// The largest id the tokenizer can produce.
    public var maxID: Int

    /// Reads tokenizer.json when present, else vocab.txt; nil when neither is.
    ///
    /// - Throws: `JSONError` / `ConfigError` for a malformed file.
    public init?(files: [(name: String, bytes: [UInt8])], directory: String) throws {
        if let tj = files.first(where: { $0.name == "tokenizer.json" }) {
            let path = FileSystem.join(directory, "tokenizer.json")
            let json = try JSONParser.parse(tj.bytes, path: path)
            guard let model = json["model"]?.object else {
                throw ConfigError(path: path, reason: "missing \"model\" object")
            }
            var ids: Set<Int> = []
            if let vocab = model["vocab"] {
                if let obj = vocab.object {
                    for (_, v) in obj { if let i = v.int { ids.insert(i) } }
                } else if let arr = vocab.array {  // Unigram: [[piece, score], …]
                    ids.formUnion(0..<arr.count)
                }
            }
            for t in json["added_tokens"]?.array ?? [] { if let i = t["id"]?.int { ids.insert(i) } }
            self.model = model["type"]?.string
            self.vocabSize = ids.count
            self.maxID = ids.max() ?? -1
            return
        }
        if let vt = files.first(where: { $0.name == "vocab.txt" }) {
            let tokens = VocabFile.parse(vt.bytes)
            self.model = "WordPiece"
            self.vocabSize = tokens.count
            self.maxID = tokens.count - 1
            return
        }
        return nil
    }
}

/// A BERT `vocab.txt`: one token per line, the line number is the id.
public enum VocabFile {
    /// The tokens in id order. Lines end in `\n` (a trailing `\r` is dropped, as
    /// transformers' `load_vocab` strips line ends); a final empty line is not a token.
    public static func parse(_ bytes: [UInt8]) -> [String] {
        var tokens: [String] = []
        var start = 0
        for i in 0...bytes.count {
            if i == bytes.count || bytes[i] == 0x0A {
                if i == bytes.count && start == i { break }
                var end = i
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                tokens.append(String(decoding: bytes[start..<end], as: UTF8.self))
                start = i + 1
            }
        }
        return tokens
    }
}
