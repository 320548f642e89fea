// The encoder's forward pass: embeddings, layers, and the masked-LM head at
// the positions asked for.

import Dispatch
import Formats

#if canImport(Glibc)
import Glibc
#endif

extension Encoder {
    // MARK: - Scratch buffers

    /// The intermediate buffers of one forward pass: (BT, 3H), (BT, H) twice, (BT, I).
    struct Scratch {
        var tokens: Int
        var qkv: [Float], ctx: [Float], tmp: [Float], inter: [Float]
    }

    /// Moves the cached buffers out if they fit `tokens`, else allocates them.
    func takeScratch(tokens: Int) -> Scratch {
        let H = config.hidden, I = config.intermediate
        let cached: Scratch? = scratchLock.run {
            defer { cachedScratch = nil }
            return cachedScratch
        }
        if let c = cached, c.tokens == tokens { return c }
        return Scratch(tokens: tokens, qkv: [Float](repeating: 0, count: tokens * 3 * H),
                       ctx: [Float](repeating: 0, count: tokens * H), tmp: [Float](repeating: 0, count: tokens * H),
                       inter: [Float](repeating: 0, count: tokens * I))
    }

    func returnScratch(_ s: Scratch) {
        scratchLock.run { cachedScratch = s }
    }

    // MARK: - Forward

    /// `x = LayerNorm(sublayer + x)`: the residual connection closing each sublayer.
    /// Rows are split across `threads` (they are independent).
    static func addAndNorm(_ x: inout [Float], _ sublayer: inout [Float], weight: [Float], bias: [Float],
                           rows: Int, cols: Int, eps: Float, threads: Int = 1) {
        sublayer.withUnsafeMutableBufferPointer { sb in
            x.withUnsafeMutableBufferPointer { xb in
                nonisolated(unsafe) let s = sb.baseAddress!, xp = xb.baseAddress!
                weight.withUnsafeBufferPointer { wb in
                    bias.withUnsafeBufferPointer { bb in
                        nonisolated(unsafe) let w = wb.baseAddress!, b = bb.baseAddress!
                        parallelRanges(rows, threads) { r in
                            let lo = r.lowerBound * cols, count = r.count * cols
                            for i in lo..<(lo + count) { s[i] += xp[i] }
                            layerNormForward(out: xp + lo, mean: nil, rstd: nil, input: s + lo, weight: w, bias: b,
                                             rows: r.count, cols: cols, eps: eps)
                        }
                    }
                }
            }
        }
    }

    /// Runs the encoder (and the MLM head when present).
    ///
    /// - Parameters:
    ///   - inputIDs: `(B, T)` token ids, row-major.
    ///   - attentionMask: `(B, T)`, 1 for real tokens, 0 for padding.
    ///   - tokenTypeIDs: `(B, T)` segment ids (BERT), zeros when nil.
    ///   - hiddenStates: keep the embedding output and every layer's output.
    ///   - logitPositions: the flat positions (`b × T + t`) the masked-LM head
    ///     runs at (nil: every position; empty: none). A 250,002-piece
    ///     vocabulary makes a full `(B, T, V)` a gigabyte at B 8 × T 128.
    ///   - logitColumns: the vocabulary entries the decoder computes (nil:
    ///     all of them), e.g. the entries a check compares.
    /// - Throws: `ModelError.input` for ids past the vocabulary or sequences
    ///   longer than the position table.
    public func forward(inputIDs: [Int], attentionMask: [Int]? = nil, tokenTypeIDs: [Int]? = nil,
                        batch B: Int, length T: Int, hiddenStates keep: Bool = false,
                        logitPositions: [Int]? = nil, logitColumns: [Int]? = nil) throws -> EncoderOutput {
        let H = config.hidden, V = config.vocabSize, I = config.intermediate
        let nh = config.heads, hd = H / nh
        guard B >= 1, T >= 1, B <= 1 << 20,
              !(B * T).multipliedReportingOverflow(by: max(3 * H, I, V, T)).overflow else {
            throw ModelError.input("a (\(B), \(T)) batch is empty or too large")
        }
        let BT = B * T
        guard inputIDs.count == BT else { throw ModelError.input("\(inputIDs.count) ids for a (\(B), \(T)) batch") }
        guard T <= config.maxLength else {
            throw ModelError.input("length \(T) exceeds the \(config.maxLength) positions of max_position_embeddings \(config.maxPositions)")
        }
        if let bad = inputIDs.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.input("token id \(bad) is outside the vocabulary (\(V))") }
        let mask = attentionMask ?? [Int](repeating: 1, count: BT)
        let types = tokenTypeIDs ?? [Int](repeating: 0, count: BT)
        if config.hasTokenTypes, let bad = types.first(where: { $0 < 0 || $0 >= config.typeVocabSize }) {
            throw ModelError.input("token type \(bad) is outside type_vocab_size \(config.typeVocabSize)")
        }

