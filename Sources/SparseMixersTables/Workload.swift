import Foundation
import SparseMixers
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

/// Everything `run_all.sh` would compute at a scale, counted without running it: the pre-training runs (each
/// once, attributed to the first table that needs it, as the run cache shares them), the fine-tuning grid runs,
/// and the timed speed rounds. `WorkloadEstimate` turns it into hours. `sparse-mixers plan` prints both.
public struct Workload {
    public struct Pretraining {
        public var table: TableID
        public var variant: String
        public var config: ModelConfig
        public var options: PretrainOptions
        /// The run directory's name (what the run cache keys on).
        public var key: String
        /// The variant's position in the scaled table's `accuracyVariants` and the run's position in its
        /// `VariantAccuracy.plan` (what `sparse-mixers job pretrain` takes to make exactly this run).
        public var variantIndex = 0
        public var seedIndex = 0
        /// Held-out evaluations the run makes (every `evalEvery` steps and at the last).
        public var evaluations: Int { (options.steps + options.evalEvery - 1) / options.evalEvery }
    }
    public struct FineTuning {
        public var table: TableID
        public var variant: String
        public var config: ModelConfig
        public var task: SparseMixersData.Task
        public var batchSize: Int
        public var learningRate: Double
        public var steps: Int
        /// Evaluations (one per epoch) times evaluation rows.
        public var evaluatedRows: Int
        public var key: String
    }
    public struct Speed {
        public var table: TableID
        /// Paper-size configs at the timed shape, one array per group, the reference first in each.
        public var groups: [[ModelConfig]]
        /// Warm-up plus the stopping rule's minimum rounds (the fewest a group makes).
        public var rounds: Int
        /// Warm-up plus the rule's maximum rounds.
        public var maxRounds: Int = 0
        /// Variants the memory budget leaves out, with their estimated bytes.
        public var tooLarge: [(name: String, bytes: Double)] = []
        /// Variants an earlier table times (the same paper-size config): shared, not timed again (`TimingCache`).
        public var shared: [String] = []
    }

    public var scale: Scale
    public var tables: [TableID]
    public var pretraining: [Pretraining] = []
    public var fineTuning: [FineTuning] = []
    public var speed: [Speed] = []
    /// Fine-tuning tasks whose training data is absent (not run, so not counted).
    public var missingTasks: Set<SparseMixersData.Task> = []
    /// Pre-training runs a table reuses from an earlier table (not counted twice).
    public var reusedPretraining: [TableID: Int] = [:]
    /// Every accuracy variant of every table, in run order, with the pre-training runs it reads (its own and
    /// those an earlier table made): what a variant's fine-tuning waits for when the work is spread over jobs
    /// (`SlurmPlan`).
    public struct VariantRuns {
        public var table: TableID
        public var variantIndex: Int
        public var variant: String
        public var pretrainingKeys: [String]
        /// Fine-tuning grid runs of the variant (0 when it fine-tunes nothing).
        public var fineTuningRuns = 0
    }
    public var variants: [VariantRuns] = []
    /// Fine-tuning grid runs of each table's random-init control (tables without one are absent).
    public var controlRuns: [TableID: Int] = [:]

    /// The table targets `run_all.sh` runs, in its order (it reads this list from `sparse-mixers tables`): every
    /// target once, each derived table (6, 7, 16-18, which only re-tabulate) after the tables it reads.
    public static let runAllOrder: [TableID] = [.t1, .t2, .t3, .t4, .t5, .t11, .t12, .t13, .t14, .t15, .t8, .t9, .t10,
                                                .t19, .figure2, .t6, .t7, .t16, .t17, .t18]

