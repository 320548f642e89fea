// The self-check of VocabResizer: the old and the new model must compute the
// same hidden states and the same logits at the copied tokens.

import Formats
import Model
import Tokenizers

extension VocabResizer {
    /// Runs the old and the new model on sequences of copied tokens (and on
    /// sample texts both tokenizers split the same way) and requires the same
    /// last hidden states and the same logits at every copied vocabulary entry
    /// (within 1e-6).
    static func selfCheck(old: Checkpoint, newPath: String, oldTok: Tokenizer, newTok: Tokenizer, sourceRow: [Int], tokCount: Int,
                          specials: Set<Int>, options: ResizeOptions, report: inout ResizeReport, destination: String) throws {
        var oldEnc: Encoder? = try Encoder(checkpoint: old)
        let oldConfig = oldEnc!.config
        let pairs = (0..<tokCount).filter { sourceRow[$0] >= 0 }.map { (new: $0, old: sourceRow[$0]) }
        // Sequences of copied tokens; when only special tokens were copied,
        // sequences of those (their rows were copied by role).
        let body = pairs.filter { !specials.contains($0.new) }
        let pool = body.isEmpty ? pairs : body
        var sequences: [(old: [Int], new: [Int])] = []
        let length = max(1, min(14, oldConfig.maxLength - 2))
        if !pool.isEmpty {
            for s in 0..<4 {
                let picks = (0..<length).map { pool[(s * 7919 + $0 * 104_729) % pool.count] }
                sequences.append((picks.map(\.old), picks.map(\.new)))
            }
        }
        for text in options.sampleTexts {
            let a = oldTok.encode(text), b = newTok.encode(text)
            guard a.tokens.map({ Array($0.unicodeScalars) }) == b.tokens.map({ Array($0.unicodeScalars) }), a.ids.count <= oldConfig.maxLength,
                  zip(b.ids, a.ids).allSatisfy({ $0 < sourceRow.count && sourceRow[$0] == $1 }) else { continue }
            sequences.append((a.ids, b.ids))
        }
        // Logits are compared at every copied entry, or at 4,096 evenly spaced
        // ones for a larger vocabulary: the decoders compute only those
        // columns (XLM-R has 250,002 rows), from the same gathered rows on
        // both sides, so the products block alike.
        let limit = 4096
        let compared = pairs.count <= limit ? pairs : (0..<limit).map { pairs[$0 * pairs.count / limit] }
        // Batches of 8 sequences, right-padded: each layer's weights are packed
        // once per batch rather than once per sequence. Only real positions are
        // compared; padding changes nothing before it.
        let groups = stride(from: 0, to: sequences.count, by: 8).map { Array(sequences[$0..<min(sequences.count, $0 + 8)]) }
        func run(_ enc: Encoder, _ group: [[Int]], columns: [Int]) throws -> (output: EncoderOutput, length: Int) {
            let T = group.map(\.count).max() ?? 1
            let pad = enc.config.padTokenID.flatMap { $0 >= 0 && $0 < enc.config.vocabSize ? $0 : nil } ?? 0
            var ids: [Int] = [], mask: [Int] = []
            for s in group {
                ids += s + [Int](repeating: pad, count: T - s.count)
                mask += [Int](repeating: 1, count: s.count) + [Int](repeating: 0, count: T - s.count)
            }
            return (try enc.forward(inputIDs: ids, attentionMask: mask, batch: group.count, length: T, logitColumns: columns), T)
        }
        // One model in memory at a time: the old outputs first.
        let H = oldConfig.hidden
        let oldOutputs = try groups.map { try run(oldEnc!, $0.map(\.old), columns: compared.map(\.old)) }
        oldEnc = nil
        let newEnc = try Encoder(checkpoint: try Checkpoint(path: newPath))
        let C = compared.count
        var worst: Float = 0, values = 0
        for (group, (a, T)) in zip(groups, oldOutputs) {
            let (b, _) = try run(newEnc, group.map(\.new), columns: compared.map(\.new))
            for (r, seq) in group.enumerated() {
                for t in 0..<seq.old.count {
                    let p = r * T + t
                    // The hidden states: same inputs, same shapes, same weights.
                    for c in 0..<H {
                        let d = abs(a.lastHiddenState[p * H + c] - b.lastHiddenState[p * H + c])
                        worst = max(worst, d.isNaN ? .infinity : d)
                        values += 1
                    }
                    // The logits, relative to the position's largest compared logit.
                    guard let la = a.logits, let lb = b.logits else { continue }
                    var scale: Float = 1
                    for k in 0..<C { scale = max(scale, abs(la[p * C + k])) }
                    for k in 0..<C {
                        let d = abs(la[p * C + k] - lb[p * C + k]) / scale
                        worst = max(worst, d.isNaN ? .infinity : d)
                        values += 1
                    }
                }
            }
        }
        report.checkedSequences = sequences.count
        report.checkedValues = values
        report.maxDifference = worst
        guard worst <= 1e-6 else {
            throw ConvertError(path: destination, reason: "self-check failed: the resized model's outputs at copied tokens differ from the original's by \(worst) (relative); nothing was written")
        }
    }
}

