import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

/// One table variant's accuracy columns: pre-training (MLM/NSP accuracy), the stability count of Table 10, and
/// the fine-tuning protocol on the benchmarks the table reports. Runs are cached by what determines them, so a
/// variant shared by several tables (the Sparse Mixer of Tables 6–10) is pre-trained once per scale.
public enum VariantAccuracy {
    public struct Outcome: Sendable {
        /// Names of published_numbers.csv (mlm_acc, nsp_acc, glue_avg, cola_acc, stable_64, ...), plus
        /// "<metric>@bs<paper batch>" per fine-tuning batch size and "*_available" partial averages.
        public var metrics: [String: Double] = [:]
        public var skipped: [SkippedItem] = []
        public var notes: [String] = []
        /// Held-out MLM/NSP accuracy of every seed's pre-training run (mlm_acc and nsp_acc are their means).
        public var seedRuns: [SeedRun] = []
        public var curves: [LearningCurve] = []
        public var floors: HeldOutFloors? = nil
        /// Per fine-tuned task: the chosen run's best and last metrics and the majority-class floor.
        public var fineTune: [FineTuneTaskResult] = []
    }

    /// What `run` will do for a variant, without doing it: the pre-training runs in order (the first one at the
    /// first batch size, seed 0, is the fine-tuning checkpoint when it does not diverge), the fine-tuning tasks
    /// and the grid. `sparse-mixers plan` sums these over a scale; `run` follows the same plan.
    public struct Plan: Sendable {
        public struct PretrainRun: Sendable {
            /// The paper's batch this run stands for (64 or 256 in Table 10; otherwise the table's first).
            public var paperBatch: Int
            public var options: PretrainOptions
        }
        public var pretraining: [PretrainRun] = []
        /// Table 10: stable runs are counted per paper batch size.
        public var countsStability = false
        public var tasks: [SparseMixersData.Task] = []
        public var grid: FineTuneGrid.Settings?
    }

    /// The plan of a scaled table's variant.
    public static func plan(table: TableSpec, variant: VariantSpec, settings: ScaleSettings,
                            fineTune: Bool = true) -> Plan {
        var p = Plan()
        let wanted = Set(table.metrics)
        let needsPretraining = !wanted.isDisjoint(with: ["mlm_acc", "nsp_acc", "stable_64", "stable_256"])
        // A GLUE (SuperGLUE) number or average among the table's metrics: fine-tune on that benchmark's tasks.
        let glue = !wanted.isDisjoint(with: MetricNames.glueAverageParts + [MetricNames.glueAverage])
        let superglue = !wanted.isDisjoint(with: MetricNames.superGLUEAverageParts + [MetricNames.superGLUEAverage])
        guard needsPretraining || glue || superglue else { return p }
        let pt = table.pretraining
        func options(_ batch: Int, _ seed: Int) -> PretrainOptions {
            // The scaled table's learning rate and warm-up are the scale's (ScaleSettings.scaled), as
            // pretrainOptions sets.
            ScalePlan.pretrainOptions(settings, batchSize: batch, steps: pt.steps, seed: UInt64(seed))
        }
        if wanted.contains("stable_64") || wanted.contains("stable_256") {
            p.countsStability = true
            for (paperBatch, batch) in zip([64, 256], pt.batchSizes) {
                for seed in 0..<settings.stabilityRuns {
                    p.pretraining.append(.init(paperBatch: paperBatch, options: options(batch, seed)))
                }
            }
        } else {
            for seed in 0..<seeds(table: table, variant: variant, settings: settings) {
                p.pretraining.append(.init(paperBatch: 64,
                                           options: options(pt.batchSizes.first ?? settings.pretrainBatch, seed)))
            }
        }
        guard fineTune else { return p }
        if glue { p.tasks += SparseMixersData.Task.glueScored }
        if superglue { p.tasks += SparseMixersData.Task.superglueScored }
        if !p.tasks.isEmpty { p.grid = ScalePlan.gridSettings(settings, variant.fineTuning) }
        return p
    }

    /// Tokens of one paper pre-training run of a regime (steps x 64 x 512; the coordinate-descent count is a guess).
    static func paperTokens(_ regime: PretrainingRegime) -> Double {
        let p = Scale.paper.settings
        return Double(p.pretrainingSteps(regime) * p.pretrainBatch * p.seqLength)
    }

    /// Pre-training seeds of a variant: the table's accuracy reference (its first row) gets `referenceSeeds`.
    public static func seeds(table: TableSpec, variant: VariantSpec, settings: ScaleSettings) -> Int {
        settings.seeds(reference: table.accuracyVariants.first?.name == variant.name)
    }

