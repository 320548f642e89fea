// Tokenizer files of a model directory: what ckpt needs to know about them for
// inspection and consistency checks. Encoding lives in the tokenizers module.

/// A special-token role, named as transformers names the attribute.
public enum SpecialTokenRole: String, Sendable, CaseIterable {
    case cls = "cls_token"
    case sep = "sep_token"
    case pad = "pad_token"
    case unk = "unk_token"
    case mask = "mask_token"
    case bos = "bos_token"
    case eos = "eos_token"
}

/// Facts read from a model's tokenizer files: `tokenizer.json` (or `vocab.txt`),
/// `tokenizer_config.json` and `special_tokens_map.json`.
public struct TokenizerSummary: Sendable, Equatable {
    /// The tokenizer model type from tokenizer.json (`"WordPiece"`, `"BPE"`, …),
    /// or `"WordPiece"` for a bare vocab.txt.
    public var model: String?
    /// The number of ids the tokenizer can produce (base vocabulary plus added tokens).
    public var vocabSize: Int
    /// The largest id the tokenizer can produce.
    public var maxID: Int
    /// Special tokens by role. `special_tokens_map.json` wins over
    /// `tokenizer_config.json`, as transformers loads it last.
    public var specialTokens: [SpecialTokenRole: String]
    /// `do_lower_case` (tokenizer_config.json), or the normalizer's `lowercase`.
    public var lowercase: Bool?
    /// `model_max_length` (tokenizer_config.json).
    public var modelMaxLength: Int?
    /// Special tokens whose text is not in the vocabulary.
    public var missingSpecialTokens: [String]

    /// Reads the tokenizer files among `files`; nil when there is neither
    /// tokenizer.json nor vocab.txt.
    ///
    /// - Throws: `JSONError` / `ConfigError` naming the malformed file.
    public init?(files: [(name: String, bytes: [UInt8])], directory: String) throws {
        func file(_ name: String) -> (path: String, bytes: [UInt8])? {
            files.first { $0.name == name }.map { (FileSystem.join(directory, name), $0.bytes) }
        }
        var vocabulary: Set<String> = []
        if let tj = file("tokenizer.json") {
            let json = try JSONParser.parse(tj.bytes, path: tj.path)
            guard let model = json["model"]?.object else {
                throw ConfigError(path: tj.path, reason: "missing \"model\" object")
            }
            var ids: Set<Int> = []
            if let vocab = model["vocab"] {
                if let obj = vocab.object {
                    for (token, v) in obj {
                        guard let i = v.int, i >= 0 else {
                            throw ConfigError(path: tj.path, reason: "vocab id of \(JSONValue.string(token).serialized()) is not a non-negative integer")
                        }
                        ids.insert(i)
                        vocabulary.insert(token)
                    }
                } else if let arr = vocab.array {  // Unigram: [[piece, score], …]
                    ids.formUnion(0..<arr.count)
                    for entry in arr { if let piece = entry.array?.first?.string { vocabulary.insert(piece) } }
                }
            }
            for t in json["added_tokens"]?.array ?? [] {
                if let i = t["id"]?.int { ids.insert(i) }
                if let c = t["content"]?.string { vocabulary.insert(c) }
            }
            self.model = model["type"]?.string
            self.vocabSize = ids.count
            self.maxID = ids.max() ?? -1
            self.lowercase = json["normalizer"]?["lowercase"]?.bool
        } else if let vt = file("vocab.txt") {
            let tokens = VocabFile.parse(vt.bytes)
            vocabulary = Set(tokens)
            self.model = "WordPiece"
            self.vocabSize = tokens.count
            self.maxID = tokens.count - 1
            self.lowercase = nil
        } else {
            return nil
        }
        self.specialTokens = [:]
        self.modelMaxLength = nil
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            guard let f = file(name) else { continue }
            let json = try JSONParser.parse(f.bytes, path: f.path)
            guard let obj = json.object else {
                throw ConfigError(path: f.path, reason: "expected a JSON object, found \(json.kindName)")
            }
            for role in SpecialTokenRole.allCases {
                // A token is a string or an AddedToken object with "content".
                if let text = obj[role.rawValue]?.string ?? obj[role.rawValue]?["content"]?.string {
                    specialTokens[role] = text
                }
            }
            if let lower = obj["do_lower_case"]?.bool { lowercase = lower }
            if let n = obj["model_max_length"]?.int { modelMaxLength = n }
        }
        let specials = specialTokens
        self.missingSpecialTokens = SpecialTokenRole.allCases.compactMap { specials[$0] }
            .filter { !vocabulary.contains($0) }
    }
}

/// A BERT `vocab.txt`: one token per line, the line number is the id.
public enum VocabFile {
    /// The tokens in id order (see `textLines`).
    public static func parse(_ bytes: [UInt8]) -> [String] { textLines(bytes) }
}

/// The lines of a UTF-8 text without their ends: `\n` separates lines, a `\r`
/// before it is dropped (as Python's universal newlines and transformers'
/// `load_vocab` strip it), and a final empty line is not a line.
public func textLines(_ bytes: [UInt8]) -> [String] {
    lineRanges(bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
}

/// Where the lines of `textLines` are in `bytes` (line ends excluded).
public func lineRanges(_ bytes: [UInt8]) -> [Range<Int>] {
    var lines: [Range<Int>] = []
    var start = 0
    for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
        if i == bytes.count && start == i { break }
        var end = i
        if end > start && bytes[end - 1] == 0x0D { end -= 1 }
        lines.append(start..<end)
        start = i + 1
    }
    return lines
}

/// The files a Hugging Face tokenizer directory may hold.
public let tokenizerFileNames = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                                 "added_tokens.json", "vocab.json", "merges.txt"]

/// The tokenizer files present in `directory`, in `tokenizerFileNames` order.
///
/// - Throws: `FileError` for a file that cannot be read.
public func readTokenizerFiles(in directory: String) throws -> [(name: String, bytes: [UInt8])] {
    try tokenizerFileNames.filter { FileSystem.isFile(FileSystem.join(directory, $0)) }
        .map { ($0, try readFile(FileSystem.join(directory, $0), limit: 1 << 28)) }
}
