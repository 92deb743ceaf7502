import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTables

/// `sparse-mixers plan`: what `run_all.sh --scale S` would run, counted (`Workload`) and, unless --count-only,
/// turned into hours from step times measured here (`WorkloadEstimate`).
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Count the pre-training, fine-tuning and timing runs of every table at a scale and "
                  + "estimate the hours.",
        discussion: "Takes the table targets' flags, so the plan is the one they would run. Pre-training runs shared "
            + "by several tables are counted once, under the first table that runs them. Measuring the step times "
            + "takes a few minutes at --scale small.")

    @OptionGroup var table: TableOptions
    @Flag(help: "Print the counts only; time nothing.") var countOnly = false
    @Option(help: "Timed steps per distinct model for the estimate.") var measureRepeats: Int = 2
    @Option(help: "Also write the Markdown here (atomically).") var write: String?
    @Option(help: "Step times measured by an earlier plan on this machine: read, extended, written back.")
    var timesCache: String?
    @Option(help: "Also estimate the wall time of `submit` on this many nodes of this machine's speed and core count.")
    var nodes: Int?
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only these targets, in this order (e.g. Table3 Table9); "
                                                         + "default: run_all.sh's list."))
    var tables: [String] = []

    func validate() throws {
        for t in tables where TableID(parsing: t) == nil { throw ValidationError("--tables: unknown table '\(t)'") }
        try Flags.int(measureRepeats, "measure-repeats", 1...100)
        try Flags.int(nodes, "nodes", 1...100_000)
        if nodes != nil && countOnly { throw ValidationError("--nodes needs the step times: drop --count-only") }
        if let w = write { try Flags.writableFile(w, "write") }
    }

    func run() throws {
        let settings = table.settings
        if !countOnly && Benchmark.isDebugBuild {
            throw ValidationError("refusing to time a debug build: use `swift run -c release sparse-mixers plan` "
                                  + "(or --count-only)")
        }
        let root = DataRoot.resolve(explicit: table.data)
        let ids = tables.isEmpty ? Workload.runAllOrder : tables.compactMap { TableID(parsing: $0) }
        let w = Workload.count(ids, settings: settings, root: root)
        var md = tables.isEmpty ? "# Work of `./run_all.sh --scale \(settings.scale.rawValue)`\n\n"
            : "# Work of \(ids.map(\.fileStem).joined(separator: ", ")) at --scale \(settings.scale.rawValue)\n\n"
        md += "Threads \(settings.threads), accuracy lanes \(settings.accuracyLanes), speed at \(settings.shape.label) "
            + "with \(settings.warmup) warm-up + \(settings.rule.text); the estimate counts the minimum rounds.\n\n"
        let steps = w.pretraining.map { $0.options.steps }.reduce(0, +)
        md += "- Pre-training: \(w.pretraining.count) distinct runs, \(steps) steps in all"
            + " (\(w.reusedPretraining.values.reduce(0, +)) more requests reuse a run of an earlier table).\n"
        md += "- Fine-tuning: \(w.fineTuning.count) distinct grid runs, "
            + "\(w.fineTuning.map(\.steps).reduce(0, +)) steps in all.\n"
        if !w.missingTasks.isEmpty {
            md += "- Not counted (training data missing here): "
                + w.missingTasks.map(\.displayName).sorted().joined(separator: ", ") + ".\n"
        }
        md += "- Speed: \(w.speed.count) tables time "
            + "\(w.speed.map { $0.groups.map(\.count).reduce(0, +) }.reduce(0, +)) models (each group with its own "
            + "BERT Base); \(w.speed.map(\.shared.count).reduce(0, +)) more listings share the timing of an "
            + "earlier table.\n"
        for sp in w.speed where !sp.tooLarge.isEmpty {
            md += "- \(sp.table.fileStem): not timed, over the memory budget of "
                + "\(MemoryBudget.gb(settings.memoryBudget)) beside the reference: "
                + sp.tooLarge.map { "\($0.name) (\(MemoryBudget.gb($0.bytes)))" }.joined(separator: ", ") + ".\n"
        }
        if !countOnly {
            let note = "timing the distinct models (\(measureRepeats) steps each after a warm-up)\n"
            FileHandle.standardError.write(Data(note.utf8))
            var times: [String: WorkloadEstimate.StepTime] = [:]
            if let path = timesCache, let d = FileManager.default.contents(atPath: path) {
                times = try JSONDecoder().decode([String: WorkloadEstimate.StepTime].self, from: d)
            }
            let e = try WorkloadEstimate.estimate(w, shape: settings.shape, threads: settings.threads,
                                                  lanes: settings.accuracyLanes, repeats: measureRepeats, times: &times,
                                                  log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) },
                                                  progress: StepProgress(every: 5))
            if let path = timesCache {
                try AtomicFile.write(try JSONEncoder().encode(times), to: URL(fileURLWithPath: path))
            }
            md += "\n" + e.markdown(w)
            md += String(format: "\nEstimated from step times of %d models timed here (%d just now, in %.0f s)",
                         times.count, e.measuredModels, e.measuringSeconds)
            if let r = e.referenceStep {
                md += String(format: " (BERT Base at %@: step %.2f s, forward %.2f s; other timed models "
                                     + "scaled by FLOPs)",
                             settings.shape.label, r.trainSeconds, r.inferenceSeconds)
            }
            md += ". Not included: model construction, checkpoints, data loading, the one-time vocabulary and corpus "
                + "preparation (about 2-3 minutes), the build.\n"
            if let n = nodes {
                let cores = ProcessInfo.processInfo.activeProcessorCount
                let jobs = SlurmPlan.expand(ids, settings: settings, root: root, tableArguments: [], executable: "")
                let wall = jobs.wallSeconds(nodes: n, coresPerNode: cores, estimate: e)
                let shown = wall >= 3600 ? String(format: "%.1f h", wall / 3600)
                    : wall >= 60 ? String(format: "%.0f min", wall / 60) : String(format: "%.0f s", wall)
                md += String(format: "\nOn %d node%@ of this machine (%d cores each) through `submit`: about %@ wall "
                             + "(%d Slurm jobs, list-scheduled in submit order after their dependencies, "
                             + "each pre-training run and fine-tuning grid on its lane's cores, each speed group on a "
                             + "whole node; queue waits and the preparation not counted).\n", n, n == 1 ? "" : "s",
                             cores, shown, jobs.jobs.count)
            }
        }
        print(md, terminator: "")
        if let path = write { try AtomicFile.write(md, to: URL(fileURLWithPath: path)) }
    }
}
