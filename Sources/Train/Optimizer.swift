// AdamW and gradient clipping over a TrainingModel's arenas, with the
// arithmetic of torch.optim.AdamW (single-tensor path) and
// torch.nn.utils.clip_grad_norm_, so weights track PyTorch's step for step.

import CKernels
import Model

#if canImport(Glibc)
import Glibc
#endif

/// AdamW with decoupled weight decay and bias correction, as
/// `torch.optim.AdamW`. Parameters flagged `decay == false` (biases and layer
/// norms) get no weight decay.
public final class AdamW: @unchecked Sendable {
    public let beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    /// Steps taken so far (torch's `state["step"]`).
    public private(set) var step: Int = 0
    /// First and second moments, laid out like the model's arenas.
    public let expAvg: UnsafeMutableBufferPointer<Float>
    public let expAvgSq: UnsafeMutableBufferPointer<Float>
    private let decayRanges: [(range: Range<Int>, decay: Bool)]
    private let threads: Int

    /// Moments start at zero for every parameter of `model`.
    public init(model: TrainingModel, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        expAvg = .allocate(capacity: model.parameterCount)
        expAvg.initialize(repeating: 0)
        expAvgSq = .allocate(capacity: model.parameterCount)
        expAvgSq.initialize(repeating: 0)
        decayRanges = model.parameters.map { ($0.offset..<($0.offset + $0.count), $0.decay) }
        threads = model.workerCount
    }

    deinit {
        expAvg.deallocate()
        expAvgSq.deallocate()
    }

    /// Restores the state saved by a checkpoint.
    public func restore(step: Int, expAvg m: [Float], expAvgSq v: [Float]) {
        precondition(m.count == expAvg.count && v.count == expAvgSq.count, "optimizer state of another size")
        self.step = step
        _ = expAvg.update(from: m)
        _ = expAvgSq.update(from: v)
    }

    /// One update of `model.weights` from `model.gradients` at learning rate `lr`.
    public func update(_ model: TrainingModel, lr: Double) {
        precondition(model.parameterCount == expAvg.count, "optimizer built for another model")
        step += 1
        let bc1 = 1 - pow(beta1, Double(step)), bc2 = 1 - pow(beta2, Double(step))
        let stepSize = Float(-(lr / bc1)), bc2Sqrt = Float(bc2.squareRoot())
        let w1 = Float(1 - beta1), b2 = Float(beta2), w2 = Float(1 - beta2), epsF = Float(eps)
        let decayScale = Float(1 - lr * weightDecay)
        nonisolated(unsafe) let p = model.weights.baseAddress!, g = model.gradients.baseAddress!
        nonisolated(unsafe) let m = expAvg.baseAddress!, v = expAvgSq.baseAddress!
        let decayWeights = weightDecay != 0
        for (range, decay) in decayRanges {
            // exp_avg.lerp_(grad, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2);
            // p += −lr / bc1 · exp_avg / (sqrt(exp_avg_sq) / sqrt(bc2) + eps), vectorised in C.
            parallelRanges(range.count, threads, minimumChunk: 65_536) { local in
                let at = range.lowerBound + local.lowerBound
                ckpt_adamw_update(p + at, g + at, m + at, v + at, local.count, decay && decayWeights ? 1 : 0, decayScale,
                                  w1, b2, w2, bc2Sqrt, epsF, stepSize)
            }
        }
    }
}

/// Scales the gradients so that their global L2 norm is at most `maxNorm`,
/// as `torch.nn.utils.clip_grad_norm_` does (coefficient
/// `maxNorm / (norm + 1e-6)`, capped at 1). Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ model: TrainingModel, maxNorm: Double) -> Double {
    let norm = gradientNorm(model)
    let coefficient = min(Float(maxNorm) / (Float(norm) + 1e-6), 1)
    nonisolated(unsafe) let g = model.gradients.baseAddress!
    parallelRanges(model.parameterCount, model.workerCount, minimumChunk: 65_536) { r in
        for i in r { g[i] *= coefficient }
    }
    return norm
}

/// The global L2 norm of the gradients: each tensor's norm, then the norm of
/// those (sums in Double, tensors in order).
public func gradientNorm(_ model: TrainingModel) -> Double {
    let g = model.gradients.baseAddress!
    var total = 0.0
    for p in model.parameters {
        var s = 0.0
        for i in p.offset..<(p.offset + p.count) { s += Double(g[i]) * Double(g[i]) }
        let n = Double(Float(s.squareRoot()))
        total += n * n
    }
    return Double(Float(total.squareRoot()))
}
