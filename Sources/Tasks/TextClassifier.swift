// TextClassifier — a sequence-classification checkpoint applied to texts of
// any length: a text longer than the window becomes overlapping windows
// (as `tokenizers` builds them with `return_overflowing_tokens=True, stride`),
// the windows run in batches (sorted by length, so padding stays small), and
// the windows' predictions are pooled into one per text.

import Formats
import Model
import Tokenizers

#if canImport(Glibc)
import Glibc
#endif

/// How the predictions of a text's windows become one.
public enum ChunkPooling: String, Sendable, CaseIterable {
    /// Average the logits, then softmax / sigmoid.
    case meanLogits = "mean-logits"
    /// Average the probabilities.
    case meanProbs = "mean-probs"
    /// Each label's largest probability over the windows (they need not sum to 1).
    case maxProbs = "max-probs"
}

/// The prediction for one text.
public struct Classification: Sendable {
    /// Per label: probabilities (softmax for single-label, sigmoid for
    /// multi-label), or the predicted value (regression, one entry).
    public var scores: [Double]
    /// The predicted labels: the most probable (single-label), those above
    /// 0.5 (multi-label); empty for regression.
    public var labels: [Int]
    /// How many windows the text became.
    public var windows: Int
}

/// A checkpoint with a classification head, its tokenizer and label names.
public final class TextClassifier {
    public let encoder: Encoder
    public let tokenizer: Tokenizer
    public let labels: [String]
    public let task: TaskKind
    /// Sequences per forward pass.
    public var batchSize = 16

    /// Loads a `*ForSequenceClassification` checkpoint (its config gives the
    /// labels and the problem type).
    ///
    /// - Throws: `ModelError.config` when the checkpoint has no classifier.
    public init(checkpoint: Checkpoint) throws {
        encoder = try Encoder(checkpoint: checkpoint)
        guard let head = encoder.classifier, encoder.pooler != nil else {
            throw ModelError.config(path: checkpoint.path, reason: "no sequence-classification head (classifier.weight); fine-tune one with ckpt train --task")
        }
        tokenizer = try Tokenizer(files: checkpoint.files, path: checkpoint.path)
        let config = checkpoint.config
        var names = (0..<head.labels).map { "LABEL_\($0)" }
        if let map = config?.json["id2label"]?.object {
            for (k, v) in map { if let i = Int(k), i >= 0, i < names.count, let s = v.string { names[i] = s } }
        }
        labels = names
        let problem = config?.json["problem_type"]?.string
        task = problem.flatMap(TaskKind.init(problemType:)) ?? (head.labels == 1 ? .regression : .classification)
    }

    /// The logits (C per window) of `windows`.
    public func logits(_ windows: [Encoding]) throws -> [[Float]] {
        let C = labels.count
        var out = [[Float]](repeating: [], count: windows.count)
        // Longest first within similar lengths: batches of similar length.
        let order = windows.indices.sorted { (windows[$0].ids.count, $0) < (windows[$1].ids.count, $1) }
        for start in stride(from: 0, to: order.count, by: batchSize) {
            let part = Array(order[start..<min(order.count, start + batchSize)])
            let (B, T, hidden) = try encoder.lastHiddenState(part.map { windows[$0] })
            let logits = encoder.classificationLogits(hidden: hidden, batch: B, length: T)
            for (b, w) in part.enumerated() { out[w] = Array(logits[(b * C)..<((b + 1) * C)]) }
        }
        return out
    }

    /// Classifies `texts`: with `pairs`, or with `truncate`, each text is
    /// truncated to `maxLength` tokens as in training (pairs longest first);
    /// else a text becomes windows of `maxLength` tokens overlapping by `stride`.
    ///
    /// - Throws: `TruncationError` for a stride that does not fit the window.
    public func classify(_ texts: [String], pairs: [String]? = nil, maxLength: Int, stride: Int, pooling: ChunkPooling,
                         truncate: TruncationSide? = nil) throws -> [Classification] {
        let L = min(maxLength, encoder.config.maxLength)
        var windows: [Encoding] = [], owner: [Int] = []
        for (i, text) in texts.enumerated() {
            let ws = pairs != nil || truncate != nil
                ? [tokenizer.encode(text, pair: pairs?[i], maxLength: L, keep: truncate ?? .head)]
                : try tokenizer.windows(text, maxLength: L, stride: stride)
            windows += ws
            owner += [Int](repeating: i, count: ws.count)
        }
        let all = try logits(windows)
        var grouped = [[[Float]]](repeating: [], count: texts.count)
        for (w, i) in owner.enumerated() { grouped[i].append(all[w]) }
        return grouped.map { pool($0, pooling) }
    }

    /// Pools one text's window logits.
    public func pool(_ rows: [[Float]], _ pooling: ChunkPooling) -> Classification {
        let C = labels.count, n = Double(rows.count)
        func probabilities(_ z: [Double]) -> [Double] {
            switch task {
            case .classification:
                let m = z.max() ?? 0
                let e = z.map { exp($0 - m) }
                let s = e.reduce(0, +)
                return e.map { $0 / s }
            case .multiLabel: return z.map { 1 / (1 + exp(-$0)) }
            case .regression: return z
            }
        }
        let z = rows.map { $0.map(Double.init) }
        var scores: [Double]
        switch pooling {
        case .meanLogits:
            scores = probabilities((0..<C).map { c in z.reduce(0) { $0 + $1[c] } / n })
        case .meanProbs:
            let p = z.map(probabilities)
            scores = (0..<C).map { c in p.reduce(0) { $0 + $1[c] } / n }
        case .maxProbs:
            let p = z.map(probabilities)
            scores = (0..<C).map { c in p.map { $0[c] }.max() ?? 0 }
        }
        let chosen: [Int]
        switch task {
        case .classification: chosen = [argmaxIndex(scores)]
        case .multiLabel: chosen = scores.indices.filter { scores[$0] > 0.5 }
        case .regression: chosen = []
        }
        return Classification(scores: scores, labels: chosen, windows: rows.count)
    }
}

/// The index of the largest value (the first of equals).
func argmaxIndex(_ v: [Double]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}

extension Encoder {
    /// The last hidden state `(B, T, H)` of `encodings` right-padded to the
    /// longest (attention mask 0 on the padding).
    func lastHiddenState(_ encodings: [Encoding]) throws -> (batch: Int, length: Int, hidden: [Float]) {
        let B = encodings.count, T = max(1, encodings.map(\.ids.count).max() ?? 1)
        var ids = [Int](repeating: 0, count: B * T), mask = ids, types = ids
        for (b, e) in encodings.enumerated() {
            for t in e.ids.indices { ids[b * T + t] = e.ids[t]; mask[b * T + t] = 1; types[b * T + t] = e.typeIDs[t] }
        }
        return (B, T, try forward(inputIDs: ids, attentionMask: mask, tokenTypeIDs: types, batch: B, length: T).lastHiddenState)
    }
}
