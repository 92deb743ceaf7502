import Foundation
import XCTest
import SparseMixersData
import SparseMixersTraining
import SparseMixersPaper
@testable import SparseMixersTables

/// Metric names have one source (`MetricNames`, in the data module); these check every list that still spells
/// them out against it, and the names against published_numbers.csv. (Here because they read every layer.)
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

    /// The lists the fine-tuning grid and the variant runs still spell out agree with `MetricNames`, the one
    /// source, and so does the catalog's (until those files read it directly).
    func testEveryListOfMetricNamesIsTheOneSource() {
        XCTAssertEqual(FineTuneGrid.glueAverageMetrics, MetricNames.glueAverageParts)
        XCTAssertEqual(FineTuneGrid.superglueAverageMetrics, MetricNames.superGLUEAverageParts)
        XCTAssertEqual(VariantAccuracy.glueTaskMetrics, Set(MetricNames.glueAverageParts + [MetricNames.glueAverage]))
        XCTAssertEqual(VariantAccuracy.superglueTaskMetrics,
                       Set(MetricNames.superGLUEAverageParts + [MetricNames.superGLUEAverage]))
        XCTAssertEqual(Metric.glueTasks, MetricNames.glueAverageParts)
        XCTAssertEqual(Metric.superGLUE, MetricNames.superGLUEAverageParts + ["superglue_avg"])
    }
}
