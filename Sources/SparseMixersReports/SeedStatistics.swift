import Foundation

// Uncertainty of the accuracy columns (issue 16): every variant is pre-trained with several seeds, shared across
// variants (seed s gives every variant the same data order and masks), and scored on one fixed held-out set.
// A variant's accuracy is the mean over seeds with a t interval; its difference to the table's reference is the
// mean of per-seed differences with a paired t interval; a verdict says whether that interval resolves the sign
// the paper reports.

/// One pre-training run's held-out accuracy, with the binomial (Wilson) 95% interval of its eval set.
public struct SeedRun: Codable, Equatable, Sendable {
    public var variant: String
    public var seed: Int
    /// "mlm_acc" or "nsp_acc".
    public var metric: String
    /// Percent.
    public var value: Double
    /// Predictions scored (masked pieces, NSP pairs).
    public var count: Int?
    public var wilsonLow: Double?
    public var wilsonHigh: Double?

    public init(variant: String, seed: Int, metric: String, value: Double, count: Int?) {
        self.variant = variant; self.seed = seed; self.metric = metric; self.value = value; self.count = count
        if let n = count, n > 0 {
            let w = SeedStatistics.wilson(successes: value / 100 * Double(n), trials: Double(n))
            wilsonLow = 100 * w.low; wilsonHigh = 100 * w.high
        }
    }
}

/// Held-out MLM accuracy along a pre-training run: against training tokens and against seconds in training steps.
public struct LearningCurve: Codable, Equatable, Sendable {
    public struct Point: Codable, Equatable, Sendable {
        public var step: Int
        public var tokens: Double
        public var seconds: Double
        public var mlmAccuracy: Double
        public var nspAccuracy: Double
        public init(step: Int, tokens: Double, seconds: Double, mlmAccuracy: Double, nspAccuracy: Double) {
            self.step = step; self.tokens = tokens; self.seconds = seconds; self.mlmAccuracy = mlmAccuracy
            self.nspAccuracy = nspAccuracy
        }
    }
    public var variant: String
    public var seed: Int
    public var points: [Point]
    public init(variant: String, seed: Int, points: [Point]) {
        self.variant = variant
        self.seed = seed
        self.points = points
    }
}

/// A variant's accuracy over seeds and its paired difference to the table's reference, beside the paper's.
public struct AccuracyComparison: Codable, Equatable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// The paired interval excludes zero and has the paper's sign.
        case sameSignResolved = "same sign, resolved"
        /// The paired interval excludes zero with the opposite sign.
        case oppositeSignResolved = "opposite sign, resolved"
        /// The interval contains zero, or fewer than two paired seeds.
        case notResolved = "not resolved"
        /// The reference row itself, or no published difference to compare with.
        case notApplicable = "-"
    }
    public var variant: String
    public var metric: String
    public var seeds: Int
    public var mean: Double
    /// Half-width of the 95% t interval over seeds (nil with one seed).
    public var halfWidth: Double?
    public var reference: String
    /// Seeds both this variant and the reference ran.
    public var pairedSeeds: Int
    public var difference: Double?
    public var differenceHalfWidth: Double?
    /// Published variant − published reference.
    public var paperDifference: Double?
    public var verdict: Verdict
}

public enum SeedStatistics {
    /// Two-sided 95% quantile of Student's t with `df` degrees of freedom (df >= 1).
    public static func t975(df: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
                               2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                               2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        precondition(df >= 1, "t quantile needs at least one degree of freedom")
        return df <= table.count ? table[df - 1] : 1.96 + 2.4 / Double(df)
    }

    /// Mean and half-width of the 95% t interval (nil for fewer than two values).
    public static func meanInterval(_ xs: [Double]) -> (mean: Double, halfWidth: Double?) {
        precondition(!xs.isEmpty, "meanInterval needs at least one value")
        let n = Double(xs.count)
        let mean = xs.reduce(0, +) / n
        guard xs.count > 1 else { return (mean, nil) }
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        return (mean, t975(df: xs.count - 1) * (variance / n).squareRoot())
    }

    /// Wilson score 95% interval of a binomial proportion (fractions, not percent).
    public static func wilson(successes k: Double, trials n: Double,
                              z: Double = 1.959964) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let p = k / n, z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot() / (1 + z2 / n)
        return (max(0, centre - half), min(1, centre + half))
    }

    /// The verdict of a paired interval against the paper's difference.
    public static func verdict(difference d: Double?, halfWidth h: Double?,
                               paper: Double?) -> AccuracyComparison.Verdict {
        guard let paper, paper != 0 else { return .notApplicable }
        guard let d, let h else { return .notResolved }
        if abs(d) <= h { return .notResolved }
        return (d > 0) == (paper > 0) ? .sameSignResolved : .oppositeSignResolved
    }

    /// Comparisons of every variant's seed runs with the reference's, for each metric present, in variant order.
    public static func compare(runs: [SeedRun], variants: [String], reference: String,
                               published: (String, String) -> Double?) -> [AccuracyComparison] {
        var out: [AccuracyComparison] = []
        var metrics: [String] = []
        for r in runs where !metrics.contains(r.metric) { metrics.append(r.metric) }
        for m in metrics {
            let refRuns = runs.filter { $0.variant == reference && $0.metric == m }
            let refBySeed = Dictionary(refRuns.map { ($0.seed, $0.value) }, uniquingKeysWith: { a, _ in a })
            for v in variants {
                let mine = runs.filter { $0.variant == v && $0.metric == m }.sorted { $0.seed < $1.seed }
                guard !mine.isEmpty else { continue }
                let (mean, hw) = meanInterval(mine.map(\.value))
                let diffs = mine.compactMap { r in refBySeed[r.seed].map { r.value - $0 } }
                let isRef = v == reference
                let paired = isRef || diffs.isEmpty ? nil : meanInterval(diffs)
                var paper: Double? = nil
                if !isRef, let a = published(v, m), let b = published(reference, m) { paper = a - b }
                out.append(AccuracyComparison(
                    variant: v, metric: m, seeds: mine.count, mean: mean, halfWidth: hw, reference: reference,
                    pairedSeeds: isRef ? 0 : diffs.count, difference: paired?.mean,
                    differenceHalfWidth: paired?.halfWidth, paperDifference: paper,
                    verdict: isRef ? .notApplicable : verdict(difference: paired?.mean, halfWidth: paired?.halfWidth,
                                                              paper: paper)))
            }
        }
        return out
    }
}