    /// Counts the work of `tables` (in order) under `settings`. Fine-tuning row counts come from the task files
    /// under `root` (capped as the scale caps them).
    public static func count(_ tables: [TableID] = runAllOrder, settings: TableRunSettings,
                             root: DataRoot) -> Workload {
        let s = settings.scale.settings
        var w = Workload(scale: settings.scale, tables: tables)
        var seenPretraining = Set<String>(), seenFineTuning = Set<String>()
        var sizes: [SparseMixersData.Task: (trainExamples: Int, evalRows: Int)?] = [:]
        func size(_ t: SparseMixersData.Task) -> (trainExamples: Int, evalRows: Int)? {
            if let known = sizes[t] { return known }
            let v = (try? FineTuneData.sizes(t, root: root, trainCap: s.fineTuneTrainCap, evalCap: s.fineTuneEvalCap))
                .map { ($0.trainExamples, $0.evalRows) }
            sizes[t] = v
            return v
        }
        let work = URL(fileURLWithPath: "/")
        // Timed models, by paper-size config at the shape: run_all.sh shares a timing across its tables.
        var seenSpeed = Set<String>()
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        func configKey(_ c: ModelConfig) -> String {
            (try? enc.encode(c)).map { String(decoding: $0, as: UTF8.self) } ?? "\(c)"
        }
        for id in tables where !TableSpec.spec(id).isDerived {
            let spec = TableSpec.spec(id)
            if spec.hasSpeed, let t = SpeedGroups.TablePlan(spec, shape: settings.shape,
                                                            budget: settings.memoryBudget) {
                let tooLarge = Set(t.groups.tooLarge.map(\.index))
                let fits = t.members.indices.filter { !tooLarge.contains($0) }
                let fresh = fits.filter { seenSpeed.insert(configKey(t.configs[$0])).inserted }
                let groups = SpeedGroups.plan(referenceBytes: t.referenceBytes,
                                              memberBytes: fresh.map { t.memberBytes[$0] },
                                              budget: settings.memoryBudget).groups.map { $0.map { fresh[$0] } }
                w.speed.append(Speed(table: id, groups: groups.map { [t.referenceConfig] + $0.map { t.configs[$0] } },
                                     rounds: settings.warmup + settings.rule.minRounds,
                                     maxRounds: settings.warmup + settings.rule.maxRounds,
                                     tooLarge: t.groups.tooLarge.map { (t.members[$0.index].name, $0.bytes) },
                                     shared: fits.filter { !fresh.contains($0) }.map { t.members[$0].name }))
            }
            guard !settings.speedOnly, spec.kind != .modelSizes else { continue }
            let scaled = s.scaled(spec)
            for (vi, v) in scaled.accuracyVariants.enumerated() where settings.trainsAccuracy(row: vi, named: v.name) {
                let plan = VariantAccuracy.plan(table: scaled, variant: v, settings: s, fineTune: settings.fineTune)
                guard let first = plan.pretraining.first else { continue }
                var keys: [String] = []
                for (si, run) in plan.pretraining.enumerated() {
                    let key = Pretrainer.directory(for: v.config, options: run.options, under: work).lastPathComponent
                    keys.append(key)
                    if seenPretraining.insert(key).inserted {
                        w.pretraining.append(Pretraining(table: id, variant: v.name, config: v.config,
                                                         options: run.options, key: key, variantIndex: vi,
                                                         seedIndex: si))
                    } else {
                        w.reusedPretraining[id, default: 0] += 1
                    }
                }
                w.variants.append(VariantRuns(table: id, variantIndex: vi, variant: v.name, pretrainingKeys: keys))
                guard let grid = plan.grid else { continue }
                let checkpointKey = Pretrainer.directory(for: v.config, options: first.options, under: work)
                    .lastPathComponent
                // Further fine-tuning seeds: pre-training seed s's checkpoint (the control: initialisation s).
                let seedKeys = VariantAccuracy.fineTuneSeeds(plan, settings: s).compactMap { seed in
                    plan.pretraining.firstIndex { Int($0.options.seed) == seed }.map { (seed, keys[$0]) }
                }
                w.variants[w.variants.count - 1].fineTuningRuns = addGrid(id, v.name, v.config, checkpointKey, grid,
                                                                          plan.tasks, seedKeys: seedKeys)
                // The random-init control: the table's reference fine-tuned the same way from its initialisation.
                if s.fineTuneControl && settings.fineTune && v.name == scaled.accuracyVariants.first?.name {
                    w.controlRuns[id] = addGrid(id, FineTuneSummary.controlName, v.config, "init-" + checkpointKey,
                                                grid, plan.tasks, seedKeys: seedKeys.map { ($0.0, "init-" + $0.1) })
                }
            }
        }
        /// Adds the grid's runs not counted yet; returns how many runs the grid has (counted before or not).
        @discardableResult
        func addGrid(_ id: TableID, _ name: String, _ config: ModelConfig, _ checkpointKey: String,
                     _ grid: FineTuneGrid.Settings, _ tasks: [SparseMixersData.Task],
                     seedKeys: [(Int, String)] = []) -> Int {
            var runs = 0
            func add(_ task: SparseMixersData.Task, _ n: (trainExamples: Int, evalRows: Int), _ B: Int, _ lr: Double,
                     seed: UInt64, _ checkpointKey: String) {
                var o = FineTuneOptions(grid.protocolOptions, learningRate: lr, batchSize: B, seed: seed)
                o.epochs = grid.epochs(trainExamples: n.trainExamples, batchSize: B)
                let key = checkpointKey + "/" + FineTuneGrid.runName(task, o, grid)
                runs += 1
                guard seenFineTuning.insert(key).inserted else { return }
                w.fineTuning.append(FineTuning(table: id, variant: name, config: FineTuner.config(config, o),
                                               task: task, batchSize: B, learningRate: lr,
                                               steps: FineTuner.steps(trainExamples: n.trainExamples, o),
                                               evaluatedRows: o.epochs * n.evalRows, key: key))
            }
            for B in grid.batchSizes {
                for task in tasks {
                    guard let n = size(task) else { w.missingTasks.insert(task); continue }
                    for lr in grid.learningRates { add(task, n, B, lr, seed: grid.seed, checkpointKey) }
                }
            }
            // One run per task and further seed, at the batch and learning rate the grid will choose (counted at
            // the grid's first batch and rate: the cost does not depend on the rate, and the batch is one here).
            for (seed, key) in seedKeys {
                for task in tasks {
                    guard let n = size(task), let B = grid.batchSizes.first, let lr = grid.learningRates.first else {
                        continue
                    }
                    add(task, n, B, lr, seed: UInt64(seed), key)
                }
            }
            return runs
        }
        return w
    }
}

