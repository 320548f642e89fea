// Learning-rate schedules, as transformers' get_*_schedule_with_warmup: the
// factor applied to the base rate at each optimizer step (0-based; step 0 of a
// warmup runs at rate 0, as transformers' first step does).

#if canImport(Glibc)
import Glibc
#endif

/// A learning-rate schedule with linear warmup.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// Warmup, then linear decay to 0 at `totalSteps` (`get_linear_schedule_with_warmup`).
        case linear
        /// Warmup, then constant (`get_constant_schedule_with_warmup`).
        case constant
        /// Warmup, then half a cosine to 0 at `totalSteps` (`get_cosine_schedule_with_warmup`).
        case cosine
        /// Warmup, then constant, reduced by a factor when the eval metric
        /// stops improving (torch's `ReduceLROnPlateau`; the trainer applies
        /// the reductions).
        case plateau
    }
    public var kind: Kind
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(_ kind: Kind, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(0, totalSteps)
    }

    /// The factor at optimizer step `step` (0-based).
    public func factor(step: Int) -> Double {
        if step < warmupSteps { return Double(step) / Double(max(1, warmupSteps)) }
        switch kind {
        case .constant, .plateau:
            return 1
        case .linear:
            return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmupSteps)))
        case .cosine:
            let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
            return max(0, 0.5 * (1 + cos(Double.pi * 0.5 * 2 * progress)))
        }
    }
}
