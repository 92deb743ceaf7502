/// The names of the published metrics (`published_numbers.csv`, SPEC §8 "Metric names") that fine-tuning
/// produces: the one source for the fine-tuning drivers, the averages and the table catalog. It lives here, the
/// lowest module that knows the tasks, so every module above reads the same lists.
public enum MetricNames {
    /// The 11 numbers of the paper's GLUE average (SPEC §5.5), in the paper's order (`TaskScores.glueAverage`).
    public static let glueAverageParts = [
        "mnli_m", "mnli_mm", "qqp_f1", "qqp_acc", "qnli_acc", "sst2_acc", "cola_acc",
        "stsb_spearman", "mrpc_f1", "mrpc_acc", "rte_acc",
    ]
    /// The 10 numbers of the paper's SuperGLUE average, in its order (`TaskScores.superglueAverage`).
    public static let superGLUEAverageParts = [
        "boolq_acc", "cb_f1", "cb_acc", "copa_acc", "multirc_f1a",
        "multirc_em", "record_f1", "record_em", "sg_rte_acc", "wic_acc",
    ]
    public static let glueAverage = "glue_avg"
    public static let superGLUEAverage = "superglue_avg"

    /// The name's task prefix: the task's raw value, `sg_rte` for SuperGLUE's RTE (GLUE's is `rte`).
    public static func prefix(_ task: Task) -> String { task == .superglueRTE ? "sg_rte" : task.rawValue }

    /// A paper score's published name: `accuracy` of CoLA → `cola_acc`; MNLI matched accuracy → `mnli_m`; STS-B
    /// `spearman` → `stsb_spearman`.
    public static func paper(_ task: Task, _ split: Split, _ score: String) -> String {
        if task == .mnli { return split == .validationMismatched ? "mnli_mm" : "mnli_m" }
        return prefix(task) + "_" + (score == "accuracy" ? "acc" : score)
    }

    /// An official (GLUE/SuperGLUE leaderboard) score's name, MNLI's split as a suffix: `mnli_acc_mm`.
    public static func official(_ task: Task, _ split: Split, _ score: String) -> String {
        let base = prefix(task) + "_" + (score == "accuracy" ? "acc" : score)
        if task == .mnli { return base + (split == .validationMismatched ? "_mm" : "_m") }
        return base
    }
}
