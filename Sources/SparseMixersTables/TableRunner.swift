import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

/// Everything a table run was asked to do, resolved from the command line (`TableOptions`).
public struct TableRunSettings {
    public var scale: Scale
    public var speedOnly: Bool = false
    /// False: pre-train only (`--no-finetune`); the reports name fine-tuning as not run.
    public var fineTune: Bool = true
    /// True: no speed measurement (`--accuracy-only`); the reports name it as not run.
    public var accuracyOnly: Bool = false
    public var dataDirectory: String? = nil
    /// `--rows`: the accuracy phase trains only these rows (by name) and the table's first; nil: every row.
    public var rows: Set<String>? = nil

    /// Whether the accuracy phase trains a table's row `index` named `name` (`rows`; the first row always).
    public func trainsAccuracy(row index: Int, named name: String) -> Bool {
        index == 0 || rows?.contains(name) ?? true
    }
    public var shape: SpeedShape
    /// When the interleaved rounds of a speed group stop (`StoppingRule.defaults(scale)` unless given).
    public var rule: StoppingRule
    public var warmup: Int = 1
    /// A short sgemm peak (GFLOP/s) read before and after the speed phase; nil reads none (tests).
    public var readPeak: (() -> Double)? = { Benchmark.sgemmPeak(n: 2048, repeats: 3) }
    /// Timings shared by the tables of one `run_all.sh` invocation (`TimingCache`); nil times every variant.
    public var timingCache: TimingCache? = nil
    public var threads: Int
    public var output: URL
    /// Bytes the timed models of one group may use together.
    public var memoryBudget: Double
    /// Variants pre-trained and fine-tuned side by side, one thread each (`Parallel.lanes`). Default: `threads`
    /// at ci and small, whose narrow models keep two threads busy poorly (measured with `bench --scale small
    /// --tokens-per-second`: two runs side by side trained 1.05-1.47x the tokens per second of one run on two
    /// threads for all five models of the README's "Throughput of the small models"); 1 at paper.
    public var accuracyLanes: Int
    /// Only for tests: lets a debug build time (its numbers mean nothing, and the report says debug).
    public var allowDebugTiming: Bool = false
    /// The speed rounds' progress line (stderr; redrawn on a terminal); nil: none.
    public var progress: ProgressLine? = ProgressLine()
    /// Progress lines (stderr by default).
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }

    public init(scale: Scale, shape: SpeedShape? = nil, rule: StoppingRule? = nil, threads: Int = 1,
                output: URL = ReportWriter.defaultDirectory, memoryBudget: Double? = nil) {
        self.scale = scale
        self.shape = shape ?? SpeedShape.defaults(scale)
        self.rule = rule ?? StoppingRule.defaults(scale)
        self.threads = threads
        self.output = output
        self.memoryBudget = memoryBudget ?? MemoryBudget.defaultLimit()
        self.accuracyLanes = scale == .paper ? 1 : max(1, threads)
    }
}

public struct TableRunError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Runs one table: speed interleaved with the reference, analytic cost, accuracy through `AccuracyPhase`,
/// derived re-tabulation, and hands the reports to `ReportWriter`.
public struct TableRunner {
    public var settings: TableRunSettings
    public var published: PublishedNumbers?
    /// Pre-training and fine-tuning of one variant (`AccuracyPhase.run`; tests pass a stand-in with known metrics).
    public var accuracy: (AccuracyRequest) throws -> AccuracyOutcome
    /// Pre-trains one seed of a variant ahead of `accuracy` (which then reuses the cached run), so that the seeds
    /// of all variants are spread over the lanes; nil skips that pass (tests' stand-ins).
    public var pretrainSeed: ((AccuracyRequest, Int) throws -> Void)?
    /// Seeds `accuracy` trains for a request.
    public var seedCount: (AccuracyRequest) -> Int
    /// The random-initialisation control of a table's reference (`AccuracyPhase.control`); nil: none.
    public var control: ((AccuracyRequest) throws -> AccuracyOutcome?)?
    /// Where speed groups timed by other processes are read from (`SpeedGroupStore`); nil: every group is timed here.
    public var speedStore: SpeedGroupStore?

