// Unigram — SentencePiece's unigram language model as Hugging Face `tokenizers`
// encodes with it (models/unigram/model.rs, `encode_optimized`): the best
// segmentation of a word by the sum of its pieces' scores (log-probabilities).
//
// Exactly as the reference:
//   * positions are characters; at each one, every piece the text continues
//     with is a candidate edge (a trie over the pieces' scalars);
//   * where no single-character piece starts, one character is the unknown
//     piece, scored `min score − 10`;
//   * a candidate replaces the best path into its end only when strictly
//     better (the path seen first wins ties: starts are visited left to right);
//   * scores are added in Double;
//   * consecutive unknown characters are fused into one token, which is then
//     looked up by its text (byte fallback: `<0xXX>` pieces for its UTF-8
//     bytes when all exist, else the unknown piece).

import Formats

struct Unigram: Sendable {
    /// Pieces and scores, by id.
    let pieces: [(piece: String, score: Double)]
    /// Piece → id (a piece listed twice keeps its last id, as the reference's map).
    let vocab: [ExactString: Int]
    let unkID: Int
    let byteFallback: Bool
    let minScore: Double
    private let trie: ScalarTrie
    /// The ids of `<0x00>` … `<0xFF>` (nil where missing), when byte fallback is on.
    private let byteIDs: [Int?]?

    static let unknownPenalty = 10.0

    /// - Throws: `TokenizerError.invalid` for an empty vocabulary, a score
    ///   that is not a finite number, or an unknown piece that is missing or
    ///   outside the vocabulary (the reference fails on the first unknown
    ///   character then; ckpt refuses the file).
    init(pieces: [(String, Double)], unkID: Int?, byteFallback: Bool, path: String) throws {
        guard !pieces.isEmpty else { throw TokenizerError.invalid(path: path, reason: "the Unigram vocabulary is empty") }
        guard let unkID else {
            throw TokenizerError.invalid(path: path, reason: "the Unigram model has no unknown piece (\"unk_id\" is null)")
        }
        guard unkID >= 0 && unkID < pieces.count else {
            throw TokenizerError.invalid(path: path, reason: "Unigram unk_id \(unkID) is outside the vocabulary (\(pieces.count) pieces)")
        }
        var vocab: [ExactString: Int] = [:]
        vocab.reserveCapacity(pieces.count)
        var trie = ScalarTrie(capacity: 2 * pieces.count)
        var minScore = Double.infinity
        for (id, (piece, score)) in pieces.enumerated() {
            guard score.isFinite else {
                throw TokenizerError.invalid(path: path, reason: "Unigram piece \(id) (\(JSONValue.string(piece).serialized())) has score \(score), not a finite number")
            }
            vocab[ExactString(piece)] = id
            minScore = min(minScore, score)
        }
        // The trie maps each piece to the id its text is looked up as.
        for (piece, _) in pieces where !piece.isEmpty { trie.insert(piece.unicodeScalars, id: vocab[ExactString(piece)]!) }
        self.pieces = pieces.map { (piece: $0.0, score: $0.1) }
        self.vocab = vocab
        self.unkID = unkID
        self.byteFallback = byteFallback
        self.minScore = minScore
        self.trie = trie
        if byteFallback {
            byteIDs = (0..<256).map { vocab[ExactString(Unigram.byteToken(UInt8($0)))] }
        } else {
            byteIDs = nil
        }
    }

    static func byteToken(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)]) + ">"
    }

    /// The pieces of one word; ranges are indices of `word`.
    func tokenize(_ word: ArraySlice<Unicode.Scalar>) -> [ModelToken] {
        let n = word.count, base = word.startIndex
        guard n > 0 else { return [] }
        // best[i]: the best path covering word[..<i]: its score, where its last
        // piece starts (-1: none yet) and that piece's id.
        var score = [Double](repeating: 0, count: n + 1)
        var from = [Int](repeating: -1, count: n + 1)
        var id = [Int](repeating: 0, count: n + 1)
        let unkScore = minScore - Unigram.unknownPenalty
        for start in 0..<n {
            let here = score[start]
            var single = false
            trie.forEachPrefix(word, from: base + start) { endIndex, piece in
                let end = endIndex - base
                let candidate = pieces[piece].score + here
                if from[end] < 0 || candidate > score[end] {
                    score[end] = candidate; from[end] = start; id[end] = piece
                }
                if end == start + 1 { single = true }
            }
            if !single {
                let end = start + 1, candidate = unkScore + here
                if from[end] < 0 || candidate > score[end] {
                    score[end] = candidate; from[end] = start; id[end] = unkID
                }
            }
        }
        // Back from the end; runs of unknown pieces become one token (the
        // reference fuses by id, whatever matched).
        var spans: [(range: Range<Int>, id: Int)] = []
        var end = n
        while end > 0 {
            let start = from[end]
            if id[end] == unkID, let last = spans.last, last.id == unkID {
                spans[spans.count - 1] = (start..<last.range.upperBound, unkID)
            } else {
                spans.append((start..<end, id[end]))
            }
            end = start
        }
        var out: [ModelToken] = []
        out.reserveCapacity(spans.count)
        for (range, piece) in spans.reversed() {
            let r = (base + range.lowerBound)..<(base + range.upperBound)
            guard piece == unkID else {
                out.append(ModelToken(id: piece, value: pieces[piece].piece, range: r))
                continue
            }
            // The reference looks the fused text up: the unknown piece's own
            // text keeps its id; other text falls back to bytes or unknown.
            let text = String(String.UnicodeScalarView(word[r]))
            if let known = vocab[ExactString(text)] {
                out.append(ModelToken(id: known, value: text, range: r))
            } else if let byteIDs, text.utf8.allSatisfy({ byteIDs[Int($0)] != nil }) {
                for b in text.utf8 { out.append(ModelToken(id: byteIDs[Int(b)]!, value: Unigram.byteToken(b), range: r)) }
            } else {
                out.append(ModelToken(id: unkID, value: text, range: r))
            }
        }
        return out
    }
}