/// Samples rows from N(mean, 1e-9 · covariance of the old rows), as
/// transformers' mean_resizing; the plain mean when the covariance is not
/// positive definite.
struct MeanResizingSampler {
    let mean: [Double]
    let width: Int
    /// Lower-triangular Cholesky factor of 1e-9 · covariance (row-major, in
    /// Float for fast sampling), or nil.
    let factor: [Float]?

    init(_ old: [Float], rows: Int, width: Int, mean: [Double]) {
        self.mean = mean
        self.width = width
        let H = width
        var centered = [Float](repeating: 0, count: rows * H)
        for r in 0..<rows { for c in 0..<H { centered[r * H + c] = Float(Double(old[r * H + c]) - mean[c]) } }
        var cov = [Float](repeating: 0, count: H * H)
        centered.withUnsafeBufferPointer { x in
            cov.withUnsafeMutableBufferPointer { out in
                gramMatrix(out.baseAddress!, x.baseAddress!, rows: rows, cols: H)
            }
        }
        var a = cov.map { 1e-9 * Double($0) / Double(rows) }
        // Cholesky, in place (lower triangle).
        var ok = true
        for j in 0..<H where ok {
            var d = a[j * H + j]
            for k in 0..<j { d -= a[j * H + k] * a[j * H + k] }
            guard d > 0 else { ok = false; break }
            let l = d.squareRoot()
            a[j * H + j] = l
            for i in (j + 1)..<H {
                var s = a[i * H + j]
                for k in 0..<j { s -= a[i * H + k] * a[j * H + k] }
                a[i * H + j] = s / l
            }
        }
        if ok { for i in 0..<H { for k in (i + 1)..<H { a[i * H + k] = 0 } } }  // keep the lower triangle only
        factor = ok ? a.map { Float($0) } : nil
    }

    /// `count` rows, `(count, width)`: mean + z · Lᵀ with z standard normal,
    /// drawn row by row, the product through BLAS.
    func sample(count: Int, _ rng: inout SplitMix64) -> [Float] {
        var out = [Float](repeating: 0, count: count * width)
        if let L = factor {
            let z = (0..<(count * width)).map { _ in rng.nextNormal() }
            out.withUnsafeMutableBufferPointer { o in
                z.withUnsafeBufferPointer { zb in
                    L.withUnsafeBufferPointer { l in
                        matmulTransposed(o.baseAddress!, zb.baseAddress!, l.baseAddress!, m: count, n: width, k: width)
                    }
                }
            }
        }
        for r in 0..<count { for c in 0..<width { out[r * width + c] += Float(mean[c]) } }
        return out
    }
}