    public init(settings: TableRunSettings, published: PublishedNumbers? = try? PublishedNumbers.load(),
                accuracy: @escaping (AccuracyRequest) throws -> AccuracyOutcome = AccuracyPhase.run,
                pretrainSeed: ((AccuracyRequest, Int) throws -> Void)? = AccuracyPhase.pretrain,
                seedCount: @escaping (AccuracyRequest) -> Int = AccuracyPhase.seeds,
                control: ((AccuracyRequest) throws -> AccuracyOutcome?)? = AccuracyPhase.control) {
        self.settings = settings; self.published = published; self.accuracy = accuracy
        self.pretrainSeed = pretrainSeed; self.seedCount = seedCount; self.control = control
    }

    var log: (String) -> Void { settings.log }

    /// The reports a target produces: its own and those it `alsoWrites` (Figure 2: Figure 4 and Table A5, the same
    /// models).
    public static func reportIDs(for id: TableID) -> [TableID] {
        [id] + TableSpec.spec(id).alsoWrites
    }

    /// Runs `id` and writes its reports (plus the figures' SVG). Returns the reports.
    @discardableResult
    public func runAndWrite(_ id: TableID) throws -> [Report] {
        let reports = try run(id)
        try FileManager.default.createDirectory(at: settings.output, withIntermediateDirectories: true)
        let writer = ReportWriter(directory: settings.output)
        for r in reports {
            let w = try writer.write(r)
            log("wrote \(w.markdown.path) (+ .csv, .json)")
            for url in try writer.writeCurves(r) { log("wrote \(url.path)") }
            let spec = TableSpec.spec(r.tableID)
            if spec.kind == .speedAccuracyFigure {
                let url = try Figures.write(r, spec: spec, to: settings.output)
                log("wrote \(url.path)")
            }
        }
        return reports
    }

    /// Runs `id` and returns its reports without writing them. A report that another target also writes (Figure 4,
    /// Table A5) is produced by running that target, with its companions.
    public func run(_ id: TableID) throws -> [Report] {
        let target = TableSpec.spec(TableCatalog.target(of: id))
        if !target.alsoWrites.isEmpty { return try runWithCompanions(target) }
        return [try report(for: target)]
    }

    // MARK: One table

    func environment() -> EnvironmentInfo {
        EnvironmentInfo.capture(threadsUsed: settings.threads, fftwVersion: SpectralPlan.version)
    }

    func checkTimingAllowed(_ spec: TableSpec) throws {
        if Benchmark.isDebugBuild && !settings.allowDebugTiming {
            throw TableRunError("refusing to time a debug build: use `swift run -c release \(spec.id.fileStem) ...` "
                                + "(or --speed-only is not enough: speed is what --speed-only measures)")
        }
    }

    /// The report of a table spec (at paper scale; the runner scales it).
    public func report(for spec: TableSpec) throws -> Report {
        Runtime.setThreads(settings.threads)
        var report = Report(spec: spec, scale: settings.scale, environment: environment())
        let scaled = settings.scale.settings.scaled(spec)
        if spec.hasSpeed && settings.accuracyOnly {
            report.skip("speed", because: "not run: the table was run with --accuracy-only")
        } else if spec.hasSpeed {
            try checkTimingAllowed(spec)
            try measureSpeed(spec, into: &report)
        }
        if spec.kind == .cost {
            report.rows += AnalyticCost.costRows(spec, published: published)
        }
        if spec.kind == .modelSizes { addModelSizes(spec, into: &report) }
        if spec.isDerived {
            DerivedTables.tabulate(spec, into: &report, directory: settings.output, published: published)
        } else if spec.kind != .modelSizes {
            try addAccuracy(spec, scaled: scaled, into: &report)
        }
        return report
    }

    // MARK: Speed

