import Foundation
import SparseMixers
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

/// A scale's work as Slurm jobs (`sparse-mixers submit`), expanded from the plan `sparse-mixers plan` counts
/// (`Workload.count`, which walks `VariantAccuracy.plan` and `SpeedGroups.TablePlan` as the table runner does):
///
/// - `prepare`: the vocabulary and pre-training shards of the scale (once; every training job waits for it);
/// - `pretrain`, one array per table: one task per pre-training run the table is the first to need;
/// - `finetune`, one job per variant that fine-tunes: its fine-tuning grid, after exactly the array tasks of the
///   pre-training runs it reads (`afterok:<array>_<task>`, also when an earlier table's array made them);
/// - `control`: the table's random-init control (its grid from the untrained weights);
/// - `speed`, one `--exclusive` job per speed group: the group's variants and its BERT reference timed together
///   on one whole node, so a speed-up is a same-machine ratio;
/// - `report`, one per table, after all of its jobs: the table target's own run, which finds every run in the
///   cache and every speed group in `SpeedGroupStore`, so it only assembles the report; a derived table's after
///   the report jobs of the tables it re-tabulates (`TableSpec.derivedFrom`) and no others; `index` last.
///
/// Every job runs one `sparse-mixers job ...` command with the table flags of the submit, on the thread count the
/// local table run gives the same work (`runThreads`), so its results are those of a local run bit for bit.
public struct SlurmPlan {
    public enum Kind: String, Sendable { case prepare, pretrain, finetune, control, speed, report, index }

    /// A dependency on a job of the plan (by index), or on one task of an array job.
    public struct Dependency: Hashable, Comparable, Sendable {
        public var job: Int
        public var task: Int?
        public init(job: Int, task: Int? = nil) { self.job = job; self.task = task }
        public static func < (a: Dependency, b: Dependency) -> Bool { (a.job, a.task ?? -1) < (b.job, b.task ?? -1) }
    }

    public struct Job: Sendable {
        public var name: String
        public var kind: Kind
        public var table: TableID?
        /// One command (program and arguments) per array task; a plain job has one.
        public var tasks: [[String]]
        /// True: submitted as an array (`--array=0-<n-1>`), even with one task, so dependencies name tasks.
        public var isArray: Bool
        public var cpus: Int
        /// A whole node to itself (`--exclusive`): the speed groups.
        public var exclusive: Bool
        /// All must end successfully first (`afterok`).
        public var dependencies: [Dependency]
        /// At most this many tasks of the array at once (`--array=0-<n-1>%<k>`; `submit --nodes`); nil: no limit.
        public var throttle: Int? = nil
    }

    /// Where the jobs run and what they may assume: every path is absolute and, on a real cluster, on a
    /// filesystem every node mounts at the same path.
    public struct Site: Sendable {
        /// The `sparse-mixers` executable the jobs run.
        public var executable: String
        /// The jobs' working directory (the package checkout).
        public var packageDirectory: String
        /// `--output` of the table runs: reports here, the run cache in `runs/`, speed groups in `speed/`,
        /// scripts and logs in `slurm/`.
        public var workDirectory: String
        /// The prepared-corpus cache (`SPARSE_MIXERS_CACHE`).
        public var cacheDirectory: String
        public var partition: String?
        /// Extra `#SBATCH` options, e.g. `--time=4:00:00` or `--account=x`.
        public var sbatchOptions: [String] = []
        /// Seconds before the time limit at which Slurm signals a job (`--signal=B:USR1@<s>`).
        public var signalSeconds = 120
        /// Job name prefix.
        public var prefix = "smx"
        public init(executable: String, packageDirectory: String, workDirectory: String, cacheDirectory: String,
                    partition: String? = nil) {
            self.executable = executable; self.packageDirectory = packageDirectory
            self.workDirectory = workDirectory; self.cacheDirectory = cacheDirectory; self.partition = partition
        }
        public var scriptDirectory: String { (workDirectory as NSString).appendingPathComponent("slurm") }
        public var logDirectory: String { (scriptDirectory as NSString).appendingPathComponent("logs") }
    }

