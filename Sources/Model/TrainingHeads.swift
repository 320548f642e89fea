// The heads of TrainingModel and their losses: the masked-LM head at the
// labelled tokens, and the sequence-classification heads of transformers'
// `BertForSequenceClassification` (pooler: dense → tanh on the first token,
// dropout, classifier), `DistilBertForSequenceClassification`
// (pre_classifier → ReLU on the first token, dropout, classifier) and
// `RobertaForSequenceClassification` (dropout, classifier.dense → tanh,
// dropout, classifier.out_proj).
//
// Each head's forward leaves the gradient of the encoder's output in
// `tape.dx` (N × H) when a backward follows.

import Formats

#if canImport(Glibc)
import Glibc
#endif

/// What a TrainingModel is trained for.
public enum TrainingHead: Sendable, Equatable {
    /// The masked-LM head (`BertForMaskedLM`, `DistilBertForMaskedLM`).
    case maskedLM
    /// A sequence-classification head on the first token.
    case classification(ClassificationHead)

    /// The transformers class of a model of `config` with this head
    /// (`BertForMaskedLM`, `XLMRobertaForSequenceClassification`, …).
    public func architecture(_ config: EncoderConfig) -> String {
        config.classStem + (self == .maskedLM ? "ForMaskedLM" : "ForSequenceClassification")
    }
}

/// A sequence-classification head: how many outputs and which loss.
public struct ClassificationHead: Sendable, Equatable {
    public var labels: Int
    public var loss: SequenceLoss
    public init(labels: Int, loss: SequenceLoss) { self.labels = labels; self.loss = loss }
}

/// The losses of transformers' `problem_type`s.
public enum SequenceLoss: Sendable, Equatable {
    /// `single_label_classification`: cross-entropy, with torch's class
    /// weights and label smoothing (`CrossEntropyLoss(weight, label_smoothing)`).
    case crossEntropy(classWeights: [Float]?, labelSmoothing: Float)
    /// `multi_label_classification`: binary cross-entropy with logits, per label.
    case binaryCrossEntropy
    /// `regression`: squared error.
    case meanSquaredError

    /// transformers' `problem_type` value.
    public var problemType: String {
        switch self {
        case .crossEntropy: return "single_label_classification"
        case .binaryCrossEntropy: return "multi_label_classification"
        case .meanSquaredError: return "regression"
        }
    }
}

extension Encoder {
    /// What transformers reports when this checkpoint is loaded into the
    /// model with `head`: the parameters it initialises anew ("newly
    /// initialized") and the checkpoint's tensors it does not use ("not
    /// used"; buffers such as `position_ids` are not reported), sorted.
    public func loadingReport(for head: TrainingHead) -> (missing: [String], unused: [String]) {
        var missing: [String] = []
        switch head {
        case .classification:
            let pool = config.headNames.pooler, cls = config.headNames.classifier
            if pooler == nil { missing += [pool + ".bias", pool + ".weight"] }
            if classifier == nil { missing += [cls + ".bias", cls + ".weight"] }
        case .maskedLM:
            break
        }
        var unused = unusedTensors.filter { n in !["position_ids", "token_type_ids"].contains { n.hasSuffix($0) } }
        if case .classification = head { unused += mlmTensorNames }
        return (missing.sorted(), unused.sorted())
    }
}

extension TrainingModel {
    /// What the losses of `batch` are divided by to make torch's mean
    /// reduction: the labelled tokens (masked LM); the examples' class weights
    /// (cross-entropy, 1 each without weights); examples × labels (binary
    /// cross-entropy, squared error). Sum it over the micro-batches of an
    /// optimizer step and pass its inverse as `lossScale`, so that an
    /// accumulated step equals one large batch.
    public func lossDenominator(_ batch: TrainingBatch) -> Double {
        switch head {
        case .maskedLM: return Double(batch.labelledCount)
        case let .classification(c):
            switch c.loss {
            case let .crossEntropy(weights, _):
                guard let weights else { return Double(batch.classLabels.count) }
                return batch.classLabels.reduce(0.0) { $0 + Double(weights[$1]) }
            case .binaryCrossEntropy, .meanSquaredError:
                return Double(batch.sequences.count * c.labels)
            }
        }
    }