/// Hours for a `Workload`, from step times measured on this machine:
/// - every distinct accuracy model (width-shrunk config) is timed at every batch size it trains at: a training
///   step (forward + backward + AdamW) and an inference forward, median of `repeats` after one warm-up, one copy
///   per accuracy lane stepping side by side on one thread each (so the lanes' contention is in the time);
///   pre-training = steps x step + evaluations x eval batches x forward; fine-tuning = steps x step + evaluated
///   rows / batch x forward. A variant's new runs are one job, and a table's jobs are scheduled on the lanes in
///   variant order, each to the lane that frees first (`Parallel.lanes`); the busiest lane is the table's time.
/// - the speed rounds: the reference (BERT Base) is timed once at the speed shape and every other timed model is
///   scaled from it by the analytic FLOP ratio (timing each paper-size model would cost as much as the rounds).
/// Not counted: model construction, checkpoints, data loading, the one-time vocabulary and corpus preparation.
public struct WorkloadEstimate {
    public struct StepTime: Codable, Sendable { public var trainSeconds: Double; public var inferenceSeconds: Double }
    public struct Line {
        public var table: TableID
        /// Lane-seconds (one lane's time of each run; lanes run side by side).
        public var pretrainingRuns = 0, pretrainingSeconds = 0.0
        public var fineTuningRuns = 0, fineTuningSeconds = 0.0
        /// Wall time of the accuracy phase: the variants' jobs scheduled on the lanes.
        public var accuracyWallSeconds = 0.0
        public var speedModels = 0, speedSeconds = 0.0
        public var total: Double { accuracyWallSeconds + speedSeconds }
    }
    public var lines: [Line] = []
    /// Lane-seconds of every pre-training and fine-tuning run, by its key (`Workload.Pretraining.key`,
    /// `Workload.FineTuning.key`), and of every speed group, by table: what `SlurmPlan.wallSeconds` schedules.
    public var runSeconds: [String: Double] = [:]
    public var speedGroupSeconds: [TableID: [Double]] = [:]
    public var referenceStep: StepTime?
    public var measuredModels = 0
    public var measuringSeconds = 0.0
    public var total: Double { lines.map(\.total).reduce(0, +) }