    /// Times every run variant of `spec` (paper-size configs at `settings.shape`) interleaved with the speed
    /// reference, in groups that fit the memory budget, and adds one training and one inference speed row each.
    func measureSpeed(_ spec: TableSpec, into report: inout Report) throws {
        let shape = settings.shape
        guard let table = SpeedGroups.TablePlan(spec, shape: shape, budget: settings.memoryBudget) else { return }
        let ref = table.reference, refConfig = table.referenceConfig, members = table.members, configs = table.configs
        let plan = table.groups
        let options = FLOPOptions(sequencesPerDevice: shape.batch, dispatch: .gatherScatter, spectral: .fft)
        let B = shape.batch
        let perExample = spec.kind == .cost
        let trainMetric = perExample ? "training_ms_per_ex" : "ms_per_batch"
        for (i, bytes) in plan.tooLarge {
            let reason = "needs about \(MemoryBudget.gb(bytes)) for parameters, gradients, AdamW moments and "
                + "activations at \(shape.label) next to the reference's "
                + "\(MemoryBudget.gb(table.referenceBytes)); the memory budget is "
                + "\(MemoryBudget.gb(settings.memoryBudget)) (--memory-budget-gb)"
            report.skip("speed: \(members[i].name)", because: reason)
            // The paper's speed numbers of the variant stay in the report, with the reason in place of ours.
            for m in ["speedup", "training_speedup", "inference_speedup", "ms_per_batch", "training_ms_per_ex",
                      "inference_ms_per_ex"] {
                guard let p = published?.value(table: report.tableID, variant: members[i].name, metric: m) else {
                    continue
                }
                report.rows.append(ReportRow(variant: members[i].name, metric: m, ours: nil, published: p,
                                             notes: "not timed: " + reason))
            }
        }
        report.notes.append(shape.ruleText)
        let rule = settings.rule
        let stem = spec.id.fileStem
        // Members an earlier table of this run_all.sh invocation timed (same configs, shape, threads, rule) are
        // shared: their samples come with the reference's from the same rounds, so the ratios stay same-round.
        let cache = settings.timingCache
        let tooLarge = Set(plan.tooLarge.map(\.index))
        let keys = configs.map { cache?.key(variant: $0, reference: refConfig, shape: shape, threads: settings.threads,
                                            warmup: settings.warmup, rule: rule) }
        var timings: [Int: PairedTiming] = [:]
        for i in members.indices where !tooLarge.contains(i) {
            if let k = keys[i], let t = cache?.load(k) { timings[i] = t }
        }
        let toTime = members.indices.filter { !tooLarge.contains($0) && timings[$0] == nil }
        let groups = SpeedGroups.plan(referenceBytes: table.referenceBytes,
                                      memberBytes: toTime.map { table.memberBytes[$0] },
                                      budget: settings.memoryBudget).groups.map { $0.map { toTime[$0] } }
        report.notes.append("Timing: \(settings.warmup) warm-up step(s) per model, then \(rule.text); each round "
            + "times one training step (forward + backward + AdamW) and one inference forward of every model of a "
            + "group, the reference included, starting one model later each round. Speed-up = the geometric mean "
            + "over rounds of the reference's time / the variant's time in the same round, with its 95% t interval "
            + "on the per-round log-ratios; a speed-up still wider than the half-width when the rounds stopped is "
            + "marked unstable. \(groups.count) group(s) timed here under a memory budget of "
            + "\(MemoryBudget.gb(settings.memoryBudget))"
            + (timings.isEmpty ? "." : "; \(timings.count) variant(s) shared from an earlier table of this run "
                + "(the same paper-size config, shape, threads and rule), each with the reference's times from its "
                + "own rounds; the machine's state while those rounds ran is in the report of the table named in "
                + "their rows."))
        report.notes.append("FLOP ratio: reference / variant FLOPs of the timed shapes as this CPU code runs them "
            + "(gather/scatter MoE dispatch, FFT for Fourier/Hartley), training step (3x forward) or inference "
            + "forward.")

        let watch = groups.isEmpty ? nil : MachineWatch(readPeak: settings.readPeak)
        for (g, group) in groups.enumerated() {
            let label = "\(stem), group \(g + 1) of \(groups.count)"
            log("\(stem): speed group \(g + 1)/\(groups.count): "
                + ([ref.name] + group.map { members[$0].name }).joined(separator: ", ") + " at \(shape.label)")
            // A group timed by a speed job on a whole node (`sparse-mixers job speed`, SpeedGroupStore) is read,
            // not timed again; otherwise it is timed here.
            let run = try speedStore?.load(spec.id, group: g, names: [ref.name] + group.map { members[$0].name },
                                           settings: settings)
                ?? timeSpeedGroup(table, group: group, label: label)
            for (k, t) in PairedTiming.split(run, timedIn: label).enumerated() {
                let i = group[k]
                timings[i] = t
                // A timing that cannot be shared is timed again by a later table; this table's report is not lost.
                if let key = keys[i], let cache {
                    do { try cache.store(t, key: key) } catch {
                        log("\(stem): warning: the timing of \(members[i].name) is not shared with later "
                            + "tables: \(error)")
                    }
                }
            }
        }
        if let watch {
            let c = watch.finish(threads: settings.threads)
            report.speedConditions = c
            for w in c.warnings { log("\(stem): warning: \(w)") }
        }
        guard !timings.isEmpty else { return }
        let scaleMs: (Double) -> Double = { $0 / Double(B) }
        let trainScale: (Double) -> Double = perExample ? scaleMs : { $0 }
        // The reference's row pools its samples over every distinct set of rounds (a group's rounds are shared
        // by all its members).
        var refTrain: [Double] = [], refInfer: [Double] = [], seen = Set<String>()
        for i in timings.keys.sorted() where seen.insert(timings[i]!.timedIn).inserted {
            refTrain += timings[i]!.referenceTrainMs; refInfer += timings[i]!.referenceInferenceMs
        }
        let sets = seen.count
        report.addSpeed(variant: ref.name, msMetric: trainMetric,
                        timing: TimingSummary(samples: refTrain.map(trainScale)), flopRatio: 1, shape: shape.label,
                        published: published, notes: "training step" + (perExample ? " / \(B)" : "")
                            + (sets > 1 ? "; pooled over \(sets) sets of rounds (each group's own median "
                                          + "is in its rows)" : ""))
        report.speedRows[report.speedRows.count - 1].ourSpeedup = 1
        report.addSpeed(variant: ref.name, msMetric: "inference_ms_per_ex",
                        timing: TimingSummary(samples: refInfer.map(scaleMs)), flopRatio: 1, shape: shape.label,
                        published: published, notes: "inference forward / \(B)"
                            + (sets > 1 ? "; pooled over \(sets) sets of rounds (each group's own median "
                                          + "is in its rows)" : ""))
        report.speedRows[report.speedRows.count - 1].ourSpeedup = 1
        var unstable: [String] = []
        for i in timings.keys.sorted() {
            let t = timings[i]!, c = configs[i], name = members[i].name
            for (training, ms, refMs) in [(true, t.trainMs, t.referenceTrainMs), (false, t.inferenceMs,
                                                                                  t.referenceInferenceMs)] {
                let scale = training ? trainScale : scaleMs
                let interval = training ? t.trainInterval(target: rule.halfWidth)
                    : t.inferenceInterval(target: rule.halfWidth)
                let ratio = FLOPCounter.flopRatio(reference: refConfig, variant: c, training: training,
                                                  options: options)
                report.addSpeed(variant: name, msMetric: training ? trainMetric : "inference_ms_per_ex",
                                timing: TimingSummary(samples: ms.map(scale)), flopRatio: ratio, shape: shape.label,
                                published: published,
                                notes: training ? "training step" + (perExample ? " / \(B)" : "")
                                    : "inference forward / \(B)")
                var row = report.speedRows.removeLast()
                row.ourSpeedup = interval?.speedup
                    ?? TimingSummary(samples: refMs).median / TimingSummary(samples: ms).median
                row.interval = interval
                row.referenceMs = scale(TimingSummary(samples: refMs).median)
                row.timedIn = t.timedIn + (t.timedIn.hasPrefix(stem + ",") ? "" : " (shared)")
                report.speedRows.append(row)
                if interval?.unstable ?? true { unstable.append("\(name) (\(training ? "training" : "inference"))") }
            }
        }
        if !unstable.isEmpty {
            report.notes.append("Unstable speed-ups (the rounds stopped before their 95% interval was within "
                + String(format: "±%.1f%%", 100 * rule.halfWidth) + "): " + unstable.joined(separator: ", ") + ".")
        }
    }

