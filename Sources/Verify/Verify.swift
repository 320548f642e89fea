// Verify — run two checkpoints (or one and reference outputs) on the same
// inputs and say exactly how far apart their outputs are.

import Formats
import Model
import Tokenizers

/// How one output compares with its reference.
public struct Comparison: Sendable {
    /// The output's name (`logits`, `last_hidden_state`, `hidden_states.3`).
    public var name: String
    /// Values compared (real, unpadded positions only).
    public var count: Int
    public var maxAbs: Double
    public var meanAbs: Double
    /// max |a − b| / max |b|: the largest difference relative to the reference's scale.
    public var maxRel: Double
    /// Cosine similarity of the two outputs as flat vectors.
    public var cosine: Double
    /// For logits: share of positions whose top-1 token agrees.
    public var top1: Double?
    /// For logits: mean share of the top-5 tokens both agree on.
    public var top5: Double?
    /// For logits: mean KL(softmax(reference) ‖ softmax(candidate)) per position.
    public var kl: Double?
    /// Within the tolerance.
    public var ok: Bool
}

/// Model inputs: `(B, T)` ids, mask and token types.
public struct Batch: Sendable {
    public var ids: [Int]
    public var mask: [Int]
    public var types: [Int]?
    public var batch: Int
    public var length: Int

    /// Tokenizes `texts` with special tokens and pads each row to the longest
    /// (with `padID`), as transformers' `padding=True` does.
    public init(texts: [String], tokenizer: Tokenizer, padID: Int, maxLength: Int) {
        let encs = texts.map { tokenizer.encode($0) }
        let T = min(maxLength, encs.map(\.ids.count).max() ?? 0)
        ids = []; mask = []; var ty: [Int] = []
        for e in encs {
            // Truncation keeps the closing special token, as transformers'
            // truncation=True does ([CLS] … [SEP]).
            var rowIDs = e.ids, rowTypes = e.typeIDs
            if rowIDs.count > T, T >= 2, e.specialTokensMask.last == 1 {
                rowIDs = Array(rowIDs.prefix(T - 1)) + [rowIDs.last!]
                rowTypes = Array(rowTypes.prefix(T - 1)) + [rowTypes.last!]
            }
            let n = min(T, rowIDs.count)
            ids += rowIDs.prefix(n) + [Int](repeating: padID, count: T - n)
            mask += [Int](repeating: 1, count: n) + [Int](repeating: 0, count: T - n)
            ty += rowTypes.prefix(n) + [Int](repeating: 0, count: T - n)
        }
        types = ty
        batch = texts.count
        length = T
    }

    public init(ids: [Int], mask: [Int], types: [Int]?, batch: Int, length: Int) {
        self.ids = ids; self.mask = mask; self.types = types; self.batch = batch; self.length = length
    }
}

/// A verification that could not run.
public struct VerifyError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

public enum Verifier {
    /// Sentences used when no text file is given.
    public static func defaultTexts(mask: String) -> [String] {
        [
            "The quick brown fox jumps over the lazy dog.",
            "Checkpoints move between formats without losing a single bit.",
            "Paris is the \(mask) of France.",
            "A short one.",
        ]
    }

    /// Compares `candidate` with `reference` over the real positions of `batch`
    /// (`width` values per position).
    public static func compare(name: String, candidate: [Float], reference: [Float], batch: Batch, width: Int,
                               isLogits: Bool, tolerance: Double) -> Comparison {
        var maxAbs = 0.0, sumAbs = 0.0, maxRef = 0.0, dot = 0.0, na = 0.0, nb = 0.0
        var count = 0, positions = 0, top1 = 0, top5 = 0.0, kl = 0.0
        for p in 0..<(batch.batch * batch.length) where batch.mask[p] != 0 {
            positions += 1
            let base = p * width
            for j in 0..<width {
                let a = Double(candidate[base + j]), b = Double(reference[base + j])
                let d = abs(a - b)
                maxAbs = max(maxAbs, d); sumAbs += d; maxRef = max(maxRef, abs(b))
                dot += a * b; na += a * a; nb += b * b
                count += 1
            }
            if isLogits {
                let ca = Array(candidate[base..<(base + width)]), rb = Array(reference[base..<(base + width)])
                let ta = topK(ca, 5), tb = topK(rb, 5)
                if ta.first == tb.first { top1 += 1 }
                top5 += Double(Set(ta).intersection(tb).count) / Double(min(5, width))
                kl += klDivergence(reference: rb, candidate: ca)
            }
        }
        let cosine = (na > 0 && nb > 0) ? dot / (na.squareRoot() * nb.squareRoot()) : (na == nb ? 1 : 0)
        let pos = Double(max(positions, 1))
        return Comparison(name: name, count: count, maxAbs: maxAbs, meanAbs: count > 0 ? sumAbs / Double(count) : 0,
                          maxRel: maxRef > 0 ? maxAbs / maxRef : maxAbs, cosine: cosine,
                          top1: isLogits ? Double(top1) / pos : nil, top5: isLogits ? top5 / pos : nil,
                          kl: isLogits ? kl / pos : nil, ok: maxAbs <= tolerance && !maxAbs.isNaN)
    }

    static func topK(_ x: [Float], _ k: Int) -> [Int] {
        Array(x.indices.sorted { x[$0] != x[$1] ? x[$0] > x[$1] : $0 < $1 }.prefix(k))
    }

