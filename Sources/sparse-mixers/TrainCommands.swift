import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersData
import SparseMixersPaper
import SparseMixersTraining
import SparseMixersTables


extension Scale: ExpressibleByArgument {}
extension PretrainingRegime: ExpressibleByArgument {}

/// `sparse-mixers pretrain`: MLM + NSP pre-training of a preset at a scale, resumable.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pre-train a preset (MLM + sentence-order NSP + MoE losses) at a scale, with checkpoints "
                  + "and exact resume.")

    @Option(help: "Preset name (`sparse-mixers bench --list`).") var preset: String = "sparse-mixer-base"
    @Option(help: "ci, small, long or paper: shrinks the model and the run by the documented rule (README).")
    var scale: Scale = .ci
    @Option(help: "full or coordinateDescent: which of the paper's step counts the scale maps.")
    var regime: PretrainingRegime = .full
    @Option(help: "Override the scale's step count.") var steps: Int?
    @Option(help: "Override the scale's batch size (sequences).") var batch: Int?
    @Option(help: "Seed of parameters, data order, masking and dropout.") var seed: UInt64 = 0
    @Option(help: "Held-out evaluation every N steps (default: the scale's).") var evalEvery: Int?
    @Option(help: "Checkpoint every N steps (default: the scale's).") var checkpointEvery: Int?
    @Option(help: "Run directory (default: Reports/runs/pretrain-<hash of config and options>).") var output: String?
    @Option(help: "Data root (default: $SPARSE_MIXERS_DATA, else Data/, else ../shared/data).") var data: String?
    @Option(help: "Threads for BLAS and loops (part of the run's identity: a resume must use the same).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("memory-budget-gb"), help: ArgumentHelp("Memory the run may use (default: 75% of RAM, at "
                                                                      + "most 85% of what is free)."))
    var memoryBudgetGB: Double?
    @Flag(help: "Continue the run in the output directory from its last checkpoint.") var resume = false
    @Flag(help: "Print the rule of every scale and exit.") var showScales = false

    func validate() throws {
        try Flags.int(steps, "steps", 1...Flags.maxSteps)
        try Flags.int(batch, "batch", 1...Flags.maxBatch)
        try Flags.int(evalEvery, "eval-every", 1...Flags.maxSteps)
        try Flags.int(checkpointEvery, "checkpoint-every", 1...Flags.maxSteps)
        try Flags.threads(threads)
        if let m = memoryBudgetGB { try Flags.double(m, "memory-budget-gb", 0...1e6, openLower: true) }
        if let o = output { try Flags.writableDirectory(o, "output") }
    }

    func run() throws {
        if showScales { print(Scale.allRulesText); return }
        Runtime.setThreads(threads)
        if let m = memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        let settings = scale.settings
        let config = settings.scaledConfig(try ModelConfig.preset(named: preset))
        var options = ScalePlan.pretrainOptions(settings, regime: regime, batchSize: batch, steps: steps, seed: seed)
        if let e = evalEvery { options.evalEvery = e }
        if let c = checkpointEvery { options.checkpointEvery = c }
        try options.validate()
        // Refused before the corpus is prepared or anything is allocated.
        try MemoryBudget.check(try Pretrainer.memoryEstimate(config: config, options: options),
                               what: "pre-training \(preset) at batch \(options.batchSize) x \(config.maxSeqLength)")
        let dir = output.map { URL(fileURLWithPath: $0) }
            ?? Pretrainer.directory(for: config, options: options, under: URL(fileURLWithPath: "Reports/runs"))
        try Flags.writableDirectory(dir.path, "output")
        let root = DataRoot.resolve(explicit: data)
        let corpus = try ScalePlan.corpus(settings, root: root, log: DataCommand.log)
        DataCommand.log("[pretrain] \(preset) at scale \(scale.rawValue): d_model \(config.dModel), "
               + "\(config.numLayers) layers, \(config.numExperts) experts, seq \(config.maxSeqLength), vocab "
               + "\(config.vocabSize); \(options.steps) steps of \(options.batchSize) sequences, lr "
               + "\(options.learningRate), warmup \(options.warmupSteps)")
        DataCommand.log("[pretrain] run directory \(dir.path)")
        let trainer = try Pretrainer(config: config, options: options, directory: dir, corpus: corpus)
        let r = try trainer.run(resume: resume)
        let peak = Benchmark.sgemmPeak()
        if let e = r.finalEval {
            print(String(format: "step %d: MLM accuracy %.2f%%, NSP accuracy %.2f%%, MLM loss %.4f, NSP loss %.4f",
                         e.step, e.mlmAccuracy, e.nspAccuracy, e.mlmLoss, e.nspLoss))
        }
        let stepMs = r.stepSeconds / Double(max(r.stepsCompleted, 1)) * 1e3
        print(String(format: "throughput: %.0f tokens/s, %.1f GFLOP/s in gemms = %.0f%% of the sgemm peak measured "
                             + "after the run (%.1f GFLOP/s, %d threads)",
                     r.tokensPerSecond, r.gflopsPerSecond, 100 * r.gflopsPerSecond / peak, peak, threads))
        print(String(format: "data pipeline: %.3f ms to build a batch on the prefetch thread, %.3f ms/step waited for "
                             + "it, against a %.1f ms step (%.2f%% stall)",
                     r.dataSecondsPerStep * 1e3, r.stallSecondsPerStep * 1e3, stepMs,
                     100 * r.stallSecondsPerStep * 1e3 / max(stepMs, 1e-9)))
        if r.diverged { print("DIVERGED: \(r.divergence ?? "")") }
        print("result: \(trainer.resultURL.path)")
        print("checkpoint: \(r.checkpoint)")
    }
}

