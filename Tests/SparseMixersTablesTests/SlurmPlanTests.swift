import ArgumentParser
import Foundation
import XCTest
import SparseMixers
import SparseMixersData
import SparseMixersPaper
@testable import SparseMixersTables
import SparseMixersTraining

/// `sparse-mixers submit`'s expansion of the plan into Slurm jobs, checked without Slurm: every run once, each
/// fine-tuning job after exactly the array tasks of its pre-training runs, exclusive speed groups, reports after
/// their table's jobs, the index last.
final class SlurmPlanTests: XCTestCase {
    let exe = "/opt/smx/sparse-mixers"

    func expand(_ tables: [TableID], _ s: TableRunSettings, root: DataRoot) -> SlurmPlan {
        SlurmPlan.expand(tables, settings: s, root: root, tableArguments: ["--scale", s.scale.rawValue, "--output",
                                                                           "/shared/w"],
                         executable: exe)
    }

    func testTablesExpandIntoArraysFineTuningAfterTheirRunsExclusiveSpeedAndReports() throws {
        let root = DataRoot.resolve()
        guard TaskLoader.isAvailable(.rte, .train, root: root) else { throw XCTSkip("no GLUE data here") }
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let tables: [TableID] = [.t3, .t4, .t6]
        let p = expand(tables, s, root: root)
        let w = Workload.count(tables, settings: s, root: root)
        let jobs = p.jobs
        func named(_ n: String) -> (Int, SlurmPlan.Job) {
            let i = jobs.firstIndex { $0.name == n }!
            return (i, jobs[i])
        }
        // Topological order: every dependency is an earlier job, and an array dependency names a task it has.
        for (i, j) in jobs.enumerated() {
            for d in j.dependencies {
                XCTAssertLessThan(d.job, i, j.name)
                if let t = d.task {
                    XCTAssertTrue(jobs[d.job].isArray && jobs[d.job].tasks.indices.contains(t), j.name)
                }
            }
        }
        XCTAssertEqual(jobs.first?.kind, .prepare)
        XCTAssertTrue(jobs[0].dependencies.isEmpty)
        // Pre-training: one array task per distinct run, under the first table that needs it.
        let arrays = jobs.filter { $0.kind == .pretrain }
        XCTAssertTrue(arrays.allSatisfy { $0.isArray && $0.dependencies == [SlurmPlan.Dependency(job: 0)] })
        XCTAssertEqual(arrays.map(\.tasks.count).reduce(0, +), w.pretraining.count)
        let (t3p, t3array) = named("Table3-pretrain")
        XCTAssertEqual(t3array.tasks.count, TableSpec.spec(.t3).accuracyVariants.count)
        XCTAssertEqual(Set(arrays.flatMap(\.tasks).map { $0.last! }).count, w.pretraining.count, "each run once")
        XCTAssertEqual(t3array.tasks[0].prefix(3), [exe, "job", "pretrain"])
        // Table 4 reuses Table 3's runs where the models agree: its array holds only the new ones.
        let t4array = jobs.first { $0.name == "Table4-pretrain" }
        XCTAssertEqual(t4array?.tasks.count ?? 0, w.pretraining.filter { $0.table == .t4 }.count)
        // Fine-tuning: one job per variant, after exactly the tasks of the runs it reads (wherever they were made).
        for v in w.variants where v.fineTuningRuns > 0 {
            let (_, ft) = named("\(v.table.fileStem)-finetune-v\(v.variantIndex)")
            let waits = Set(ft.dependencies.filter { $0.task != nil }.map { d in jobs[d.job].tasks[d.task!].last! })
            XCTAssertEqual(waits, Set(v.pretrainingKeys), "\(v.table) \(v.variant)")
            XCTAssertEqual(ft.cpus, 1, "ci runs side by side on one thread each")
            XCTAssertFalse(ft.exclusive)
        }
        let reused = w.variants.filter { $0.table == .t4 }.flatMap(\.pretrainingKeys)
            .filter { k in w.pretraining.first { $0.key == k }?.table == .t3 }
        if let k = reused.first {
            let v = w.variants.first { $0.table == .t4 && $0.pretrainingKeys.contains(k) }!
            let (_, ft) = named("Table4-finetune-v\(v.variantIndex)")
            XCTAssertTrue(ft.dependencies.contains { $0.job == t3p }, "a reused run is waited for in Table 3's array")
        }
        // Speed: one exclusive whole-node job per memory group, waiting for nothing.
        for id in [TableID.t3, .t4] {
            let groups = w.speed.first { $0.table == id }!.groups.count
            let speed = jobs.filter { $0.kind == .speed && $0.table == id }
            XCTAssertEqual(speed.count, groups)
            XCTAssertTrue(speed.allSatisfy { $0.exclusive && $0.dependencies.isEmpty && !$0.isArray })
            // The report waits for every fine-tuning, control and speed job of its table, and nothing of another.
            let (_, report) = named("\(id.fileStem)-report")
            let own = Set(jobs.indices.filter {
                [.finetune, .control, .speed].contains(jobs[$0].kind) && jobs[$0].table == id
            })
            XCTAssertEqual(Set(report.dependencies.map(\.job)), own)
        }
        XCTAssertEqual(jobs.filter { $0.kind == .control }.count, 2)
        // Table 6 re-tabulates Table 9, which this plan does not make: its report waits for nothing (it reads
        // Table 9's report as it is). The index last, after every report.
        let (_, t6) = named("Table6-report")
        XCTAssertEqual(t6.dependencies, [])
        XCTAssertEqual(jobs.last?.kind, .index)
        XCTAssertEqual(jobs.last?.tasks, [[exe, "index", "--output", "/shared/w"]])
        XCTAssertEqual(Set(jobs.last!.dependencies.map(\.job)), Set(jobs.indices.filter { jobs[$0].kind == .report }))

        // sbatch: dependencies by submitted id, array tasks as <id>_<task>.
        let ids = jobs.indices.map { "\(100 + $0)" }
        let (ft0, _) = named("Table3-finetune-v0")
        XCTAssertEqual(p.dependencyArgument(ft0, ids: ids), "afterok:100:\(100 + t3p)_0")
        XCTAssertEqual(p.sbatchArguments(ft0, ids: ids),
                       ["--parsable", "--dependency=afterok:100:\(100 + t3p)_0", "--kill-on-invalid-dep=yes"])
        XCTAssertNil(p.dependencyArgument(0, ids: ids))
    }

