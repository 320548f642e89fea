// The evaluation bookkeeping of a run: the best value of the metric (and
// OUT/best), early stopping, and the plateau schedule. It is saved in every
// checkpoint, so a resumed run decides exactly as an uninterrupted one.

import Formats
import Tasks

extension Trainer {
    /// Updates the bookkeeping with an evaluation at the current step; saves
    /// OUT/best on a new best when asked. Returns true when early stopping
    /// says to stop.
    func track(_ e: Evaluation, final: Bool = false) throws -> Bool {
        // Rank 0's value decides on every process: evaluations on processes
        // with other thread counts or kernels can differ in the last bits.
        var agreed = [e.value(options.metric) ?? .nan]
        if world.size > 1 { try agreed.withUnsafeMutableBytes { try world.broadcast($0, root: 0) } }
        let value = agreed[0]
        guard value.isFinite else { return false }
        let greater = Metrics.greaterIsBetter(options.metric)
        let improved = tracking.bestValue.map { greater ? value > $0 : value < $0 } ?? true
        if improved {
            tracking.bestValue = value
            tracking.bestStep = step
            tracking.evalsWithoutImprovement = 0
            if cadence.keepBest { try saveCheckpoint(name: "best", optimizerState: false) }
        } else {
            tracking.evalsWithoutImprovement += 1
        }
        if final { return false }
        if options.scheduler == .plateau { tracking.plateauStep(value, greater: greater, factor: options.plateauFactor,
                                                                patience: options.plateauPatience, baseRate: options.learningRate) }
        if let patience = options.earlyStopping, tracking.evalsWithoutImprovement >= patience { return true }
        return false
    }
}

/// The evaluation bookkeeping a checkpoint carries: the best value of the
/// metric and its step, evaluations since the last improvement (early
/// stopping), and torch's ReduceLROnPlateau state (rel threshold 1e-4, no
/// cooldown, minimum rate 0).
struct EvalTracking: Equatable {
    var bestValue: Double?
    var bestStep: Int?
    var evalsWithoutImprovement = 0
    var plateauBest: Double?
    var plateauBadEvals = 0
    var plateauScale = 1.0

    mutating func plateauStep(_ value: Double, greater: Bool, factor: Double, patience: Int, baseRate: Double) {
        // torch's is_better in "rel" mode, threshold 1e-4.
        let better = plateauBest.map { greater ? value > $0 * (1 + 1e-4) : value < $0 * (1 - 1e-4) } ?? true
        if better { plateauBest = value; plateauBadEvals = 0 } else { plateauBadEvals += 1 }
        if plateauBadEvals > patience {
            let old = baseRate * plateauScale, new = old * factor
            if old - new > 1e-8 { plateauScale *= factor }
            plateauBadEvals = 0
        }
    }

    var json: JSONValue {
        func num(_ v: Double?) -> JSONValue { v.map { .number(JSONNumber($0)) } ?? .null }
        return .object(JSONObject([
            ("best_metric", num(bestValue)), ("best_step", bestStep.map { .number(JSONNumber($0)) } ?? .null),
            ("evals_without_improvement", .number(JSONNumber(evalsWithoutImprovement))),
            ("plateau_best", num(plateauBest)), ("plateau_bad_evals", .number(JSONNumber(plateauBadEvals))),
            ("plateau_scale", .number(JSONNumber(plateauScale))),
        ]))
    }

    init() {}

    init(json: JSONValue) {
        bestValue = json["best_metric"]?.double
        bestStep = json["best_step"]?.int
        evalsWithoutImprovement = json["evals_without_improvement"]?.int ?? 0
        plateauBest = json["plateau_best"]?.double
        plateauBadEvals = json["plateau_bad_evals"]?.int ?? 0
        plateauScale = json["plateau_scale"]?.double ?? 1
    }
}
