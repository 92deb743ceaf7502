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
}