        var x = [Float](repeating: 0, count: BT * H)          // (B, T, H)
        // Scratch buffers, reused across calls of the same shape.
        var buffers = takeScratch(tokens: BT)
        // Products are split across the workers by rows, each single-threaded
        // (see `linear`), and so is attention: BLAS runs on one thread here.
        setMatmulThreads(1)
        defer { setMatmulThreads(workerCount) }
        defer { returnScratch(buffers) }
        var states: [[Float]] = []

        // Embeddings: (word + token type) + position, then layer norm.
        let positions = config.positionIDs(inputIDs, batch: B, length: T)
        x.withUnsafeMutableBufferPointer { xb in
            for n in 0..<BT {
                let row = xb.baseAddress! + n * H
                let id = inputIDs[n], p = positions[n]
                for c in 0..<H { row[c] = word[id * H + c] }
                if config.hasTokenTypes {
                    let ty = types[n]
                    for c in 0..<H { row[c] += tokenType[ty * H + c] }
                }
                for c in 0..<H { row[c] += position[p * H + c] }
            }
            layerNormForward(out: xb.baseAddress!, mean: nil, rstd: nil, input: xb.baseAddress!, weight: embLnW, bias: embLnB,
                             rows: BT, cols: H, eps: config.layerNormEps)
        }
        if keep { states.append(x) }

        let scale = 1 / Float(hd).squareRoot()
        let eps = config.layerNormEps
        for layer in layers {
            // QKV: (BT, 3H) = x (BT, H) · qkvWᵀ + b
            linear(out: &buffers.qkv, ldOut: 3 * H, input: x, ldIn: H, weight: layer.qkvW, bias: layer.qkvB,
                   rows: BT, outFeatures: 3 * H, inFeatures: H, threads: workerCount, kernel: kernel)
            // Attention, one (sequence, head) pair per task, spread over the
            // cores; each task's products are small, so BLAS runs them on one thread.
            let pairs = B * nh
            let workers = max(1, min(pairs, workerCount))
            nonisolated(unsafe) let scoreBuffer = UnsafeMutablePointer<Float>.allocate(capacity: workers * T * T)
            defer { scoreBuffer.deallocate() }
            buffers.qkv.withUnsafeBufferPointer { qkvb in
                buffers.ctx.withUnsafeMutableBufferPointer { cb in
                    nonisolated(unsafe) let qkvp = qkvb.baseAddress!, ctxp = cb.baseAddress!
                    let maskRef = mask
                    DispatchQueue.concurrentPerform(iterations: workers) { w in
                        let sb = scoreBuffer + w * T * T
                        var pair = w
                        while pair < pairs {
                            let b = pair / nh, h = pair % nh
                            let base = qkvp + b * T * 3 * H
                            let q = base + h * hd, k = base + H + h * hd, v = base + 2 * H + h * hd
                            // scores (T, T) = q (T, hd) · kᵀ / √hd
                            gemm(transA: false, transB: true, m: T, n: T, k: hd, alpha: scale,
                                 a: q, lda: 3 * H, b: k, ldb: 3 * H, beta: 0, c: sb, ldc: T, kernel: kernel)
                            for j in 0..<T where maskRef[b * T + j] == 0 {
                                for i in 0..<T { sb[i * T + j] = -Float.greatestFiniteMagnitude }
                            }
                            softmaxRows(sb, rows: T, cols: T, ld: T)
                            // ctx (T, hd) = p (T, T) · v (T, hd)
                            gemm(transA: false, transB: false, m: T, n: hd, k: T, alpha: 1,
                                 a: sb, lda: T, b: v, ldb: 3 * H, beta: 0, c: ctxp + b * T * H + h * hd, ldc: H, kernel: kernel)
                            pair += workers
                        }
                    }
                }
            }
            // Attention output, residual, layer norm.
            linear(out: &buffers.tmp, ldOut: H, input: buffers.ctx, ldIn: H, weight: layer.oW, bias: layer.oB, rows: BT, outFeatures: H, inFeatures: H, threads: workerCount, kernel: kernel)
            Encoder.addAndNorm(&x, &buffers.tmp, weight: layer.ln1W, bias: layer.ln1B, rows: BT, cols: H, eps: eps, threads: workerCount)
            // Feed-forward, residual, layer norm.
            linear(out: &buffers.inter, ldOut: I, input: x, ldIn: H, weight: layer.iW, bias: layer.iB, rows: BT, outFeatures: I, inFeatures: H, threads: workerCount, kernel: kernel)
            buffers.inter.withUnsafeMutableBufferPointer { ib in
                nonisolated(unsafe) let p = ib.baseAddress!
                let act = config.activation
                parallelRanges(BT, workerCount) { r in activationForward(p + r.lowerBound * I, count: r.count * I, act) }
            }
            linear(out: &buffers.tmp, ldOut: H, input: buffers.inter, ldIn: I, weight: layer.o2W, bias: layer.o2B, rows: BT, outFeatures: H, inFeatures: I, threads: workerCount, kernel: kernel)
            Encoder.addAndNorm(&x, &buffers.tmp, weight: layer.ln2W, bias: layer.ln2B, rows: BT, cols: H, eps: eps, threads: workerCount)
            if keep { states.append(x) }
        }

