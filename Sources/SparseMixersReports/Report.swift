import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersTraining

/// One value of a table: ours beside the paper's.
public struct ReportRow: Codable, Equatable, Sendable {
    public var variant: String
    public var metric: String
    public var ours: Double?
    public var published: Double?
    public var unit: String
    public var notes: String

    public init(variant: String, metric: String, ours: Double?, published: Double?, unit: String? = nil,
                notes: String = "") {
        self.variant = variant; self.metric = metric; self.ours = ours; self.published = published
        self.unit = unit ?? Metric.unit(metric); self.notes = notes
    }

    /// ours − published, when both exist and are on one scale (a count of stable runs out of another number of
    /// runs than the paper's, unit "runs of N", has none).
    public var difference: Double? {
        guard let o = ours, let p = published else { return nil }
        if unit.hasPrefix("runs of ") && unit != Metric.unit(metric) { return nil }
        return o - p
    }
}

/// One timed variant: our ms, our speed-up against the reference timed in the same run, the paper's speed-up,
/// and the FLOP ratio that would explain it.
public struct SpeedRow: Codable, Equatable, Sendable {
    public var variant: String
    /// What was timed, as a published metric name: "ms_per_batch" (pre-training step), "training_ms_per_ex",
    /// "inference_ms_per_ex".
    public var msMetric: String
    public var timing: TimingSummary
    /// Reference median / this median (filled by `Report.computeSpeedups()`).
    public var ourSpeedup: Double?
    public var paperSpeedup: Double?
    /// The paper's ms (V100s; not comparable to CPU ms, shown for context).
    public var paperMs: Double?
    /// Reference FLOPs / variant FLOPs (analytic), the speed-up FLOPs alone would predict.
    public var flopRatio: Double?
    /// Shapes of the timed step, e.g. "B=8 L=64".
    public var shape: String
    public var notes: String
    /// `ourSpeedup`'s 95% interval over the rounds (paired with the reference timed in the same round), and
    /// whether the rounds stopped before it was as narrow as asked (`SpeedupInterval.unstable`).
    public var interval: SpeedupInterval? = nil
    /// The median of the reference timed in the same rounds as this row (its own group's), in this row's unit.
    public var referenceMs: Double? = nil
    /// Where this row's rounds were timed: "group 2", or another table's group when the timing was shared.
    public var timedIn: String? = nil

    public init(variant: String, msMetric: String = "ms_per_batch", timing: TimingSummary, ourSpeedup: Double? = nil,
                paperSpeedup: Double? = nil, paperMs: Double? = nil, flopRatio: Double? = nil, shape: String = "",
                notes: String = "") {
        self.variant = variant; self.msMetric = msMetric; self.timing = timing; self.ourSpeedup = ourSpeedup
        self.paperSpeedup = paperSpeedup; self.paperMs = paperMs; self.flopRatio = flopRatio; self.shape = shape
        self.notes = notes
    }

    /// The published speed-up metric paired with `msMetric`.
    public var speedupMetric: String {
        switch msMetric {
        case "training_ms_per_ex": return "training_speedup"
        case "inference_ms_per_ex": return "inference_speedup"
        default: return "speedup"
        }
    }
}

/// Everything one table executable produces. Written as CSV, Markdown and JSON by `ReportWriter`.
public struct Report: Codable, Equatable, Sendable {
    public var tableID: TableID
    public var title: String
    public var scale: Scale
    /// `ScaleSettings.ruleText` of the scale used.
    public var scaleRule: String
    /// Every number of the scale used (steps, batch, widths, LR grids), for reproducing the run.
    public var scaleSettings: ScaleSettings?
    public var environment: EnvironmentInfo?
    /// Speed-up denominator (BERT Base), when the table has speeds.
    public var referenceVariant: String?
    public var rows: [ReportRow]
    public var speedRows: [SpeedRow]
    public var skipped: [SkippedItem]
    public var notes: [String]
    /// Every pre-training run's held-out accuracy (one per variant, seed and metric), when the table pre-trains.
    public var seedRuns: [SeedRun]? = nil
    /// Mean over seeds and paired difference to `accuracyReference` per variant and metric.
    public var comparisons: [AccuracyComparison]? = nil
    /// The row the accuracy differences are taken against (the table's first row).
    public var accuracyReference: String? = nil
    /// Floors of the held-out set: the best constant predictor's MLM and NSP accuracy (percent).
    public var mlmFloor: Double? = nil
    public var nspFloor: Double? = nil
    /// Held-out accuracy along every pre-training run.
    public var curves: [LearningCurve]? = nil
    /// Fine-tuning per task against the majority class and the random-initialisation control.
    public var fineTuning: [FineTuneSummary]? = nil
    /// Load average, sgemm peak and other processes' CPU share around the speed phase, with warnings.
    public var speedConditions: SpeedConditions? = nil
    /// What each accuracy row was trained as (scaled config beside the paper size, pre-training runs, seeds,
    /// fine-tuning protocol, guesses); nil when the table trains nothing.
    public var trained: [TrainedRow]? = nil
    /// Why no configuration is listed (`--speed-only`), or what the list stands for.
    public var trainedNote: String? = nil

