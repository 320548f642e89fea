// The body of TrainingModel — embeddings and encoder layers — forward (keeping
// what the backward needs on the tape) and backward, shared by every head.

import Dispatch
import Formats

#if canImport(Glibc)
import Glibc
#endif

extension TrainingModel {
    /// What the backward of the body needs besides the tape.
    struct BodyPass {
        let attnOffsets: [Int]
        let maxLen: Int
        let workers: Int
        let dropout: DropoutRates
    }

    /// Embeddings and layers over `batch`, keeping what the backward needs;
    /// the output is in `tape.xs[config.layers]`. BLAS must be single-threaded.
    func forwardBody(_ batch: TrainingBatch, dropout: DropoutRates, seeds: [UInt64]) -> BodyPass {
        let N = batch.tokenCount
        let H = config.hidden, I = config.intermediate
        let nh = config.heads, hd = H / nh, L = config.layers
        // BERT and RoBERTa: token types, and dropout after the attention output.
        let bert = config.kind != .distilbert, hasTypes = config.hasTokenTypes
        let eps = config.layerNormEps, act = config.activation
        let threads = workerCount
        let W = weights.baseAddress!
        let dropHidden = dropout.hidden, dropAttention = dropout.attention

        // Attention probabilities: nh L² floats per sequence.
        var attnOffsets: [Int] = []
        var attnTotal = 0, maxLen = 0
        for s in batch.sequences {
            attnOffsets.append(attnTotal)
            attnTotal += nh * s.count * s.count
            maxLen = max(maxLen, s.count)
        }

        let t = tape
        while t.xs.count < L + 1 { t.xs.append(Scratch()) }
        while t.layers.count < L { t.layers.append(LayerTape()) }

        // Embeddings: word (+ token type) + position, layer norm, dropout.
        let e = t.emb.reserve(N * H)
        let positionRows = self.positionRows(batch)
        for n in 0..<N {
            let row = e + n * H
            let w = W + word + batch.ids[n] * H, p = W + position + positionRows[n] * H
            if hasTypes {
                let ty = W + tokenType + batch.tokenTypes[n] * H
                for c in 0..<H { row[c] = (w[c] + ty[c]) + p[c] }
            } else {
                for c in 0..<H { row[c] = w[c] + p[c] }
            }
        }
        let x0 = t.xs[0].reserve(N * H)
        layerNorm(out: x0, mean: t.embMean.reserve(N), rstd: t.embRstd.reserve(N), input: e,
                  weight: W + embLnW, bias: W + embLnB, rows: N, cols: H, eps: eps)
        if dropHidden > 0 { sequenceDropout(x0, mask: t.embMask.reserve(N * H), width: H, p: dropHidden, batch, seeds, site: 1) }

        let scale = 1 / Float(hd).squareRoot()
        let workers = max(1, min(batch.sequences.count * nh, threads))
        let workerA = t.workerA.reserve(workers * maxLen * maxLen)
        t.workerB.reserve(workers * maxLen * maxLen)  // the backward's
        let tmp = t.tmp.reserve(N * H), inter = t.inter.reserve(N * I)

        for l in 0..<L {
            let o = layerOffsets[l], lt = t.layers[l]
            let x = t.xs[l].pointer, out = t.xs[l + 1].reserve(N * H)
            let qkv = lt.qkv.reserve(N * 3 * H), ctx = lt.ctx.reserve(N * H), probs = lt.probs.reserve(attnTotal)
            linear(out: qkv, ldOut: 3 * H, input: x, ldIn: H, weight: W + o.qkvW, bias: W + o.qkvB, rows: N, outFeatures: 3 * H, inFeatures: H, threads: threads, kernel: kernel)
            let attnMask: UnsafeMutablePointer<UInt8>? = dropAttention > 0 ? lt.attnMask.reserve(attnTotal) : nil
            if let attnMask {
                for (b, s) in batch.sequences.enumerated() {
                    var rng = SplitMix64(seed: mix(seeds[b], 0x1000 + UInt64(l)))
                    fillDropoutMask(attnMask + attnOffsets[b], count: nh * s.count * s.count, p: dropAttention, rng: &rng)
                }
            }
            forEachHead(batch.sequences, heads: nh, workers: workers) { b, h, w in
                let s = batch.sequences[b], len = s.count
                let base = qkv + s.lowerBound * 3 * H
                let q = base + h * hd, k = base + H + h * hd, v = base + 2 * H + h * hd
                let off = attnOffsets[b] + h * len * len
                let p = probs + off
                gemm(transA: false, transB: true, m: len, n: len, k: hd, alpha: scale, a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: p, ldc: len, kernel: kernel)
                softmaxRows(p, rows: len, cols: len, ld: len)
                var used = UnsafePointer(p)
                if let attnMask {
                    let pd = workerA + w * maxLen * maxLen
                    dropoutCopy(pd, p, mask: attnMask + off, count: len * len, p: dropAttention)
                    used = UnsafePointer(pd)
                }
                gemm(transA: false, transB: false, m: len, n: hd, k: len, alpha: 1, a: used, lda: len, b: v, ldb: 3 * H,
                     beta: 0, c: ctx + s.lowerBound * H + h * hd, ldc: H, kernel: kernel)
            }
            // Attention output (+ dropout in BERT), residual, layer norm.
            linear(out: tmp, ldOut: H, input: ctx, ldIn: H, weight: W + o.oW, bias: W + o.oB, rows: N, outFeatures: H, inFeatures: H, threads: threads, kernel: kernel)
            if bert && dropHidden > 0 { sequenceDropout(tmp, mask: lt.aMask.reserve(N * H), width: H, p: dropHidden, batch, seeds, site: 0x2000 + UInt64(l)) }
            let r1 = lt.r1.reserve(N * H), h1 = lt.h1.reserve(N * H)
            for i in 0..<(N * H) { r1[i] = tmp[i] + x[i] }
            layerNorm(out: h1, mean: lt.mean1.reserve(N), rstd: lt.rstd1.reserve(N), input: r1,
                      weight: W + o.ln1W, bias: W + o.ln1B, rows: N, cols: H, eps: eps)
            // Feed-forward, dropout, residual, layer norm.
            let u = lt.u.reserve(N * I)
            linear(out: u, ldOut: I, input: h1, ldIn: H, weight: W + o.iW, bias: W + o.iB, rows: N, outFeatures: I, inFeatures: H, threads: threads, kernel: kernel)
            activation(out: inter, input: u, count: N * I, act)
            linear(out: tmp, ldOut: H, input: inter, ldIn: I, weight: W + o.o2W, bias: W + o.o2B, rows: N, outFeatures: H, inFeatures: I, threads: threads, kernel: kernel)
            if dropHidden > 0 { sequenceDropout(tmp, mask: lt.dMask.reserve(N * H), width: H, p: dropHidden, batch, seeds, site: 0x3000 + UInt64(l)) }
            let r2 = lt.r2.reserve(N * H)
            for i in 0..<(N * H) { r2[i] = tmp[i] + h1[i] }
            layerNorm(out: out, mean: lt.mean2.reserve(N), rstd: lt.rstd2.reserve(N), input: r2,
                      weight: W + o.ln2W, bias: W + o.ln2B, rows: N, cols: H, eps: eps)
        }
        return BodyPass(attnOffsets: attnOffsets, maxLen: maxLen, workers: workers, dropout: dropout)
    }