/// `sparse-mixers finetune`: the fine-tuning protocol on GLUE/SuperGLUE tasks from a pre-trained checkpoint.
struct Finetune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a pre-trained checkpoint on GLUE/SuperGLUE tasks over a learning-rate and batch-size "
            + "grid.")

    @Option(help: "Pre-training checkpoint (checkpoint.bin of a pretrain run).") var checkpoint: String
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Tasks (cola sst2 mrpc stsb qqp mnli qnli rte boolq cb copa "
                                                         + "multirc record superglue-rte wic), or glue / "
                                                         + "superglue / all."))
    var task: [String] = ["glue"]
    @Option(help: "ci, small, long or paper: caps examples per task and sets epochs and the default grids.")
    var scale: Scale = .ci
    @Option(parsing: .upToNextOption, help: "Base learning rates (default: the scale's set).") var lr: [Double] = []
    @Option(parsing: .upToNextOption, help: "Batch sizes (default: the scale's 64).") var batch: [Int] = []
    @Option(help: "Learning-rate set when --lr is not given: default, large or wide.") var lrSet: String = "default"
    @Option(help: "Epochs (default: the scale's).") var epochs: Int?
    @Option(help: "Expert dropout while fine-tuning.") var expertDropout: Float = 0.2
    @Option(help: "Train and eval capacity factor override.") var capacityFactor: Float?
    @Option(help: "Freeze: none, moe or denseMLP.") var freeze: String = "none"
    @Option(help: "Seed of the head, data order and dropout.") var seed: UInt64 = 0
    @Option(help: "Output directory (default: beside the checkpoint, finetune/).") var output: String?
    @Option(help: "Data root.") var data: String?
    @Option(help: "Threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("memory-budget-gb"), help: ArgumentHelp("Memory a fine-tuning run may use (default: 75% "
                                                                      + "of RAM, at most 85% of what is free)."))
    var memoryBudgetGB: Double?

    func validate() throws {
        for r in lr { try Flags.double(r, "lr", 0...1, openLower: true) }
        for b in batch { try Flags.int(b, "batch", 1...Flags.maxBatch) }
        try Flags.int(epochs, "epochs", 1...10_000)
        try Flags.double(Double(expertDropout), "expert-dropout", 0...1, openUpper: true)
        if let c = capacityFactor { try Flags.double(Double(c), "capacity-factor", 0...1_000, openLower: true) }
        try Flags.threads(threads)
        if let m = memoryBudgetGB { try Flags.double(m, "memory-budget-gb", 0...1e6, openLower: true) }
        guard LearningRateSet(rawValue: lrSet) != nil else {
            throw ValidationError("--lr-set must be default, large or wide, got \(lrSet)")
        }
        guard FreezePolicy(rawValue: freeze) != nil else {
            throw ValidationError("--freeze must be none, moe or denseMLP, got \(freeze)")
        }
        _ = try Self.tasks(task)
        if let o = output { try Flags.writableDirectory(o, "output") }
    }

    static func tasks(_ names: [String]) throws -> [SparseMixersData.Task] {
        var out: [SparseMixersData.Task] = []
        for n in names {
            switch n.lowercased() {
            case "glue": out += SparseMixersData.Task.glueScored
            case "superglue": out += SparseMixersData.Task.superglueScored
            case "all": out += SparseMixersData.Task.glueScored + SparseMixersData.Task.superglueScored
            default:
                guard let t = SparseMixersData.Task(rawValue: n.lowercased()) else {
                    throw ValidationError("--task: unknown task \(n)")
                }
                out.append(t)
            }
        }
        var seen = Set<SparseMixersData.Task>()
        return out.filter { seen.insert($0).inserted }
    }

    func run() throws {
        Runtime.setThreads(threads)
        if let m = memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        let settings = scale.settings
        guard let set = LearningRateSet(rawValue: lrSet) else {
            throw ValidationError("--lr-set must be default, large or wide")
        }
        guard let fz = FreezePolicy(rawValue: freeze) else {
            throw ValidationError("--freeze must be none, moe or denseMLP")
        }
        let ckpt = URL(fileURLWithPath: checkpoint)
        let meta = try Checkpoint.metadata(at: ckpt)
        // Refused before the corpus is prepared or anything is allocated (the largest head is 3 classes).
        for b in batch.isEmpty ? [settings.fineTuneBatch(64)] : batch {
            try MemoryBudget.check(try MemoryBudget.trainingBytes(meta.config, head: .classification(outputs: 3),
                                                                  batch: b),
                                   what: "fine-tuning at batch \(b) x \(meta.config.maxSeqLength)")
        }
        let p = FineTuneProtocol(expertDropoutRate: expertDropout, learningRateSet: set, capacityFactor: capacityFactor,
                                  freeze: fz, batchSizes: batch.isEmpty ? [settings.fineTuneBatch(64)] : batch)
        var grid = ScalePlan.gridSettings(settings, p, seed: seed)
        if !lr.isEmpty { grid.learningRates = lr }
        if let e = epochs { grid.protocolOptions.epochs = e }
        let root = DataRoot.resolve(explicit: data)
        let corpus = try ScalePlan.corpus(vocabSize: meta.config.vocabSize, root: root, log: DataCommand.log)
        let dir = output.map { URL(fileURLWithPath: $0) }
            ?? ckpt.deletingLastPathComponent().appendingPathComponent("finetune")
        try Flags.writableDirectory(dir.path, "output")
        let outcome = try FineTuneGrid.run(checkpoint: ckpt, tasks: try Self.tasks(task), settings: grid, root: root,
                                           tokenizer: corpus.tokenizer, directory: dir, progress: ProgressLine(),
                                           log: DataCommand.log)
        for c in outcome.chosen {
            let best = c.best?.paper.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }
                .joined(separator: ", ") ?? "-"
            let last = c.last?.paper.sorted { $0.key < $1.key }.map { String(format: "%@ %.2f", $0.key, $0.value) }
                .joined(separator: ", ") ?? "-"
            print("\(c.task.displayName) (batch \(c.batchSize), lr \(c.learningRate)): best \(best); last \(last)"
                  + (c.diverged.map { " DIVERGED: \($0)" } ?? ""))
        }
        for (k, v) in outcome.metrics.sorted(by: { $0.key < $1.key })
        where k.hasSuffix("avg") || k.hasSuffix("available") {
            print(String(format: "%@ %.2f", k, v))
        }
        for s in outcome.skipped { print("skipped \(s.item): \(s.reason)") }
        for n in outcome.notes { print("note: \(n)") }
        let url = dir.appendingPathComponent("grid.json")
        try RunFiles.writeJSON(outcome, to: url)
        print("grid: \(url.path)")
    }
}