    /// Times one speed group: the reference and the group's members, interleaved over the rounds.
    /// Times one speed group: the reference and the group's members built together, then interleaved rounds
    /// under `settings.rule`. The models are freed on return, before the next group is built.
    func timeSpeedGroup(_ table: SpeedGroups.TablePlan, group: [Int], label: String) throws -> TimedRun {
        let B = settings.shape.batch
        var models = [try TimedModel(name: table.reference.name, config: table.referenceConfig, batchSize: B)]
        for i in group {
            models.append(try TimedModel(name: table.members[i].name, config: table.configs[i], batchSize: B))
        }
        let works = models.map(\.work)
        models.removeAll()
        let progress = settings.progress.map { StepProgress($0, every: 5) }
        return try Interleaving.run(works, rule: settings.rule, warmup: settings.warmup,
                                    progress: { self.log("  \($0)") },
                                    onRound: { progress?.show($0.round, "  \(label): \($0.text)",
                                                              final: $0.stop != nil) })
    }

    /// Times group `group` (0-based) of `id`'s speed plan and stores its samples in `store`, for a report
    /// assembled elsewhere (`sparse-mixers job speed`); a group already stored with the same models and settings
    /// is kept, not timed again. Returns the group's models.
    public func timeAndStoreSpeedGroup(_ id: TableID, group g: Int, in store: SpeedGroupStore) throws -> [String] {
        let spec = TableSpec.spec(id)
        try checkTimingAllowed(spec)
        Runtime.setThreads(settings.threads)
        guard let table = SpeedGroups.TablePlan(spec, shape: settings.shape, budget: settings.memoryBudget),
              table.groups.groups.indices.contains(g) else {
            throw TableRunError("\(id.fileStem) has no speed group \(g + 1) at \(settings.shape.label)")
        }
        let group = table.groups.groups[g]
        let names = [table.reference.name] + group.map { table.members[$0].name }
        var reuse = store; reuse.required = false
        if try reuse.load(id, group: g, names: names, settings: settings) != nil {
            log("\(id.fileStem): speed group \(g + 1) already timed: "
                + "\(store.url(id, group: g, shape: settings.shape).path)")
            return names
        }
        log("\(id.fileStem): speed group \(g + 1)/\(table.groups.groups.count): "
            + ([table.reference.name] + group.map { table.members[$0].name }).joined(separator: ", ")
            + " at \(settings.shape.label)")
        let run = try timeSpeedGroup(table, group: group,
                                     label: "\(id.fileStem), group \(g + 1) of \(table.groups.groups.count)")
        try store.store(run, table: id, group: g, settings: settings)
        return run.samples.map(\.name)
    }