    /// A derived table's report waits for the report jobs of the tables it re-tabulates (`derivedFrom`) that the
    /// plan makes, and for no other job.
    func testDerivedReportsWaitOnlyForTheTablesTheyAreDerivedFrom() throws {
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let p = expand([.t3, .t9, .t10, .t6, .t16, .t17, .t18], s, root: try emptyRoot())
        func report(_ id: TableID) -> Int { p.jobs.firstIndex { $0.kind == .report && $0.table == id }! }
        func waits(_ id: TableID) -> Set<Int> { Set(p.jobs[report(id)].dependencies.map(\.job)) }
        XCTAssertEqual(TableSpec.spec(.t6).derivedFrom, [.t9])
        XCTAssertEqual(waits(.t6), [report(.t9)])
        XCTAssertEqual(waits(.t17), [report(.t9), report(.t10)])
        XCTAssertEqual(waits(.t18), [report(.t9), report(.t10)])
        // Table 16 reads ten tables; of them this plan makes only Table 3.
        XCTAssertEqual(waits(.t16), [report(.t3)])
        XCTAssertTrue(p.jobs[report(.t16)].dependencies.allSatisfy { $0.task == nil })
        // The tables that run still wait for their own jobs only; the index for every report.
        XCTAssertFalse(waits(.t9).contains(report(.t3)))
        let reports = Set(p.jobs.indices.filter { p.jobs[$0].kind == .report })
        XCTAssertEqual(Set(p.jobs.last!.dependencies.map(\.job)), reports)
        // A derived table alone waits for nothing: it reads its sources' reports from disk.
        let alone = expand([.t7], s, root: try emptyRoot())
        XCTAssertEqual(alone.jobs.map(\.kind), [.report, .index])
        XCTAssertEqual(alone.jobs[0].dependencies, [])
    }

