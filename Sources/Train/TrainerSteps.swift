// What an optimizer step is made of: the epoch's seeded order, the
// micro-batches of a step dealt to the processes, and the accumulation of
// their gradients (each complete before it is added, so that any split of a
// step into micro-batches and processes sums the same terms).

import Formats
import Model

#if canImport(Glibc)
import Glibc
#endif

extension Trainer {
    // MARK: - Batches

    func order(epoch: Int) -> [UInt32] {
        if let c = permutationCache, c.epoch == epoch { return c.order }
        permutationCache = nil  // the old order goes before the new one is made
        let n = objective.trainCount
        let order: [UInt32]
        if options.shuffle {
            var rng = SplitMix64(seed: mix(options.seed, 0x5348_5546, UInt64(epoch)))
            order = permutation(n, rng: &rng)
        } else {
            order = (0..<n).map { UInt32(truncatingIfNeeded: $0) }
        }
        permutationCache = (epoch, order)
        return order
    }

    /// The masking probability at optimizer step `step` (masked LM; phases of the schedule).
    public func maskingProbability(step: Int) -> Double {
        (objective as? MaskedLMObjective)?.maskingProbability(step: step, totalSteps: totalSteps) ?? 0
    }

    /// Micro-batches per optimizer step over all processes.
    public var microBatchesPerStep: Int { world.size * options.gradAccum }

    /// This process's micro-batches of optimizer step `step`, each with its
    /// place in the step (the seed of its dropout). The step's micro-batches
    /// are the next `microBatchesPerStep` of the epoch's order; process r takes
    /// places r × gradAccum ..< (r + 1) × gradAccum. The last step of an epoch
    /// may leave a process none: no example is seen twice.
    func microBatches(step: Int) -> [(place: Int, batch: TrainingBatch)] {
        let epoch = step / stepsPerEpoch, k = step % stepsPerEpoch
        let order = order(epoch: epoch)
        let n = objective.trainCount
        let batches = (n + options.batchSize - 1) / options.batchSize
        let first = world.rank * options.gradAccum
        return (first..<(first + options.gradAccum)).compactMap { place in
            let b = k * microBatchesPerStep + place
            guard b < batches else { return nil }
            return (place, objective.trainBatch(order[(b * options.batchSize)..<min((b + 1) * options.batchSize, n)], epoch: epoch,
                                                step: step, totalSteps: totalSteps, seed: options.seed))
        }
    }

    /// `CKPT_FAULT=rank:step` makes that rank fail at that step (fault injection, for tests).
    var faultInjection: (rank: Int, step: Int)? {
        guard let v = getenv("CKPT_FAULT").map({ String(cString: $0) }) else { return nil }
        let parts = v.split(separator: ":").compactMap { Int($0) }
        return parts.count == 2 ? (parts[0], parts[1]) : nil
    }

    /// The summed loss of this process's micro-batches, their gradient (times
    /// `scale`) in `model.gradients`. Each micro-batch's gradient is complete
    /// before it is added to the others', so that micro-batches accumulated in
    /// one process and micro-batches summed over processes give the same bits.
    func accumulateStep(_ micro: [(place: Int, batch: TrainingBatch)], scale: Float) throws -> Double {
        model.zeroGradients()
        var lossSum = 0.0
        for (i, (_, b)) in micro.enumerated() {
            if i > 0 { model.zeroGradients() }
            // The batch carries each example's dropout seed.
            lossSum += try model.accumulateGradients(b, lossScale: scale, dropout: dropout)
            if micro.count > 1 {
                let acc = accumulator()
                if i == 0 { copy(model.gradients, to: acc) } else { addInPlace(acc, model.gradients) }
            }
        }
        if micro.count > 1 { copy(accumulator(), to: model.gradients) }
        return lossSum
    }

    func accumulator() -> UnsafeMutableBufferPointer<Float> {
        if let a = accumulatorBuffer { return a }
        let a = UnsafeMutableBufferPointer<Float>.allocate(capacity: model.parameterCount)
        a.initialize(repeating: 0)
        accumulatorBuffer = a
        return a
    }
}

/// `dst = src`, element for element.
func copy(_ src: UnsafeMutableBufferPointer<Float>, to dst: UnsafeMutableBufferPointer<Float>) {
    dst.baseAddress!.update(from: src.baseAddress!, count: min(src.count, dst.count))
}

/// `dst += src`, element for element, split across the cores.
func addInPlace(_ dst: UnsafeMutableBufferPointer<Float>, _ src: UnsafeMutableBufferPointer<Float>) {
    nonisolated(unsafe) let d = dst.baseAddress!, s = src.baseAddress!
    parallelRanges(min(dst.count, src.count), max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), minimumChunk: 1 << 16) { r in
        for i in r { d[i] += s[i] }
    }
}
