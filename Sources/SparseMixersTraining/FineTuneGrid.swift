import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData

/// The paper's fine-tuning protocol over a grid (SPEC §5.4): per task the best base learning rate, per benchmark
/// the one batch size with the best average. Every single run is cached as JSON in the grid's directory, so an
/// interrupted grid resumes at run granularity.
public struct GridOutcome: Codable, Equatable, Sendable {
    public struct Choice: Codable, Equatable, Sendable {
        public var task: SparseMixersData.Task
        public var batchSize: Int
        public var learningRate: Double
        public var best: TaskEvaluation?
        public var last: TaskEvaluation?
        public var diverged: String?
    }
    public var runs: [FineTuneResult] = []
    /// The chosen run of every task (its benchmark's batch size, its best learning rate).
    public var chosen: [Choice] = []
    public var batchByBenchmark: [String: Int] = [:]
    /// Paper-definition metrics of the best evaluation of each chosen run, plus the benchmark averages.
    public var metrics: [String: Double] = [:]
    /// The same from the last evaluation of each chosen run.
    public var lastMetrics: [String: Double] = [:]
    /// Official-definition metrics (best evaluation).
    public var official: [String: Double] = [:]
    public var skipped: [SkippedItem] = []
    public var notes: [String] = []
    /// What the scale's caps cut, per task (`FineTuneData.capNotes`): a report summarises them in one note.
    public var capNotes: [String] = []
    /// Per task (in task order) the chosen run and the majority-class floor on the same evaluation rows.
    public var taskResults: [FineTuneTaskResult] = []

    public init() {}
}

public enum FineTuneGrid {
    public struct Settings: Sendable {
        public var learningRates: [Double]
        public var batchSizes: [Int]
        public var protocolOptions: FineTuneProtocol
        public var trainCap: Int?
        public var evalCap: Int?
        public var seed: UInt64 = 0
        /// Every task trains at least this many steps: its epochs are raised to ⌈minimumSteps·B/N⌉ where the
        /// protocol's epochs give fewer (small training sets would otherwise stop at the class prior).
        public var minimumSteps: Int = 0
        public init(learningRates: [Double], batchSizes: [Int], protocolOptions: FineTuneProtocol,
                    trainCap: Int?, evalCap: Int?, seed: UInt64 = 0, minimumSteps: Int = 0) {
            self.learningRates = learningRates; self.batchSizes = batchSizes; self.protocolOptions = protocolOptions
            self.trainCap = trainCap; self.evalCap = evalCap; self.seed = seed; self.minimumSteps = minimumSteps
        }

        /// Epochs of a task with `trainExamples` examples at batch `batchSize`: the protocol's, raised so that
        /// ⌊N·epochs/B⌋ >= minimumSteps.
        public func epochs(trainExamples: Int, batchSize: Int) -> Int {
            let base = max(1, protocolOptions.epochs)
            guard minimumSteps > 0, trainExamples > 0 else { return base }
            let needed = (minimumSteps * batchSize + trainExamples - 1) / trainExamples
            return max(base, needed)
        }
    }

    /// Every paper metric of a model that predicts one constant for every evaluation row: the most frequent class
    /// of the train split (regression tasks: the train mean, whose correlation is undefined and scored 0, as the
    /// models' undefined scores are).
    public static func majorityFloor(_ data: FineTuneData) throws -> [String: Double] {
        let task = data.task
        var out: [String: Double] = [:]
        var prediction: TaskPredictions
        let constantClass: Int
        if task.isRegression {
            constantClass = 0
        } else {
            var counts: [Int32: Int] = [:]
            for y in data.train.labels where y >= 0 { counts[y, default: 0] += 1 }
            constantClass = Int(counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? 0)
        }
        let targets = data.train.targets
        let mean = targets.isEmpty ? 0 : Double(targets.reduce(0, +)) / Double(targets.count)
        for split in data.evals {
            prediction = task.isRegression ? .scores(Array(repeating: mean, count: split.count))
                : .classes(Array(repeating: constantClass, count: split.count))
            for s in try TaskScores.paper(task: task, examples: split.examples, predictions: prediction) {
                out[MetricNames.paper(task, split.split, s.name)] = s.value.isFinite ? s.value : 0
            }
        }
        return out
    }

    /// A further seed's starting point: pre-training seed `seed`'s checkpoint (or, for the control, the
    /// initialisation of seed `seed`), fine-tuned with fine-tuning seed `seed`.
    public struct SeedCheckpoint: Sendable, Equatable {
        public var seed: Int
        public var checkpoint: URL
        public init(seed: Int, checkpoint: URL) { self.seed = seed; self.checkpoint = checkpoint }
    }