    func testScriptsRequeueOnTheTimeLimitSignalAndSpeedTakesAWholeNode() throws {
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let p = expand([.t3], s, root: try emptyRoot())
        var site = SlurmPlan.Site(executable: exe, packageDirectory: "/shared/pkg", workDirectory: "/shared/w",
                                  cacheDirectory: "/shared/cache", partition: "cpu")
        site.sbatchOptions = ["--time=1:00:00"]
        let array = p.jobs.firstIndex { $0.kind == .pretrain }!
        let script = p.script(array, site: site)
        for line in ["#SBATCH --array=0-\(p.jobs[array].tasks.count - 1)", "#SBATCH --requeue",
                     "#SBATCH --signal=B:USR1@120", "#SBATCH --partition=cpu", "#SBATCH --time=1:00:00",
                     "#SBATCH --cpus-per-task=1", "#SBATCH --chdir=/shared/pkg",
                     "export SPARSE_MIXERS_CACHE=/shared/cache", "#SBATCH --output=/shared/w/slurm/logs/%x-%A_%a.out",
                     "scontrol requeue \"$SLURM_JOB_ID\""] {
            XCTAssertTrue(script.contains(line), line)
        }
        XCTAssertFalse(script.contains("--exclusive"))
        XCTAssertTrue(script.contains("  0) set -- \(exe) job pretrain"))
        let speed = p.jobs.firstIndex { $0.kind == .speed }!
        XCTAssertTrue(p.script(speed, site: site).contains("#SBATCH --exclusive\n#SBATCH --mem=0\n"))
        XCTAssertTrue(p.graph.contains("Table3-speed-g1: speed, whole node (--exclusive)"))
        XCTAssertTrue(p.graph.contains("Table3-pretrain: pretrain, array of \(p.jobs[array].tasks.count), 1 "
                                       + "CPU; after prepare"))
        // Throttled arrays (submit --nodes).
        var q = p
        q.jobs[array].throttle = 4
        XCTAssertTrue(q.script(array, site: site).contains("#SBATCH --array=0-\(p.jobs[array].tasks.count - 1)%4\n"))
        // --speed-only: no training jobs at all; --accuracy-only: no speed jobs.
        var so = s; so.speedOnly = true
        XCTAssertEqual(expand([.t3], so, root: try emptyRoot()).jobs.map(\.kind), [.speed, .report, .index])
        var ao = s; ao.accuracyOnly = true
        XCTAssertFalse(expand([.t3], ao, root: try emptyRoot()).jobs.contains { $0.kind == .speed })
        XCTAssertEqual(SlurmPlan.quote("a b'c"), "'a b'\\''c'")
        XCTAssertEqual(SlurmPlan.quote("--key=pretrain-1f"), "--key=pretrain-1f")
    }

    /// A job makes its run on the thread count the local table run would give it (the rounding depends on it).
    func testRunThreadsFollowTheLocalTableRun() {
        // ci: several variants side by side, one thread each.
        XCTAssertTrue(SlurmPlan.runThreads(.t3, settings: TableRunSettings(scale: .ci, threads: 2)) == (1, 1))
        // paper: one lane, every run on all threads.
        XCTAssertTrue(SlurmPlan.runThreads(.t3, settings: TableRunSettings(scale: .paper, threads: 8)) == (8, 8))
        // --jobs 1 at ci: one lane.
        var one = TableRunSettings(scale: .ci, threads: 2); one.accuracyLanes = 1
        XCTAssertTrue(SlurmPlan.runThreads(.t3, settings: one) == (2, 2))
        // small: several seeds, so pre-training goes in the first pass, side by side.
        XCTAssertTrue(SlurmPlan.runThreads(.t3, settings: TableRunSettings(scale: .small, threads: 2)) == (1, 1))
    }