    public var jobs: [Job] = []
    public var workload: Workload

    // MARK: Threads

    /// The threads a local table run of `id` gives each of its pre-training and fine-tuning runs
    /// (`TableRunner.accuracyOutcomes`): one per run when the runs go side by side in lanes, all of
    /// `settings.threads` when one lane runs them in turn. A run's rounding depends on it, so a job makes the
    /// run on the same count.
    public static func runThreads(_ id: TableID, settings: TableRunSettings) -> (pretraining: Int, fineTuning: Int) {
        let lanes = sideBySide(id, settings: settings)
        return (lanes.pretraining ? 1 : settings.threads, lanes.fineTuning ? 1 : settings.threads)
    }

    /// Whether the local table run of `id` makes its pre-training and its fine-tuning runs side by side
    /// (`Parallel.lanes` with more than one lane: each run on one thread, OpenBLAS held to one thread, the hand
    /// loops inline) or one after the other on `settings.threads`. A job reproduces that state exactly
    /// (`sparse-mixers job` runs its work as one lane of `settings.accuracyLanes`): some kernels split their
    /// partial sums by the thread setting even inside a lane (LayerNorm's backward), so one thread outside a
    /// lane would round differently.
    public static func sideBySide(_ id: TableID, settings: TableRunSettings) -> (pretraining: Bool, fineTuning: Bool) {
        let s = settings.scale.settings
        let scaled = s.scaled(TableSpec.spec(id))
        let variants = scaled.accuracyVariants
        let L = settings.accuracyLanes
        // Second pass: every variant and the control, each on one lane.
        let second = variants.count + (settings.fineTune && !variants.isEmpty ? 1 : 0)
        let fineTuning = min(L, second) > 1
        // First pass (only with several seeds): every (variant, seed) pre-training run, each on one lane.
        guard s.seeds > 1 || s.referenceSeeds > 1 else { return (fineTuning, fineTuning) }
        let first = variants.map {
            VariantAccuracy.plan(table: scaled, variant: $0, settings: s, fineTune: false).pretraining.count
        }.reduce(0, +)
        return (min(L, first) > 1, fineTuning)
    }

    /// Runs `body` in the thread state the local table run gives the same work: `settings.threads` set, and
    /// with `sideBySide` inside a lane of `Parallel.lanes` (the other lane idle), as `TableRunner` runs it.
    public static func asTableRunDoes<T>(sideBySide: Bool, settings: TableRunSettings,
                                         _ body: () throws -> T) throws -> T {
        Runtime.setThreads(settings.threads)
        guard sideBySide else { return try body() }
        var result: Result<T, Error>? = nil
        Parallel.lanes(2, lanes: 2) { lane in
            if lane == 0 { result = Result { try body() } }
        }
        return try result!.get()
    }

    // MARK: Expansion