    /// Times what `workload` needs and sums it. `threads` is the table runs' thread count, `lanes` their
    /// accuracy lanes (each lane gets threads / lanes).
    /// `times` holds step times measured earlier on this machine (keyed by config, batch and threads); what is
    /// missing is measured and added, so a second estimate of a changed plan times only the new models.
    public static func estimate(_ w: Workload, shape: SpeedShape, threads: Int, lanes: Int, repeats: Int = 2,
                                times: inout [String: StepTime],
                                log: (String) -> Void = { _ in },
                                progress: StepProgress? = nil) throws -> WorkloadEstimate {
        var e = WorkloadEstimate()
        let t0 = Date()
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        func keyOf(_ c: ModelConfig, _ batch: Int, _ threads: Int, _ copies: Int) throws -> String {
            String(decoding: try enc.encode(c), as: UTF8.self) + "|\(batch)|\(threads)|\(copies)"
        }
        let L = max(1, min(lanes, threads))
        let laneThreads = max(1, threads / L)
        // The models still to time, counted first so the progress line can say how many are left.
        var pending = Set<String>()
        for p in w.pretraining { pending.insert(try keyOf(p.config, p.options.batchSize, laneThreads, L)) }
        for f in w.fineTuning { pending.insert(try keyOf(f.config, f.batchSize, laneThreads, L)) }
        if let ref = w.speed.first?.groups.first?.first { pending.insert(try keyOf(ref, shape.batch, threads, 1)) }
        let toMeasure = pending.filter { times[$0] == nil }.count
        /// Median step and forward of `c` at `batch` (`Throughput.measure`): with `copies` > 1, that many copies
        /// step side by side on one thread each, as the accuracy lanes run, so the time includes their contention.
        func time(_ c: ModelConfig, batch: Int, threads: Int, copies: Int = 1) throws -> StepTime {
            let key = try keyOf(c, batch, threads, copies)
            if let t = times[key] { return t }
            let m = try Throughput.measure(c, batch: batch, threadsPerCopy: threads, copies: copies, repeats: repeats)
            let t = StepTime(trainSeconds: m.trainSeconds, inferenceSeconds: m.inferenceSeconds)
            times[key] = t
            e.measuredModels += 1
            let elapsed = Date().timeIntervalSince(t0), k = e.measuredModels
            progress?.show(k, String(format: "plan: timed %d/%d models | %.0f s | ETA %@", k, max(toMeasure, k),
                                     elapsed, RoundStatus.clock(elapsed / Double(k) * Double(max(toMeasure - k, 0)))),
                           final: k >= toMeasure)
            log(String(format: "  timed %@ d_model %d, batch %d x %d%@: step %.3f s, forward %.3f s",
                       c.moeLayers.isEmpty ? "dense" : "MoE", c.dModel, batch, c.maxSeqLength,
                       copies > 1 ? ", \(copies) side by side" : "", t.trainSeconds, t.inferenceSeconds))
            return t
        }
        // Accuracy: each variant's new runs (pre-training not done by an earlier table, then its fine-tuning) are
        // one job; a table hands its jobs in variant order to the lane that frees first, as Parallel.lanes does.
        var byTable: [TableID: Line] = [:]
        var jobs: [TableID: [(variant: String, seconds: Double)]] = [:]
        func addJob(_ table: TableID, _ variant: String, _ seconds: Double) {
            if let i = jobs[table]?.firstIndex(where: { $0.variant == variant }) { jobs[table]![i].seconds += seconds }
            else { jobs[table, default: []].append((variant, seconds)) }
        }
        for p in w.pretraining {
            let t = try time(p.config, batch: p.options.batchSize, threads: laneThreads, copies: L)
            let sec = Double(p.options.steps) * t.trainSeconds
                + Double(p.evaluations * p.options.evalBatches) * t.inferenceSeconds
            e.runSeconds[p.key] = sec
            byTable[p.table, default: Line(table: p.table)].pretrainingRuns += 1
            byTable[p.table, default: Line(table: p.table)].pretrainingSeconds += sec
            addJob(p.table, p.variant, sec)
        }
        for f in w.fineTuning {
            let t = try time(f.config, batch: f.batchSize, threads: laneThreads, copies: L)
            let evalBatches = (f.evaluatedRows + f.batchSize - 1) / f.batchSize
            let sec = Double(f.steps) * t.trainSeconds + Double(evalBatches) * t.inferenceSeconds
            e.runSeconds[f.key] = sec
            byTable[f.table, default: Line(table: f.table)].fineTuningRuns += 1
            byTable[f.table, default: Line(table: f.table)].fineTuningSeconds += sec
            addJob(f.table, f.variant, sec)
        }
        for (table, list) in jobs {
            var finish = [Double](repeating: 0, count: L)
            for j in list { let i = finish.indices.min { finish[$0] < finish[$1] }!; finish[i] += j.seconds }
            byTable[table, default: Line(table: table)].accuracyWallSeconds = finish.max() ?? 0
        }
        if let ref = w.speed.first?.groups.first?.first {
            let r = try time(ref, batch: shape.batch, threads: threads)
            e.referenceStep = r
            let options = FLOPOptions(sequencesPerDevice: shape.batch, dispatch: .gatherScatter, spectral: .fft)
            let refTrain = FLOPCounter.trainingStep(ref, options: options)
            let refInfer = FLOPCounter.forward(ref, options: options).total
            for s in w.speed {
                var sec = 0.0, models = 0
                for g in s.groups {
                    var group = 0.0
                    for c in g {
                        group += r.trainSeconds * FLOPCounter.trainingStep(c, options: options) / refTrain
                            + r.inferenceSeconds * FLOPCounter.forward(c, options: options).total / refInfer
                        models += 1
                    }
                    sec += group
                    e.speedGroupSeconds[s.table, default: []].append(group * Double(s.rounds))
                }
                byTable[s.table, default: Line(table: s.table)].speedModels += models
                byTable[s.table, default: Line(table: s.table)].speedSeconds += sec * Double(s.rounds)
            }
        }
        e.lines = w.tables.compactMap { byTable[$0] }
        e.measuringSeconds = Date().timeIntervalSince(t0)
        return e
    }

