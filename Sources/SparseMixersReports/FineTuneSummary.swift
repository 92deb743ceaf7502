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

    public static let controlName = "random-init control"

    /// Builds the summary. `results[v]` are variant v's task results; `control` the control's (nil: not run).
    /// A task has signal when the reference's best score (the mean of its paper metrics) is above the majority
    /// class's and, when the control ran, above the control's best, each by more than the dev set's 95% noise.
    public static func build(benchmark: String, reference: String, variantOrder: [String], results: [String: [FineTuneTaskResult]],
                             control: [FineTuneTaskResult]?, controlDescription: String) -> FineTuneSummary? {
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
            // which is as noisy.
            let h = noiseHalfWidth(r.best, rows: r.evalRows)
            row.noiseHalfWidth = h
            var reasons: [String] = []
            if !(ref - floor > h) {
                reasons.append(String(format: "reference %.1f does not beat the majority class %.1f by more than "
                                      + "the 95%% noise %.1f", ref, floor, h))
            }
            if let c = row.control, let cp = FineTuneTaskResult.primary(c.best), !(ref - cp > h * 2.0.squareRoot()) {
                reasons.append(String(format: "reference %.1f does not beat the random-init control %.1f by more "
                                      + "than the 95%% noise %.1f", ref, cp, h * 2.0.squareRoot()))
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
        return FineTuneSummary(benchmark: benchmark, reference: reference, variantOrder: variantOrder, tasks: rows, signalAverage: avg,
                               signalAverageLast: avgLast, signalMetrics: signalMetrics,
                               controlDescription: controlDescription)
    }
}
