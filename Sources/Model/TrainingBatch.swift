// TrainingBatch — the real tokens of a batch, packed: padding never enters a
// matrix product, and attention stays within each sequence. Token labels feed
// the masked-LM head; one class or a row of target values per sequence feeds
// a sequence-classification head.

/// One (micro-)batch for training, packed.
public struct TrainingBatch: Sendable, Equatable {
    /// Token ids, the sequences one after another.
    public private(set) var ids: [Int] = []
    /// The position of each token in its padded row (its position embedding).
    public private(set) var positions: [Int] = []
    /// Segment ids (BERT's token types), zero when not given.
    public private(set) var tokenTypes: [Int] = []
    /// The target id of each token, or `ignoreIndex` for no loss.
    public private(set) var labels: [Int] = []
    /// Where each sequence's tokens are in the packed arrays.
    public private(set) var sequences: [Range<Int>] = []
    /// Sequence-level targets: one class index per sequence (single-label
    /// classification), or `targetWidth` values per sequence (multi-label 0/1
    /// targets, regression values). Empty for masked-LM batches.
    public private(set) var classLabels: [Int] = []
    public private(set) var targetValues: [Float] = []
    public private(set) var targetWidth = 0
    /// Each sequence's dropout seed (all or none): masks then depend on the
    /// sequence, not on the batch it is in.
    public private(set) var seeds: [UInt64] = []

    /// The label of a token that takes no part in the loss (transformers' −100).
    public static let ignoreIndex = -100

    /// Tokens in the batch.
    public var tokenCount: Int { ids.count }
    /// Tokens with a label.
    public var labelledCount: Int { labels.reduce(0) { $0 + ($1 == TrainingBatch.ignoreIndex ? 0 : 1) } }

    /// An empty batch; add sequences with `append`.
    public init() {}

    /// Packs a padded `(B, T)` batch: the tokens whose attention mask is 1
    /// keep their positions in the row (as transformers' position ids do).
    ///
    /// - Throws: `ModelError.input` when the arrays do not have `B × T` entries.
    public init(inputIDs: [Int], attentionMask: [Int]?, tokenTypeIDs: [Int]?, labels: [Int], batch B: Int, length T: Int) throws {
        let n = B * T
        guard B >= 1, T >= 1, inputIDs.count == n, labels.count == n, attentionMask.map({ $0.count == n }) ?? true,
              tokenTypeIDs.map({ $0.count == n }) ?? true else {
            throw ModelError.input("a (\(B), \(T)) batch needs \(n) ids, labels, mask and token types")
        }
        for b in 0..<B {
            var ids: [Int] = [], pos: [Int] = [], types: [Int] = [], labs: [Int] = []
            for t in 0..<T where attentionMask?[b * T + t] ?? 1 != 0 {
                ids.append(inputIDs[b * T + t]); pos.append(t)
                types.append(tokenTypeIDs?[b * T + t] ?? 0); labs.append(labels[b * T + t])
            }
            append(ids: ids, labels: labs, tokenTypes: types, positions: pos)
        }
    }

    /// Adds one sequence with its class (single-label classification).
    public mutating func append(ids: [Int], tokenTypes: [Int]? = nil, classLabel: Int, seed: UInt64? = nil) {
        precondition(!ids.isEmpty && targetValues.isEmpty, "a classified sequence needs tokens, and a batch one kind of target")
        append(ids: ids, labels: [Int](repeating: TrainingBatch.ignoreIndex, count: ids.count), tokenTypes: tokenTypes, seed: seed)
        classLabels.append(classLabel)
    }

    /// Adds one sequence with its row of target values (multi-label 0/1, regression).
    public mutating func append(ids: [Int], tokenTypes: [Int]? = nil, targets: [Float], seed: UInt64? = nil) {
        precondition(!ids.isEmpty && classLabels.isEmpty && (targetWidth == 0 || targets.count == targetWidth) && !targets.isEmpty,
                     "a sequence's targets must have the batch's width")
        append(ids: ids, labels: [Int](repeating: TrainingBatch.ignoreIndex, count: ids.count), tokenTypes: tokenTypes, seed: seed)
        targetWidth = targets.count
        targetValues += targets
    }

    /// Adds one sequence. Positions default to `0..<count`, token types to 0.
    public mutating func append(ids: [Int], labels: [Int], tokenTypes: [Int]? = nil, positions: [Int]? = nil, seed: UInt64? = nil) {
        precondition(labels.count == ids.count && (tokenTypes?.count ?? ids.count) == ids.count
                     && (positions?.count ?? ids.count) == ids.count, "a sequence's arrays differ in length")
        guard !ids.isEmpty else { return }
        let start = self.ids.count
        self.ids += ids
        self.labels += labels
        self.tokenTypes += tokenTypes ?? [Int](repeating: 0, count: ids.count)
        self.positions += positions ?? Array(0..<ids.count)
        sequences.append(start..<self.ids.count)
        if let seed { seeds.append(seed) }
    }
}

/// Dropout probabilities for a training step.
public struct DropoutRates: Sendable, Equatable {
    /// After the embeddings and each sublayer.
    public var hidden: Float
    /// On the attention probabilities.
    public var attention: Float
    /// Before a classifier (`classifier_dropout` or the hidden rate in BERT,
    /// `seq_classif_dropout` in DistilBERT).
    public var classifier: Float
    public init(hidden: Float, attention: Float, classifier: Float? = nil) {
        self.hidden = hidden; self.attention = attention; self.classifier = classifier ?? hidden
    }
    /// No dropout (exact comparisons, evaluation).
    public static let none = DropoutRates(hidden: 0, attention: 0)
}