    /// The backward of `forwardBody`, from the output's gradient in `tape.dx`:
    /// adds every body parameter's gradient.
    func backwardBody(_ batch: TrainingBatch, _ pass: BodyPass) {
        let t = tape
        let N = batch.tokenCount
        let H = config.hidden, I = config.intermediate
        let nh = config.heads, hd = H / nh, L = config.layers
        // BERT and RoBERTa: token types, and dropout after the attention output.
        let bert = config.kind != .distilbert, hasTypes = config.hasTokenTypes
        let act = config.activation
        let threads = workerCount
        let W = weights.baseAddress!, G = gradients.baseAddress!
        let dropHidden = pass.dropout.hidden, dropAttention = pass.dropout.attention
        let attnOffsets = pass.attnOffsets, maxLen = pass.maxLen, workers = pass.workers
        let scale = 1 / Float(hd).squareRoot()
        let workerA = t.workerA.pointer, workerB = t.workerB.pointer
        let tmp = t.tmp.pointer, inter = t.inter.pointer, e = t.emb.pointer
        let dx = t.dx.pointer
        // MARK: Backward — layers, last to first. `dx` holds the gradient of
        // the layer's output on entry and of its input on exit.
        let dr = t.dr.reserve(N * H), dqkv = t.dqkv.reserve(N * 3 * H), dctx = t.dctx.reserve(N * H), dinter = t.dinter.reserve(N * I)
        for l in stride(from: L - 1, through: 0, by: -1) {
            let o = layerOffsets[l], lt = t.layers[l]
            let x = t.xs[l].pointer, qkv = lt.qkv.pointer, probs = lt.probs.pointer, h1 = lt.h1.pointer, u = lt.u.pointer
            // Output layer norm; the residual passes its gradient to h1.
            layerNormBackward(dInput: dr, dOut: dx, input: lt.r2.pointer, mean: lt.mean2.pointer, rstd: lt.rstd2.pointer,
                              weight: W + o.ln2W, dWeight: G + o.ln2W, dBias: G + o.ln2B, rows: N, cols: H)
            dx.update(from: dr, count: N * H)
            var dd = UnsafePointer(dr)
            if dropHidden > 0 { dropoutBackward(tmp, dr, mask: lt.dMask.pointer, count: N * H, p: dropHidden); dd = UnsafePointer(tmp) }
            // Feed-forward: down projection, activation, up projection.
            activation(out: inter, input: u, count: N * I, act)
            gemm(transA: true, transB: false, m: H, n: I, k: N, alpha: 1, a: dd, lda: H, b: inter, ldb: I, beta: 1, c: G + o.o2W, ldc: I, threads: threads, kernel: kernel)
            addColumnSums(G + o.o2B, dd, rows: N, cols: H, ld: H)
            gemm(transA: false, transB: false, m: N, n: I, k: H, alpha: 1, a: dd, lda: H, b: W + o.o2W, ldb: I, beta: 0, c: dinter, ldc: I, threads: threads, kernel: kernel)
            activationGradient(dinter, input: u, count: N * I, act)
            gemm(transA: true, transB: false, m: I, n: H, k: N, alpha: 1, a: dinter, lda: I, b: h1, ldb: H, beta: 1, c: G + o.iW, ldc: H, threads: threads, kernel: kernel)
            addColumnSums(G + o.iB, dinter, rows: N, cols: I, ld: I)
            gemm(transA: false, transB: false, m: N, n: H, k: I, alpha: 1, a: dinter, lda: I, b: W + o.iW, ldb: H, beta: 1, c: dx, ldc: H, threads: threads, kernel: kernel)
            // Attention layer norm; the residual passes its gradient to x.
            layerNormBackward(dInput: dr, dOut: dx, input: lt.r1.pointer, mean: lt.mean1.pointer, rstd: lt.rstd1.pointer,
                              weight: W + o.ln1W, dWeight: G + o.ln1W, dBias: G + o.ln1B, rows: N, cols: H)
            dx.update(from: dr, count: N * H)
            var da = UnsafePointer(dr)
            if bert && dropHidden > 0 { dropoutBackward(tmp, dr, mask: lt.aMask.pointer, count: N * H, p: dropHidden); da = UnsafePointer(tmp) }
            gemm(transA: true, transB: false, m: H, n: H, k: N, alpha: 1, a: da, lda: H, b: lt.ctx.pointer, ldb: H, beta: 1, c: G + o.oW, ldc: H, threads: threads, kernel: kernel)
            addColumnSums(G + o.oB, da, rows: N, cols: H, ld: H)
            gemm(transA: false, transB: false, m: N, n: H, k: H, alpha: 1, a: da, lda: H, b: W + o.oW, ldb: H, beta: 0, c: dctx, ldc: H, threads: threads, kernel: kernel)
            // Attention, per sequence and head.
            let attnMask: UnsafeMutablePointer<UInt8>? = dropAttention > 0 ? lt.attnMask.pointer : nil
            forEachHead(batch.sequences, heads: nh, workers: workers) { b, h, w in
                let s = batch.sequences[b], len = s.count
                let base = qkv + s.lowerBound * 3 * H, dbase = dqkv + s.lowerBound * 3 * H
                let q = base + h * hd, k = base + H + h * hd, v = base + 2 * H + h * hd
                let off = attnOffsets[b] + h * len * len
                let p = probs + off
                let dP = workerB + w * maxLen * maxLen
                let dc = dctx + s.lowerBound * H + h * hd
                var used = UnsafePointer(p)
                if let attnMask {
                    let pd = workerA + w * maxLen * maxLen
                    dropoutCopy(pd, p, mask: attnMask + off, count: len * len, p: dropAttention)
                    used = UnsafePointer(pd)
                }
                // dP' = dctx · vᵀ; dv = P'ᵀ · dctx.
                gemm(transA: false, transB: true, m: len, n: len, k: hd, alpha: 1, a: dc, lda: H, b: v, ldb: 3 * H, beta: 0, c: dP, ldc: len, kernel: kernel)
                gemm(transA: true, transB: false, m: len, n: hd, k: len, alpha: 1, a: used, lda: len, b: dc, ldb: H,
                     beta: 0, c: dbase + 2 * H + h * hd, ldc: 3 * H, kernel: kernel)
                if let attnMask { dropoutBackward(dP, dP, mask: attnMask + off, count: len * len, p: dropAttention) }
                // Softmax: dS = P ⊙ (dP − rowsum(dP ⊙ P)).
                for i in 0..<len {
                    let pr = p + i * len, gr = dP + i * len
                    var dot: Float = 0
                    for j in 0..<len { dot += pr[j] * gr[j] }
                    for j in 0..<len { gr[j] = pr[j] * (gr[j] - dot) }
                }
                // dq = scale · dS · k; dk = scale · dSᵀ · q.
                gemm(transA: false, transB: false, m: len, n: hd, k: len, alpha: scale, a: dP, lda: len, b: k, ldb: 3 * H,
                     beta: 0, c: dbase + h * hd, ldc: 3 * H, kernel: kernel)
                gemm(transA: true, transB: false, m: len, n: hd, k: len, alpha: scale, a: dP, lda: len, b: q, ldb: 3 * H,
                     beta: 0, c: dbase + H + h * hd, ldc: 3 * H, kernel: kernel)
            }
            gemm(transA: true, transB: false, m: 3 * H, n: H, k: N, alpha: 1, a: dqkv, lda: 3 * H, b: x, ldb: H, beta: 1, c: G + o.qkvW, ldc: H, threads: threads, kernel: kernel)
            addColumnSums(G + o.qkvB, dqkv, rows: N, cols: 3 * H, ld: 3 * H)
            gemm(transA: false, transB: false, m: N, n: H, k: 3 * H, alpha: 1, a: dqkv, lda: 3 * H, b: W + o.qkvW, ldb: H, beta: 1, c: dx, ldc: H, threads: threads, kernel: kernel)
        }

        // MARK: Backward — embeddings.
        if dropHidden > 0 { dropoutBackward(dx, dx, mask: t.embMask.pointer, count: N * H, p: dropHidden) }
        layerNormBackward(dInput: dr, dOut: dx, input: e, mean: t.embMean.pointer, rstd: t.embRstd.pointer, weight: W + embLnW,
                          dWeight: G + embLnW, dBias: G + embLnB, rows: N, cols: H)
        // The pad rows get no gradient from lookups (torch's padding_idx: the
        // word table's pad_token_id row, and RoBERTa's position pad row).
        let positionRows = self.positionRows(batch)
        let pad = config.padTokenID ?? -1, positionPad = config.kind == .roberta ? pad : -1
        for n in 0..<N {
            let g = dr + n * H
            let gw = G + word + batch.ids[n] * H, gp = G + position + positionRows[n] * H
            if batch.ids[n] != pad { for c in 0..<H { gw[c] += g[c] } }
            if positionRows[n] != positionPad { for c in 0..<H { gp[c] += g[c] } }
            if hasTypes {
                let gt = G + tokenType + batch.tokenTypes[n] * H
                for c in 0..<H { gt[c] += g[c] }
            }
        }
    }