    // MARK: - Masked LM

    /// The MLM head at the labelled rows of the encoder output `xL`: returns
    /// the summed cross-entropy; with `backwardScale`, adds the head's
    /// gradients and leaves the output's gradient in `tape.dx`.
    func maskedLMHead(_ batch: TrainingBatch, xL: UnsafeMutablePointer<Float>, backwardScale: Float?) -> Double {
        let t = tape
        let N = batch.tokenCount, H = config.hidden, V = config.vocabSize, threads = workerCount
        let eps = config.layerNormEps, act = config.headActivation
        let W = weights.baseAddress!, G = gradients.baseAddress!
        let labelled = batch.labels.indices.filter { batch.labels[$0] != TrainingBatch.ignoreIndex }
        let M = labelled.count
        if backwardScale != nil {
            t.dx.reserve(N * H).update(repeating: 0, count: N * H)
        }
        guard M > 0 else { return 0 }
        let xm = t.xm.reserve(M * H), ht = t.t.reserve(M * H), ha = t.act.reserve(M * H), z = t.z.reserve(M * H)
        for (m, n) in labelled.enumerated() { (xm + m * H).update(from: xL + n * H, count: H) }
        linear(out: ht, ldOut: H, input: xm, ldIn: H, weight: W + headW, bias: W + headB, rows: M, outFeatures: H, inFeatures: H, threads: threads, kernel: kernel)
        activation(out: ha, input: ht, count: M * H, act)
        layerNorm(out: z, mean: t.hMean.reserve(M), rstd: t.hRstd.reserve(M), input: ha,
                  weight: W + headLnW, bias: W + headLnB, rows: M, cols: H, eps: eps)
        let logits = t.logits.reserve(M * V)
        linear(out: logits, ldOut: V, input: z, ldIn: H, weight: W + decoderW, bias: W + decoderB, rows: M, outFeatures: V, inFeatures: H, threads: threads, kernel: kernel)

        // Cross-entropy; the logits become their gradient in place.
        var lossSum = 0.0
        for (m, n) in labelled.enumerated() {
            let row = logits + m * V, label = batch.labels[n]
            var mx = -Float.infinity
            for j in 0..<V where row[j] > mx { mx = row[j] }
            var sum = 0.0
            for j in 0..<V { sum += Double(expf(row[j] - mx)) }
            let lse = Double(mx) + log(sum)
            lossSum += lse - Double(row[label])
            if let g = backwardScale {
                let inv = Float(1 / sum)
                for j in 0..<V { row[j] = expf(row[j] - mx) * inv * g }
                row[label] -= g
            }
        }
        guard backwardScale != nil else { return lossSum }

        let dz = t.dxm.reserve(M * H)
        gemm(transA: true, transB: false, m: V, n: H, k: M, alpha: 1, a: logits, lda: V, b: z, ldb: H, beta: 1, c: G + decoderW, ldc: H, threads: threads, kernel: kernel)
        addColumnSums(G + decoderB, logits, rows: M, cols: V, ld: V)
        gemm(transA: false, transB: false, m: M, n: H, k: V, alpha: 1, a: logits, lda: V, b: W + decoderW, ldb: H, beta: 0, c: dz, ldc: H, threads: threads, kernel: kernel)
        layerNormBackward(dInput: dz, dOut: dz, input: ha, mean: t.hMean.pointer, rstd: t.hRstd.pointer, weight: W + headLnW,
                          dWeight: G + headLnW, dBias: G + headLnB, rows: M, cols: H)
        activationGradient(dz, input: ht, count: M * H, act)
        gemm(transA: true, transB: false, m: H, n: H, k: M, alpha: 1, a: dz, lda: H, b: xm, ldb: H, beta: 1, c: G + headW, ldc: H, threads: threads, kernel: kernel)
        addColumnSums(G + headB, dz, rows: M, cols: H, ld: H)
        let dx = t.dx.pointer
        let dxm = t.xm.pointer  // xm is no longer needed: reuse it for dxm
        gemm(transA: false, transB: false, m: M, n: H, k: H, alpha: 1, a: dz, lda: H, b: W + headW, ldb: H, beta: 0, c: dxm, ldc: H, threads: threads, kernel: kernel)
        for (m, n) in labelled.enumerated() { (dx + n * H).update(from: dxm + m * H, count: H) }
        return lossSum
    }

