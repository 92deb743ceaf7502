import XCTest
@testable import SparseMixersReports
import SparseMixersTraining

final class FineTuneSummaryTests: XCTestCase {
    func result(_ task: String, _ best: [String: Double], last: [String: Double]? = nil,
                majority: [String: Double]) -> FineTuneTaskResult {
        FineTuneTaskResult(task: task, best: best, last: last ?? best, learningRate: 1e-4, batchSize: 16, steps: 300,
                           trainRows: 1000, evalRows: 500, majority: majority)
    }

    /// A task has signal only when the reference beats the majority class and the control; the averages take the
    /// tasks with signal only, for every variant and the control alike.
    func testSignalNeedsBothFloorsAndTheAverageKeepsOnlyTasksWithSignal() throws {
        let sst = ["sst2_acc": 50.9], rte = ["rte_acc": 52.7], mrpc = ["mrpc_f1": 81.2, "mrpc_acc": 68.4]
        let results: [String: [FineTuneTaskResult]] = [
            "ref": [result("SST-2", ["sst2_acc": 80], last: ["sst2_acc": 78], majority: sst),
                    result("RTE", ["rte_acc": 55], majority: rte),
                    result("MRPC", ["mrpc_f1": 81, "mrpc_acc": 70], majority: mrpc)],
            "other": [result("SST-2", ["sst2_acc": 70], last: ["sst2_acc": 69], majority: sst),
                      result("RTE", ["rte_acc": 60], majority: rte),
                      result("MRPC", ["mrpc_f1": 82, "mrpc_acc": 72], majority: mrpc)],
        ]
        let control = [result("SST-2", ["sst2_acc": 74], last: ["sst2_acc": 73], majority: sst),
                       result("RTE", ["rte_acc": 56], majority: rte),
                       result("MRPC", ["mrpc_f1": 80, "mrpc_acc": 69], majority: mrpc)]
        let s = try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref", "other"],
                                                    results: results, control: control, controlDescription: "c"))
        let signal = Dictionary(uniqueKeysWithValues: s.tasks.map { ($0.task, $0.signal) })
        // Noise at 500 rows: SST-2 at 80%: 1.96·sqrt(.8·.2/500) = 3.51 points (4.96 against the control), so 80
        // beats 50.9 and 74. RTE: 55 - 52.7 = 2.3 < 4.36. MRPC: 75.5 beats neither 74.8 nor 74.5 by the noise.
        XCTAssertEqual(signal, ["SST-2": true, "RTE": false, "MRPC": false])
        let sstNoise = try XCTUnwrap(s.tasks.first { $0.task == "SST-2" }?.noiseHalfWidth)
        XCTAssertEqual(sstNoise, 196 * (0.8 * 0.2 / 500).squareRoot(), accuracy: 1e-9)
        XCTAssertTrue(try XCTUnwrap(s.tasks.first { $0.task == "RTE" }?.noSignalReason)
                        .contains("does not beat the majority class 52.7 by more than the 95% noise 4.4"))
        XCTAssertEqual(s.signalMetrics, ["sst2_acc"])
        XCTAssertEqual(s.signalAverage["ref"], 80)
        XCTAssertEqual(s.signalAverageLast["ref"], 78)
        XCTAssertEqual(s.signalAverage["other"], 70)
        XCTAssertEqual(s.signalAverage[FineTuneSummary.controlName], 74)
        // A difference inside the noise is not signal: SST-2 against a control at 76 (80 - 76 = 4 < 4.96).
        let close = [result("SST-2", ["sst2_acc": 76], majority: sst)]
        let t = try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref"],
                                                    results: ["ref": [results["ref"]![0]]], control: close,
                                                    controlDescription: "c"))
        XCTAssertEqual(t.tasks.map(\.signal), [false])
        // Correlations use the delta-method interval: r = 0.2 on 1,500 rows: 1.96·0.96/sqrt(1497) = 4.86 points.
        XCTAssertEqual(FineTuneSummary.noiseHalfWidth(["stsb_spearman": 20], rows: 1_500),
                       196 * 0.96 / 1_497.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(s.tasks.first { $0.task == "SST-2" }?.variants["other"]?.best["sst2_acc"], 70)
    }

    /// At the class prior (the reference equal to the majority floor) there is no signal, even with no control;
    /// a variant missing a task with signal gets no average rather than a partial one.
    func testTheClassPriorIsNoSignalAndPartialAveragesAreNotMade() throws {
        let results: [String: [FineTuneTaskResult]] = [
            "ref": [result("SST-2", ["sst2_acc": 50.9], majority: ["sst2_acc": 50.9]),
                    result("CoLA", ["cola_acc": 80], majority: ["cola_acc": 69.1])],
            "partial": [result("SST-2", ["sst2_acc": 60], majority: ["sst2_acc": 50.9])],
        ]
        let s = try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref",
                                                    variantOrder: ["ref", "partial"], results: results, control: nil,
                                                    controlDescription: ""))
        XCTAssertEqual(s.tasks.map(\.signal), [false, true])
        XCTAssertEqual(s.signalAverage["ref"], 80)
        XCTAssertNil(s.signalAverage["partial"], "partial has no CoLA run")
        XCTAssertNil(s.signalAverage[FineTuneSummary.controlName])
        XCTAssertNil(FineTuneSummary.build(benchmark: "GLUE", reference: "missing", variantOrder: ["ref"],
                                           results: results, control: nil, controlDescription: ""))
    }

    func seeded(_ task: String, _ metric: String, _ values: [Double], majority: Double) -> FineTuneTaskResult {
        let scores = values.enumerated().map {
            FineTuneTaskResult.SeedScore(seed: $0, best: [metric: $1], last: [metric: $1])
        }
        return FineTuneTaskResult.overSeeds(result(task, [metric: values[0]], majority: [metric: majority]), scores)
    }

    /// With fine-tuning seeds every value is the mean over seeds, and signal against the control also needs the
    /// paired interval of reference − control (seed by seed) above zero; hand-computed cases.
    func testSeedsAverageAndThePairedIntervalDecidesSignal() throws {
        // Means: 81 and 70. Paired differences 10, 11, 12: mean 11, sd 1, t(2) 4.303: ±2.484.
        let ref = seeded("SST-2", "sst2_acc", [80, 82, 81], majority: 50.9)
        XCTAssertEqual(ref.best["sst2_acc"], 81)
        XCTAssertEqual(ref.seeds?.count, 3)
        XCTAssertEqual(ref.primaryBySeed, [0: 80, 1: 82, 2: 81])
        let control = seeded("SST-2", "sst2_acc", [70, 71, 69], majority: 50.9)
        let s = try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref", "other"],
                                                    results: ["ref": [ref],
                                                              "other": [seeded("SST-2", "sst2_acc", [75, 79],
                                                                               majority: 50.9)]],
                                                    control: [control], controlDescription: "c"))
        let row = try XCTUnwrap(s.tasks.first)
        XCTAssertTrue(row.signal, row.noSignalReason ?? "")
        XCTAssertEqual(try XCTUnwrap(row.controlDifference), 11, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(row.controlDifferenceHalfWidth), 4.303 / 3.0.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(row.controlPairedSeeds, 3)
        XCTAssertEqual(row.referenceSeeds, 3)
        // Over seeds: "other" (seeds 0 and 1: 75, 79) against the reference's 80, 82: Δ −5 and −3, mean −4,
        // sd sqrt(2), t(1) 12.706 · sqrt(2)/sqrt(2) = ±12.706; the control's Δ −11 ± 2.48; the signal average per
        // seed too.
        let cs = try XCTUnwrap(s.seedComparisons)
        let other = try XCTUnwrap(cs.first { $0.variant == "other" && $0.metric == "sst2_acc" })
        XCTAssertEqual(other.mean, 77); XCTAssertEqual(other.pairedSeeds, 2)
        XCTAssertEqual(try XCTUnwrap(other.difference), -4, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(other.differenceHalfWidth), 12.706, accuracy: 1e-9)
        let c = try XCTUnwrap(cs.first { $0.variant == FineTuneSummary.controlName && $0.metric == "sst2_acc" })
        XCTAssertEqual(try XCTUnwrap(c.difference), -11, accuracy: 1e-12)
        XCTAssertEqual(cs.first { $0.variant == "ref" && $0.metric == "glue_avg_signal" }?.mean, 81)
        // Means far apart but seeds that disagree: differences 30, -11, 17 (mean 12 > the dev noise 4.96 of the
        // control) have a paired interval 12 ± 52.0 that includes zero: no signal, and the reason says so.
        let noisyRef = seeded("SST-2", "sst2_acc", [100, 60, 86], majority: 50.9)
        let t = try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref"],
                                                    results: ["ref": [noisyRef]], control: [control],
                                                    controlDescription: "c"))
        XCTAssertFalse(t.tasks[0].signal)
        XCTAssertTrue(try XCTUnwrap(t.tasks[0].noSignalReason).contains("over 3 paired seeds, 12.0 ± "),
                      t.tasks[0].noSignalReason ?? "")
        // Markdown shows the over-seeds table, and JSON keeps the seeds.
        var r = Report(tableID: .t3, title: "t", scale: .small)
        r.fineTuning = [s]
        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("| random-init control | sst2_acc | 3 | 70.0 ± 2.5 | -11.0 ± 2.5 | 3 |"), md)
        XCTAssertEqual(try ReportWriter.decode(try ReportWriter.json(r)).fineTuning, r.fineTuning)
        XCTAssertTrue(ReportWriter.csv(r).contains("finetune_seeds"))
    }

    /// The report's Markdown marks a task without signal and prints both floors.
    func testMarkdownMarksTasksWithoutSignal() throws {
        let results = ["ref": [result("SST-2", ["sst2_acc": 50.9], majority: ["sst2_acc": 50.9])]]
        var r = Report(tableID: .t3, title: "t", scale: .small)
        r.fineTuning = [try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref"],
                                                            results: results,
                                                            control: [result("SST-2", ["sst2_acc": 52],
                                                                             majority: ["sst2_acc": 50.9])],
                                                            controlDescription: "x"))]
        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("## Fine-tuning against its floors: GLUE"))
        XCTAssertTrue(md.contains("**no signal at this scale**"))
        XCTAssertTrue(md.contains("| SST-2 | sst2_acc | 500 | 4.4 | 50.9 | 52.0 / 52.0 | 50.9 / 50.9 |"), md)
        XCTAssertTrue(md.contains("No task has signal at this scale"))
        let back = try ReportWriter.decode(try ReportWriter.json(r))
        XCTAssertEqual(back.fineTuning, r.fineTuning)
    }
}