    // MARK: - Helpers

    /// The position-table row of each token: the batch's positions for BERT
    /// and DistilBERT; for RoBERTa, transformers' position ids over each
    /// sequence (tokens that are not the pad id count from pad + 1, pad
    /// tokens take the pad row).
    public func positionRows(_ batch: TrainingBatch) -> [Int] {
        guard config.kind == .roberta, let pad = config.padTokenID else { return batch.positions }
        var rows = [Int](repeating: pad, count: batch.tokenCount)
        for s in batch.sequences {
            var k = 0
            for n in s where batch.ids[n] != pad {
                k += 1
                rows[n] = pad + k
            }
        }
        return rows
    }

    /// Layer norm over rows, split across the workers (rows are independent).
    func layerNorm(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                           input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                           rows: Int, cols: Int, eps: Float) {
        nonisolated(unsafe) let o = out, m = mean, r = rstd, i = input, w = weight, b = bias
        parallelRanges(rows, workerCount) { range in
            let lo = range.lowerBound
            layerNormForward(out: o + lo * cols, mean: m + lo, rstd: r + lo, input: i + lo * cols, weight: w, bias: b,
                             rows: range.count, cols: cols, eps: eps)
        }
    }

    /// `out = act(input)`, split across the workers.
    func activation(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, _ act: Activation) {
        nonisolated(unsafe) let o = out, i = input
        parallelRanges(count, workerCount) { r in
            (o + r.lowerBound).update(from: i + r.lowerBound, count: r.count)
            activationForward(o + r.lowerBound, count: r.count, act)
        }
    }

