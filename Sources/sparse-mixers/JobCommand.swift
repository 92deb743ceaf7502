import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData
import SparseMixersPaper
import SparseMixersTables
import SparseMixersTraining

/// `sparse-mixers job ...`: one piece of a table run, as one Slurm job of `submit` runs it. Each takes the table
/// targets' flags and goes through the same code as the table run (the drivers' run cache, the table runner), so
/// the pieces together compute what `TableN` computes alone, and a piece whose result is cached ends at once.
struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Run one piece of a table run: what one Slurm job of `sparse-mixers submit` does.",
        subcommands: [PrepareJob.self, PretrainJob.self, FinetuneJob.self, ControlJob.self, SpeedJob.self,
                      ReportJob.self])

    static func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    static func table(_ name: String) throws -> TableID {
        guard let id = TableID(parsing: name) else { throw ValidationError("--table: unknown table '\(name)'") }
        return id
    }

    /// The request the table runner makes for variant `index` of `id` (scaled table and variant, the run cache
    /// under `<output>/runs`).
    /// A fine-tuning job (a variant's grid, or the control on the reference, variant 0): the table's request for
    /// the variant, the memory limit of `--memory-budget-gb`, and the lanes the table run fine-tunes in.
    static func fineTuning<R>(_ table: TableOptions, _ tableName: String, variantIndex: Int,
                              _ body: (AccuracyRequest) throws -> R) throws -> (TableID, AccuracyRequest, R) {
        let id = try JobCommand.table(tableName)
        let s = table.settings
        let r = try JobCommand.request(id, variantIndex: variantIndex, s)
        if let m = table.memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        let o = try SlurmPlan.asTableRunDoes(sideBySide: SlurmPlan.sideBySide(id, settings: s).fineTuning,
                                             settings: s) {
            try body(r)
        }
        return (id, r, o)
    }

    static func request(_ id: TableID, variantIndex index: Int, _ s: TableRunSettings) throws -> AccuracyRequest {
        let scaled = s.scale.settings.scaled(TableSpec.spec(id))
        guard scaled.accuracyVariants.indices.contains(index) else {
            throw ValidationError("--variant-index \(index): \(id.fileStem) has "
                                  + "\(scaled.accuracyVariants.count) variants")
        }
        return AccuracyRequest(table: scaled, variant: scaled.accuracyVariants[index], settings: s.scale.settings,
                               dataDirectory: s.dataDirectory, workDirectory: s.output.appendingPathComponent("runs"),
                               fineTune: s.fineTune)
    }
}

/// Prepares the scale's vocabulary and pre-training shards (cached; every training job waits for this one).
struct PrepareJob: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prepare",
        abstract: "Prepare the scale's vocabulary and pre-training shards in the data cache.")
    @OptionGroup var table: TableOptions

    func run() throws {
        let s = table.settings
        let c = try ScalePlan.corpus(s.scale.settings, root: DataRoot.resolve(explicit: s.dataDirectory),
                                     log: JobCommand.log)
        print("corpus ready: vocabulary of \(c.tokenizer.vocabSize) pieces, content key \(c.contentKey)")
    }
}

/// One pre-training run: seed `--seed-index` of variant `--variant-index` of a table, on the thread count the
/// table run gives it. SIGUSR1 or SIGTERM checkpoints the current step and exits with status 75.
struct PretrainJob: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pretrain",
        abstract: "Make (or find in the cache) one pre-training run of a table variant.")
    @OptionGroup var table: TableOptions
    @Option(name: .customLong("table"), help: "The table (e.g. Table3).") var tableName: String
    @Option(help: "The variant's position among the table's accuracy variants (0-based).") var variantIndex: Int
    @Option(help: "The run's position in the variant's pre-training plan (0-based: seeds, batch sizes).")
    var seedIndex: Int
    @Option(help: "The run directory's name the plan expects; refused when the plan now gives another.")
    var key: String?

    func run() throws {
        let id = try JobCommand.table(tableName)
        let s = table.settings
        let r = try JobCommand.request(id, variantIndex: variantIndex, s)
        let plan = VariantAccuracy.plan(table: r.table, variant: r.variant, settings: r.settings, fineTune: false)
        guard plan.pretraining.indices.contains(seedIndex) else {
            throw ValidationError("--seed-index \(seedIndex): \(r.variant.name) has \(plan.pretraining.count) "
                                  + "pre-training runs")
        }
        let dir = Pretrainer.directory(for: r.variant.config, options: plan.pretraining[seedIndex].options,
                                       under: r.workDirectory)
        if let k = key, k != dir.lastPathComponent {
            throw ValidationError("--key \(k): the plan now gives \(dir.lastPathComponent) for this run "
                                  + "(the code or the flags changed since the submit); submit again")
        }
        let lane = SlurmPlan.sideBySide(id, settings: s).pretraining
        if let m = table.memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        StopRequest.install()
        JobCommand.log("[job] \(id.fileStem) \(r.variant.name), run \(seedIndex): \(dir.lastPathComponent) "
                       + (lane ? "in a lane (one thread)" : "on \(s.threads) thread(s)"))
        do {
            try SlurmPlan.asTableRunDoes(sideBySide: lane, settings: s) {
                try AccuracyPhase.pretrain(r, seedIndex: seedIndex)
            }
        } catch let e as StoppedOnRequest {
            JobCommand.log("[job] \(e.description)")
            Foundation.exit(StopRequest.exitStatus)
        }
        let result = dir.appendingPathComponent("result.json")
        guard FileManager.default.fileExists(atPath: result.path) else {
            throw TableRunError("\(dir.path) has no result.json after the run (corpus missing?)")
        }
        print("done: \(result.path)")
    }
}

