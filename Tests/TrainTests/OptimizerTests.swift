// Schedules against transformers' formulas, masking statistics, clipping.

import Model
import Testing
import Train

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ScheduleAndMaskingTests {
    @Test func linearWarmupMatchesTransformers() {
        // get_linear_schedule_with_warmup(num_warmup_steps=2, num_training_steps=6)
        let s = LearningRateSchedule(.linear, warmupSteps: 2, totalSteps: 6)
        #expect((0..<8).map { s.factor(step: $0) } == [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0])
        let c = LearningRateSchedule(.constant, warmupSteps: 4, totalSteps: 6)
        #expect((0..<6).map { c.factor(step: $0) } == [0, 0.25, 0.5, 0.75, 1, 1])
        // get_cosine_schedule_with_warmup: 0.5 (1 + cos(π · progress)) after warmup.
        let cosine = LearningRateSchedule(.cosine, warmupSteps: 1, totalSteps: 5)
        let f = (0..<6).map { cosine.factor(step: $0) }
        #expect(f[0] == 0 && f[1] == 1 && abs(f[3] - 0.5) < 1e-12 && abs(f[5]) < 1e-12)
        #expect(abs(f[2] - 0.5 * (1 + cos(Double.pi * 0.25))) < 1e-12)
        // No warmup: the first step runs at the full rate.
        #expect(LearningRateSchedule(.linear, warmupSteps: 0, totalSteps: 4).factor(step: 0) == 1)
    }

    @Test func maskingFollowsTheEightyTenTenRule() {
        let rule = MaskingRule(probability: 0.15, maskID: 4, vocabSize: 1000, specialIDs: [2, 3])
        var rng = SplitMix64(seed: 3)
        var chosen = 0, masked = 0, random = 0, kept = 0, total = 0
        for _ in 0..<400 {
            let ids = [2] + (0..<254).map { 5 + ($0 * 37) % 900 } + [3]
            let (inputs, labels) = rule.apply(ids, rng: &rng)
            #expect(labels.first == -100 && labels.last == -100 && inputs.first == 2 && inputs.last == 3)
            for i in ids.indices where ids[i] != 2 && ids[i] != 3 {
                total += 1
                if labels[i] == -100 { #expect(inputs[i] == ids[i]); continue }
                #expect(labels[i] == ids[i])
                chosen += 1
                if inputs[i] == 4 { masked += 1 } else if inputs[i] == ids[i] { kept += 1 } else { random += 1 }
            }
        }
        let rate = Double(chosen) / Double(total)
        #expect(abs(rate - 0.15) < 0.005, "chosen \(rate)")
        #expect(abs(Double(masked) / Double(chosen) - 0.8) < 0.01)
        // A random replacement can draw the original id (0.1 % here).
        #expect(abs(Double(random) / Double(chosen) - 0.1) < 0.01)
        #expect(abs(Double(kept) / Double(chosen) - 0.1) < 0.01)
    }
}