    /// Expands the work of `tables` (in order) under `settings`; `tableArguments` are the table flags every job
    /// passes on (`TableOptions.arguments`).
    public static func expand(_ tables: [TableID], settings: TableRunSettings, root: DataRoot, tableArguments: [String],
                              executable: String) -> SlurmPlan {
        let w = Workload.count(tables, settings: settings, root: root)
        var p = SlurmPlan(workload: w)
        func add(_ name: String, _ kind: Kind, _ table: TableID?, _ tasks: [[String]], array: Bool = false, cpus: Int,
                 exclusive: Bool = false, after deps: [Dependency]) -> Int {
            p.jobs.append(Job(name: name, kind: kind, table: table, tasks: tasks, isArray: array, cpus: max(1, cpus),
                              exclusive: exclusive, dependencies: Array(Set(deps)).sorted()))
            return p.jobs.count - 1
        }
        func job(_ sub: String, _ extra: [String] = []) -> [String] {
            [executable, "job", sub] + tableArguments + extra
        }

        let training = !settings.speedOnly && (!w.pretraining.isEmpty || !w.fineTuning.isEmpty
                                               || !w.controlRuns.isEmpty)
        let prepare = training ? add("prepare", .prepare, nil, [job("prepare")], cpus: settings.threads,
                                     after: []) : nil
        var runTask: [String: Dependency] = [:]
        var reports: [Int] = []
        var reportJob: [TableID: Int] = [:]   // by table target
        for id in tables where !TableSpec.spec(id).isDerived {
            let threads = runThreads(id, settings: settings)
            var reportDeps: [Dependency] = []
            let runs = w.pretraining.filter { $0.table == id }
            if !runs.isEmpty {
                let j = add("\(id.fileStem)-pretrain", .pretrain, id, runs.map {
                    job("pretrain", ["--table", id.fileStem, "--variant-index", "\($0.variantIndex)",
                                     "--seed-index", "\($0.seedIndex)", "--key", $0.key])
                }, array: true, cpus: threads.pretraining, after: prepare.map { [Dependency(job: $0)] } ?? [])
                for (t, r) in runs.enumerated() { runTask[r.key] = Dependency(job: j, task: t) }
            }
            for v in w.variants where v.table == id {
                let needs = v.pretrainingKeys.compactMap { runTask[$0] }
                guard v.fineTuningRuns > 0 else { reportDeps += needs; continue }
                reportDeps.append(Dependency(job: add("\(id.fileStem)-finetune-v\(v.variantIndex)", .finetune, id,
                                                      [job("finetune", ["--table", id.fileStem, "--variant-index",
                                                                        "\(v.variantIndex)"])],
                                                      cpus: threads.fineTuning,
                                                      after: needs + (prepare.map { [Dependency(job: $0)] } ?? []))))
            }
            if let n = w.controlRuns[id], n > 0 {
                reportDeps.append(Dependency(job: add("\(id.fileStem)-control", .control, id,
                                                      [job("control", ["--table", id.fileStem])],
                                                      cpus: threads.fineTuning,
                                                      after: prepare.map { [Dependency(job: $0)] } ?? [])))
            }
            if !settings.accuracyOnly, let sp = w.speed.first(where: { $0.table == id }) {
                for g in sp.groups.indices {
                    reportDeps.append(Dependency(job: add("\(id.fileStem)-speed-g\(g + 1)", .speed, id,
                                                          [job("speed", ["--table", id.fileStem, "--group",
                                                                         "\(g + 1)"])],
                                                          cpus: settings.threads, exclusive: true, after: [])))
                }
            }
            reports.append(add("\(id.fileStem)-report", .report, id, [job("report", ["--table", id.fileStem])], cpus: 1,
                               after: reportDeps))
            reportJob[id] = reports.last!
        }
        // A derived table reads its sources' reports (`Reports/<Source>.json`): it waits for the report jobs of
        // those of its sources this plan makes, and for nothing else. (A source outside the plan is read as it is
        // on disk; derived tables read only tables that run, a catalog test holds.)
        for id in tables where TableSpec.spec(id).isDerived {
            let sources = TableSpec.spec(id).derivedFrom.compactMap { reportJob[TableCatalog.target(of: $0)] }
            reports.append(add("\(id.fileStem)-report", .report, id, [job("report", ["--table", id.fileStem])], cpus: 1,
                               after: sources.map { Dependency(job: $0) }))
        }
        let output = tableArguments.firstIndex(of: "--output").map { tableArguments[$0 + 1] } ?? "Reports"
        _ = add("index", .index, nil, [[executable, "index", "--output", output]], cpus: 1,
                after: reports.map { Dependency(job: $0) })
        return p
    }

    // MARK: Wall time on N nodes