    // MARK: Accuracy

    /// Calls `AccuracyPhase` for every run variant (unless --speed-only) and adds one row per metric: every
    /// metric the paper publishes for the variant (ours empty when not produced) and every extra metric returned.
    func addAccuracy(_ spec: TableSpec, scaled: TableSpec, into report: inout Report) throws {
        let excluded = Metric.speedMetrics.union(["gflops_per_ex", "params_m"])
        let metrics = spec.metrics.filter { !excluded.contains($0) }
        guard !metrics.isEmpty else { return }
        var skippedBy: [String: [String]] = [:]   // "item\nreason" -> variants
        var skippedOrder: [SkippedItem] = []
        var notesBy: [String: [String]] = [:], noteOrder: [String] = []
        let variants = scaled.accuracyVariants
        let (outcomes, controlOutcome) = try accuracyOutcomes(spec, scaled: scaled, variants: variants)
        addSeedStatistics(spec, variants: variants, outcomes: outcomes, into: &report)
        addFineTuneSummary(variants: variants, outcomes: outcomes, control: controlOutcome, into: &report)
        if settings.speedOnly { report.trainedNote = WhatWasTrained.speedOnlyNote } else {
            report.trained = WhatWasTrained.rows(spec: spec, scaled: scaled, variants: variants, outcomes: outcomes,
                                                 settings: settings.scale.settings, fineTune: settings.fineTune,
                                                 workDirectory: settings.output.appendingPathComponent("runs"))
        }
        for (v, outcome) in zip(variants, outcomes) {
            let paperVariant = spec.runVariants.first { $0.name == v.name } ?? v
            let publishedMetrics = Set(paperVariant.publishedMetrics(in: spec))
            let runs = settings.scale.settings.stabilityRuns
            let paperRuns = Scale.paper.settings.stabilityRuns   // the published counts are out of 4
            for m in metrics where publishedMetrics.contains(m) || outcome.metrics[m] != nil {
                report.add(variant: v.name, metric: m, ours: outcome.metrics[m], published: published,
                           notes: m.hasPrefix("stable_") && runs != paperRuns ? "ours: stable runs out of "
                                                                                + "\(runs) at this scale" : "")
                // Our count has its own denominator: the unit says so, and no difference to the paper's count of 4.
                if m.hasPrefix("stable_") && runs != paperRuns {
                    report.rows[report.rows.count - 1].unit = "runs of \(runs)"
                }
            }
            for m in outcome.metrics.keys.sorted() where !metrics.contains(m) {
                let base = AccuracyOutcome.splitBatchSuffix(m).metric
                report.rows.append(ReportRow(variant: v.name, metric: m, ours: outcome.metrics[m], published: nil,
                                             unit: Metric.unit(base)))
            }
            for s in outcome.skipped {
                let key = s.item + "\n" + s.reason
                if skippedBy[key] == nil { skippedOrder.append(s) }
                skippedBy[key, default: []].append(v.name)
            }
            for n in outcome.notes {
                if notesBy[n] == nil { noteOrder.append(n) }
                notesBy[n, default: []].append(v.name)
            }
        }
        // A note several variants share is printed once, with the variants it applies to.
        for n in noteOrder {
            let names = notesBy[n]!
            let who = names.count == variants.count && names.count > 1 ? "All \(names.count) variants"
                : names.joined(separator: ", ")
            report.notes.append("\(who): \(n)")
        }
        for s in skippedOrder {
            let names = skippedBy[s.item + "\n" + s.reason]!
            let who = names.count == variants.count && names.count > 1 ? "all \(names.count) variants"
                : names.joined(separator: ", ")
            report.skip("\(s.item) (\(who))", because: s.reason)
        }
    }

