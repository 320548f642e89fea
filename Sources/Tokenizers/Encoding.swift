// Encoding — what tokenizing one text (or a pair) produces.

/// The result of encoding a text, field for field as Hugging Face `tokenizers`
/// reports it.
public struct Encoding: Sendable, Equatable {
    /// Token ids.
    public var ids: [Int] = []
    /// Token strings.
    public var tokens: [String] = []
    /// Each token's `[start, end)` in the original text, in Unicode scalars
    /// (Python's character offsets); `(0, 0)` for special tokens.
    public var offsets: [(Int, Int)] = []
    /// The word each token came from; nil for special tokens.
    public var wordIDs: [Int?] = []
    /// 1 for special tokens added by the post-processor, else 0.
    public var specialTokensMask: [Int] = []
    /// Segment ids (0 for the first text, 1 for the second of a pair).
    public var typeIDs: [Int] = []
    /// 1 for every token (padding is not applied here).
    public var attentionMask: [Int] { Array(repeating: 1, count: ids.count) }

    public init() {}

    mutating func append(id: Int, token: String, offsets o: (Int, Int), word: Int?, special: Bool, typeID: Int) {
        ids.append(id)
        tokens.append(token)
        offsets.append(o)
        wordIDs.append(word)
        specialTokensMask.append(special ? 1 : 0)
        typeIDs.append(typeID)
    }

    public static func == (a: Encoding, b: Encoding) -> Bool {
        a.ids == b.ids && a.tokens == b.tokens && a.wordIDs == b.wordIDs && a.specialTokensMask == b.specialTokensMask
            && a.typeIDs == b.typeIDs && a.offsets.map { [$0.0, $0.1] } == b.offsets.map { [$0.0, $0.1] }
    }
}
