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
        let s = try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref", "partial"],
                                                    results: results, control: nil, controlDescription: ""))
        XCTAssertEqual(s.tasks.map(\.signal), [false, true])
        XCTAssertEqual(s.signalAverage["ref"], 80)
        XCTAssertNil(s.signalAverage["partial"], "partial has no CoLA run")
        XCTAssertNil(s.signalAverage[FineTuneSummary.controlName])
        XCTAssertNil(FineTuneSummary.build(benchmark: "GLUE", reference: "missing", variantOrder: ["ref"], results: results,
                                           control: nil, controlDescription: ""))
    }

    /// The report's Markdown marks a task without signal and prints both floors.
    func testMarkdownMarksTasksWithoutSignal() throws {
        let results = ["ref": [result("SST-2", ["sst2_acc": 50.9], majority: ["sst2_acc": 50.9])]]
        var r = Report(tableID: .t3, title: "t", scale: .small)
        r.fineTuning = [try XCTUnwrap(FineTuneSummary.build(benchmark: "GLUE", reference: "ref", variantOrder: ["ref"],
                                                             results: results, control: [result("SST-2", ["sst2_acc": 52], majority: ["sst2_acc": 50.9])],
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
