import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData

/// One fine-tuning run's settings (SPEC §3.3, §5.2–5.3): one point of a `FineTuneProtocol`'s grid.
public struct FineTuneOptions: Codable, Equatable, Sendable {
    public var learningRate: Double
    public var batchSize: Int
    public var epochs: Int
    /// Linear warm-up over this fraction of the steps, then linear decay to 0.
    public var warmupProportion: Double = 0.1
    public var seed: UInt64 = 0
    /// Expert dropout during fine-tuning (0.2 in the reference's classification config).
    public var expertDropoutRate: Float = 0.2
    /// Train and eval capacity factor override (Table 19's "c = 2"); nil keeps the model's.
    public var capacityFactor: Float? = nil
    public var freeze: FreezePolicy = .none

    public init(learningRate: Double, batchSize: Int, epochs: Int, warmupProportion: Double = 0.1, seed: UInt64 = 0,
                expertDropoutRate: Float = 0.2, capacityFactor: Float? = nil, freeze: FreezePolicy = .none) {
        self.learningRate = learningRate; self.batchSize = batchSize; self.epochs = epochs
        self.warmupProportion = warmupProportion; self.seed = seed; self.expertDropoutRate = expertDropoutRate
        self.capacityFactor = capacityFactor; self.freeze = freeze
    }

    /// One run of protocol `p`: its knobs at a learning rate and batch size of the grid.
    public init(_ p: FineTuneProtocol, learningRate: Double, batchSize: Int, seed: UInt64 = 0) {
        self.init(learningRate: learningRate, batchSize: batchSize, epochs: p.epochs,
                  warmupProportion: p.warmupProportion, seed: seed, expertDropoutRate: p.expertDropoutRate,
                  capacityFactor: p.capacityFactor, freeze: p.freeze)
    }

    public func validate() throws {
        if !(learningRate > 0) || !learningRate.isFinite {
            throw TrainingError("invalid fine-tuning option: learningRate must be positive, got \(learningRate)")
        }
        if batchSize < 1 {
            throw TrainingError("invalid fine-tuning option: batchSize must be at least 1, got \(batchSize)")
        }
        if epochs < 1 { throw TrainingError("invalid fine-tuning option: epochs must be at least 1, got \(epochs)") }
        if !(0..<1).contains(warmupProportion) {
            throw TrainingError("invalid fine-tuning option: warmupProportion must be in [0, 1), got "
                                + "\(warmupProportion)")
        }
    }
}

/// A task's encoded splits for fine-tuning, capped by whole groups.
public struct FineTuneData: Sendable {
    public var task: SparseMixersData.Task
    public var train: EncodedTaskData
    public var evals: [EncodedTaskData]
    /// N of SPEC §5.3's steps = ⌊N·epochs/B⌋: source examples (COPA/ReCoRD expand into several rows each).
    public var trainExamples: Int
    /// What the caps cut ("train capped to 10000 of 67349 rows"); empty when every row is kept.
    public var capNotes: [String]
    /// Whether a cap cut the train split or an evaluation split.
    public var capped: Bool { !capNotes.isEmpty }

    /// Loads and encodes the train split and the evaluation split(s). Throws `MissingDataError` when a file is
    /// absent. `trainCap`/`evalCap` keep a seeded random subset of whole groups (the same subset for every model).
    public static func load(_ task: SparseMixersData.Task, root: DataRoot, tokenizer: Tokenizer, seqLen: Int,
                            trainCap: Int?, evalCap: Int?) throws -> FineTuneData {
        let c = try capped(task, root: root, trainCap: trainCap, evalCap: evalCap)
        var notes: [String] = []
        if c.train.count < c.fullTrain { notes.append("train capped to \(c.train.count) of \(c.fullTrain) rows") }
        var evals: [EncodedTaskData] = []
        for e in c.evals {
            if e.data.count < e.full { notes.append("\(e.split.rawValue) capped to \(e.data.count) of \(e.full) rows") }
            evals.append(EncodedTaskData(e.data, tokenizer: tokenizer, seqLen: seqLen))
        }
        return FineTuneData(task: task, train: EncodedTaskData(c.train, tokenizer: tokenizer, seqLen: seqLen),
                            evals: evals, trainExamples: c.trainExamples, capNotes: notes)
    }