    /// A job's work runs in the local table run's thread state: inside a lane (one effective thread, the thread
    /// setting kept) when the table runs its runs side by side, else on all threads.
    func testJobsRunInTheTableRunsThreadState() throws {
        let s = TableRunSettings(scale: .ci, threads: 2)
        let saved = Parallel.threads
        defer { Runtime.setThreads(saved) }
        let lane = try SlurmPlan.asTableRunDoes(sideBySide: true, settings: s) {
            (Parallel.effectiveThreads, Parallel.threads)
        }
        XCTAssertTrue(lane == (1, 2))
        let alone = try SlurmPlan.asTableRunDoes(sideBySide: false, settings: s) {
            (Parallel.effectiveThreads, Parallel.threads)
        }
        XCTAssertTrue(alone == (2, 2))
        struct Boom: Error {}
        XCTAssertThrowsError(try SlurmPlan.asTableRunDoes(sideBySide: true, settings: s) { throw Boom() }) {
            XCTAssertTrue($0 is Boom)
        }
        XCTAssertTrue(SlurmPlan.sideBySide(.t3, settings: s) == (true, true))
    }

    /// `plan --nodes N`: the jobs list-scheduled on N nodes from per-run seconds; more nodes never take longer,
    /// and an exclusive speed group waits for a whole node.
    func testWallTimeOnNodes() throws {
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let p = expand([.t3], s, root: try emptyRoot())   // no task files: pre-training and speed only
        XCTAssertEqual(p.jobs.map(\.kind), [.prepare, .pretrain, .speed, .report, .index])
        var e = WorkloadEstimate()
        for r in p.workload.pretraining { e.runSeconds[r.key] = 10 }
        e.speedGroupSeconds[.t3] = [30]
        // One node of 2 cores: four 10 s runs (Table 3's rows) two at a time end at 20 s, then the speed group has
        // the node.
        XCTAssertEqual(p.workload.pretraining.count, 4)
        XCTAssertEqual(p.wallSeconds(nodes: 1, coresPerNode: 2, estimate: e), 50, accuracy: 1e-9)
        // Ten nodes: the runs side by side, the speed group on a node of its own.
        XCTAssertEqual(p.wallSeconds(nodes: 10, coresPerNode: 2, estimate: e), 30, accuracy: 1e-9)
        XCTAssertLessThanOrEqual(p.wallSeconds(nodes: 3, coresPerNode: 2, estimate: e),
                                 p.wallSeconds(nodes: 2, coresPerNode: 2, estimate: e))
    }

    /// The flags a job is given parse back to the submit's settings.
    func testTableArgumentsRoundTrip() throws {
        var o = try TableOptions.parse(["--scale", "small", "--threads", "3", "--jobs", "2", "--memory-budget-gb",
                                        "7.5", "--accuracy-only", "--output", NSTemporaryDirectory()])
        o.output = NSTemporaryDirectory()
        let back = try TableOptions.parse(o.arguments(output: NSTemporaryDirectory(), data: "/d"))
        let a = o.settings, b = back.settings
        XCTAssertEqual(b.scale, a.scale); XCTAssertEqual(b.threads, a.threads); XCTAssertEqual(b.accuracyLanes, 2)
        XCTAssertEqual(b.shape, a.shape); XCTAssertEqual(b.rule, a.rule); XCTAssertEqual(b.warmup, a.warmup)
        XCTAssertEqual(b.memoryBudget, 7.5e9); XCTAssertTrue(b.accuracyOnly); XCTAssertEqual(b.dataDirectory, "/d")
    }