    // MARK: - Sequence classification

    /// The classification head on each sequence's first token: returns the
    /// summed loss and the logits (B × C); with `backwardScale`, adds the
    /// head's gradients and leaves the output's gradient in `tape.dx`.
    func classificationHead(_ batch: TrainingBatch, _ c: ClassificationHead, xL: UnsafeMutablePointer<Float>, dropout p: Float,
                            seeds: [UInt64], backwardScale: Float?) -> (loss: Double, logits: [Float]) {
        let t = tape
        let B = batch.sequences.count, N = batch.tokenCount, H = config.hidden, C = c.labels, threads = workerCount
        let W = weights.baseAddress!, G = gradients.baseAddress!
        let relu = config.kind == .distilbert, roberta = config.kind == .roberta
        // First tokens (→ dropout in RoBERTa) → dense → tanh (BERT's pooler,
        // RoBERTa's classifier.dense) or ReLU (DistilBERT's pre_classifier) →
        // dropout → classifier.
        let x0 = t.xm.reserve(B * H), pre = t.t.reserve(B * H), a = t.act.reserve(B * H)
        for (b, s) in batch.sequences.enumerated() { (x0 + b * H).update(from: xL + s.lowerBound * H, count: H) }
        let inMask: UnsafeMutablePointer<UInt8>? = roberta && p > 0 ? t.headInputMask.reserve(B * H) : nil
        if let inMask {
            for b in 0..<B {
                var rng = SplitMix64(seed: mix(seeds[b], 0x4001))
                applyDropout(x0 + b * H, mask: inMask + b * H, count: H, p: p, rng: &rng)
            }
        }
        linear(out: pre, ldOut: H, input: x0, ldIn: H, weight: W + poolW, bias: W + poolB, rows: B, outFeatures: H, inFeatures: H, threads: threads, kernel: kernel)
        for i in 0..<(B * H) { a[i] = relu ? max(0, pre[i]) : tanhf(pre[i]) }
        let z = t.z.reserve(B * H)
        z.update(from: a, count: B * H)
        let mask: UnsafeMutablePointer<UInt8>? = p > 0 ? t.headMask.reserve(B * H) : nil
        if let mask {
            for b in 0..<B {
                var rng = SplitMix64(seed: mix(seeds[b], 0x4000))
                applyDropout(z + b * H, mask: mask + b * H, count: H, p: p, rng: &rng)
            }
        }
        let logits = t.logits.reserve(B * C)
        linear(out: logits, ldOut: C, input: z, ldIn: H, weight: W + clsW, bias: W + clsB, rows: B, outFeatures: C, inFeatures: H, threads: threads, kernel: kernel)
        let out = Array(UnsafeBufferPointer(start: logits, count: B * C))
        // The loss; the logits become their gradient in place.
        let loss = sequenceLoss(c.loss, batch, logits: logits, labels: C, gradientScale: backwardScale)
        guard backwardScale != nil else { return (loss, out) }

        gemm(transA: true, transB: false, m: C, n: H, k: B, alpha: 1, a: logits, lda: C, b: z, ldb: H, beta: 1, c: G + clsW, ldc: H, threads: threads, kernel: kernel)
        addColumnSums(G + clsB, logits, rows: B, cols: C, ld: C)
        let da = t.dxm.reserve(B * H)
        gemm(transA: false, transB: false, m: B, n: H, k: C, alpha: 1, a: logits, lda: C, b: W + clsW, ldb: H, beta: 0, c: da, ldc: H, threads: threads, kernel: kernel)
        if let mask { dropoutBackward(da, da, mask: mask, count: B * H, p: p) }
        for i in 0..<(B * H) { da[i] *= relu ? (pre[i] > 0 ? 1 : 0) : 1 - a[i] * a[i] }
        gemm(transA: true, transB: false, m: H, n: H, k: B, alpha: 1, a: da, lda: H, b: x0, ldb: H, beta: 1, c: G + poolW, ldc: H, threads: threads, kernel: kernel)
        addColumnSums(G + poolB, da, rows: B, cols: H, ld: H)
        let dx = t.dx.reserve(N * H)
        dx.update(repeating: 0, count: N * H)
        let dx0 = t.xm.pointer  // x0 is no longer needed
        gemm(transA: false, transB: false, m: B, n: H, k: H, alpha: 1, a: da, lda: H, b: W + poolW, ldb: H, beta: 0, c: dx0, ldc: H, threads: threads, kernel: kernel)
        if let inMask { dropoutBackward(dx0, dx0, mask: inMask, count: B * H, p: p) }
        for (b, s) in batch.sequences.enumerated() { (dx + s.lowerBound * H).update(from: dx0 + b * H, count: H) }
        return (loss, out)
    }
}