    /// Row counts `load` would produce, without encoding: train rows after the cap, N of SPEC §5.3 (source
    /// examples), and evaluation rows over the evaluation split(s). For `sparse-mixers plan`.
    public static func sizes(_ task: SparseMixersData.Task, root: DataRoot, trainCap: Int?, evalCap: Int?) throws
        -> (trainRows: Int, trainExamples: Int, evalRows: Int) {
        let c = try capped(task, root: root, trainCap: trainCap, evalCap: evalCap)
        return (c.train.count, c.trainExamples, c.evals.map(\.data.count).reduce(0, +))
    }

    /// The train split and the evaluation split(s), each cut to a seeded subset of whole groups, with their full
    /// row counts; N of SPEC §5.3 counts source examples (COPA/ReCoRD expand into several rows each).
    static func capped(_ task: SparseMixersData.Task, root: DataRoot, trainCap: Int?, evalCap: Int?) throws
        -> (train: TaskDataset, fullTrain: Int, trainExamples: Int,
            evals: [(split: Split, data: TaskDataset, full: Int)]) {
        var train = try TaskLoader.load(task, .train, root: root)
        let fullTrain = train.count
        train.examples = cap(train.examples, to: trainCap, seed: 0x7EA1)
        var evals: [(split: Split, data: TaskDataset, full: Int)] = []
        for split in task.evaluationSplits {
            var d = try TaskLoader.load(task, split, root: root)
            let full = d.count
            d.examples = cap(d.examples, to: evalCap, seed: 0xE7A1)
            evals.append((split, d, full))
        }
        let n = (task == .copa || task == .record) ? train.groupCount : train.count
        return (train, fullTrain, n, evals)
    }

    /// A seeded subset of whole groups holding at most `limit` rows (at least one group), in file order.
    static func cap(_ examples: [TaskExample], to limit: Int?, seed: UInt64) -> [TaskExample] {
        guard let limit, examples.count > limit else { return examples }
        var groups: [Int] = []
        var seen = Set<Int>()
        var size: [Int: Int] = [:]
        for e in examples {
            size[e.group, default: 0] += 1
            if seen.insert(e.group).inserted { groups.append(e.group) }
        }
        var rng = RNG(keys: seed, UInt64(examples.count))
        rng.shuffle(&groups)
        var keep = Set<Int>(), rows = 0
        for g in groups {
            if !keep.isEmpty && rows + size[g]! > limit { continue }
            keep.insert(g); rows += size[g]!
            if rows >= limit { break }
        }
        return examples.filter { keep.contains($0.group) }
    }
}

/// One evaluation on the validation split(s): metrics keyed by the names of `published_numbers.csv`
/// (paper definitions, SPEC §5.5) and the official definitions.
public struct TaskEvaluation: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Double
    public var paper: [String: Double]
    public var official: [String: Double]
    /// Mean of the paper metrics: what "best" compares.
    public var primary: Double { paper.isEmpty ? -.infinity : paper.values.reduce(0, +) / Double(paper.count) }
}

/// One fine-tuning run's outcome.
public struct FineTuneResult: Codable, Equatable, Sendable {
    public var task: SparseMixersData.Task
    public var options: FineTuneOptions
    public var steps: Int
    public var trainRows: Int
    public var evaluations: [TaskEvaluation]
    public var diverged: String?
    public var seconds: Double
    public var notes: [String]
    /// The best evaluation (by the mean of the paper metrics) and the last one: the paper does not say which it
    /// reported [UNKNOWN], so both are kept.
    public var best: TaskEvaluation? { evaluations.max { $0.primary < $1.primary } }
    public var last: TaskEvaluation? { evaluations.last }
}

/// Fine-tunes a pre-trained checkpoint on one task (SPEC §5): every pre-trained tensor restored (encoder and
/// pooler), a fresh classification/regression head, a fresh AdamW (the reference's restore of the pre-training
/// moments is a known quirk, SPEC §5.3; we start fresh as it recommends), 10% warm-up and linear decay,
/// evaluation at the end of every epoch and at the last step.
///
/// Losses: mean cross-entropy or mean squared error, plus 1e-4·Σz (and 0.01·Σaux for Tokens Choose). The
/// reference divides the mean CE by the per-device batch, which makes its z-loss relatively stronger; we use
/// the plain mean (SPEC §5.2 documents both).
public enum FineTuner {
    /// The pre-trained config as fine-tuning runs it: the protocol's expert dropout and capacity factor.
    public static func config(_ pretrained: ModelConfig, _ options: FineTuneOptions) -> ModelConfig {
        var c = pretrained
        c.expertDropoutRate = options.expertDropoutRate
        if let cf = options.capacityFactor { c.trainCapacityFactor = cf; c.evalCapacityFactor = cf }
        return c
    }