    /// Every variant's outcome, in variant order, and the table's random-initialisation control (nil when not
    /// run); computed in `settings.accuracyLanes` lanes. Shared runs (the same pre-training for several variants)
    /// are done once: the drivers lock each run while they make it.
    func accuracyOutcomes(_ spec: TableSpec, scaled: TableSpec, variants: [VariantSpec]) throws
        -> ([AccuracyOutcome], AccuracyOutcome?) {
        // --rows: the selected rows and the table's first (the reference of the differences); the others keep
        // their published numbers, named as not run.
        if settings.rows != nil, !settings.speedOnly {
            let keep = variants.enumerated().filter { settings.trainsAccuracy(row: $0.offset, named: $0.element.name) }
                .map(\.element)
            let (got, control) = try selectedOutcomes(spec, scaled: scaled, variants: keep)
            let byName = Dictionary(zip(keep.map(\.name), got), uniquingKeysWith: { a, _ in a })
            let reason = "not run: --rows selected " + keep.map(\.name).joined(separator: ", ")
            return (variants.map {
                byName[$0.name] ?? AccuracyOutcome(skipped: [SkippedItem(item: "pre-training and fine-tuning",
                                                                         reason: reason)])
            }, control)
        }
        return try selectedOutcomes(spec, scaled: scaled, variants: variants)
    }

    func selectedOutcomes(_ spec: TableSpec, scaled: TableSpec, variants: [VariantSpec]) throws
        -> ([AccuracyOutcome], AccuracyOutcome?) {
        if settings.speedOnly {
            return (variants.map { _ in
                AccuracyOutcome(skipped: [SkippedItem(item: "pre-training and fine-tuning", reason: "--speed-only")])
            }, nil)
        }
        func request(_ v: VariantSpec) -> AccuracyRequest {
            AccuracyRequest(table: scaled, variant: v, settings: settings.scale.settings,
                            dataDirectory: settings.dataDirectory,
                            workDirectory: settings.output.appendingPathComponent("runs"), fineTune: settings.fineTune)
        }
        // First pass: every (variant, seed) pre-training run, the costliest first, spread over the lanes; the
        // second pass below then reuses them (and fine-tunes).
        if let pretrainSeed, settings.scale.settings.seeds > 1 || settings.scale.settings.referenceSeeds > 1 {
            var jobs: [(variant: Int, seed: Int, cost: Double)] = []
            for (k, v) in variants.enumerated() {
                let cost = FLOPCounter.trainingStep(v.config)
                for seed in 0..<seedCount(request(v)) { jobs.append((k, seed, cost)) }
            }
            jobs.sort { $0.cost != $1.cost ? $0.cost > $1.cost : ($0.variant, $0.seed) < ($1.variant, $1.seed) }
            let jobLanes = min(settings.accuracyLanes, jobs.count)
            log("\(spec.id.fileStem): \(jobs.count) pre-training runs (\(variants.count) variants x seeds), "
                + "\(jobLanes) side by side")
            let lock = NSLock()
            var failures: [Error] = []
            Parallel.lanes(jobs.count, lanes: jobLanes) { j in
                do { try pretrainSeed(request(variants[jobs[j].variant]), jobs[j].seed) } catch {
                    lock.lock(); failures.append(error); lock.unlock()
                }
            }
            if let e = failures.first { throw e }
        }
        // Second pass: every variant's accuracy (fine-tuning), plus the control of the reference (index
        // variants.count), the costliest first.
        let withControl = control != nil && settings.fineTune && !variants.isEmpty
        var order = Array(0..<(variants.count + (withControl ? 1 : 0)))
        let cost = { (k: Int) in FLOPCounter.trainingStep(variants[k < variants.count ? k : 0].config) }
        order.sort { cost($0) != cost($1) ? cost($0) > cost($1) : $0 < $1 }
        let lanes = min(settings.accuracyLanes, order.count)
        if lanes > 1 {
            log("\(spec.id.fileStem): accuracy of \(variants.count) variants\(withControl ? " and the control" : ""), "
                + "\(lanes) side by side (one thread each)")
        }
        let lock = NSLock()
        var results = [Result<AccuracyOutcome, Error>?](repeating: nil, count: variants.count)
        var controlResult: Result<AccuracyOutcome?, Error> = .success(nil)
        Parallel.lanes(order.count, lanes: lanes) { j in
            let k = order[j]
            if k == variants.count {
                self.log("\(spec.id.fileStem): random-init control of \(variants[0].name)")
                let r = Result { try self.control!(request(variants[0])) }
                lock.lock(); controlResult = r; lock.unlock()
                return
            }
            let v = variants[k]
            self.log("\(spec.id.fileStem): accuracy of \(v.name)")
            let r = Result { try self.accuracy(request(v)) }
            lock.lock(); results[k] = r; lock.unlock()
        }
        return (try results.map { try $0!.get() }, try controlResult.get())
    }

