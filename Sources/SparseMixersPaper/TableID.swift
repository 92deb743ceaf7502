import Foundation
import SparseMixersData

/// The paper's tables and the two speed-accuracy figures (SPEC §8 numbering).
public enum TableID: String, Codable, CaseIterable, Sendable, Comparable {
    case t1 = "1", t2 = "2", t3 = "3", t4 = "4", t5 = "5", t6 = "6", t7 = "7", t8 = "8", t9 = "9", t10 = "10"
    case t11 = "11", t12 = "12", t13 = "13", t14 = "14", t15 = "15", t16 = "16", t17 = "17", t18 = "18", t19 = "19"
    case a5 = "A5"
    case figure2 = "Figure2"
    case figure4 = "Figure4"

    /// The `table` column value in published_numbers.csv, nil for the figures (their points are not in the text).
    public var csvTable: String? {
        switch self {
        case .figure2, .figure4: return nil
        default: return rawValue
        }
    }

    /// File stem for reports: "Table1", "TableA5", "Figure2".
    public var fileStem: String {
        switch self {
        case .figure2, .figure4: return rawValue
        default: return "Table" + rawValue
        }
    }

    /// How the paper names it: "Table 6", "Table A5", "Figure 2".
    public var displayName: String {
        switch self {
        case .figure2: return "Figure 2"
        case .figure4: return "Figure 4"
        default: return "Table " + rawValue
        }
    }

    /// Parses "1", "Table1", "table 1", "A5", "TableA5", "Figure2", "fig2".
    public init?(parsing text: String) {
        let t = text.lowercased().replacingOccurrences(of: " ", with: "")
        var core = t
        for p in ["table", "tab", "t"] where core.hasPrefix(p) && core.count > p.count {
            core = String(core.dropFirst(p.count)); break
        }
        if let id = TableID.allCases.first(where: { $0.rawValue.lowercased() == core }) { self = id; return }
        if t == "figure2" || t == "fig2" { self = .figure2; return }
        if t == "figure4" || t == "fig4" { self = .figure4; return }
        return nil
    }

    private var order: Int { TableID.allCases.firstIndex(of: self)! }
    public static func < (a: TableID, b: TableID) -> Bool { a.order < b.order }
}

/// Metric names of published_numbers.csv and their units (SPEC §8 "Metric names").
public enum Metric {
    public static let summaryPretraining = ["glue_avg", "mlm_acc", "nsp_acc", "ms_per_batch", "speedup"]
    /// The numbers of the GLUE and SuperGLUE averages (`MetricNames`, the one source), then the averages.
    public static let glueTasks = MetricNames.glueAverageParts
    public static let superGLUETasks = MetricNames.superGLUEAverageParts
    public static let glue = glueTasks + [MetricNames.glueAverage]
    public static let superGLUE = superGLUETasks + [MetricNames.superGLUEAverage]
    public static let cost = ["gflops_per_ex", "params_m", "inference_ms_per_ex", "inference_speedup",
                              "training_ms_per_ex", "training_speedup"]
    public static let modelSizes = ["bert_layers", "bert_d_model", "bert_d_ff", "sm_layers", "sm_d_model", "sm_d_ff",
                                    "sm_attention_layers", "sm_moe_layers", "sm_num_experts"]

    /// Metrics compared as speed (our ratio vs the paper's ratio), not as a value.
    public static let speedMetrics: Set<String> = ["ms_per_batch", "speedup", "inference_ms_per_ex",
                                                   "inference_speedup", "training_ms_per_ex", "training_speedup"]

    /// Display unit of a metric.
    public static func unit(_ metric: String) -> String {
        switch metric {
        case "ms_per_batch", "inference_ms_per_ex", "training_ms_per_ex": return "ms"
        case "speedup", "inference_speedup", "training_speedup": return "x"
        case "gflops_per_ex": return "GFLOPs"
        case "params_m": return "M"
        case "stable_64", "stable_256": return "runs of 4"
        // Correlations x 100 (STS-B Spearman and Pearson, CoLA's official MCC) are not percentages.
        case "stsb_spearman", "stsb_pearson", "cola_mcc": return "corr x100"
        default:
            if modelSizes.contains(metric) { return "" }
            return "%"
        }
    }
}