    /// SPEC §5.3: ⌊N·epochs/B⌋ steps (at least one).
    public static func steps(trainExamples: Int, _ options: FineTuneOptions) -> Int {
        max(1, trainExamples * options.epochs / options.batchSize)
    }

    /// `progress` shows a line every tenth of the run (step, loss, ETA) and at every evaluation, prefixed by
    /// `label` (e.g. the table variant, when several runs share a log).
    public static func run(checkpoint: URL, data: FineTuneData, options: FineTuneOptions,
                           progress: ProgressLine? = nil, label: String = "") throws -> FineTuneResult {
        try options.validate()
        let task = data.task
        let meta = try Checkpoint.metadata(at: checkpoint)
        let config = self.config(meta.config, options)
        guard data.train.seqLen == config.maxSeqLength else {
            throw TrainingError("\(task.displayName): encoded at length \(data.train.seqLen) but the checkpoint's "
                                + "maxSeqLength is \(config.maxSeqLength)")
        }
        let head = ModelHead.classification(outputs: task.numClasses)
        try MemoryBudget.check(try MemoryBudget.trainingBytes(config, head: head, batch: options.batchSize),
                               what: "fine-tuning \(task.displayName) at batch \(options.batchSize)")
        let model = try Model(config: config, head: head, seed: options.seed)
        let copied = Set(try Checkpoint.transfer(checkpoint, into: model, exclude: { $0.hasPrefix("classification/") }))
        let missing = model.layout.tensors.map(\.name).filter {
            !$0.hasPrefix("classification/") && !copied.contains($0)
        }
        guard missing.isEmpty else {
            throw TrainingError("checkpoint \(checkpoint.path) does not hold \(missing.count) encoder tensors of this "
                                + "model, e.g. \(missing[0])")
        }
        let adam = AdamW(parameterCount: model.params.count)
        adam.frozen = frozenRanges(model.layout, options.freeze)

        let B = options.batchSize
        let steps = self.steps(trainExamples: data.trainExamples, options)
        let warmup = Int(options.warmupProportion * Double(steps))
        let schedule = LearningRateSchedule(base: Float(options.learningRate), warmupSteps: warmup, totalSteps: steps)
        let perEpoch = max(1, (steps + options.epochs - 1) / options.epochs)
        let rows = data.train.count
        guard rows > 0 else { throw TrainingError("\(task.displayName): the train split has no rows") }
        for (i, y) in data.train.labels.enumerated() where !task.isRegression && y < 0 {
            throw TrainingError("\(task.displayName) train row \(i) (line \(data.train.examples[i].line)) has no label")
        }

        var evaluations: [TaskEvaluation] = []
        var undefined = Set<String>()
        var diverged: String? = nil
        var order: [Int] = [], epoch = 0, cursor = 0
        let t0 = Date()
        for s in 0..<steps {
            var picked: [Int] = []
            while picked.count < B {
                if cursor == order.count {
                    order = data.train.epochOrder(seed: options.seed, epoch: epoch)
                    epoch += 1
                    cursor = 0
                }
                let take = min(B - picked.count, order.count - cursor)
                picked += order[cursor..<(cursor + take)]; cursor += take
            }
            let batch = trainingBatch(data.train, picked, task: task)
            var seedRNG = RNG(keys: options.seed, 0xF7D0, UInt64(s))
            let r = try model.forward(batch, training: true, dropoutSeed: seedRNG.next())
            guard r.totalLoss.isFinite else { diverged = "loss is \(r.totalLoss) at step \(s + 1)"; break }
            model.backwardAndUpdate(adam, learningRate: schedule(s))
            let every = max(1, steps / 10)
            if let progress, (s + 1) % every == 0, (s + 1) % perEpoch != 0, s + 1 != steps {
                let elapsed = Date().timeIntervalSince(t0)
                progress.show(String(format: "%@%@ lr %.1e b%d step %d/%d loss %.3f, %.0f s, ETA %@", label,
                                     task.displayName, options.learningRate, B, s + 1, steps, r.totalLoss, elapsed,
                                     clock(elapsed / Double(s + 1) * Double(steps - s - 1))))
            }
            if (s + 1) % perEpoch == 0 || s + 1 == steps {
                let e = try evaluate(model, data, batchSize: B, step: s + 1,
                                     epoch: Double(s + 1) * Double(B) / Double(data.trainExamples),
                                     undefined: &undefined)
                evaluations.append(e)
                progress?.show(String(format: "%@%@ lr %.1e b%d step %d/%d: ", label, task.displayName,
                                      options.learningRate, B, s + 1, steps)
                               + e.paper.sorted { $0.key < $1.key }.map { String(format: "%@ %.1f", $0.key, $0.value) }
                                   .joined(separator: ", "),
                               final: s + 1 == steps)
            }
        }
        return FineTuneResult(task: task, options: options, steps: steps, trainRows: rows, evaluations: evaluations,
                              diverged: diverged, seconds: Date().timeIntervalSince(t0),
                              notes: data.capNotes + undefined.sorted().map {
                                  $0.hasPrefix("single-class:")
                                      ? "the last evaluation on \($0.dropFirst(13)) predicted one class for every "
                                        + "example: a class-prior baseline, nothing task-specific was learned"
                                      : "\($0) undefined in some evaluation (constant predictions): scored 0" })
    }