/// The accuracy of one table variant: its fine-tuning grid (after its pre-training runs, which it reads from
/// the cache), on the thread count the table run gives it.
struct FinetuneJob: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "finetune",
        abstract: "Fine-tune one table variant over its grid (its pre-training runs come from the cache).")
    @OptionGroup var table: TableOptions
    @Option(name: .customLong("table"), help: "The table (e.g. Table3).") var tableName: String
    @Option(help: "The variant's position among the table's accuracy variants (0-based).") var variantIndex: Int

    func run() throws {
        let (id, r, o) = try JobCommand.fineTuning(table, tableName, variantIndex: variantIndex) {
            try AccuracyPhase.run($0)
        }
        print("\(id.fileStem) \(r.variant.name): "
              + o.metrics.keys.sorted().map { "\($0) \(String(format: "%.2f", o.metrics[$0]!))" }
                .joined(separator: ", "))
    }
}

/// The random-init control of a table (its reference fine-tuned from the untrained weights).
struct ControlJob: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "control",
        abstract: "Fine-tune a table's random-init control over its grid.")
    @OptionGroup var table: TableOptions
    @Option(name: .customLong("table"), help: "The table (e.g. Table3).") var tableName: String

    func run() throws {
        let (id, _, o) = try JobCommand.fineTuning(table, tableName, variantIndex: 0) { try AccuracyPhase.control($0) }
        print("\(id.fileStem) control: \(o?.metrics.count ?? 0) metric(s)")
    }
}

/// One speed group of a table, timed on this node, its samples stored under `<output>/speed` for the report.
struct SpeedJob: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "speed",
        abstract: "Time one speed group of a table (its variants and the reference, interleaved) and store the "
            + "samples.")
    @OptionGroup var table: TableOptions
    @Option(name: .customLong("table"), help: "The table (e.g. Table3).") var tableName: String
    @Option(help: "The group (1-based, as the report numbers them).") var group: Int

    func run() throws {
        let id = try JobCommand.table(tableName)
        let s = table.settings
        if let m = table.memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        let store = SpeedGroupStore(directory: s.output.appendingPathComponent("speed"), required: false)
        let names = try TableRunner(settings: s).timeAndStoreSpeedGroup(id, group: group - 1, in: store)
        print("timed \(names.joined(separator: ", ")): \(store.url(id, group: group - 1, shape: s.shape).path)")
    }
}

/// A table's report from the cache: the table run itself, which finds every pre-training and fine-tuning run
/// cached and reads the speed groups the speed jobs stored (a missing one is an error, not timed here).
struct ReportJob: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report",
        abstract: "Write a table's report from the cached runs and the stored speed groups.")
    @OptionGroup var table: TableOptions
    @Option(name: .customLong("table"), help: "The table (e.g. Table3).") var tableName: String

    func run() throws {
        let id = try JobCommand.table(tableName)
        let s = table.settings
        if let m = table.memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        var runner = TableRunner(settings: s)
        runner.speedStore = SpeedGroupStore(directory: s.output.appendingPathComponent("speed"), required: true)
        for r in try runner.runAndWrite(id) {
            print("\(r.tableID.fileStem): \(r.rows.filter { $0.ours != nil }.count) value(s), "
                  + "\(r.speedRows.count) speed row(s)")
        }
    }
}