    /// `grad *= act'(input)`, split across the workers.
    func activationGradient(_ grad: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int, _ act: Activation) {
        nonisolated(unsafe) let g = grad, i = input
        parallelRanges(count, workerCount) { r in activationBackward(g + r.lowerBound, input: i + r.lowerBound, count: r.count, act) }
    }

    /// Runs `body(sequence, head, worker)` for every (sequence, head) pair,
    /// pairs dealt to the workers in a fixed order; BLAS runs single-threaded
    /// inside.
    func forEachHead(_ sequences: [Range<Int>], heads: Int, workers: Int, _ body: (Int, Int, Int) -> Void) {
        let pairs = sequences.count * heads
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let run = body
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                var pair = w
                while pair < pairs {
                    run(pair / heads, pair % heads, w)
                    pair += workers
                }
            }
        }
    }
}

// MARK: - Dropout

/// Fills `mask` with 1 (keep, probability 1 − p) or 0, four values per
/// 64-bit draw (16-bit uniforms).
func fillDropoutMask(_ mask: UnsafeMutablePointer<UInt8>, count: Int, p: Float, rng: inout SplitMix64) {
    let threshold = UInt64((Double(p) * 65536).rounded())
    var i = 0
    while i < count {
        var bits = rng.next()
        for _ in 0..<4 where i < count {
            mask[i] = (bits & 0xFFFF) >= threshold ? 1 : 0
            bits >>= 16
            i += 1
        }
    }
}

