import Foundation
import XCTest
@testable import SparseMixersReports

/// The interval arithmetic of the accuracy columns on hand-computed cases.
final class SeedStatisticsTests: XCTestCase {
    func testTQuantiles() {
        XCTAssertEqual(SeedStatistics.t975(df: 1), 12.706, accuracy: 1e-9)
        XCTAssertEqual(SeedStatistics.t975(df: 2), 4.303, accuracy: 1e-9)
        XCTAssertEqual(SeedStatistics.t975(df: 30), 2.042, accuracy: 1e-9)
        XCTAssertEqual(SeedStatistics.t975(df: 1_000), 1.96, accuracy: 0.01)
    }

    func testMeanInterval() {
        // 1, 2, 3: mean 2, sample sd 1, standard error 1/sqrt(3), t(2) = 4.303.
        let (m, h) = SeedStatistics.meanInterval([1, 2, 3])
        XCTAssertEqual(m, 2, accuracy: 1e-12)
        XCTAssertEqual(h!, 4.303 / 3.0.squareRoot(), accuracy: 1e-9)
        let one = SeedStatistics.meanInterval([7.5])
        XCTAssertEqual(one.mean, 7.5)
        XCTAssertNil(one.halfWidth)
    }

    func testWilson() {
        // 50 of 100: 0.4038-0.5962 (Wilson 1927, z = 1.96).
        let w = SeedStatistics.wilson(successes: 50, trials: 100)
        XCTAssertEqual(w.low, 0.40383, accuracy: 1e-4)
        XCTAssertEqual(w.high, 0.59617, accuracy: 1e-4)
        // 0 of 20: the interval starts at 0 and is not degenerate (unlike the Wald interval).
        let z = SeedStatistics.wilson(successes: 0, trials: 20)
        XCTAssertEqual(z.low, 0, accuracy: 1e-12)
        XCTAssertEqual(z.high, 0.16113, accuracy: 1e-4)
        let r = SeedRun(variant: "v", seed: 0, metric: "mlm_acc", value: 50, count: 100)
        XCTAssertEqual(r.wilsonLow!, 40.383, accuracy: 1e-2)
    }

    func testVerdicts() {
        XCTAssertEqual(SeedStatistics.verdict(difference: -1.9, halfWidth: 1.27, paper: -1.1), .sameSignResolved)
        XCTAssertEqual(SeedStatistics.verdict(difference: 1.9, halfWidth: 1.27, paper: -1.1), .oppositeSignResolved)
        XCTAssertEqual(SeedStatistics.verdict(difference: -1.0, halfWidth: 1.27, paper: -1.1), .notResolved)
        XCTAssertEqual(SeedStatistics.verdict(difference: -1.0, halfWidth: nil, paper: -1.1), .notResolved)
        XCTAssertEqual(SeedStatistics.verdict(difference: -1.0, halfWidth: 0.1, paper: nil), .notApplicable)
    }

    /// Differences are paired by seed: a constant offset between two noisy variants is resolved although the
    /// variants' own intervals overlap.
    func testPairedComparison() {
        var runs: [SeedRun] = []
        for (seed, x) in [10.0, 11.0, 12.0].enumerated() {
            runs.append(SeedRun(variant: "ref", seed: seed, metric: "mlm_acc", value: x, count: nil))
        }
        for (seed, x) in [8.0, 9.2].enumerated() {
            runs.append(SeedRun(variant: "small", seed: seed, metric: "mlm_acc", value: x, count: nil))
        }
        let published = ["ref": 63.6, "small": 62.5]
        let cs = SeedStatistics.compare(runs: runs, variants: ["ref", "small"], reference: "ref") { v, _ in
            published[v]
        }
        XCTAssertEqual(cs.count, 2)
        XCTAssertEqual(cs[0].verdict, .notApplicable)
        XCTAssertEqual(cs[0].seeds, 3)
        XCTAssertEqual(cs[0].mean, 11, accuracy: 1e-12)
        let c = cs[1]
        XCTAssertEqual(c.pairedSeeds, 2)
        // Differences -2 and -1.8: mean -1.9, sd 0.1414, se 0.1, t(1) 12.706.
        XCTAssertEqual(c.difference!, -1.9, accuracy: 1e-12)
        XCTAssertEqual(c.differenceHalfWidth!, 1.2706, accuracy: 1e-9)
        XCTAssertEqual(c.paperDifference!, -1.1, accuracy: 1e-12)
        XCTAssertEqual(c.verdict, .sameSignResolved)
        // Unpaired, the two means' intervals overlap: the variant's own interval is 8.6 +- 7.6.
        XCTAssertGreaterThan(c.halfWidth!, 7)
    }

    func testReportShowsSeedsAndFloors() {
        var r = Report(tableID: .t3, title: "t", scale: .small)
        r.seedRuns = [SeedRun(variant: "ref", seed: 0, metric: "mlm_acc", value: 12, count: 30_000)]
        r.comparisons = SeedStatistics.compare(runs: r.seedRuns!, variants: ["ref"], reference: "ref") { _, _ in nil }
        r.accuracyReference = "ref"
        r.mlmFloor = 5; r.nspFloor = 51
        r.curves = [LearningCurve(variant: "ref", seed: 0, points: [
            .init(step: 10, tokens: 1e6, seconds: 30, mlmAccuracy: 6, nspAccuracy: 50),
            .init(step: 20, tokens: 2e6, seconds: 60, mlmAccuracy: 12, nspAccuracy: 52)])]
        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("Pre-training accuracy over seeds (reference: ref)"))
        XCTAssertTrue(md.contains("MLM 5.00%"))
        XCTAssertTrue(md.contains("| ref | mlm_acc | 1 | 12.00 (1 seed) | 2.40 | reference |"))
        let svgs = ReportWriter.curveSVGs(r)!
        XCTAssertTrue(svgs.tokens.contains("<polyline"))
        XCTAssertTrue(svgs.seconds.contains("seconds in training steps"))
    }
}
