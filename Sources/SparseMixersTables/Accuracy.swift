import Foundation
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

// The seam between the table runner and the training drivers (issue 5). `TableRunner` calls
// `AccuracyPhase.run` once per run variant (unless --speed-only) and turns the returned metrics into report rows
// beside the published numbers; `VariantAccuracy` (SparseMixersTraining) does the pre-training and fine-tuning.

/// What one variant's accuracy run needs.
public struct AccuracyRequest {
    /// The table, already scaled (`ScaleSettings.scaled(_:)`): pre-training steps, batch sizes, LR, warm-up.
    public var table: TableSpec
    /// The variant, already scaled: width-shrunk config, fine-tuning batch sizes and epochs of the scale.
    public var variant: VariantSpec
    /// Every number of the scale (fine-tuning caps, LR grids, eval batches, stability runs).
    public var settings: ScaleSettings
    /// `--data DIR`: the data root; nil lets SparseMixersData resolve it (Data/, then ../shared/data).
    public var dataDirectory: String?
    /// Where runs keep checkpoints and logs, e.g. Reports/runs. Reuse across tables is the driver's business.
    public var workDirectory: URL
    /// False: pre-train only (`--no-finetune`); fine-tuning is named as not run.
    public var fineTune: Bool

    public init(table: TableSpec, variant: VariantSpec, settings: ScaleSettings, dataDirectory: String?,
                workDirectory: URL, fineTune: Bool = true) {
        self.table = table; self.variant = variant; self.settings = settings
        self.dataDirectory = dataDirectory; self.workDirectory = workDirectory; self.fineTune = fineTune
    }
}

/// What came back for one variant.
public struct AccuracyOutcome {
    /// Metric name -> value, with the names of published_numbers.csv: mlm_acc, nsp_acc, glue_avg, superglue_avg,
    /// cola_acc, mrpc_f1, stsb_spearman, boolq_acc, stable_64, ... Percentages as in the paper (0-100).
    /// A value at one fine-tuning batch size uses the suffix "@bs<paper batch>", e.g. "cola_acc@bs16" (Tables 17
    /// and 18 re-tabulate those); an unsuffixed name is the best batch size per benchmark.
    public var metrics: [String: Double]
    /// What was not produced and why (a dataset absent here, a diverged run, ...).
    public var skipped: [SkippedItem]
    public var notes: [String]
    /// Every seed's held-out accuracies (mlm_acc / nsp_acc in `metrics` are their means), learning curves, and the
    /// floors of the held-out set.
    public var seedRuns: [SeedRun] = []
    public var curves: [LearningCurve] = []
    public var mlmFloor: Double? = nil
    public var nspFloor: Double? = nil
    /// Per fine-tuned task: the chosen run (best learning rate) with best and last metrics, and the majority floor.
    public var fineTune: [FineTuneTaskResult] = []

    public init(metrics: [String: Double] = [:], skipped: [SkippedItem] = [], notes: [String] = [],
                seedRuns: [SeedRun] = []) {
        self.metrics = metrics; self.skipped = skipped; self.notes = notes; self.seedRuns = seedRuns
    }
}

public enum AccuracyPhase {
    /// Pre-trains and fine-tunes `request.variant` at the request's scale and returns its metrics.
    public static func run(_ request: AccuracyRequest) throws -> AccuracyOutcome {
        let o = try VariantAccuracy.run(table: request.table, variant: request.variant, settings: request.settings,
                                        dataDirectory: request.dataDirectory, workDirectory: request.workDirectory,
                                        fineTune: request.fineTune,
                                        log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        var a = AccuracyOutcome(metrics: o.metrics, skipped: o.skipped, notes: o.notes, seedRuns: o.seedRuns)
        a.curves = o.curves
        a.mlmFloor = o.floors?.mlmMajorityAccuracy
        a.nspFloor = o.floors?.nspMajorityAccuracy
        a.fineTune = o.fineTune
        return a
    }

    /// The random-initialisation control of the request's variant (the table's reference): fine-tuned the same way
    /// from its untrained weights. Nil when the table fine-tunes nothing or the scale runs no control.
    public static func control(_ request: AccuracyRequest) throws -> AccuracyOutcome? {
        guard request.fineTune, request.settings.fineTuneControl,
              let o = try VariantAccuracy.control(table: request.table, variant: request.variant,
                                                  settings: request.settings, dataDirectory: request.dataDirectory,
                                                  workDirectory: request.workDirectory,
                                                  log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        else { return nil }
        var a = AccuracyOutcome(metrics: o.metrics, skipped: o.skipped, notes: o.notes)
        a.fineTune = o.fineTune
        return a
    }

    /// The number of pre-training seeds `run` will train for the request's variant.
    public static func seeds(_ request: AccuracyRequest) -> Int {
        VariantAccuracy.plan(table: request.table, variant: request.variant, settings: request.settings,
                             fineTune: false).pretraining.count
    }

    /// Runs (or reuses) one seed's pre-training of the request's variant (the runner's first pass, in lanes).
    public static func pretrain(_ request: AccuracyRequest, seedIndex: Int) throws {
        try VariantAccuracy.pretrain(table: request.table, variant: request.variant, settings: request.settings,
                                     seedIndex: seedIndex, dataDirectory: request.dataDirectory,
                                     workDirectory: request.workDirectory,
                                     log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
    }
}

extension AccuracyOutcome {
    /// Splits "cola_acc@bs16" into ("cola_acc", 16); a plain name gives (name, nil).
    public static func splitBatchSuffix(_ metric: String) -> (metric: String, batch: Int?) {
        guard let r = metric.range(of: "@bs"), let b = Int(metric[r.upperBound...]) else { return (metric, nil) }
        return (String(metric[..<r.lowerBound]), b)
    }
}