    /// The wall time of the jobs on `nodes` nodes of `coresPerNode` cores each, from the lane-seconds of an
    /// estimate made on this machine (`WorkloadEstimate`; its runs were timed side by side as lanes run, so
    /// nodes are taken to be this machine): a list schedule in submit order, each array task or job on the
    /// node where it can start first (its CPUs free, all of them for an exclusive job), after its dependencies.
    /// Not counted, as in the estimate: preparation, model construction, checkpoints, queue waits.
    public func wallSeconds(nodes: Int, coresPerNode: Int, estimate e: WorkloadEstimate) -> Double {
        let w = workload
        var free = [[Double]](repeating: [Double](repeating: 0, count: max(1, coresPerNode)), count: max(1, nodes))
        var finish = [Double](repeating: 0, count: jobs.count)
        var taskFinish: [Int: [Double]] = [:]
        func place(_ seconds: Double, cpus: Int, exclusive: Bool, ready: Double) -> Double {
            var best = (node: 0, start: Double.infinity)
            for n in free.indices {
                let sorted = free[n].sorted()
                let k = exclusive ? sorted.count : min(max(cpus, 1), sorted.count)
                let start = max(ready, sorted[k - 1])
                if start < best.start { best = (n, start) }
            }
            let order = free[best.node].indices.sorted { free[best.node][$0] < free[best.node][$1] }
            let k = exclusive ? order.count : min(max(cpus, 1), order.count)
            for c in order.prefix(k) { free[best.node][c] = best.start + seconds }
            return best.start + seconds
        }
        for (i, j) in jobs.enumerated() {
            let ready = j.dependencies.map { d in
                d.task.map { taskFinish[d.job]?[$0] ?? finish[d.job] } ?? finish[d.job]
            }
                .max() ?? 0
            switch j.kind {
            case .pretrain:
                let ends = j.tasks.map { t in
                    place(e.runSeconds[t.last ?? ""] ?? 0, cpus: j.cpus, exclusive: false, ready: ready)
                }
                taskFinish[i] = ends
                finish[i] = ends.max() ?? ready
            case .finetune, .control:
                let name: String
                if j.kind == .control { name = FineTuneSummary.controlName } else {
                    let index = Int(j.tasks[0].last ?? "") ?? -1
                    name = w.variants.first { $0.table == j.table && $0.variantIndex == index }?.variant ?? ""
                }
                let sec = w.fineTuning.filter { $0.table == j.table && $0.variant == name }
                    .map { e.runSeconds[$0.key] ?? 0 }.reduce(0, +)
                finish[i] = place(sec, cpus: j.cpus, exclusive: false, ready: ready)
            case .speed:
                let g = (Int(j.tasks[0].last ?? "") ?? 1) - 1
                let sec = j.table.flatMap { e.speedGroupSeconds[$0] }
                    .flatMap { $0.indices.contains(g) ? $0[g] : nil } ?? 0
                finish[i] = place(sec, cpus: j.cpus, exclusive: true, ready: ready)
            case .prepare, .report, .index:
                finish[i] = ready
            }
        }
        return finish.max() ?? 0
    }

    // MARK: Scripts

    /// The sbatch script of job `index` (dependencies are given on sbatch's command line, `sbatchArguments`).
    public func script(_ index: Int, site: Site) -> String {
        let j = jobs[index]
        let name = "\(site.prefix)-\(j.name)"
        let log = (site.logDirectory as NSString).appendingPathComponent(j.isArray ? "%x-%A_%a.out" : "%x-%j.out")
        var s = "#!/bin/bash\n"
        s += "# \(j.kind.rawValue)\(j.table.map { " of \($0.fileStem)" } ?? ""): written by `sparse-mixers submit`.\n"
        var o = ["--job-name=\(name)", "--output=\(log)", "--open-mode=append", "--chdir=\(site.packageDirectory)",
                 "--nodes=1", "--ntasks=1", "--cpus-per-task=\(j.cpus)", "--requeue",
                 "--signal=B:USR1@\(site.signalSeconds)"]
        // A whole node, memory included (--mem=0: all of it), whatever the partition's default per CPU.
        if j.exclusive { o += ["--exclusive", "--mem=0"] }
        if j.isArray { o.append("--array=0-\(j.tasks.count - 1)" + (j.throttle.map { "%\($0)" } ?? "")) }
        if let p = site.partition { o.append("--partition=\(p)") }
        o += site.sbatchOptions
        s += o.map { "#SBATCH \($0)\n" }.joined()
        s += "set -u\n"
        s += "export SPARSE_MIXERS_CACHE=\(Self.quote(site.cacheDirectory))\n"
        if j.isArray {
            s += "case \"${SLURM_ARRAY_TASK_ID:-}\" in\n"
            for (t, c) in j.tasks.enumerated() {
                s += "  \(t)) set -- \(c.map(Self.quote).joined(separator: " ")) ;;\n"
            }
            s += "  *) echo \"no task ${SLURM_ARRAY_TASK_ID:-}\" >&2; exit 2 ;;\nesac\n"
        } else {
            s += "set -- \(j.tasks[0].map(Self.quote).joined(separator: " "))\n"
        }
        s += """
        # Slurm sends USR1 \(site.signalSeconds) s before the time limit (--signal=B:USR1@...): it is passed on, a
        # pre-training run writes a checkpoint of its current step and exits, and the job requeues itself; the
        # requeued job resumes from that checkpoint, and a job whose run is cached ends at once. TERM (preemption,
        # scancel) is passed on too: the run checkpoints and ends; Slurm requeues a preempted job itself.
        requeue=0
        trap 'requeue=1; kill -USR1 "$child" 2>/dev/null' USR1
        trap 'kill -TERM "$child" 2>/dev/null' TERM
        echo "[$(date -u +%FT%TZ)] $(hostname): $*"
        "$@" &
        child=$!
        while :; do wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null || break; done
        echo "[$(date -u +%FT%TZ)] exit status $rc"
        if [ "$requeue" = 1 ]; then
          echo "requeued before the time limit"
          scontrol requeue "$SLURM_JOB_ID"
          sleep 30
        fi
        exit "$rc"

        """
        return s
    }