    /// Parameter ranges a freeze policy holds fixed (Table 19).
    public static func frozenRanges(_ layout: ParameterLayout, _ policy: FreezePolicy) -> [Range<Int>] {
        let pick: (String) -> Bool
        switch policy {
        case .none: return []
        case .moe: pick = { $0.contains("/router_weights_") || $0.contains("/expert_") }
        case .denseMLP: pick = { $0.contains("/feed_forward_") }
        }
        return layout.tensors.filter { pick($0.name) }.map { $0.offset..<($0.offset + $0.count) }
    }

    static func trainingBatch(_ d: EncodedTaskData, _ rows: [Int], task: SparseMixersData.Task) -> Batch {
        let g = d.batch(rows)
        let labels: [Float] = task.isRegression ? g.targets : g.labels.map(Float.init)
        return Batch(batchSize: rows.count, seqLength: d.seqLen, inputIds: g.inputIDs, typeIds: g.typeIDs,
                     labels: labels)
    }

    /// Predictions on every evaluation split, in batches of the training batch size (the remainder at its own
    /// size, so no padding row competes for expert capacity), scored both ways.
    static func evaluate(_ model: Model, _ data: FineTuneData, batchSize B: Int, step: Int, epoch: Double,
                         undefined: inout Set<String>) throws -> TaskEvaluation {
        let task = data.task
        var paper: [String: Double] = [:], official: [String: Double] = [:]
        for split in data.evals {
            var classes: [Int] = [], scores: [Double] = []
            var start = 0
            while start < split.count {
                let rows = Array(start..<min(split.count, start + B))
                var batch = trainingBatch(split, rows, task: task)
                batch.labels = Array(repeating: 0, count: rows.count)   // eval labels are not needed by the forward
                let r = try model.forward(batch, training: false)
                let n = task.numClasses
                for b in 0..<rows.count {
                    if n == 1 { scores.append(Double(r.logits[b])) } else {
                        var best = 0
                        for c in 1..<n where r.logits[b * n + c] > r.logits[b * n + best] { best = c }
                        classes.append(best)
                    }
                }
                start += B
            }
            let predictions: TaskPredictions = task.isRegression ? .scores(scores) : .classes(classes)
            if !task.isRegression, Set(classes).count == 1 { undefined.insert("single-class:" + split.split.rawValue) }
            else if !task.isRegression { undefined.remove("single-class:" + split.split.rawValue) }
            // A correlation of constant predictions (an untrained regression head) is undefined: scored 0, the
            // convention of sklearn's matthews_corrcoef, and said so in the notes.
            for s in try TaskScores.paper(task: task, examples: split.examples, predictions: predictions) {
                let name = MetricNames.paper(task, split.split, s.name)
                if !s.value.isFinite { undefined.insert(name) }
                paper[name] = s.value.isFinite ? s.value : 0
            }
            if let o = try? TaskScores.official(task: task, examples: split.examples, predictions: predictions) {
                for s in o {
                    let name = MetricNames.official(task, split.split, s.name)
                    if !s.value.isFinite { undefined.insert(name) }
                    official[name] = s.value.isFinite ? s.value : 0
                }
            }
        }
        return TaskEvaluation(step: step, epoch: epoch, paper: paper, official: official)
    }
}
