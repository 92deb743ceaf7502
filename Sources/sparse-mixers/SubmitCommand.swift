import ArgumentParser
import Foundation
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTables

/// `sparse-mixers submit`: a scale's work as Slurm jobs (`SlurmPlan`): one array task per pre-training run, one
/// job per fine-tuning grid after the runs it needs, exclusive whole-node speed groups, each table's report after
/// its jobs, the index last. `--dry-run` prints the scripts and the graph and submits nothing.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a scale's tables to Slurm: pre-training, fine-tuning, speed and report jobs with "
                  + "their dependencies.",
        discussion: "Takes the table targets' flags. --work-dir (default: --output) holds the run cache, "
            + "the speed groups, the reports, the scripts and the logs; it, the package checkout (the jobs run its "
            + ".build/release) and the data root and its cache must be on a filesystem every node mounts at the same "
            + "path, with working flock(2) across nodes (NFSv4, Lustre mounted with -o flock, BeeGFS, GPFS). See the "
            + "README, \"Running on a Slurm cluster\".")

    @OptionGroup var table: TableOptions
    @Option(parsing: .upToNextOption, help: ArgumentHelp("Only these targets, in this order (e.g. Table3 Table9); "
                                                         + "default: run_all.sh's list."))
    var tables: [String] = []
    @Option(help: "Shared directory for runs, speed groups, reports, scripts and logs (default: --output).")
    var workDir: String?
    @Option(help: "Slurm partition.") var partition: String?
    @Option(help: ArgumentHelp("Nodes the work may use at once: each array runs at most this many nodes' worth of "
                               + "tasks side by side (nodes of this machine's CPU count)."))
    var nodes: Int?
    @Option(help: "An extra #SBATCH option for every job (repeatable), e.g. --sbatch-option=--time=4:00:00.")
    var sbatchOption: [String] = []
    @Option(help: "Seconds before a job's time limit at which it checkpoints and requeues itself.")
    var signalSeconds: Int = 120
    @Flag(help: "Print the sbatch scripts and the dependency graph; submit nothing.") var dryRun = false
    @Flag(help: "After submitting, wait until every job has left the queue; fail unless all completed.")
    var wait = false
    @Option(help: "Seconds between queue checks with --wait.") var pollSeconds: Int = 10

    func validate() throws {
        for t in tables where TableID(parsing: t) == nil { throw ValidationError("--tables: unknown table '\(t)'") }
        try Flags.int(nodes, "nodes", 1...100_000)
        try Flags.int(signalSeconds, "signal-seconds", 1...86_400)
        try Flags.int(pollSeconds, "poll-seconds", 1...3_600)
        if let w = workDir { try Flags.writableDirectory(w, "work-dir") }
    }

    func run() throws {
        var options = table
        let fm = FileManager.default
        let work = URL(fileURLWithPath: workDir ?? options.output,
                       relativeTo: URL(fileURLWithPath: fm.currentDirectoryPath))
            .standardizedFileURL.path
        options.output = work
        // The memory budget as the number every job is given, so the speed groups split the same way everywhere.
        if options.memoryBudgetGB == nil {
            options.memoryBudgetGB = Double(String(format: "%.3f", options.settings.memoryBudget / 1e9))
        }
        let settings = options.settings
        let root = DataRoot.resolve(explicit: options.data)
        let exe = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        var site = SlurmPlan.Site(executable: exe, packageDirectory: fm.currentDirectoryPath, workDirectory: work,
                                  cacheDirectory: root.cacheURL.standardizedFileURL.path, partition: partition)
        site.sbatchOptions = sbatchOption
        site.signalSeconds = signalSeconds
        site.prefix = "smx-\(settings.scale.rawValue)"
        let ids = tables.isEmpty ? Workload.runAllOrder : tables.compactMap { TableID(parsing: $0) }
        var plan = SlurmPlan.expand(ids, settings: settings, root: root,
                                    tableArguments: options.arguments(output: work, data: root.url.path),
                                    executable: exe)
        if let n = nodes {
            let perNode = ProcessInfo.processInfo.activeProcessorCount
            for i in plan.jobs.indices where plan.jobs[i].isArray {
                plan.jobs[i].throttle = max(1, n * perNode / plan.jobs[i].cpus)
            }
        }
        let w = plan.workload
        var head = "# `submit --scale \(settings.scale.rawValue)`: \(plan.jobs.count) jobs, "
        head += "\(w.pretraining.count) pre-training runs, \(w.fineTuning.count) fine-tuning grid runs, "
        head += "\(plan.jobs.filter { $0.kind == .speed }.count) exclusive speed groups\n"
        head += "# work directory (shared): \(work)\n# data: \(root.url.path), cache: \(site.cacheDirectory)\n"
        if dryRun {
            print(head)
            print("## Dependency graph\n")
            print(plan.graph)
            for i in plan.jobs.indices {
                let d = plan.dependencyArgument(i, ids: plan.jobs.map { "<\($0.name)>" })
                print("## \(plan.jobs[i].name)" + (d.map { ": sbatch --dependency=\($0)" } ?? ""))
                print(plan.script(i, site: site))
            }
            return
        }
        try fm.createDirectory(atPath: site.logDirectory, withIntermediateDirectories: true)
        var jobIDs: [String] = []
        var record = "job\tid\tdepends on\n"
        for i in plan.jobs.indices {
            let name = String(format: "%02d-%@.sbatch", i + 1, plan.jobs[i].name)
            let path = (site.scriptDirectory as NSString).appendingPathComponent(name)
            try AtomicFile.write(plan.script(i, site: site), to: URL(fileURLWithPath: path))
            let out = try Self.command("sbatch", plan.sbatchArguments(i, ids: jobIDs) + [path])
            guard let id = out.split(separator: ";").first
                    .map({ String($0).trimmingCharacters(in: .whitespacesAndNewlines) }),
                  !id.isEmpty, id.allSatisfy(\.isNumber) else {
                throw ValidationError("sbatch gave no job id for \(path): \(out)")
            }
            jobIDs.append(id)
            record += "\(plan.jobs[i].name)\t\(id)\t\(plan.dependencyArgument(i, ids: jobIDs) ?? "")\n"
            print("\(id)\t\(plan.jobs[i].name)")
        }
        let jobsFile = (site.scriptDirectory as NSString).appendingPathComponent("jobs.txt")
        try AtomicFile.write(head + "\n" + plan.graph + "\n" + record, to: URL(fileURLWithPath: jobsFile))
        print("submitted \(jobIDs.count) jobs; index job \(jobIDs.last ?? ""); scripts and logs in "
              + "\(site.scriptDirectory)")
        guard wait else { return }
        let start = Date()
        while true {
            let q: String
            do { q = try Self.command("squeue", ["-h", "-o", "%i %T %j", "-j", jobIDs.joined(separator: ",")]) } catch {
                // A busy or restarting slurmctld: ask again rather than take the queue for empty.
                FileHandle.standardError.write(Data("squeue: \(error)\n".utf8))
                Thread.sleep(forTimeInterval: Double(pollSeconds))
                continue
            }
            let lines = q.split(separator: "\n").filter { !$0.isEmpty }
            if lines.isEmpty { break }
            FileHandle.standardError.write(Data(String(format: "[%4.0f s] %d job(s) queued or running\n",
                                                       Date().timeIntervalSince(start), lines.count).utf8))
            Thread.sleep(forTimeInterval: Double(pollSeconds))
        }
        var failed: [String] = []
        for (i, id) in jobIDs.enumerated() {
            let info = (try? Self.command("scontrol", ["show", "job", "-o", id])) ?? ""
            let states = info.split(separator: "\n").compactMap { line -> String? in
                line.split(separator: " ").first { $0.hasPrefix("JobState=") }.map { String($0.dropFirst(9)) }
            }
            if states.isEmpty || states.contains(where: { $0 != "COMPLETED" }) {
                failed.append("\(plan.jobs[i].name) (\(id)): "
                              + "\(states.isEmpty ? "unknown" : states.joined(separator: ","))")
            }
        }
        print(String(format: "all %d jobs left the queue after %.0f s", jobIDs.count, Date().timeIntervalSince(start)))
        if !failed.isEmpty {
            throw ValidationError("not completed: " + failed.joined(separator: "; ")
                                  + " (logs in \(site.logDirectory))")
        }
        print("all completed")
    }

    /// Runs a program from the PATH and returns its standard output; a non-zero exit is an error with its stderr.
    static func command(_ program: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw ValidationError("\(program) \(args.joined(separator: " ")) failed (\(p.terminationStatus)): "
                                  + String(decoding: e, as: UTF8.self))
        }
        return String(decoding: o, as: UTF8.self)
    }
}