/// The summed (unnormalised) loss of `logits` (B × C) against the batch's
/// targets; with `gradientScale`, `logits` is replaced by `scale ×` the
/// loss's gradient. Sums are in Double.
func sequenceLoss(_ loss: SequenceLoss, _ batch: TrainingBatch, logits: UnsafeMutablePointer<Float>, labels C: Int,
                  gradientScale g: Float?) -> Double {
    let B = batch.sequences.count
    var total = 0.0
    switch loss {
    case let .crossEntropy(weights, eps):
        // torch: (1 − ε)·w[y]·(−log p_y) + (ε / C)·Σ_c w[c]·(−log p_c).
        for b in 0..<B {
            let row = logits + b * C, y = batch.classLabels[b]
            var mx = -Float.infinity
            for j in 0..<C where row[j] > mx { mx = row[j] }
            var sum = 0.0
            for j in 0..<C { sum += Double(expf(row[j] - mx)) }
            let lse = Double(mx) + log(sum)
            let wy = Double(weights?[y] ?? 1)
            var smooth = 0.0, wsum = 0.0
            if eps > 0 {
                for j in 0..<C {
                    let w = Double(weights?[j] ?? 1)
                    smooth += w * (lse - Double(row[j]))
                    wsum += w
                }
            }
            total += (1 - Double(eps)) * wy * (lse - Double(row[y])) + Double(eps) / Double(C) * smooth
            if let g {
                // d/dz_j = (1 − ε)·w_y·(p_j − [j = y]) + (ε / C)·(W·p_j − w_j), W = Σ_c w_c.
                let inv = 1 / sum
                for j in 0..<C {
                    let pj = Double(expf(row[j] - mx)) * inv
                    var d = (1 - Double(eps)) * wy * (pj - (j == y ? 1 : 0))
                    if eps > 0 { d += Double(eps) / Double(C) * (wsum * pj - Double(weights?[j] ?? 1)) }
                    row[j] = Float(d) * g
                }
            }
        }
    case .binaryCrossEntropy:
        // max(z, 0) − z·y + log(1 + e^−|z|); gradient σ(z) − y.
        for i in 0..<(B * C) {
            let z = Double(logits[i]), y = Double(batch.targetValues[i])
            total += max(z, 0) - z * y + log1p(exp(-abs(z)))
            if let g { logits[i] = Float(1 / (1 + exp(-z)) - y) * g }
        }
    case .meanSquaredError:
        for i in 0..<(B * C) {
            let d = Double(logits[i]) - Double(batch.targetValues[i])
            total += d * d
            if let g { logits[i] = Float(2 * d) * g }
        }
    }
    return total
}
