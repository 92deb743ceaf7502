import Foundation

/// One task's fine-tuning outcome for one model: the chosen run (best learning rate on the grid) with its best and
/// last evaluation, and the task's majority-class floor on the same evaluation rows. Percentages, paper
/// definitions (SPEC §5.5), names of published_numbers.csv (`sst2_acc`, `mrpc_f1`, ...).
public struct FineTuneTaskResult: Codable, Equatable, Sendable {
    /// Display name, e.g. "SST-2".
    public var task: String
    /// Best evaluation of the chosen run (the paper does not say whether it reported best or last [UNKNOWN]).
    public var best: [String: Double]
    /// Last evaluation of the chosen run.
    public var last: [String: Double]
    /// The official metric definitions of the same evaluations (CoLA MCC, STS-B Pearson and Spearman, ...).
    public var official: [String: Double] = [:]
    public var officialLast: [String: Double] = [:]
    public var learningRate: Double
    public var batchSize: Int
    public var steps: Int
    public var trainRows: Int
    /// Evaluation rows (all splits), for the binomial interval of an accuracy.
    public var evalRows: Int
    /// Every metric of a model that always predicts the train split's most frequent class (regression: the train
    /// mean, whose correlation is undefined and scored 0, as for the models).
    public var majority: [String: Double]
    /// The run diverged (its metrics are those evaluated before the divergence, if any).
    public var diverged: String?
    /// Every fine-tuning seed's run (seed s fine-tunes pre-training seed s's checkpoint at the learning rate and
    /// batch chosen on seed 0's grid). When present, `best`, `last`, `official` and `officialLast` are their means
    /// over these seeds. Nil: one run (seed 0), whose values those are.
    public var seeds: [SeedScore]? = nil

    /// One fine-tuning seed's evaluations (paper and official definitions, best and last).
    public struct SeedScore: Codable, Equatable, Sendable {
        public var seed: Int
        public var best: [String: Double]
        public var last: [String: Double]
        public var official: [String: Double]
        public var officialLast: [String: Double]
        public var diverged: String?
        public init(seed: Int, best: [String: Double], last: [String: Double], official: [String: Double] = [:],
                    officialLast: [String: Double] = [:], diverged: String? = nil) {
            self.seed = seed; self.best = best; self.last = last; self.official = official
            self.officialLast = officialLast; self.diverged = diverged
        }
    }

    public init(task: String, best: [String: Double], last: [String: Double], official: [String: Double] = [:],
                officialLast: [String: Double] = [:], learningRate: Double, batchSize: Int,
                steps: Int, trainRows: Int, evalRows: Int, majority: [String: Double], diverged: String? = nil) {
        self.task = task; self.best = best; self.last = last; self.official = official; self.officialLast = officialLast
        self.learningRate = learningRate
        self.batchSize = batchSize; self.steps = steps; self.trainRows = trainRows; self.evalRows = evalRows
        self.majority = majority; self.diverged = diverged
    }

    /// The task's score for comparisons: the mean of its paper metrics (MRPC: F1 and accuracy), as "best" uses.
    public static func primary(_ m: [String: Double]) -> Double? {
        m.isEmpty ? nil : m.values.reduce(0, +) / Double(m.count)
    }

    /// Every seed's run: `seeds`, or without them the one run (seed 0) whose values these are.
    public var seedScores: [SeedScore] {
        seeds ?? [SeedScore(seed: 0, best: best, last: last, official: official, officialLast: officialLast,
                            diverged: diverged)]
    }

    /// Seed s's task score (`primary` of its best evaluation), by seed.
    public var primaryBySeed: [Int: Double] {
        var out: [Int: Double] = [:]
        for s in seedScores { if let p = Self.primary(s.best) { out[s.seed] = p } }
        return out
    }

    /// The result of several seeds' runs of one task: the first is the chosen run's (its learning rate, batch,
    /// steps); every metric is the mean over the seeds that have it.
    public static func overSeeds(_ first: FineTuneTaskResult, _ seeds: [SeedScore]) -> FineTuneTaskResult {
        guard !seeds.isEmpty else { return first }
        func mean(_ pick: (SeedScore) -> [String: Double]) -> [String: Double] {
            var sums: [String: (Double, Int)] = [:]
            for s in seeds { for (k, v) in pick(s) { let a = sums[k] ?? (0, 0); sums[k] = (a.0 + v, a.1 + 1) } }
            return sums.mapValues { $0.0 / Double($0.1) }
        }
        var r = first
        r.best = mean(\.best); r.last = mean(\.last); r.official = mean(\.official)
        r.officialLast = mean(\.officialLast)
        r.seeds = seeds
        let diverged = seeds.compactMap { s in s.diverged.map { "seed \(s.seed): \($0)" } }
        r.diverged = diverged.isEmpty ? nil : diverged.joined(separator: "; ")
        return r
    }
}