    static func klDivergence(reference: [Float], candidate: [Float]) -> Double {
        func logSoftmax(_ v: [Float]) -> [Double] {
            let m = Double(v.max() ?? 0)
            let lse = m + Foundationless.log(v.reduce(0.0) { $0 + Foundationless.exp(Double($1) - m) })
            return v.map { Double($0) - lse }
        }
        let lp = logSoftmax(reference), lq = logSoftmax(candidate)
        var s = 0.0
        for i in lp.indices { s += Foundationless.exp(lp[i]) * (lp[i] - lq[i]) }
        return max(0, s)
    }

    /// Runs `model` on `batch` and compares with each reference output present.
    public static func run(_ model: Encoder, batch: Batch, references: [String: [Float]], layers: Bool,
                           tolerance: Double) throws -> [Comparison] {
        let out = try model.forward(inputIDs: batch.ids, attentionMask: batch.mask, tokenTypeIDs: batch.types,
                                    batch: batch.batch, length: batch.length, hiddenStates: layers)
        var results: [Comparison] = []
        let H = model.config.hidden, V = model.config.vocabSize
        let positions = batch.batch * batch.length
        for (name, ref) in references {
            let width = name == "logits" ? V : H
            guard ref.count == positions * width else {
                throw VerifyError(path: name, reason: "the reference has \(ref.count / max(positions, 1)) values per position, the model \(width): the architectures differ")
            }
        }
        if let ref = references["logits"], let logits = out.logits {
            results.append(compare(name: "logits", candidate: logits, reference: ref, batch: batch, width: V, isLogits: true, tolerance: tolerance))
        }
        if let ref = references["last_hidden_state"] {
            results.append(compare(name: "last_hidden_state", candidate: out.lastHiddenState, reference: ref, batch: batch,
                                   width: H, isLogits: false, tolerance: tolerance))
        }
        if layers {
            for (i, state) in out.hiddenStates.enumerated() {
                if let ref = references["hidden_states.\(i)"] {
                    results.append(compare(name: "hidden_states.\(i)", candidate: state, reference: ref, batch: batch,
                                           width: H, isLogits: false, tolerance: tolerance))
                }
            }
        }
        return results
    }

    /// The outputs of `model` on `batch`, named as reference files name them.
    public static func outputs(_ model: Encoder, batch: Batch, layers: Bool) throws -> [String: [Float]] {
        let out = try model.forward(inputIDs: batch.ids, attentionMask: batch.mask, tokenTypeIDs: batch.types,
                                    batch: batch.batch, length: batch.length, hiddenStates: layers)
        var named: [String: [Float]] = ["last_hidden_state": out.lastHiddenState]
        if let l = out.logits { named["logits"] = l }
        for (i, s) in out.hiddenStates.enumerated() { named["hidden_states.\(i)"] = s }
        return named
    }

    /// Reads a reference file: inputs (`input_ids`, `attention_mask`, optional
    /// `token_type_ids`, I64 `(B, T)`) and outputs (`logits` `(B, T, V)`,
    /// `last_hidden_state` / `hidden_states.N` `(B, T, H)`, F32).
    public static func loadReference(_ path: String, config: EncoderConfig) throws -> (Batch, [String: [Float]]) {
        let file = try SafeTensorsFile(path: path)
        func ints(_ name: String) throws -> (values: [Int], shape: [Int])? {
            guard let info = file.info(name) else { return nil }
            guard info.dtype == .i64 || info.dtype == .i32, info.shape.count == 2 else {
                throw VerifyError(path: path, reason: "\(name) must be an I64 (batch, length) tensor, found \(info.dtype.rawValue) \(info.shapeText)")
            }
            let d = try file.data(name)
            let values: [Int] = d.withUnsafeBytes { raw in
                (0..<info.elementCount).map { i in
                    info.dtype == .i64 ? Int(raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
                                       : Int(raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))
                }
            }
            return (values, info.shape)
        }
        guard let ids = try ints("input_ids") else { throw VerifyError(path: path, reason: "no input_ids tensor") }
        let (B, T) = (ids.shape[0], ids.shape[1])
        guard B >= 1, T >= 1, T <= config.maxLength, B <= 1 << 20 else {
            throw VerifyError(path: path, reason: "input_ids has shape [\(B), \(T)]: need at least one sequence of 1 to \(config.maxLength) tokens")
        }
        let mask = try ints("attention_mask")
        let types = try ints("token_type_ids")
        for (name, t) in [("attention_mask", mask), ("token_type_ids", types)] where t != nil && t!.shape != ids.shape {
            throw VerifyError(path: path, reason: "\(name) has shape \(t!.shape), input_ids \(ids.shape)")
        }
        var refs: [String: [Float]] = [:]
        for info in file.tensors where info.name == "logits" || info.name == "last_hidden_state" || info.name.hasPrefix("hidden_states.") {
            let width = info.name == "logits" ? config.vocabSize : config.hidden
            guard info.shape == [B, T, width], info.dtype.isCastableFloat else {
                throw VerifyError(path: path, reason: "\(info.name) has \(info.dtype.rawValue) \(info.shapeText), expected a float [\(B), \(T), \(width)]")
            }
            refs[info.name] = try file.data(info.name).floats()
        }
        if refs["logits"] == nil && refs["last_hidden_state"] == nil {
            throw VerifyError(path: path, reason: "no logits or last_hidden_state tensor to compare with")
        }
        return (Batch(ids: ids.values, mask: mask?.values ?? [Int](repeating: 1, count: B * T), types: types?.values,
                      batch: B, length: T), refs)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// exp/log on Double without Foundation.
enum Foundationless {
    static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    static func log(_ x: Double) -> Double { Glibc.log(x) }
}
