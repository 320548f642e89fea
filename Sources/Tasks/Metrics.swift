// Evaluation metrics with scikit-learn's definitions (zero_division=0: a ratio
// whose denominator is 0 counts as 0): accuracy, precision, recall and F1 per
// class and averaged (binary, macro, micro, weighted, samples), the
// confusion matrix, and regression errors.

#if canImport(Glibc)
import Glibc
#endif

/// Precision, recall, F1 and support of one class.
public struct ClassScores: Sendable, Equatable {
    public var precision: Double, recall: Double, f1: Double
    public var support: Int
}

/// The scores of a set of predictions, by name (`accuracy`, `f1_macro`, …).
public struct MetricReport: Sendable {
    public init() {}
    /// Scalar metrics in a fixed order (names as `--metric` takes them).
    public var scalars: [(name: String, value: Double)] = []
    /// Per-class scores (classification), in label order.
    public var perClass: [ClassScores] = []
    /// The labels' names, when the report has per-class scores.
    public var labelNames: [String] = []
    /// `confusion[true][predicted]` (single-label classification).
    public var confusion: [[Int]] = []

    public subscript(name: String) -> Double? { scalars.first { $0.name == name }?.value }
}

public enum Metrics {
    private static func ratio(_ a: Double, _ b: Double) -> Double { b == 0 ? 0 : a / b }

    private static func scores(tp: Double, fp: Double, fn: Double) -> (Double, Double, Double) {
        let p = ratio(tp, tp + fp), r = ratio(tp, tp + fn)
        return (p, r, ratio(2 * tp, 2 * tp + fp + fn))
    }

    /// Averages of per-class counts: macro (unweighted), weighted (by
    /// support), micro (pooled counts).
    private static func averaged(tp: [Double], fp: [Double], fn: [Double], support: [Int], into report: inout MetricReport) {
        let per = tp.indices.map { scores(tp: tp[$0], fp: fp[$0], fn: fn[$0]) }
        report.perClass = per.indices.map { ClassScores(precision: per[$0].0, recall: per[$0].1, f1: per[$0].2, support: support[$0]) }
        let C = Double(max(1, per.count)), total = Double(support.reduce(0, +))
        let micro = scores(tp: tp.reduce(0, +), fp: fp.reduce(0, +), fn: fn.reduce(0, +))
        func weighted(_ k: KeyPath<ClassScores, Double>) -> Double {
            ratio(report.perClass.reduce(0) { $0 + $1[keyPath: k] * Double($1.support) }, total)
        }
        let macro = (per.reduce(0) { $0 + $1.0 } / C, per.reduce(0) { $0 + $1.1 } / C, per.reduce(0) { $0 + $1.2 } / C)
        report.scalars += [
            ("f1_macro", macro.2), ("f1_micro", micro.2), ("f1_weighted", weighted(\.f1)),
            ("precision_macro", macro.0), ("recall_macro", macro.1),
            ("precision_micro", micro.0), ("recall_micro", micro.1),
            ("precision_weighted", weighted(\.precision)), ("recall_weighted", weighted(\.recall)),
        ]
    }

    /// Single-label classification over `classes` labels. With two classes,
    /// `f1` is the binary F1 of class 1 (scikit-learn's `pos_label=1`).
    public static func classification(truth: [Int], predicted: [Int], classes: Int) -> MetricReport {
        precondition(truth.count == predicted.count)
        var report = MetricReport()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (t, p) in zip(truth, predicted) { confusion[t][p] += 1 }
        var tp = [Double](repeating: 0, count: classes), fp = tp, fn = tp
        var support = [Int](repeating: 0, count: classes)
        for c in 0..<classes {
            tp[c] = Double(confusion[c][c])
            support[c] = confusion[c].reduce(0, +)
            fn[c] = Double(support[c] - confusion[c][c])
            fp[c] = Double((0..<classes).reduce(0) { $0 + confusion[$1][c] } - confusion[c][c])
        }
        let correct = zip(truth, predicted).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        report.scalars.append(("accuracy", ratio(Double(correct), Double(truth.count))))
        if classes == 2 { report.scalars.append(("f1", scores(tp: tp[1], fp: fp[1], fn: fn[1]).2)) }
        averaged(tp: tp, fp: fp, fn: fn, support: support, into: &report)
        report.confusion = confusion
        return report
    }

    /// Multi-label classification: `truth` and `predicted` are rows of
    /// `classes` booleans. `accuracy` is the exact-match (subset) accuracy;
    /// `f1_samples` averages each row's F1.
    public static func multiLabel(truth: [[Bool]], predicted: [[Bool]], classes: Int) -> MetricReport {
        precondition(truth.count == predicted.count)
        var report = MetricReport()
        var tp = [Double](repeating: 0, count: classes), fp = tp, fn = tp
        var support = [Int](repeating: 0, count: classes)
        var exact = 0
        var samples = 0.0
        for (t, p) in zip(truth, predicted) {
            if t == p { exact += 1 }
            var rtp = 0.0, rfp = 0.0, rfn = 0.0
            for c in 0..<classes {
                if t[c] { support[c] += 1 }
                switch (t[c], p[c]) {
                case (true, true): tp[c] += 1; rtp += 1
                case (false, true): fp[c] += 1; rfp += 1
                case (true, false): fn[c] += 1; rfn += 1
                case (false, false): break
                }
            }
            samples += scores(tp: rtp, fp: rfp, fn: rfn).2
        }
        report.scalars.append(("accuracy", ratio(Double(exact), Double(truth.count))))
        averaged(tp: tp, fp: fp, fn: fn, support: support, into: &report)
        report.scalars.append(("f1_samples", ratio(samples, Double(truth.count))))
        return report
    }

    /// Regression: mean squared and absolute error, R² and Pearson's r.
    public static func regression(truth: [Double], predicted: [Double]) -> MetricReport {
        precondition(truth.count == predicted.count)
        let n = Double(truth.count)
        var report = MetricReport()
        guard n > 0 else { return report }
        let mse = zip(truth, predicted).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / n
        let mae = zip(truth, predicted).reduce(0) { $0 + abs($1.0 - $1.1) } / n
        let mt = truth.reduce(0, +) / n, mp = predicted.reduce(0, +) / n
        let sst = truth.reduce(0) { $0 + ($1 - mt) * ($1 - mt) }
        let spp = predicted.reduce(0) { $0 + ($1 - mp) * ($1 - mp) }
        let stp = zip(truth, predicted).reduce(0) { $0 + ($1.0 - mt) * ($1.1 - mp) }
        // scikit-learn's r2_score: 1 − SSE / SST; a constant truth gives 1 for a perfect fit, else 0.
        let sse = mse * n
        let r2 = sst == 0 ? (sse == 0 ? 1 : 0) : 1 - sse / sst
        report.scalars = [("mse", mse), ("mae", mae), ("r2", r2), ("pearson", ratio(stp, (sst * spp).squareRoot()))]
        return report
    }

    /// Whether a larger value of metric `name` is better (all but losses and errors).
    public static func greaterIsBetter(_ name: String) -> Bool { !["loss", "perplexity", "mse", "mae"].contains(name) }
}
