import Foundation
import SparseMixers
import SparseMixersTraining

/// Where a row of a derived table (6, 7, 16–18) comes from: a row of a table that runs models.
public struct VariantSource: Codable, Equatable, Hashable, Sendable {
    public var table: TableID
    public var variant: String
    /// The paper fine-tuning batch whose values are read ("cola_acc@bs16", Tables 17 and 18 print one row per
    /// batch); nil reads the best-batch values ("cola_acc").
    public var batchSize: Int? = nil
    public init(_ table: TableID, _ variant: String, batchSize: Int? = nil) {
        self.table = table; self.variant = variant; self.batchSize = batchSize
    }

    /// The metric name to read from the source report for `metric`.
    public func sourceMetric(_ metric: String) -> String {
        batchSize.map { "\(metric)@bs\($0)" } ?? metric
    }
}

/// One row of a table's grid, at paper scale.
public struct VariantSpec: Codable, Equatable, Sendable {
    /// Exactly as in published_numbers.csv (for the figures, our own label).
    public var name: String
    /// The model at paper scale. `Scale.scaledConfig(_:)` maps it to a runnable size.
    public var config: ModelConfig
    /// Fine-tuning protocol (paper-scale batch sizes, LR set, expert dropout, freezing, capacity override).
    public var fineTuning: FineTuneProtocol
    /// The speed-up denominator (BERT Base).
    public var isReference: Bool = false
    /// Derived tables (6, 7, 16–18): the row this one re-reports.
    public var source: VariantSource? = nil
    /// Table A5: the BERT of the size pair (`config` is the Sparse Mixer).
    public var pairedConfig: ModelConfig? = nil
    /// Figures 2/4: "BERT" or "Sparse Mixer"; `sizeLabel` labels the point.
    public var series: String? = nil
    public var sizeLabel: String? = nil
    /// Metrics of the table that the paper does not report for this variant.
    public var unpublishedMetrics: [String] = []
    /// Configuration choices that are our guesses (SPEC [GUESS]/[UNKNOWN]).
    public var guesses: [String] = []
    public var notes: String = ""

    public init(name: String, config: ModelConfig, fineTuning: FineTuneProtocol, isReference: Bool = false,
                source: VariantSource? = nil, pairedConfig: ModelConfig? = nil, series: String? = nil,
                sizeLabel: String? = nil, unpublishedMetrics: [String] = [], guesses: [String] = [],
                notes: String = "") {
        self.name = name; self.config = config; self.fineTuning = fineTuning; self.isReference = isReference
        self.source = source; self.pairedConfig = pairedConfig; self.series = series; self.sizeLabel = sizeLabel
        self.unpublishedMetrics = unpublishedMetrics; self.guesses = guesses; self.notes = notes
    }

    /// Metrics of `table` that the paper reports for this variant.
    public func publishedMetrics(in table: TableSpec) -> [String] {
        table.id.csvTable == nil ? [] : table.metrics.filter { !unpublishedMetrics.contains($0) }
    }
}

/// What a table measures.
public enum TableKind: String, Codable, Sendable {
    /// GLUE avg, MLM, NSP, ms/batch, speed-up (Tables 1–5, 11–15).
    case pretrainingAblation
    /// GLUE per task, best LR per task and best batch per model (Table 6).
    case glueFinal
    /// SuperGLUE per task (Table 7).
    case superGLUEFinal
    /// GFLOPs/ex, params, inference and training ms/ex with speed-ups (Table 8).
    case cost
    /// GLUE / SuperGLUE / ms/batch / speed-up (Table 9).
    case accuracySpeed
    /// Stable runs out of 4 at two batch sizes plus accuracy and speed (Table 10).
    case stability
    /// Full GLUE per task of other tables' rows (Tables 16, 17).
    case glueFull
    /// Full SuperGLUE per task by batch size (Table 18).
    case superGLUEFull
    /// Fine-tuning protocol ablations (Table 19).
    case fineTuningProtocol
    /// Model size pairs (A.5).
    case modelSizes
    /// Speed against MLM or NSP accuracy (Figures 2 and 4).
    case speedAccuracyFigure
}

/// One paper table: its grid of variants as data.
public struct TableSpec: Codable, Sendable {
    public var id: TableID
    public var title: String
    public var kind: TableKind
    /// Metric names (published_numbers.csv names) the table reports.
    public var metrics: [String]
    public var variants: [VariantSpec]
    /// The speed-up denominator, measured in the same run. For Tables 1–5 and 11–15 it is BERT Base,
    /// which is not a row of those tables; for Tables 8–10 and the figures it is the BERT row.
    public var speedReference: VariantSpec?
    public var pretraining: PretrainingNotes
    /// Tables whose reports this one's rows are read from (every variant's `source` names one of them). Non-empty
    /// makes the table derived: its target runs no model and re-tabulates those reports.
    public var derivedFrom: [TableID]
    /// Reports this table's target also writes from the same run (Figure 2: Figure 4 and Table A5).
    public var alsoWrites: [TableID] = []
    public var notes: [String]

    public func variant(named name: String) -> VariantSpec? { variants.first { $0.name == name } }

    /// Every model to run: the grid plus the speed reference when it is not a row of the grid.
    public var runVariants: [VariantSpec] {
        guard let ref = speedReference, !variants.contains(where: { $0.name == ref.name }) else { return variants }
        return variants + [ref]
    }

    /// Every model the accuracy phase pre-trains and fine-tunes: the grid's rows. The speed reference is timed,
    /// not trained, unless it is a row (BERT in Tables 8-10 and the figures); in Tables 1-5 and 11-15 it is not,
    /// and the paper publishes no accuracy for it there.
    public var accuracyVariants: [VariantSpec] { variants }

    /// Whether the table has speed columns.
    public var hasSpeed: Bool { metrics.contains { Metric.speedMetrics.contains($0) } }

    /// Whether the table is re-tabulated from other tables' reports (`derivedFrom`) instead of run.
    public var isDerived: Bool { !derivedFrom.isEmpty }

    public static var all: [TableSpec] { TableCatalog.all }

    public static func spec(_ id: TableID) -> TableSpec { TableCatalog.spec(id) }
}