        var logits: [Float]? = nil
        if hasMLMHead && logitPositions?.isEmpty != true {
            if let bad = logitPositions?.first(where: { $0 < 0 || $0 >= BT }) { throw ModelError.input("logit position \(bad) is outside the batch") }
            if let p = logitPositions, Set(p).count != p.count { throw ModelError.input("logit positions repeat") }
            // The rows the head runs on: every position, or those asked for.
            let M = logitPositions?.count ?? BT
            var rows = x
            if let p = logitPositions {
                rows = [Float](repeating: 0, count: M * H)
                for (m, n) in p.enumerated() { for c in 0..<H { rows[m * H + c] = x[n * H + c] } }
            }
            // transform: dense, activation, layer norm; then the decoder (V, H) + bias.
            linear(out: &buffers.tmp, ldOut: H, input: rows, ldIn: H, weight: headW, bias: headB, rows: M, outFeatures: H, inFeatures: H, threads: workerCount, kernel: kernel)
            buffers.tmp.withUnsafeMutableBufferPointer { tb in
                activationForward(tb.baseAddress!, count: M * H, config.headActivation)
                layerNormForward(out: tb.baseAddress!, mean: nil, rstd: nil, input: tb.baseAddress!, weight: headLnW, bias: headLnB,
                                 rows: M, cols: H, eps: eps)
            }
            // The decoder: every vocabulary entry, or the columns asked for.
            var weight = decoderW, bias = decoderB, C = V
            if let cols = logitColumns {
                if let bad = cols.first(where: { $0 < 0 || $0 >= V }) { throw ModelError.input("logit column \(bad) is outside the vocabulary") }
                C = cols.count
                weight = [Float](repeating: 0, count: C * H)
                bias = cols.map { decoderB[$0] }
                for (k, j) in cols.enumerated() { for c in 0..<H { weight[k * H + c] = decoderW[j * H + c] } }
            }
            var out = [Float](repeating: 0, count: M * C)
            if C > 0 {
                linear(out: &out, ldOut: C, input: buffers.tmp, ldIn: H, weight: weight, bias: bias, rows: M, outFeatures: C, inFeatures: H, threads: workerCount, kernel: kernel)
            }
            logits = out
        }
        return EncoderOutput(lastHiddenState: x, hiddenStates: states, logits: logits, logitPositions: logitPositions, logitColumns: logitColumns)
    }
}
