import Foundation

/// GLUE and SuperGLUE tasks (SPEC §5.1). Raw values are the CLI names.
public enum Task: String, CaseIterable, Codable, Sendable {
    // GLUE
    case cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli
    // SuperGLUE
    case boolq, cb, copa, multirc, record, superglueRTE = "superglue-rte", wic, wsc

    public enum Benchmark: String, Codable, Sendable { case glue, superglue }

    public var benchmark: Benchmark {
        switch self {
        case .cola, .sst2, .mrpc, .stsb, .qqp, .mnli, .qnli, .rte, .wnli: return .glue
        default: return .superglue
        }
    }

    /// Folder name in the original distributions.
    public var directoryName: String {
        switch self {
        case .cola: return "CoLA"
        case .sst2: return "SST-2"
        case .mrpc: return "MRPC"
        case .stsb: return "STS-B"
        case .qqp: return "QQP"
        case .mnli: return "MNLI"
        case .qnli: return "QNLI"
        case .rte: return "RTE"
        case .wnli: return "WNLI"
        case .boolq: return "BoolQ"
        case .cb: return "CB"
        case .copa: return "COPA"
        case .multirc: return "MultiRC"
        case .record: return "ReCoRD"
        case .superglueRTE: return "RTE"
        case .wic: return "WiC"
        case .wsc: return "WSC"
        }
    }

    /// "GLUE/CoLA", "SuperGLUE/RTE", ...
    public var displayName: String { (benchmark == .glue ? "GLUE/" : "SuperGLUE/") + directoryName }

    /// Output width of the classification head: 1 = regression (STS-B, COPA, ReCoRD); 3 for MNLI
    /// and CB; otherwise 2 (SPEC §5.1).
    public var numClasses: Int {
        switch self {
        case .stsb, .copa, .record: return 1
        case .mnli, .cb: return 3
        default: return 2
        }
    }
    public var isRegression: Bool { numClasses == 1 }

    /// Class names in label-index order (TFDS order), empty for regression tasks.
    public var classNames: [String] {
        switch self {
        case .mnli: return ["entailment", "neutral", "contradiction"]
        case .cb: return ["entailment", "contradiction", "neutral"]
        case .qnli, .rte, .superglueRTE: return ["entailment", "not_entailment"]
        case .boolq, .wic, .wsc: return ["False", "True"]
        case .stsb, .copa, .record: return []
        default: return ["0", "1"]
        }
    }

    /// Field names of the segments, in model order (SPEC §5.1 / `keys_lookup` of the reference).
    public var segmentNames: [String] {
        switch self {
        case .cola, .sst2: return ["sentence"]
        case .mrpc, .stsb, .rte, .wnli: return ["sentence1", "sentence2"]
        case .qqp: return ["question1", "question2"]
        case .mnli: return ["hypothesis", "premise"]
        case .qnli: return ["question", "sentence"]
        case .boolq: return ["question", "passage"]
        case .cb, .superglueRTE: return ["hypothesis", "premise"]
        case .copa: return ["premise", "question", "choice"]
        case .multirc: return ["question", "answer", "paragraph"]
        case .record: return ["entity", "query", "passage"]
        case .wic: return ["word", "sentence1", "sentence2"]
        case .wsc: return ["span1_text", "span2_text", "text"]
        }
    }

    /// Splits of the task. MNLI has matched and mismatched validation and test sets.
    public var splits: [Split] {
        self == .mnli ? [.train, .validationMatched, .validationMismatched, .testMatched, .testMismatched]
                      : [.train, .validation, .test]
    }

    /// The validation splits a fine-tuning run is scored on.
    public var evaluationSplits: [Split] {
        self == .mnli ? [.validationMatched, .validationMismatched] : [.validation]
    }

    /// Tasks scored in the paper (WNLI and WSC are excluded, SPEC §5.1).
    public static let glueScored: [Task] = [.mnli, .qqp, .qnli, .sst2, .cola, .stsb, .mrpc, .rte]
    public static let superglueScored: [Task] = [.boolq, .cb, .copa, .multirc, .record, .superglueRTE, .wic]
}

public enum Split: String, CaseIterable, Codable, Sendable {
    case train, validation, test
    case validationMatched = "validation_matched", validationMismatched = "validation_mismatched"
    case testMatched = "test_matched", testMismatched = "test_mismatched"
}

/// A target: a class index, or a regression score (STS-B 0-5; COPA and ReCoRD 1.0 / 0.0).
public enum Label: Equatable, Hashable, Sendable, CustomStringConvertible {
    case category(Int)
    case score(Double)
    public var description: String {
        switch self {
        case .category(let c): return "\(c)"
        case .score(let s): return "\(s)"
        }
    }
}

/// One model input row after SPEC §5.1 input casting.
public struct TaskExample: Equatable, Sendable {
    /// Segment texts in model order: `[CLS] seg0 [SEP] seg1 [SEP] ...`.
    public var segments: [String]
    /// nil for unlabelled (test) data.
    public var label: Label?
    /// Grouping id: the example index; for MultiRC the question idx; for COPA and ReCoRD the source
    /// example (query) idx shared by its candidate rows.
    public var group: Int
    /// 1-based line of the source file.
    public var line: Int
    /// ReCoRD: the candidate entity; COPA: the choice text.
    public var candidate: String? = nil
    /// ReCoRD: the gold answer texts of the query (for the official token-F1 metric).
    public var answers: [String]? = nil
}

/// The rows of one task split.
public struct TaskDataset: Sendable {
    public var task: Task
    public var split: Split
    public var path: String
    public var examples: [TaskExample]
    /// Blank lines skipped (the only counted skip; every malformed line is an error).
    public var skippedBlankLines: Int = 0

    public init(task: Task, split: Split, path: String, examples: [TaskExample], skippedBlankLines: Int = 0) {
        self.task = task; self.split = split; self.path = path; self.examples = examples
        self.skippedBlankLines = skippedBlankLines
    }

    public var count: Int { examples.count }
    /// Number of distinct groups (source examples for COPA/ReCoRD, questions for MultiRC).
    public var groupCount: Int { Set(examples.map(\.group)).count }
    public var isLabelled: Bool { examples.contains { $0.label != nil } }

    /// Label histogram: class name → count, or for regression "mean"/"min"/"max"-style buckets
    /// (scores rounded to one decimal).
    public var labelDistribution: [String: Int] {
        var d: [String: Int] = [:]
        for e in examples {
            switch e.label {
            case .category(let c)?:
                let names = task.classNames
                d[c < names.count ? names[c] : "\(c)", default: 0] += 1
            case .score(let s)?:
                d[task == .stsb ? String(format: "%.0f", s.rounded(.down)) + "-" : String(format: "%.1f", s),
                  default: 0] += 1
            case nil:
                d["unlabelled", default: 0] += 1
            }
        }
        return d
    }
}