    /// Runs (or reuses) one seed's pre-training run of a variant, without fine-tuning: the table runner calls
    /// this for every (variant, seed) in lanes first, so the seeds of one variant train side by side.
    public static func pretrain(table: TableSpec, variant: VariantSpec, settings: ScaleSettings, seedIndex: Int,
                                dataDirectory: String?, workDirectory: URL,
                                log: @escaping (String) -> Void = { _ in }) throws {
        let plan = plan(table: table, variant: variant, settings: settings, fineTune: false)
        guard seedIndex < plan.pretraining.count else { return }
        let root = DataRoot.resolve(explicit: dataDirectory)
        // A missing corpus is reported by `run`, which names it as not run; this pass has nothing to train then.
        let corpus: PreparedCorpus
        do { corpus = try ScalePlan.corpus(settings, root: root, log: log) } catch is MissingDataError { return }
        _ = try pretrainRun(table: table, variant: variant, options: plan.pretraining[seedIndex].options,
                            corpus: corpus, workDirectory: workDirectory, log: log)
    }

    /// Runs (or reuses, from the cache under `workDirectory`) one pre-training run of a variant.
    static func pretrainRun(table: TableSpec, variant: VariantSpec, options o: PretrainOptions, corpus: PreparedCorpus,
                            workDirectory: URL, log: (String) -> Void) throws -> (PretrainResult, URL) {
        let dir = Pretrainer.directory(for: variant.config, options: o, under: workDirectory)
        log("[pretrain] \(table.id.rawValue) \(variant.name): \(o.steps) steps x \(o.batchSize) seqs, seed \(o.seed) "
            + "-> \(dir.lastPathComponent)")
        let t = try Pretrainer(config: variant.config, options: o, directory: dir, corpus: corpus)
        return (try t.runOrReuse(), t.checkpointURL)
    }

    /// The random-initialisation control of a table: `variant` (the table's reference) fine-tuned on the table's
    /// tasks exactly as the variants are (same grid, caps, steps and selection), but from its untrained weights
    /// (the initialisation of pre-training seed 0). A fine-tuning number only says something about pre-training
    /// where it beats this. Nil when the table fine-tunes nothing.
    public static func control(table: TableSpec, variant: VariantSpec, settings: ScaleSettings, dataDirectory: String?,
                               workDirectory: URL, log: @escaping (String) -> Void = { _ in }) throws -> Outcome? {
        let plan = plan(table: table, variant: variant, settings: settings)
        guard let grid = plan.grid, !plan.tasks.isEmpty else { return nil }
        var out = Outcome()
        let root = DataRoot.resolve(explicit: dataDirectory)
        let corpus: PreparedCorpus
        do { corpus = try ScalePlan.corpus(settings, root: root, log: log) } catch let e as MissingDataError {
            out.skipped.append(SkippedItem(item: "random-init control", reason: "corpus missing: \(e.description)"))
            return out
        }
        let checkpoint = try initialCheckpoint(variant.config, seed: 0, under: workDirectory)
        // As many initialisations as the reference has fine-tuned seeds, so reference − control pairs seed by seed.
        let seedCheckpoints = try controlSeeds(table: table, variant: variant, settings: settings).map {
            FineTuneGrid.SeedCheckpoint(seed: $0, checkpoint: try initialCheckpoint(variant.config, seed: UInt64($0),
                                                                                    under: workDirectory))
        }
        log("[control] \(table.id.rawValue) \(variant.name): fine-tuning from the untrained initialisation")
        let g = try FineTuneGrid.run(checkpoint: checkpoint, tasks: plan.tasks, settings: grid, root: root,
                                     tokenizer: corpus.tokenizer,
                                     directory: checkpoint.deletingLastPathComponent()
                                         .appendingPathComponent("finetune"),
                                     seedCheckpoints: seedCheckpoints,
                                     progress: ProgressLine(), label: "[control] \(table.id.rawValue): ", log: log)
        out.metrics = g.metrics
        out.fineTune = g.taskResults
        out.skipped = g.skipped
        return out
    }

    /// The further seeds (after seed 0) a variant's pre-training runs are fine-tuned from: every seed of its plan
    /// when the scale fine-tunes seeds (`ScaleSettings.fineTuneSeeds`), none otherwise or for Table 10's
    /// stability runs (fine-tuned from the first stable run only).
    public static func fineTuneSeeds(_ plan: Plan, settings: ScaleSettings) -> [Int] {
        guard settings.fineTuneSeeds, !plan.countsStability, plan.grid != nil else { return [] }
        return plan.pretraining.dropFirst().map { Int($0.options.seed) }
    }

    /// The control's further initialisations: the seeds the table's reference is fine-tuned from.
    public static func controlSeeds(table: TableSpec, variant: VariantSpec, settings: ScaleSettings) -> [Int] {
        fineTuneSeeds(plan(table: table, variant: variant, settings: settings), settings: settings)
    }

