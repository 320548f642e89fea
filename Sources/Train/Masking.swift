// Masked-LM masking with transformers' 80/10/10 rule
// (DataCollatorForLanguageModeling): each non-special token is chosen with
// probability p; a chosen token becomes the mask token (80 %), a random token
// (10 %) or stays (10 %), and only chosen tokens carry a label.

import Model

/// How tokens are chosen and replaced.
public struct MaskingRule: Sendable, Equatable {
    /// The chance that a (non-special) token is chosen.
    public var probability: Double
    /// The id of the mask token.
    public var maskID: Int
    /// Random replacements are drawn from `0..<vocabSize`.
    public var vocabSize: Int
    /// Ids that are never chosen ([CLS], [SEP], [PAD], …).
    public var specialIDs: Set<Int>

    public init(probability: Double, maskID: Int, vocabSize: Int, specialIDs: Set<Int>) {
        self.probability = probability
        self.maskID = maskID
        self.vocabSize = vocabSize
        self.specialIDs = specialIDs
    }

    /// Masks one sequence: the model's inputs and the labels (the original id
    /// where chosen, `TrainingBatch.ignoreIndex` elsewhere).
    public func apply(_ ids: [Int], rng: inout SplitMix64) -> (inputs: [Int], labels: [Int]) {
        var inputs = ids
        var labels = [Int](repeating: TrainingBatch.ignoreIndex, count: ids.count)
        for (i, id) in ids.enumerated() where !specialIDs.contains(id) {
            guard uniform(&rng) < probability else { continue }
            labels[i] = id
            if uniform(&rng) < 0.8 {
                inputs[i] = maskID
            } else if uniform(&rng) < 0.5 {
                inputs[i] = Int(rng.next() % UInt64(vocabSize))
            }
        }
        return (inputs, labels)
    }

    /// Whole-word masking, as transformers' `DataCollatorForWholeWordMask`:
    /// words (a token plus the `##` continuations after it, as
    /// `continuation` says) are taken in a random order until about
    /// `probability` of the sequence's tokens are chosen (at least one word),
    /// and the 80/10/10 rule then applies to each chosen token.
    public func applyWholeWord(_ ids: [Int], continuation: (Int) -> Bool, rng: inout SplitMix64) -> (inputs: [Int], labels: [Int]) {
        var words: [[Int]] = []
        for (i, id) in ids.enumerated() where !specialIDs.contains(id) {
            if continuation(id), !words.isEmpty, let last = words[words.count - 1].last, last == i - 1 {
                words[words.count - 1].append(i)
            } else {
                words.append([i])
            }
        }
        var inputs = ids
        var labels = [Int](repeating: TrainingBatch.ignoreIndex, count: ids.count)
        guard !words.isEmpty else { return (inputs, labels) }
        for i in stride(from: words.count - 1, to: 0, by: -1) { words.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let target = max(1, Int((Double(ids.count) * probability).rounded(.toNearestOrEven)))
        var covered = 0
        for w in words where covered < target {
            if covered + w.count > target { continue }
            covered += w.count
            for i in w {
                labels[i] = ids[i]
                if uniform(&rng) < 0.8 {
                    inputs[i] = maskID
                } else if uniform(&rng) < 0.5 {
                    inputs[i] = Int(rng.next() % UInt64(vocabSize))
                }
            }
        }
        return (inputs, labels)
    }

    private func uniform(_ rng: inout SplitMix64) -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
}
