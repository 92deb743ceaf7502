import Foundation
import SparseMixersTraining

/// Fine-tuning of a table against its floors: per task the majority class, a random-initialisation control (the
/// reference architecture fine-tuned the same way from its untrained weights), every variant's best and last
/// value, and whether the reference rises above both floors. Tasks without signal are kept out of the averages.
public struct FineTuneSummary: Codable, Equatable, Sendable {
    public struct TaskRow: Codable, Equatable, Sendable {
        public var task: String
        /// The task's paper metrics, in order.
        public var metrics: [String]
        public var evalRows: Int
        public var majority: [String: Double]
        public var control: FineTuneTaskResult?
        /// Variant name -> its chosen run on this task.
        public var variants: [String: FineTuneTaskResult]
        /// The reference's best beats the majority class and the control (on the mean of the task's metrics) by more
        /// than the dev set's 95% sampling noise.
        public var signal: Bool
        /// Why there is no signal, when there is none.
        public var noSignalReason: String?
        /// 95% half-width of the reference's task score from the dev set's size (`noiseHalfWidth`).
        public var noiseHalfWidth: Double? = nil
        /// Fine-tuning seeds of the reference's task score, and the half-width of its 95% t interval over them
        /// (nil under two seeds).
        public var referenceSeeds: Int? = nil
        public var referenceSeedHalfWidth: Double? = nil
        /// Reference − control task score, seed by seed (seed s: the reference pre-trained with seed s, the control
        /// initialised with seed s, both fine-tuned with seed s): mean, 95% t half-width, seeds paired.
        public var controlDifference: Double? = nil
        public var controlDifferenceHalfWidth: Double? = nil
        public var controlPairedSeeds: Int? = nil
    }

    /// The 95% half-width, in points, of a task score (mean of its metrics) measured on `rows` dev rows: for an
    /// accuracy, F1 or EM the binomial 1.96·sqrt(p(1−p)/n); for a correlation (STS-B, CoLA's MCC) the delta-method
    /// 1.96·(1−r²)/sqrt(n−3). An approximation (F1 is not a proportion of the rows), stated in the report.
    public static func noiseHalfWidth(_ metrics: [String: Double], rows: Int) -> Double {
        guard rows > 3, !metrics.isEmpty else { return .infinity }
        let n = Double(rows)
        let hs = metrics.map { (name, value) -> Double in
            let x = min(max(value / 100, -1), 1)
            if name.hasPrefix("stsb") || name.hasSuffix("_mcc") { return 196 * (1 - x * x) / (n - 3).squareRoot() }
            let p = min(max(x, 0), 1)
            return 196 * (p * (1 - p) / n).squareRoot()
        }
        return hs.reduce(0, +) / Double(hs.count)
    }
    /// "GLUE" or "SuperGLUE": averages never mix the two.
    public var benchmark: String
    public var reference: String
    public var variantOrder: [String]
    public var tasks: [TaskRow]
    /// Variant name -> mean of the paper metrics of the tasks with signal (best evaluations); the same for the
    /// control under the key `FineTuneSummary.controlName`.
    public var signalAverage: [String: Double]
    public var signalAverageLast: [String: Double]
    /// Names of the paper metrics averaged in `signalAverage`.
    public var signalMetrics: [String]
    /// Fine-tuning runs per model that the control comes from (description for the report).
    public var controlDescription: String
    /// With fine-tuning seeds: every variant's (and the control's) task scores over seeds, and their paired
    /// difference to the reference, per paper metric and for the average over the tasks with signal.
    public var seedComparisons: [AccuracyComparison]? = nil

    public static let controlName = "random-init control"