    /// The untrained model of `config` (pre-training's initialisation for `seed`) as a checkpoint, written once
    /// under `root` in a directory named by the config and seed.
    public static func initialCheckpoint(_ config: ModelConfig, seed: UInt64, under root: URL) throws -> URL {
        var h = FNV1a()
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        h.combine(String(decoding: try enc.encode(config), as: UTF8.self))
        h.combine("seed \(seed)")
        let dir = root.appendingPathComponent("init-\(h.hex)")
        let url = dir.appendingPathComponent("checkpoint.bin")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try FileLock.withLock(dir.path + ".lock") {
            if let meta = try? Checkpoint.metadata(at: url), meta.config == config { return url }
            let model = try Model(config: config, head: .pretraining, seed: seed)
            try Checkpoint.save(model, optimizer: nil, to: url)
            return url
        }
    }

    /// `table` and `variant` are already scaled (`ScaleSettings.scaled`). `fineTune: false` pre-trains only and
    /// names fine-tuning as not run.
    public static func run(table: TableSpec, variant: VariantSpec, settings: ScaleSettings, dataDirectory: String?,
                           workDirectory: URL, fineTune: Bool = true,
                           log: @escaping (String) -> Void = { _ in }) throws -> Outcome {
        var out = Outcome()
        let plan = plan(table: table, variant: variant, settings: settings, fineTune: fineTune)
        if !fineTune && !Self.plan(table: table, variant: variant, settings: settings).tasks.isEmpty {
            out.skipped.append(SkippedItem(item: "fine-tuning (GLUE/SuperGLUE)",
                                           reason: "not run: the table was run with --no-finetune (pre-training only)"))
        }
        guard !plan.pretraining.isEmpty else { return out }
        if settings.scale == .ci {
            out.notes.append("scale ci checks the pipeline, not the paper's claims: a few hundred "
                             + "pre-training steps of \(settings.pretrainBatch) x \(settings.seqLength) tokens teach "
                             + "little beyond token frequencies, so accuracies sit near class priors; compare "
                             + "accuracies at --scale small or paper")
        } else if settings.scale == .small || settings.scale == .long {
            let tokens = Double(table.pretraining.steps * (table.pretraining.batchSizes.first ?? settings.pretrainBatch)
                                * settings.seqLength) / 1e6
            out.notes.append("scale \(settings.scale.rawValue) pre-trains each run for "
                             + "\(table.pretraining.steps) steps of "
                             + "\(table.pretraining.batchSizes.first ?? settings.pretrainBatch) x "
                             + "\(settings.seqLength) tokens "
                             + String(format: "(%.1fM tokens; the paper's runs were about %.0f times longer%@)", tokens,
                                      paperTokens(table.pretraining.regime) / (tokens * 1e6),
                                      table.pretraining.regime == .coordinateDescent ? ", its step count guessed" : "")
                             + ", so accuracies sit far below the paper's: read the differences between variants with "
                             + "their paired intervals over seeds, not the values against the paper")
        }
        let root = DataRoot.resolve(explicit: dataDirectory)
        let corpus: PreparedCorpus
        do { corpus = try ScalePlan.corpus(settings, root: root, log: log) } catch let e as MissingDataError {
            out.skipped.append(SkippedItem(item: "pre-training and fine-tuning",
                                           reason: "corpus missing: \(e.description)"))
            return out
        }
        func pretrain(_ o: PretrainOptions) throws -> (PretrainResult, URL) {
            try pretrainRun(table: table, variant: variant, options: o, corpus: corpus, workDirectory: workDirectory,
                            log: log)
        }

        // Table 10: stable runs out of `stabilityRuns` per pre-training batch size (paper 64 and 256).
        var stableCheckpoint: URL? = nil
        if plan.countsStability {
            var stable = Dictionary(plan.pretraining.map { ($0.paperBatch, 0) }, uniquingKeysWith: { a, _ in a })
            for run in plan.pretraining {
                let (r, url) = try pretrain(run.options)
                if !r.diverged {
                    stable[run.paperBatch]! += 1
                    if stableCheckpoint == nil && run.paperBatch == 64 { stableCheckpoint = url }
                } else {
                    out.notes.append("\(variant.name): pre-training batch \(run.options.batchSize) seed "
                                     + "\(run.options.seed) diverged: \(r.divergence ?? "")")
                }
            }
            for (paperBatch, n) in stable { out.metrics["stable_\(paperBatch)"] = Double(n) }
            out.notes.append("stable_64/stable_256: stable runs out of \(settings.stabilityRuns) at pre-training batch "
                             + "\(table.pretraining.batchSizes.map(String.init).joined(separator: "/")) "
                             + "(\(DivergenceRule(minimumStep: 100).text))")
            if stableCheckpoint == nil {
                out.skipped.append(SkippedItem(item: "\(variant.name): fine-tuning",
                                               reason: "no stable pre-training run"))
                return out
            }
        }

        let checkpoint: URL
        var seedCheckpoints: [FineTuneGrid.SeedCheckpoint] = []
        if let c = stableCheckpoint { checkpoint = c } else {
            // Every seed's run; the metrics are means over the seeds that finished, the checkpoint is seed 0's.
            let tuned = Set(fineTuneSeeds(plan, settings: settings))
            var first: (PretrainResult, URL)? = nil
            var mlm: [Double] = [], nsp: [Double] = []
            for run in plan.pretraining {
                let (r, url) = try pretrain(run.options)
                if first == nil { first = (r, url) }
                let seed = Int(run.options.seed)
                if r.diverged {
                    out.skipped.append(SkippedItem(item: "\(variant.name): pre-training seed \(seed)",
                                                   reason: "diverged: \(r.divergence ?? "")"))
                    continue
                }
                out.floors = out.floors ?? r.floors
                if let e = r.finalEval {
                    mlm.append(e.mlmAccuracy); nsp.append(e.nspAccuracy)
                    out.seedRuns.append(SeedRun(variant: variant.name, seed: seed, metric: "mlm_acc",
                                                value: e.mlmAccuracy, count: e.mlmCount))
                    out.seedRuns.append(SeedRun(variant: variant.name, seed: seed, metric: "nsp_acc",
                                                value: e.nspAccuracy, count: e.nspCount))
                }
                if tuned.contains(seed) {
                    seedCheckpoints.append(FineTuneGrid.SeedCheckpoint(seed: seed, checkpoint: url))
                }
                let tokensPerStep = Double(run.options.batchSize * variant.config.maxSeqLength)
                out.curves.append(LearningCurve(variant: variant.name, seed: seed, points: r.evals.map { e in
                    .init(step: e.step, tokens: e.tokens ?? Double(e.step) * tokensPerStep,
                          seconds: e.trainSeconds ?? 0, mlmAccuracy: e.mlmAccuracy, nspAccuracy: e.nspAccuracy)
                }))
            }
            if !mlm.isEmpty {
                out.metrics["mlm_acc"] = mlm.reduce(0, +) / Double(mlm.count)
                out.metrics["nsp_acc"] = nsp.reduce(0, +) / Double(nsp.count)
            }
            guard let (r, url) = first, !r.diverged else {
                if let r = first?.0 {
                    out.skipped.append(SkippedItem(item: "\(variant.name): fine-tuning",
                                                   reason: "seed 0's pre-training diverged: \(r.divergence ?? "")"))
                }
                return out
            }
            checkpoint = url
        }

        let tasks = plan.tasks
        guard let grid = plan.grid, !tasks.isEmpty else { return out }
        let g = try FineTuneGrid.run(checkpoint: checkpoint, tasks: tasks, settings: grid, root: root,
                                     tokenizer: corpus.tokenizer,
                                     directory: checkpoint.deletingLastPathComponent()
                                         .appendingPathComponent("finetune"),
                                     seedCheckpoints: seedCheckpoints,
                                     progress: ProgressLine(),
                                     label: "[finetune] \(table.id.rawValue) \(variant.name): ", log: log)
        out.metrics.merge(g.metrics) { _, new in new }
        out.fineTune = g.taskResults
        out.skipped += g.skipped
        out.notes += g.notes
        if !g.capNotes.isEmpty {
            out.notes.append("fine-tuning examples capped at this scale: train "
                             + "\(settings.fineTuneTrainCap.map(String.init) ?? "all"), eval "
                             + "\(settings.fineTuneEvalCap.map(String.init) ?? "all") per task (seeded subsets "
                             + "of whole groups)")
        }
        out.notes.append("fine-tuning metrics: best of the per-epoch evaluations (the last evaluation is in "
                         + "the run files); batch per benchmark: " + g.batchByBenchmark.sorted { $0.key < $1.key }
                            .map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        // Per fine-tuning batch size (Tables 17 and 18 print bs 16/32/64): best learning rate per task at that batch.
        if grid.batchSizes.count > 1 {
            for B in grid.batchSizes {
                let paperBatch = B * settings.fineTuneBatchDivisor
                var one = GridOutcome()
                one.runs = g.runs.filter { $0.options.batchSize == B }
                FineTuneGrid.select(&one, tasks: tasks.filter { t in g.runs.contains { $0.task == t } },
                                    batchSizes: [B])
                for (k, v) in one.metrics { out.metrics["\(k)@bs\(paperBatch)"] = v }
            }
        }
        return out
    }
}