    /// Per fine-tuned task: the majority class and the control beside every variant, the signal verdict, and the
    /// average over the tasks with signal as a row per variant (`glue_avg_signal` / `superglue_avg_signal`).
    func addFineTuneSummary(variants: [VariantSpec], outcomes: [AccuracyOutcome], control: AccuracyOutcome?,
                            into report: inout Report) {
        guard let reference = variants.first?.name else { return }
        var results: [String: [FineTuneTaskResult]] = [:]
        for (v, o) in zip(variants, outcomes) where !o.fineTune.isEmpty { results[v.name] = o.fineTune }
        let s = settings.scale.settings
        let description = "the reference (\(reference)) fine-tuned from its untrained initialisation (pre-training "
            + (s.fineTuneSeeds ? "seed s's step 0 for fine-tuning seed s" : "seed 0's step 0")
            + ") with the same grid, caps, steps and selection"
        if let control { for k in control.skipped { report.skip("random-init control: \(k.item)", because: k.reason) } }
        if s.fineTuneControl && control == nil && settings.fineTune && !results.isEmpty {
            report.skip("random-init control", because: "not run")
        }
        let glueNames = Set(Metric.glueTasks)
        let isGlue = { (r: FineTuneTaskResult) in r.best.keys.allSatisfy { glueNames.contains($0) } }
        var summaries: [FineTuneSummary] = []
        for (bench, keep, name) in [("GLUE", true, "glue_avg_signal"), ("SuperGLUE", false, "superglue_avg_signal")] {
            let part = results.mapValues { $0.filter { isGlue($0) == keep } }.filter { !$0.value.isEmpty }
            guard let summary = FineTuneSummary.build(benchmark: bench, reference: reference,
                                                      variantOrder: variants.map(\.name), results: part,
                                                      control: control?.fineTune.filter { isGlue($0) == keep },
                                                      controlDescription: description) else { continue }
            summaries.append(summary)
            for v in variants.map(\.name) + [FineTuneSummary.controlName] {
                guard let x = summary.signalAverage[v] else { continue }
                report.rows.append(ReportRow(variant: v, metric: name, ours: x, published: nil, unit: "%",
                                             notes: "mean of \(summary.signalMetrics.joined(separator: ", ")) (the "
                                                + "tasks where the reference beats the majority class "
                                                + "and the control); best evaluation; last: "
                                                + String(format: "%.1f", summary.signalAverageLast[v] ?? .nan)))
            }
        }
        if !summaries.isEmpty { report.fineTuning = summaries }
    }

    /// Seed runs, learning curves and floors into the report; every variant's mean over seeds and paired
    /// difference to the table's first row, with the paper's difference and a verdict.
    func addSeedStatistics(_ spec: TableSpec, variants: [VariantSpec], outcomes: [AccuracyOutcome],
                           into report: inout Report) {
        let runs = outcomes.flatMap(\.seedRuns)
        guard !runs.isEmpty, let reference = variants.first?.name else { return }
        report.seedRuns = runs
        report.curves = outcomes.flatMap(\.curves)
        report.mlmFloor = outcomes.lazy.compactMap(\.mlmFloor).first
        report.nspFloor = outcomes.lazy.compactMap(\.nspFloor).first
        report.accuracyReference = reference
        let table = spec.id
        report.comparisons = SeedStatistics.compare(runs: runs, variants: variants.map(\.name), reference: reference) {
            self.published?.value(table: table, variant: $0, metric: $1)
        }
    }