    public init(tableID: TableID, title: String, scale: Scale, scaleRule: String? = nil,
                environment: EnvironmentInfo? = nil, referenceVariant: String? = nil, rows: [ReportRow] = [],
                speedRows: [SpeedRow] = [], skipped: [SkippedItem] = [], notes: [String] = []) {
        self.tableID = tableID; self.title = title; self.scale = scale
        self.scaleRule = scaleRule ?? scale.settings.ruleText
        self.scaleSettings = scale.settings
        self.environment = environment; self.referenceVariant = referenceVariant; self.rows = rows
        self.speedRows = speedRows; self.skipped = skipped; self.notes = notes
    }

    /// An empty report for a table spec: title, reference variant and the spec's notes filled in.
    public init(spec: TableSpec, scale: Scale, environment: EnvironmentInfo?) {
        self.init(tableID: spec.id, title: spec.title, scale: scale, environment: environment,
                  referenceVariant: spec.speedReference?.name, notes: spec.notes)
    }

    /// Adds a value row, looking the published value up in `published` (table id, variant, metric).
    public mutating func add(variant: String, metric: String, ours: Double?, published: PublishedNumbers?,
                             notes: String = "") {
        let p = published?.value(table: tableID, variant: variant, metric: metric)
        rows.append(ReportRow(variant: variant, metric: metric, ours: ours, published: p, notes: notes))
    }

    /// Adds a timed variant; the paper's speed-up and ms are looked up in `published`.
    public mutating func addSpeed(variant: String, msMetric: String = "ms_per_batch", timing: TimingSummary,
                                  flopRatio: Double? = nil, shape: String = "", published: PublishedNumbers?,
                                  notes: String = "") {
        var row = SpeedRow(variant: variant, msMetric: msMetric, timing: timing, flopRatio: flopRatio, shape: shape,
                           notes: notes)
        row.paperSpeedup = published?.value(table: tableID, variant: variant, metric: row.speedupMetric)
        row.paperMs = published?.value(table: tableID, variant: variant, metric: msMetric)
        speedRows.append(row)
    }

    public mutating func skip(_ item: String, because reason: String) {
        skipped.append(SkippedItem(item: item, reason: reason))
    }

    /// Fills `ourSpeedup` = reference median / variant median for every speed row whose ms metric matches a
    /// row of the reference variant. Rows stay nil when the reference was not timed.
    public mutating func computeSpeedups() {
        guard let ref = referenceVariant else { return }
        for i in speedRows.indices {
            guard let r = speedRows.first(where: { $0.variant == ref && $0.msMetric == speedRows[i].msMetric }),
                  speedRows[i].timing.median > 0 else { continue }
            speedRows[i].ourSpeedup = r.timing.median / speedRows[i].timing.median
        }
    }

    /// Short comparisons for the index: speed-ups, then averages / pre-training accuracies / cost values.
    public var headlines: [String] {
        var out: [String] = []
        for s in speedRows where s.variant != referenceVariant {
            guard let ours = s.ourSpeedup else { continue }
            out.append("\(s.variant): \(s.speedupMetric) \(Format.value(ours, unit: "x"))"
                + (s.interval.map {
                    String(format: " [%.2f–%.2f]", $0.low, $0.high) + ($0.unstable ? " unstable" : "")
                } ?? "")
                + (s.paperSpeedup.map { " (paper \(Format.value($0, unit: "x")))" } ?? ""))
        }
        let key: Set<String> = ["glue_avg", "superglue_avg", "mlm_acc", "nsp_acc", "gflops_per_ex", "params_m",
                                "stable_64", "stable_256"]
        for r in rows where key.contains(r.metric) && r.ours != nil {
            out.append("\(r.variant): \(r.metric) \(Format.value(r.ours, unit: r.unit))"
                + (r.published.map { " (paper \(Format.value($0, unit: r.unit)))" } ?? ""))
        }
        return Array(out.prefix(8))
    }
}

/// Number formatting shared by the Markdown, CSV and index writers.
public enum Format {
    /// "–" for nil; ratios with 2 decimals, ms with 3 significant digits, percentages and the rest with 1–2.
    public static func value(_ v: Double?, unit: String) -> String {
        guard let v else { return "–" }
        switch unit {
        case "x": return String(format: "%.2f", v)
        case "ms": return v >= 100 ? String(format: "%.0f", v) : String(format: "%.3g", v)
        case "%", "corr x100": return String(format: "%.1f", v)
        case "GFLOPs", "M": return String(format: "%.1f", v)
        default: return v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(format: "%.2f", v)
        }
    }

    /// Full precision for the CSV (round-trips through Double).
    public static func raw(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }

    /// A Markdown table cell: pipes escaped, newlines as <br>.
    public static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r\n", with: "<br>")
            .replacingOccurrences(of: "\n", with: "<br>")
    }
}
