// Schedules against transformers' schedulers, and masking statistics.

import Model
import Testing
import Train
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ScheduleAndMaskingTests {
    /// Every factor of transformers' three warmup schedules, as
    /// make_train_goldens.py recorded them from the real schedulers.
    @Test func schedulesMatchTransformers() throws {
        let cases = try #require(try Fixtures.json("train-goldens/schedules.json").array)
        #expect(cases.count == 15)
        for c in cases {
            let kind = try #require(c["kind"]?.string.flatMap(LearningRateSchedule.Kind.init(rawValue:)))
            let warmup = try #require(c["warmup_steps"]?.int), total = try #require(c["total_steps"]?.int)
            let expected = (c["factors"]?.array ?? []).compactMap(\.double)
            #expect(expected.count == total + 2)
            let schedule = LearningRateSchedule(kind, warmupSteps: warmup, totalSteps: total)
            for (step, want) in expected.enumerated() {
                let got = schedule.factor(step: step)
                #expect(abs(got - want) <= 1e-15, "\(kind) warmup \(warmup) total \(total) step \(step): \(got), transformers \(want)")
            }
        }
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
