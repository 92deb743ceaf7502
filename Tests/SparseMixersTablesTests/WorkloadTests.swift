import Foundation
import XCTest
import SparseMixers
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTables
import SparseMixersTraining

/// `sparse-mixers plan` counts what the tables would run; these pin the counting against the drivers' own plan.
final class WorkloadTests: XCTestCase {
    func emptyRoot() throws -> DataRoot {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("workload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return DataRoot.resolve(explicit: dir.path)
    }

    /// run_all.sh runs `sparse-mixers tables`, which prints `Workload.runAllOrder`: it must name every table
    /// target once (a target is a table no other target `alsoWrites`; Package.swift makes one executable each),
    /// each derived table after every table it reads, and together they must write every report.
    func testRunAllOrderRunsEveryTargetOnceWithDerivedTablesAfterTheirSources() throws {
        let order = Workload.runAllOrder
        XCTAssertEqual(Set(order).count, order.count, "a target listed twice")
        let targets = TableID.allCases.filter { TableCatalog.target(of: $0) == $0 }
        XCTAssertEqual(Set(order), Set(targets))
        XCTAssertEqual(Set(order.flatMap { TableRunner.reportIDs(for: $0) }), Set(TableID.allCases))
        for (i, id) in order.enumerated() {
            for source in TableSpec.spec(id).derivedFrom {
                let j = try XCTUnwrap(order.firstIndex(of: TableCatalog.target(of: source)), "\(id) reads \(source)")
                XCTAssertLessThan(j, i, "\(id) runs before its source \(source)")
            }
        }
        // The executables of Package.swift (Tables/<Name>) are exactly these targets.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let dirs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Tables").path)
            .filter {
                FileManager.default.fileExists(atPath: root.appendingPathComponent("Tables/\($0)/main.swift").path)
            }
        XCTAssertEqual(Set(dirs), Set(order.map(\.fileStem)))
        // run_all.sh takes its list from the program instead of a copy.
        let script = try String(contentsOf: root.appendingPathComponent("run_all.sh"), encoding: .utf8)
        XCTAssertTrue(script.contains("TABLES=$(\"$BIN/sparse-mixers\" tables)"))
    }

    func testSharedPretrainingRunsAreCountedOnceAndMissingTasksAreNotCounted() throws {
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let root = try emptyRoot()
        let once = Workload.count([.t3], settings: s, root: root)
        let runVariants = TableSpec.spec(.t3).accuracyVariants.count
        XCTAssertEqual(once.pretraining.count, runVariants)
        XCTAssertEqual(Set(once.pretraining.map(\.key)).count, runVariants)
        XCTAssertTrue(once.pretraining.allSatisfy { $0.options.steps == Scale.ci.settings.coordinateDescentSteps })
        // A second table asking for the same runs reuses them (the run cache's key is the run directory).
        let twice = Workload.count([.t3, .t3], settings: s, root: root)
        XCTAssertEqual(twice.pretraining.count, runVariants)
        XCTAssertEqual(twice.reusedPretraining[.t3], runVariants)
        // No task files under this root: nothing to fine-tune, and every scored task is named as missing.
        XCTAssertTrue(once.fineTuning.isEmpty)
        XCTAssertTrue(once.missingTasks.isSuperset(of: Set(SparseMixersData.Task.glueScored)))
        // Speed: one group (ample budget) holding the reference and every other variant, warm-up + minimum rounds.
        XCTAssertEqual(once.speed.count, 1)
        XCTAssertEqual(once.speed[0].groups.map(\.count), [TableSpec.spec(.t3).runVariants.count])
        // The speed reference (BERT Base, not a row of Table 3) is timed, never pre-trained for the table.
        XCTAssertFalse(once.pretraining.contains { $0.variant == TableSpec.spec(.t3).speedReference?.name })
        XCTAssertEqual(TableSpec.spec(.t3).runVariants.count, runVariants + 1)
        XCTAssertEqual(once.speed[0].rounds, s.warmup + s.rule.minRounds)
        XCTAssertEqual(once.speed[0].maxRounds, s.warmup + s.rule.maxRounds)
        // --rows counts the selected rows and the table's first only.
        var some = s; some.rows = ["d_model=128"]
        XCTAssertEqual(Set(Workload.count([.t3], settings: some, root: root).pretraining.map(\.variant)),
                       ["d_model=768", "d_model=128"])
        // --speed-only counts no training at all.
        var speedOnly = s; speedOnly.speedOnly = true
        XCTAssertTrue(Workload.count([.t3], settings: speedOnly, root: root).pretraining.isEmpty)
    }

    func testStabilityTableRunsEverySeedAtBothBatchSizes() throws {
        let small = Scale.small.settings
        let spec = small.scaled(TableSpec.spec(.t10))
        let plan = VariantAccuracy.plan(table: spec, variant: spec.runVariants[0], settings: small)
        XCTAssertTrue(plan.countsStability)
        XCTAssertEqual(plan.pretraining.map(\.options.batchSize),
                       Array(repeating: small.pretrainBatch, count: small.stabilityRuns)
                        + Array(repeating: small.pretrainBatch * 4, count: small.stabilityRuns))
        XCTAssertEqual(plan.pretraining.map(\.paperBatch).first, 64)
        XCTAssertFalse(plan.tasks.isEmpty)
        XCTAssertEqual(plan.grid?.learningRates, small.learningRates(spec.runVariants[0].fineTuning.learningRateSet))
        let w = Workload.count([.t10], settings: TableRunSettings(scale: .small, threads: 2, memoryBudget: 1e12),
                               root: try emptyRoot())
        XCTAssertEqual(w.pretraining.count, spec.runVariants.count * 2 * small.stabilityRuns)
    }

    func testFineTuningRunsFollowTheGridAndTheCaps() throws {
        // Real GLUE files, when this checkout sits beside ../shared/data.
        let root = DataRoot.resolve()
        guard TaskLoader.isAvailable(.rte, .train, root: root) else { throw XCTSkip("no GLUE data here") }
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let w = Workload.count([.t3], settings: s, root: root)
        let ci = Scale.ci.settings
        let rte = w.fineTuning.filter { $0.task == .rte }
        // One run per variant (and the random-init control), batch size and learning rate of the grid.
        XCTAssertEqual(rte.count, (TableSpec.spec(.t3).accuracyVariants.count + (ci.fineTuneControl ? 1 : 0))
                       * ci.learningRates(.standard).count)
        XCTAssertEqual(rte.filter { $0.variant == FineTuneSummary.controlName }.count,
                       ci.learningRates(.standard).count)
        let B = ci.fineTuneBatch(64)
        XCTAssertTrue(rte.allSatisfy { $0.batchSize == B && $0.steps == ci.fineTuneTrainCap! * ci.fineTuneEpochs / B })
        XCTAssertTrue(rte.allSatisfy { $0.evaluatedRows == ci.fineTuneEpochs * ci.fineTuneEvalCap! })
        // small: full dev sets, SST-2 capped at 10,000, and every task at least the minimum number of steps.
        let small = Scale.small.settings
        let ws = Workload.count([.t3], settings: TableRunSettings(scale: .small, threads: 2, memoryBudget: 1e12),
                                root: root)
        XCTAssertFalse(ws.fineTuning.isEmpty)
        XCTAssertTrue(ws.fineTuning.allSatisfy { $0.steps >= small.fineTuneMinimumSteps },
                      "\(ws.fineTuning.map(\.steps))")
        XCTAssertGreaterThanOrEqual(small.fineTuneMinimumSteps, 300)
        XCTAssertGreaterThanOrEqual(small.fineTuneTrainCap ?? .max, 10_000)
        XCTAssertNil(small.fineTuneEvalCap)
        XCTAssertEqual(ws.fineTuning.first { $0.task == .sst2 }?.steps, 10_000 / small.fineTuneBatch(64))
        XCTAssertEqual(Set(ws.fineTuning.map(\.learningRate)).count, small.learningRates(.standard).count)
        // Fine-tuning seeds at small: every pre-training seed is fine-tuned, seeds after the first once per task (at
        // the rate the grid chooses), and the control from as many initialisations as the reference has seeds.
        XCTAssertTrue(small.fineTuneSeeds)
        let grid = small.learningRates(.standard).count
        let spec = TableSpec.spec(.t3)
        for (i, v) in spec.accuracyVariants.enumerated() {
            let seeds = small.seeds(reference: i == 0)
            XCTAssertEqual(ws.fineTuning.filter { $0.task == .rte && $0.variant == v.name }.count, grid + seeds - 1,
                           v.name)
        }
        XCTAssertEqual(ws.fineTuning.filter { $0.task == .rte && $0.variant == FineTuneSummary.controlName }.count,
                       grid + small.referenceSeeds - 1)
        XCTAssertEqual(Set(ws.fineTuning.filter { $0.task == .rte }.map(\.key)).count,
                       ws.fineTuning.filter { $0.task == .rte }.count, "every run counted once, under its own key")
        XCTAssertEqual(ws.variants.first?.fineTuningRuns,
                       (grid + small.referenceSeeds - 1) * ws.fineTuning.filter { $0.variant == spec.variants[0].name }
                        .map(\.task).reduce(into: Set<SparseMixersData.Task>()) { $0.insert($1) }.count)
    }

    /// A variant's further fine-tuning seeds are its plan's pre-training seeds after the first, at scales that
    /// fine-tune seeds; none at ci (one seed) or for Table 10's stability runs.
    func testFineTuningSeedsFollowThePreTrainingSeeds() {
        let small = Scale.small.settings
        let t3 = small.scaled(TableSpec.spec(.t3))
        let ref = VariantAccuracy.plan(table: t3, variant: t3.accuracyVariants[0], settings: small)
        XCTAssertEqual(VariantAccuracy.fineTuneSeeds(ref, settings: small), Array(1..<small.referenceSeeds))
        let other = VariantAccuracy.plan(table: t3, variant: t3.accuracyVariants[1], settings: small)
        XCTAssertEqual(VariantAccuracy.fineTuneSeeds(other, settings: small), Array(1..<small.seeds))
        XCTAssertEqual(VariantAccuracy.controlSeeds(table: t3, variant: t3.accuracyVariants[0], settings: small),
                       Array(1..<small.referenceSeeds))
        let t10 = small.scaled(TableSpec.spec(.t10))
        XCTAssertEqual(VariantAccuracy.fineTuneSeeds(VariantAccuracy.plan(table: t10, variant: t10.accuracyVariants[0],
                                                                         settings: small), settings: small), [])
        let ci = Scale.ci.settings, t3ci = ci.scaled(TableSpec.spec(.t3))
        XCTAssertFalse(ci.fineTuneSeeds)
        XCTAssertEqual(VariantAccuracy.fineTuneSeeds(VariantAccuracy.plan(table: t3ci,
                                                                          variant: t3ci.accuracyVariants[0],
                                                                         settings: ci), settings: ci), [])
        XCTAssertTrue(small.ruleText.contains("every pre-training seed fine-tuned"))
    }
}