    /// Runs the grid for `tasks` from `checkpoint` (seed 0). Tasks whose files are absent are skipped and named.
    /// Then every checkpoint of `seedCheckpoints` is fine-tuned on every task at the batch and learning rate chosen
    /// on the grid (one run each, cached in a `finetune` directory beside it), and every task's result and metric
    /// is the mean over the seeds (`FineTuneTaskResult.seeds` keeps each).
    public static func run(checkpoint: URL, tasks: [SparseMixersData.Task], settings: Settings, root: DataRoot,
                           tokenizer: Tokenizer, directory: URL, seedCheckpoints: [SeedCheckpoint] = [],
                           progress: ProgressLine? = nil, label: String = "",
                           log: (String) -> Void = { _ in }) throws -> GridOutcome {
        let meta = try Checkpoint.metadata(at: checkpoint)
        let seqLen = meta.config.maxSeqLength
        var out = GridOutcome()
        var loaded: [(SparseMixersData.Task, FineTuneData)] = []
        for task in tasks {
            do {
                let d = try FineTuneData.load(task, root: root, tokenizer: tokenizer, seqLen: seqLen,
                                              trainCap: settings.trainCap, evalCap: settings.evalCap)
                loaded.append((task, d))
                out.capNotes += d.capNotes.map { "\(task.displayName): \($0)" }
            } catch let e as MissingDataError {
                out.skipped.append(SkippedItem(item: task.displayName, reason: "data missing: \(e.description)"))
            }
        }
        var majority: [SparseMixersData.Task: [String: Double]] = [:]
        var evalRows: [SparseMixersData.Task: Int] = [:]
        for (task, data) in loaded {
            majority[task] = try majorityFloor(data)
            evalRows[task] = data.evals.map(\.count).reduce(0, +)
        }
        for B in settings.batchSizes {
            for (task, data) in loaded {
                for lr in settings.learningRates {
                    var options = FineTuneOptions(settings.protocolOptions, learningRate: lr, batchSize: B,
                                                  seed: settings.seed)
                    options.epochs = settings.epochs(trainExamples: data.trainExamples, batchSize: B)
                    let url = directory.appendingPathComponent(runName(task, options, settings))
                    out.runs.append(try cachedRun(checkpoint: checkpoint, data: data, options: options, url: url,
                                                  progress: progress, label: label, log: log))
                }
            }
        }
        select(&out, tasks: loaded.map(\.0), batchSizes: settings.batchSizes)
        let data = Dictionary(loaded, uniquingKeysWith: { a, _ in a })
        for c in out.chosen {
            guard let r = out.runs.first(where: { $0.task == c.task && $0.options.batchSize == c.batchSize
                                                  && $0.options.learningRate == c.learningRate }) else { continue }
            let first = FineTuneTaskResult(task: c.task.displayName, best: c.best?.paper ?? [:],
                                           last: c.last?.paper ?? [:], official: c.best?.official ?? [:],
                                           officialLast: c.last?.official ?? [:], learningRate: c.learningRate,
                                           batchSize: c.batchSize, steps: r.steps, trainRows: r.trainRows,
                                           evalRows: evalRows[c.task] ?? 0, majority: majority[c.task] ?? [:],
                                           diverged: c.diverged)
            guard !seedCheckpoints.isEmpty, let d = data[c.task] else { out.taskResults.append(first); continue }
            // Further seeds at the chosen batch and learning rate: one run each.
            var scores = [FineTuneTaskResult.SeedScore(seed: Int(settings.seed), best: first.best, last: first.last,
                                                       official: first.official, officialLast: first.officialLast,
                                                       diverged: first.diverged)]
            for sc in seedCheckpoints {
                var options = r.options
                options.seed = UInt64(sc.seed)
                let url = sc.checkpoint.deletingLastPathComponent().appendingPathComponent("finetune")
                    .appendingPathComponent(runName(c.task, options, settings))
                let s = try cachedRun(checkpoint: sc.checkpoint, data: d, options: options, url: url,
                                      progress: progress, label: label + "seed \(sc.seed) ", log: log)
                scores.append(.init(seed: sc.seed, best: s.best?.paper ?? [:], last: s.last?.paper ?? [:],
                                    official: s.best?.official ?? [:], officialLast: s.last?.official ?? [:],
                                    diverged: s.diverged))
            }
            let mean = FineTuneTaskResult.overSeeds(first, scores)
            out.taskResults.append(mean)
            // The table's metrics are the means over seeds.
            for (k, v) in mean.best { out.metrics[k] = v }
            for (k, v) in mean.last { out.lastMetrics[k] = v }
            for (k, v) in mean.official { out.official[k] = v }
        }
        if !seedCheckpoints.isEmpty {
            let a = averages(metrics: out.metrics, lastMetrics: out.lastMetrics)
            out.metrics.merge(a.metrics) { _, new in new }
            out.lastMetrics.merge(a.lastMetrics) { _, new in new }
        }
        return out
    }

    /// One fine-tuning run, read from `url` when it holds a run with the same options, else run and written there.
    /// Locked: two table variants with the same protocol (Table 19) share the run, done once.
    static func cachedRun(checkpoint: URL, data: FineTuneData, options: FineTuneOptions, url: URL,
                          progress: ProgressLine?, label: String, log: (String) -> Void) throws -> FineTuneResult {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        return try FileLock.withLock(url.path + ".lock") { () throws -> FineTuneResult in
            if let cached = try? RunFiles.readJSON(FineTuneResult.self, from: url), cached.options == options {
                return cached
            }
            log((label.isEmpty ? "[finetune] " : label)
                + "\(data.task.displayName) batch \(options.batchSize) lr \(options.learningRate) seed \(options.seed)")
            let r = try FineTuner.run(checkpoint: checkpoint, data: data, options: options, progress: progress,
                                      label: label)
            try RunFiles.writeJSON(r, to: url)
            return r
        }
    }