/// Dropout on rows of `width` values, each sequence's rows from its own
/// stream (its seed and the dropout site): a sequence's masks do not depend
/// on which batch it is in, so a batch split over processes or micro-batches
/// draws the same masks.
func sequenceDropout(_ x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<UInt8>, width: Int, p: Float,
                     _ batch: TrainingBatch, _ seeds: [UInt64], site: UInt64) {
    for (b, s) in batch.sequences.enumerated() {
        var rng = SplitMix64(seed: mix(seeds[b], site))
        applyDropout(x + s.lowerBound * width, mask: mask + s.lowerBound * width, count: s.count * width, p: p, rng: &rng)
    }
}

/// Draws a mask and applies it in place: kept values are scaled by 1 / (1 − p).
func applyDropout(_ x: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<UInt8>, count: Int, p: Float, rng: inout SplitMix64) {
    fillDropoutMask(mask, count: count, p: p, rng: &rng)
    dropoutCopy(x, x, mask: mask, count: count, p: p)
}

/// `out = x ⊙ mask / (1 − p)` (`out` may alias `x`).
func dropoutCopy(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, mask: UnsafePointer<UInt8>, count: Int, p: Float) {
    let scale = 1 / (1 - p)
    for i in 0..<count { out[i] = mask[i] != 0 ? x[i] * scale : 0 }
}

/// The gradient through a dropout: the same as applying it.
func dropoutBackward(_ out: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>, mask: UnsafePointer<UInt8>, count: Int, p: Float) {
    dropoutCopy(out, grad, mask: mask, count: count, p: p)
}