    // MARK: A.5 sizes

    /// Each size pair as trained at this scale (ours, `scaledConfig`) beside the paper's sizes (published); the
    /// rows the paper does not publish (heads, expert d_ff, parameters) name the paper size in their notes.
    func addModelSizes(_ spec: TableSpec, into report: inout Report) {
        let s = settings.scale.settings
        let note = s.scale == .paper ? "config used" : "trained at \(s.scale.rawValue) (widths / \(s.widthDivisor))"
        for v in spec.variants {
            guard let paperBERT = v.pairedConfig else { continue }
            let bert = s.scaledConfig(paperBERT), sm = s.scaledConfig(v.config), paperSM = v.config
            let values: [(String, Int, Int, Bool)] = [
                ("bert_layers", bert.numLayers, paperBERT.numLayers, true), ("bert_d_model", bert.dModel,
                                                                             paperBERT.dModel, true),
                ("bert_d_ff", bert.dFF, paperBERT.dFF, true), ("bert_heads", bert.numHeads, paperBERT.numHeads, false),
                ("sm_layers", sm.numLayers, paperSM.numLayers, true), ("sm_d_model", sm.dModel, paperSM.dModel, true),
                ("sm_d_ff", sm.dFF, paperSM.dFF, true), ("sm_heads", sm.numHeads, paperSM.numHeads, false),
                ("sm_attention_layers", sm.attentionLayers.count, paperSM.attentionLayers.count, true),
                ("sm_moe_layers", sm.moeLayers.count, paperSM.moeLayers.count, true),
                ("sm_num_experts", sm.numExperts, paperSM.numExperts, true),
                ("sm_expert_d_ff", sm.expertDFF, paperSM.expertDFF, false),
            ]
            for (m, x, paper, isPublished) in values {
                let p = isPublished ? published?.value(table: report.tableID, variant: v.name, metric: m) : nil
                report.rows.append(ReportRow(variant: v.name, metric: m, ours: Double(x), published: p,
                                             notes: note + (p == nil ? "; paper-size config: \(paper)" : "")))
            }
            for (m, c, paper) in [("bert_params_m", bert, paperBERT), ("sm_params_m", sm, paperSM)] {
                let paperSize = s.scale == .paper ? ""
                    : String(format: "; paper size %.1fM (seq 512, vocab 32k)", ParameterCounter.count(paper).millions)
                report.rows.append(ReportRow(variant: v.name, metric: m, ours: ParameterCounter.count(c).millions,
                                             published: nil, unit: "M", notes: "analytic, seq \(c.maxSeqLength), vocab "
                                                + "\(c.vocabSize)" + paperSize))
            }
        }
        if s.scale != .paper {
            report.notes.append("Ours: the sizes pre-trained for Figures 2 and 4 at `\(s.scale.rawValue)` (the scale's "
                + "rule); paper: Table A5's sizes, which the speed columns of the figures time.")
        }
    }

    // MARK: Reports written from one run (Figure 2 / Figure 4 / Table A5)

    /// The reports of a target that `alsoWrites` others from the same run: Figure 2 times and trains the twelve A.5
    /// models once; a companion of the same kind (Figure 4) takes the run's speed rows and the rows of its own
    /// accuracy metric, and a companion of another kind (Table A5, the sizes) is its own report of the same models.
    func runWithCompanions(_ spec: TableSpec) throws -> [Report] {
        var main = try report(for: spec)
        main.notes.append(spec.alsoWrites.map(\.displayName).joined(separator: " and ") + " come from this same run.")
        var companions: [Report] = []
        var moved: Set<String> = []
        for id in spec.alsoWrites {
            let other = TableSpec.spec(id)
            var r: Report
            if other.kind == spec.kind {
                r = Report(spec: other, scale: settings.scale, environment: main.environment)
                r.speedRows = main.speedRows
                r.skipped = main.skipped
                r.notes = other.notes + main.notes.filter { !spec.notes.contains($0) }
                let own = Set(other.metrics).subtracting(spec.metrics)
                r.rows = main.rows.filter { own.contains($0.metric) }
                moved.formUnion(own)
            } else {
                r = try report(for: other)
            }
            r.trained = main.trained; r.trainedNote = main.trainedNote
            companions.append(r)
        }
        main.rows = main.rows.filter { !moved.contains($0.metric) }
        return [main] + companions
    }
}