    /// The cache file of one grid run: every option that determines it.
    public static func runName(_ task: SparseMixersData.Task, _ o: FineTuneOptions, _ s: Settings) -> String {
        let cap: (Int?) -> String = { $0.map(String.init) ?? "all" }
        return "\(task.rawValue)-b\(o.batchSize)-lr\(o.learningRate)-e\(o.epochs)-ed\(o.expertDropoutRate)"
            + "-cf\(o.capacityFactor.map { "\($0)" } ?? "model")-fz\(o.freeze.rawValue)-tr\(cap(s.trainCap))"
            + "-ev\(cap(s.evalCap))-s\(o.seed).json"
    }

    /// Per task and batch size the learning rate with the best evaluation; per benchmark the batch size with the
    /// best mean over its tasks; then the metrics of those runs and the averages.
    public static func select(_ out: inout GridOutcome, tasks: [SparseMixersData.Task], batchSizes: [Int]) {
        func bestRun(_ task: SparseMixersData.Task, _ B: Int) -> FineTuneResult? {
            out.runs.filter { $0.task == task && $0.options.batchSize == B }
                .max { ($0.best?.primary ?? -.infinity) < ($1.best?.primary ?? -.infinity) }
        }
        for bench in [SparseMixersData.Task.Benchmark.glue, .superglue] {
            let ts = tasks.filter { $0.benchmark == bench }
            guard !ts.isEmpty else { continue }
            var bestB = batchSizes[0], bestMean = -Double.infinity
            for B in batchSizes {
                let scores = ts.map { bestRun($0, B)?.best?.primary ?? -.infinity }
                let mean = scores.reduce(0, +) / Double(scores.count)
                if mean > bestMean { bestMean = mean; bestB = B }
            }
            out.batchByBenchmark[bench.rawValue] = bestB
            for t in ts {
                guard let r = bestRun(t, bestB) else { continue }
                out.chosen.append(.init(task: t, batchSize: bestB, learningRate: r.options.learningRate, best: r.best,
                                        last: r.last, diverged: r.diverged))
                out.notes += r.notes.filter { $0.contains("class-prior") || $0.contains("undefined") }
                    .map { "\(t.displayName): \($0)" }
                for (k, v) in r.best?.paper ?? [:] { out.metrics[k] = v }
                for (k, v) in r.last?.paper ?? [:] { out.lastMetrics[k] = v }
                for (k, v) in r.best?.official ?? [:] { out.official[k] = v }
            }
        }
        let a = averages(metrics: out.metrics, lastMetrics: out.lastMetrics)
        out.metrics.merge(a.metrics) { _, new in new }
        out.lastMetrics.merge(a.lastMetrics) { _, new in new }
        out.skipped += a.skipped
        out.notes += a.notes
    }

    /// The benchmark averages of per-task metrics (best and last): the paper's average (the 11 GLUE and 10
    /// SuperGLUE numbers of `MetricNames`, SPEC §5.5) where every number is there, otherwise the mean of those
    /// present as `<name>_available`, with the skipped item and note saying so.
    static func averages(metrics: [String: Double], lastMetrics: [String: Double])
        -> (metrics: [String: Double], lastMetrics: [String: Double], skipped: [SkippedItem], notes: [String]) {
        var m: [String: Double] = [:], l: [String: Double] = [:], skipped: [SkippedItem] = [], notes: [String] = []
        let benchmarks = [(MetricNames.glueAverage, MetricNames.glueAverageParts, "GLUE"),
                          (MetricNames.superGLUEAverage, MetricNames.superGLUEAverageParts, "SuperGLUE")]
        for (name, parts, bench) in benchmarks {
            let have = parts.filter { metrics[$0] != nil }
            guard !have.isEmpty else { continue }
            if have.count == parts.count {
                m[name] = parts.map { metrics[$0]! }.reduce(0, +) / Double(parts.count)
                l[name] = parts.compactMap { lastMetrics[$0] }.reduce(0, +) / Double(parts.count)
            } else {
                let missing = parts.filter { metrics[$0] == nil }
                skipped.append(SkippedItem(item: name,
                                           reason: "the paper's \(bench) average needs \(parts.count) numbers; "
                                           + "missing here: \(missing.joined(separator: ", "))"))
                m[name + "_available"] = have.map { metrics[$0]! }.reduce(0, +) / Double(have.count)
                l[name + "_available"] = have.compactMap { lastMetrics[$0] }.reduce(0, +) / Double(have.count)
                notes.append("\(name)_available = mean of the \(have.count) of \(parts.count) \(bench) numbers we have "
                             + "(\(have.joined(separator: ", "))); not comparable to the paper's \(name)")
            }
        }
        return (m, l, skipped, notes)
    }
}
