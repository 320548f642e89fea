// SentenceEmbedder — sentence embeddings as sentence-transformers computes
// them: texts stripped, truncated to the maximum length, pooled over the real
// tokens (mean, CLS, max, mean / √length, several concatenated in that
// library's order), optionally L2-normalised. A model directory with
// sentence-transformers files (modules.json, the Pooling module's
// config.json, sentence_bert_config.json — the format of all-MiniLM-L6-v2 —
// or the newer one with `pooling_mode` and the length in
// tokenizer_config.json) decides all of this itself.

import Formats
import Model
import Tokenizers

/// One pooling of token states into a sentence vector.
public enum EmbeddingPooling: String, Sendable, CaseIterable {
    case cls, mean, max
    case meanSqrtLength = "mean-sqrt-len"
}

/// How embeddings are made.
public struct EmbeddingSettings: Sendable, Equatable {
    public var pooling: [EmbeddingPooling] = [.mean]
    public var normalize = false
    /// Tokens per text, special tokens included (nil: the model's positions).
    public var maxLength: Int? = nil
    public var lowercase = false
    public init() {}

    /// The settings of a sentence-transformers directory; nil when `directory`
    /// has no modules.json.
    ///
    /// - Throws: `CorpusError` naming a file that cannot be read or a
    ///   module this reader does not support.
    public static func sentenceTransformers(_ directory: String) throws -> EmbeddingSettings? {
        let modulesPath = FileSystem.join(directory, "modules.json")
        guard FileSystem.isFile(modulesPath) else { return nil }
        let modules = try JSONParser.parse(try readFile(modulesPath), path: modulesPath)
        guard let list = modules.array else { throw CorpusError(path: modulesPath, reason: "not a list of modules") }
        var s = EmbeddingSettings()
        s.pooling = []
        for m in list {
            let type = m["type"]?.string ?? "", path = m["path"]?.string ?? ""
            let name = type.split(separator: ".").last.map(String.init) ?? type
            switch name {
            case "Transformer":
                let st = FileSystem.join(FileSystem.join(directory, path), "sentence_bert_config.json")
                if FileSystem.isFile(st) {
                    let c = try JSONParser.parse(try readFile(st), path: st)
                    s.maxLength = c["max_seq_length"]?.int ?? s.maxLength
                    s.lowercase = c["do_lower_case"]?.bool ?? false
                }
                if s.maxLength == nil {
                    let tc = FileSystem.join(FileSystem.join(directory, path), "tokenizer_config.json")
                    if FileSystem.isFile(tc), let n = try JSONParser.parse(try readFile(tc), path: tc)["model_max_length"]?.int, n < 1 << 20 {
                        s.maxLength = n
                    }
                }
            case "Pooling":
                let pc = FileSystem.join(FileSystem.join(directory, path), "config.json")
                let c = try JSONParser.parse(try readFile(pc), path: pc)
                if let mode = c["pooling_mode"] {
                    let modes = mode.array?.compactMap(\.string) ?? mode.string.map { [$0] } ?? []
                    for m in modes {
                        guard let p = EmbeddingPooling(rawValue: m == "mean_sqrt_len_tokens" || m == "mean_sqrt_len" ? "mean-sqrt-len" : m) else {
                            throw CorpusError(path: pc, reason: "pooling \"\(m)\" is not supported (cls, mean, max, mean_sqrt_len)")
                        }
                        s.pooling.append(p)
                    }
                } else {
                    // The legacy booleans, in sentence-transformers' concatenation order.
                    let flags: [(String, EmbeddingPooling)] = [("pooling_mode_cls_token", .cls), ("pooling_mode_max_tokens", .max),
                                                              ("pooling_mode_mean_tokens", .mean), ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength)]
                    for (key, p) in flags where c[key]?.bool == true { s.pooling.append(p) }
                    for key in ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"] where c[key]?.bool == true {
                        throw CorpusError(path: pc, reason: "\(key) is not supported")
                    }
                }
            case "Normalize":
                s.normalize = true
            default:
                throw CorpusError(path: modulesPath, reason: "module \(type) is not supported (Transformer, Pooling, Normalize)")
            }
        }
        if s.pooling.isEmpty { s.pooling = [.mean] }
        return s
    }
}

/// Embeds texts with an encoder.
public final class SentenceEmbedder {
    public let encoder: Encoder
    public let tokenizer: Tokenizer
    public var settings: EmbeddingSettings
    public var batchSize = 32

    public init(encoder: Encoder, tokenizer: Tokenizer, settings: EmbeddingSettings) {
        self.encoder = encoder; self.tokenizer = tokenizer; self.settings = settings
    }

    /// The embedding's width.
    public var dimension: Int { encoder.config.hidden * settings.pooling.count }

    /// One vector per text, in order. Texts are batched by length; padding
    /// does not change a text's vector (beyond float rounding).
    public func embed(_ texts: [String]) throws -> [[Float]] {
        let L = min(settings.maxLength ?? encoder.config.maxLength, encoder.config.maxLength)
        let encoded = texts.map { t -> Encoding in
            var s = t.trimmingSpaces()
            if settings.lowercase { s = s.lowercased() }
            return tokenizer.encode(s, maxLength: L, keep: .head)
        }
        let H = encoder.config.hidden
        var out = [[Float]](repeating: [], count: texts.count)
        let order = encoded.indices.sorted { (encoded[$0].ids.count, $0) < (encoded[$1].ids.count, $1) }
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let part = Array(order[start..<min(order.count, start + batchSize)])
            let (_, T, h) = try encoder.lastHiddenState(part.map { encoded[$0] })
            for (b, i) in part.enumerated() {
                let n = encoded[i].ids.count
                var v: [Float] = []
                for p in settings.pooling {
                    var acc = [Double](repeating: p == .max ? -.infinity : 0, count: H)
                    switch p {
                    case .cls:
                        for c in 0..<H { acc[c] = Double(h[(b * T) * H + c]) }
                    case .max:
                        for t in 0..<n { for c in 0..<H { acc[c] = max(acc[c], Double(h[(b * T + t) * H + c])) } }
                    case .mean, .meanSqrtLength:
                        for t in 0..<n { for c in 0..<H { acc[c] += Double(h[(b * T + t) * H + c]) } }
                        let d = p == .mean ? Swift.max(Double(n), 1e-9) : Swift.max(Double(n), 1e-9).squareRoot()
                        for c in 0..<H { acc[c] /= d }
                    }
                    v += acc.map { Float($0) }
                }
                if settings.normalize {
                    let norm = Swift.max(v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-12)
                    v = v.map { Float(Double($0) / norm) }
                }
                out[i] = v
            }
        }
        return out
    }
}