    /// `afterok:` of a job's dependencies, from the job ids submitted so far (`ids[i]` of job i).
    public func dependencyArgument(_ index: Int, ids: [String]) -> String? {
        let d = jobs[index].dependencies
        guard !d.isEmpty else { return nil }
        return "afterok:" + d.map { ids[$0.job] + ($0.task.map { "_\($0)" } ?? "") }.joined(separator: ":")
    }

    /// sbatch's arguments for job `index` before the script path.
    public func sbatchArguments(_ index: Int, ids: [String]) -> [String] {
        var a = ["--parsable"]
        if let d = dependencyArgument(index, ids: ids) { a += ["--dependency=\(d)", "--kill-on-invalid-dep=yes"] }
        return a
    }

    /// The graph in words: every job, its array size, resources and what it waits for.
    public var graph: String {
        var s = ""
        for (i, j) in jobs.enumerated() {
            let deps = j.dependencies.map { jobs[$0.job].name + ($0.task.map { "[\($0)]" } ?? "") }
            s += "\(i + 1). \(j.name): \(j.kind.rawValue)"
            s += j.isArray ? ", array of \(j.tasks.count)" : ""
            s += j.exclusive ? ", whole node (--exclusive)" : ", \(j.cpus) CPU\(j.cpus == 1 ? "" : "s")"
            s += deps.isEmpty ? "\n" : "; after " + deps.joined(separator: ", ") + "\n"
        }
        return s
    }

    /// Shell quoting for one word.
    public static func quote(_ w: String) -> String {
        if !w.isEmpty && w.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:@%+,".contains($0) }) { return w }
        return "'" + w.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

extension TableOptions {
    /// The flags that give another process this table run's settings: every value written out (the memory budget
    /// as a number, so speed groups are split the same way on every node), paths absolute.
    public func arguments(output: String, data: String) -> [String] {
        let s = settings
        var a = ["--scale", scale, "--threads", "\(threads)", "--warmup", "\(warmup)", "--output", output, "--data",
                 data, "--batch", "\(s.shape.batch)", "--seq", "\(s.shape.seq)",
                 "--min-rounds", "\(s.rule.minRounds)", "--max-rounds", "\(s.rule.maxRounds)",
                 "--half-width", "\(s.rule.halfWidth * 100)", "--time-limit", "\(s.rule.timeLimitSeconds)",
                 "--jobs", "\(s.accuracyLanes)", "--memory-budget-gb", String(format: "%.3f", s.memoryBudget / 1e9)]
        if speedOnly { a.append("--speed-only") }
        if accuracyOnly { a.append("--accuracy-only") }
        if noFinetune { a.append("--no-finetune") }
        return a
    }
}