    /// A Markdown table of the estimate, with its assumptions.
    public func markdown(_ w: Workload) -> String {
        func h(_ s: Double) -> String {
            s >= 3600 ? String(format: "%.1f h", s / 3600)
                : s >= 60 ? String(format: "%.0f min", s / 60) : String(format: "%.0f s", s)
        }
        var out = "| table | pre-training runs | fine-tuning runs | pre-training, lane time | fine-tuning, lane time | "
            + "accuracy wall time | timed models x rounds | speed | total |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        for l in lines {
            let rounds = w.speed.first { $0.table == l.table }?.rounds ?? 0
            let reused = w.reusedPretraining[l.table].map { " (+\($0) reused)" } ?? ""
            out += "| \(l.table.fileStem) | \(l.pretrainingRuns)\(reused) | \(l.fineTuningRuns) | "
                + "\(h(l.pretrainingSeconds)) | \(h(l.fineTuningSeconds)) | \(h(l.accuracyWallSeconds)) | "
                + "\(l.speedModels) x \(rounds) | \(h(l.speedSeconds)) | \(h(l.total)) |\n"
        }
        func sum(_ k: KeyPath<Line, Double>) -> Double { lines.map { $0[keyPath: k] }.reduce(0, +) }
        out += "| **all** | \(w.pretraining.count) | \(w.fineTuning.count) | \(h(sum(\.pretrainingSeconds))) | "
            + "\(h(sum(\.fineTuningSeconds))) | \(h(sum(\.accuracyWallSeconds))) | "
            + "\(w.speed.map { $0.groups.map(\.count).reduce(0, +) }.reduce(0, +)) | \(h(sum(\.speedSeconds))) | "
            + "**\(h(total))** |\n"
        return out
    }
}