    /// Builds the summary. `results[v]` are variant v's task results; `control` the control's (nil: not run).
    /// A task has signal when the reference's best score (the mean of its paper metrics) is above the majority
    /// class's and, when the control ran, above the control's best, each by more than the dev set's 95% noise.
    public static func build(benchmark: String, reference: String, variantOrder: [String],
                             results: [String: [FineTuneTaskResult]], control: [FineTuneTaskResult]?,
                             controlDescription: String) -> FineTuneSummary? {
        guard let refResults = results[reference], !refResults.isEmpty else { return nil }
        var rows: [TaskRow] = []
        for r in refResults {
            let metrics = r.best.keys.sorted()
            var row = TaskRow(task: r.task, metrics: metrics, evalRows: r.evalRows, majority: r.majority,
                              control: control?.first { $0.task == r.task }, variants: [:], signal: false)
            for v in variantOrder { if let x = results[v]?.first(where: { $0.task == r.task }) { row.variants[v] = x } }
            let ref = FineTuneTaskResult.primary(r.best) ?? -.infinity
            let floor = FineTuneTaskResult.primary(r.majority) ?? -.infinity
            // Beating a floor means by more than the dev set's sampling noise: the 95% half-width of the
            // reference's score against the (fixed) majority predictor, sqrt(2) times it against the control,
            // which is as noisy. With two or more fine-tuning seeds, also by more than the seeds' noise: the 95% t
            // interval of the reference's score lies above the majority class, and the paired interval of
            // reference − control lies above zero.
            let h = noiseHalfWidth(r.best, rows: r.evalRows)
            row.noiseHalfWidth = h
            let refBySeed = r.primaryBySeed
            if r.seeds != nil, !refBySeed.isEmpty {
                row.referenceSeeds = refBySeed.count
                let refScores = refBySeed.sorted { $0.key < $1.key }.map(\.value)
                row.referenceSeedHalfWidth = SeedStatistics.meanInterval(refScores).halfWidth
            }
            var reasons: [String] = []
            if !(ref - floor > h) {
                reasons.append(String(format: "reference %.1f does not beat the majority class %.1f by more than "
                                      + "the 95%% noise %.1f", ref, floor, h))
            } else if let hs = row.referenceSeedHalfWidth, !(ref - hs > floor) {
                reasons.append(String(format: "the reference's 95%% interval over %d seeds, %.1f ± %.1f, reaches the "
                                      + "majority class %.1f", row.referenceSeeds ?? 0, ref, hs, floor))
            }
            if let c = row.control, let cp = FineTuneTaskResult.primary(c.best) {
                let cBySeed = c.primaryBySeed
                let diffs = refBySeed.keys.sorted().compactMap { k in cBySeed[k].map { refBySeed[k]! - $0 } }
                if c.seeds != nil || r.seeds != nil, !diffs.isEmpty {
                    let (d, hd) = SeedStatistics.meanInterval(diffs)
                    row.controlDifference = d; row.controlDifferenceHalfWidth = hd; row.controlPairedSeeds = diffs.count
                }
                if !(ref - cp > h * 2.0.squareRoot()) {
                    reasons.append(String(format: "reference %.1f does not beat the random-init control %.1f by more "
                                          + "than the 95%% noise %.1f", ref, cp, h * 2.0.squareRoot()))
                } else if let d = row.controlDifference, let hd = row.controlDifferenceHalfWidth, !(d - hd > 0) {
                    reasons.append(String(format: "reference − control over %d paired seeds, %.1f ± %.1f, "
                                          + "includes zero", row.controlPairedSeeds ?? 0, d, hd))
                }
            }
            if control != nil && row.control == nil { reasons.append("the control has no result for this task") }
            row.signal = reasons.isEmpty
            row.noSignalReason = reasons.isEmpty ? nil : reasons.joined(separator: "; ")
            rows.append(row)
        }
        let signalTasks = rows.filter(\.signal)
        let signalMetrics = signalTasks.flatMap(\.metrics)
        var avg: [String: Double] = [:], avgLast: [String: Double] = [:]
        func average(_ pick: (String) -> FineTuneTaskResult?) -> (Double, Double)? {
            var best: [Double] = [], last: [Double] = []
            for t in signalTasks {
                guard let x = pick(t.task) else { return nil }
                for m in t.metrics {
                    guard let b = x.best[m], let l = x.last[m] else { return nil }
                    best.append(b); last.append(l)
                }
            }
            guard !best.isEmpty else { return nil }
            return (best.reduce(0, +) / Double(best.count), last.reduce(0, +) / Double(last.count))
        }
        for v in variantOrder {
            if let (b, l) = average({ t in results[v]?.first { $0.task == t } }) { avg[v] = b; avgLast[v] = l }
        }
        if let control, let (b, l) = average({ t in control.first { $0.task == t } }) {
            avg[controlName] = b; avgLast[controlName] = l
        }
        var summary = FineTuneSummary(benchmark: benchmark, reference: reference, variantOrder: variantOrder,
                                      tasks: rows, signalAverage: avg, signalAverageLast: avgLast,
                                      signalMetrics: signalMetrics, controlDescription: controlDescription)
        summary.seedComparisons = seedComparisons(rows: rows, signalTasks: signalTasks, results: results,
                                                  control: control, summary: summary)
        return summary
    }

    /// Mean and 95% interval over fine-tuning seeds of every paper metric of every task (in task order), and of
    /// the average over the tasks with signal; each paired with the reference seed by seed. Nil without seeds.
    static func seedComparisons(rows: [TaskRow], signalTasks: [TaskRow], results: [String: [FineTuneTaskResult]],
                                control: [FineTuneTaskResult]?, summary: FineTuneSummary) -> [AccuracyComparison]? {
        var all = results
        if let control { all[controlName] = control }
        guard all.values.contains(where: { $0.contains { $0.seeds != nil } }) else { return nil }
        let names = [summary.reference] + summary.variantOrder.filter { $0 != summary.reference } + [controlName]
        let averageName = summary.benchmark.lowercased() + "_avg_signal"
        var runs: [SeedRun] = []
        for name in names {
            guard let rs = all[name] else { continue }
            for t in rows {
                guard let r = rs.first(where: { $0.task == t.task }) else { continue }
                for m in t.metrics {
                    for sc in r.seedScores {
                        if let x = sc.best[m] {
                            runs.append(SeedRun(variant: name, seed: sc.seed, metric: m, value: x, count: nil))
                        }
                    }
                }
            }
            // Seed s's average over the tasks with signal (only seeds that have every one of their metrics).
            guard !signalTasks.isEmpty else { continue }
            var bySeed: [Int: [Double]] = [:]
            var complete = Set<Int>()
            for (i, t) in signalTasks.enumerated() {
                guard let r = rs.first(where: { $0.task == t.task }) else { complete = []; break }
                var here = Set<Int>()
                for sc in r.seedScores {
                    let xs = t.metrics.compactMap { sc.best[$0] }
                    guard xs.count == t.metrics.count else { continue }
                    bySeed[sc.seed, default: []] += xs
                    here.insert(sc.seed)
                }
                complete = i == 0 ? here : complete.intersection(here)
            }
            for seed in complete.sorted() {
                let xs = bySeed[seed]!
                runs.append(SeedRun(variant: name, seed: seed, metric: averageName,
                                    value: xs.reduce(0, +) / Double(xs.count), count: nil))
            }
        }
        return SeedStatistics.compare(runs: runs, variants: names, reference: summary.reference) { _, _ in nil }
    }
}