    /// A speed group stored by one process is what another's report reads; a mismatch is refused when required.
    func testSpeedGroupStoreRoundTripAndRefusals() throws {
        let dir = try emptyRoot().url
        var s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        s.log = { _ in }
        let store = SpeedGroupStore(directory: dir, required: true)
        let names = ["BERT Base", "Linear"]
        XCTAssertThrowsError(try store.load(.t3, group: 0, names: names, settings: s)) { e in
            XCTAssertTrue("\(e)".contains("job speed"), "\(e)")
        }
        let samples = [TimedSamples(name: "BERT Base", trainMs: [10, 12], inferenceMs: [3, 4]),
                       TimedSamples(name: "Linear", trainMs: [5, 6], inferenceMs: [1, 2])]
        try store.store(TimedRun(samples: samples, rounds: 2, stop: .maxRounds, seconds: 0.03), table: .t3, group: 0,
                        settings: s)
        let loaded = try store.load(.t3, group: 0, names: names, settings: s)
        XCTAssertEqual(loaded?.samples, samples)
        XCTAssertEqual(loaded?.rounds, 2); XCTAssertEqual(loaded?.stop, .maxRounds)
        XCTAssertThrowsError(try store.load(.t3, group: 0, names: ["BERT Base", "FNet"], settings: s))
        var more = s; more.rule.minRounds = s.rule.minRounds + 1
        XCTAssertThrowsError(try store.load(.t3, group: 0, names: names, settings: more))
        XCTAssertNil(try SpeedGroupStore(directory: dir, required: false).load(.t3, group: 0, names: names,
                                                                               settings: more))
    }

    /// A report job reads every speed group from the store and times nothing: its speed rows are the stored
    /// samples' medians and their ratios to the reference of the same group.
    func testReportAssemblesSpeedFromStoredGroups() throws {
        let dir = try emptyRoot().url
        var s = TableRunSettings(scale: .ci, threads: 1, output: dir, memoryBudget: 1e12)
        s.speedOnly = true; s.allowDebugTiming = true; s.log = { _ in }
        let spec = TableSpec.spec(.t3)
        let plan = SpeedGroups.TablePlan(spec, shape: s.shape, budget: s.memoryBudget)!
        XCTAssertEqual(plan.groups.groups.count, 1)
        let names = [plan.reference.name] + plan.groups.groups[0].map { plan.members[$0].name }
        let samples = names.enumerated().map { k, n in
            TimedSamples(name: n, trainMs: [100 / Double(k + 1), 102 / Double(k + 1)], inferenceMs: [10, 11])
        }
        var runner = TableRunner(settings: s, published: nil)
        runner.speedStore = SpeedGroupStore(directory: dir.appendingPathComponent("speed"), required: true)
        XCTAssertThrowsError(try runner.report(for: spec), "nothing stored: the report job refuses to time")
        try runner.speedStore!.store(TimedRun(samples: samples, rounds: 2, stop: .maxRounds, seconds: 0.5), table: .t3,
                                     group: 0, settings: s)
        // The speed job of a group already stored keeps it (a requeued or resubmitted job ends at once).
        let stored = try Data(contentsOf: runner.speedStore!.url(.t3, group: 0, shape: s.shape))
        XCTAssertEqual(try runner.timeAndStoreSpeedGroup(.t3, group: 0, in: runner.speedStore!), names)
        XCTAssertEqual(try Data(contentsOf: runner.speedStore!.url(.t3, group: 0, shape: s.shape)), stored)
        let r = try runner.report(for: spec)
        for (k, n) in names.enumerated() {
            let row = r.speedRows.first { $0.variant == n && $0.msMetric == "ms_per_batch" }
            XCTAssertEqual(row?.timing.median ?? 0, 101 / Double(k + 1), accuracy: 1e-9, n)
            XCTAssertEqual(row?.ourSpeedup ?? 0, Double(k + 1), accuracy: 1e-9, n)
        }
    }

    func emptyRoot() throws -> DataRoot {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return DataRoot.resolve(explicit: dir.path)
    }
}
