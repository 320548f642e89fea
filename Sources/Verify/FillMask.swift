// Fill-mask: the masked-LM prediction for each mask token of a text, as
// transformers' fill-mask pipeline reports it.

import Model
import Tokenizers

#if canImport(Glibc)
import Glibc
#endif

/// One candidate for one masked position.
public struct MaskCandidate: Sendable, Equatable {
    /// Softmax probability over the vocabulary.
    public var score: Double
    public var token: Int
    /// The token decoded on its own (`tokenizer.decode([token])`).
    public var tokenString: String
    /// The text with this token in the mask, decoded (other masks stay masks).
    public var sequence: String
}

public enum FillMask {
    /// The top-`k` candidates for every mask token in `text`, in text order.
    ///
    /// - Throws: `VerifyError` when the text has no mask token or the model has no
    ///   masked-LM head; `ModelError` for inputs the model cannot take.
    public static func predict(model: Encoder, tokenizer: Tokenizer, text: String, topK: Int) throws -> [[MaskCandidate]] {
        guard model.hasMLMHead else {
            throw VerifyError(path: "model", reason: "has no masked-LM head (a base model): nothing to predict")
        }
        guard let maskID = tokenizer.addedTokens.first(where: { $0.special && $0.content.lowercased().contains("mask") })?.id else {
            throw VerifyError(path: "tokenizer", reason: "has no mask token")
        }
        let e = tokenizer.encode(text)
        let positions = e.ids.indices.filter { e.ids[$0] == maskID }
        guard !positions.isEmpty else {
            throw VerifyError(path: "text", reason: "contains no \(tokenizer.token(of: maskID) ?? "mask") token")
        }
        // The head runs at the masks only.
        let out = try model.forward(inputIDs: e.ids, attentionMask: nil, tokenTypeIDs: e.typeIDs, batch: 1, length: e.ids.count,
                                    logitPositions: positions)
        guard let logits = out.logits else { return [] }
        let V = model.config.vocabSize
        var ranked: [[(Int, Double)]] = []
        for k in positions.indices {
            let row = Array(logits[(k * V)..<((k + 1) * V)])
            let m = Double(row.max() ?? 0)
            let z = row.reduce(0.0) { $0 + exp(Double($1) - m) }
            let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(topK)
            ranked.append(order.map { ($0, exp(Double(row[$0]) - m) / z) })
        }
        // As transformers' fill-mask: only this mask is filled; with several
        // masks the special tokens stay in the decoded sequence.
        let single = positions.count == 1
        return zip(positions, ranked).map { p, cands in
            cands.map { id, score in
                var filled = e.ids
                filled[p] = id
                return MaskCandidate(score: score, token: id, tokenString: tokenizer.decode([id]),
                                     sequence: tokenizer.decode(filled, skipSpecialTokens: single))
            }
        }
    }
}
