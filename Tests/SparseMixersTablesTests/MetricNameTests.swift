import Foundation
import XCTest
import SparseMixersData
import SparseMixersPaper

/// Metric names have one source (`MetricNames`, in the data module), which the fine-tuning grid, the variant runs and
/// the catalog read directly; this checks the names against the tasks' scores and published_numbers.csv.
final class MetricNameTests: XCTestCase {
    func testMetricNamesMatchThePublishedCSV() throws {
        XCTAssertEqual(MetricNames.paper(.cola, .validation, "accuracy"), "cola_acc")
        XCTAssertEqual(MetricNames.paper(.mnli, .validationMismatched, "accuracy"), "mnli_mm")
        XCTAssertEqual(MetricNames.paper(.stsb, .validation, "spearman"), "stsb_spearman")
        XCTAssertEqual(MetricNames.paper(.superglueRTE, .validation, "accuracy"), "sg_rte_acc")
        XCTAssertEqual(MetricNames.paper(.multirc, .validation, "f1a"), "multirc_f1a")
        XCTAssertEqual(MetricNames.official(.cola, .validation, "mcc"), "cola_mcc")
        let published = Set(MetricNames.glueAverageParts + MetricNames.superGLUEAverageParts)
        let ours = Set(SparseMixersData.Task.glueScored.flatMap { t in t.evaluationSplits.flatMap { s in
            ["accuracy", "f1", "spearman"].map { MetricNames.paper(t, s, $0) } } }
            + SparseMixersData.Task.superglueScored.flatMap { t in
                ["accuracy", "f1", "f1a", "em"].map { MetricNames.paper(t, .validation, $0) }
            })
        XCTAssert(published.isSubset(of: ours), "\(published.subtracting(ours))")
        // Every name of the averages is a metric of published_numbers.csv.
        let csv = Set(try PublishedNumbers.load().rows.map(\.metric))
        XCTAssert(published.union([MetricNames.glueAverage, MetricNames.superGLUEAverage]).isSubset(of: csv),
                  "\(published.subtracting(csv))")
    }
}
