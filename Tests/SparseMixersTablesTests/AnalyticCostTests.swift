import Foundation
import SparseMixersPaper
import SparseMixersTables
import XCTest

final class AnalyticCostTests: XCTestCase {
    func testTable8Rows() throws {
        let p = try PublishedNumbers.load()
        let rows = AnalyticCost.costRows(TableSpec.spec(.t8), published: p)
        XCTAssertEqual(rows.count, 6)
        let bert = rows.first { $0.variant == "BERT" && $0.metric == "gflops_per_ex" }!
        XCTAssertEqual(bert.ours!, 101.3, accuracy: 0.05)
        XCTAssertEqual(bert.published, 102)
        let smParams = rows.first { $0.variant == "Sparse Mixer" && $0.metric == "params_m" }!
        XCTAssertEqual(smParams.ours!, 182.4, accuracy: 0.05)
        XCTAssertEqual(smParams.published, 180)
    }

    func testFlopRatios() {
        let r = AnalyticCost.flopRatios(TableSpec.spec(.t1), training: true)
        XCTAssertEqual(r.count, 6)
        XCTAssertEqual(r["BERT Base (speed-up reference)"], 1)
        XCTAssertGreaterThan(r["Fourier"]!, 1)
        XCTAssertTrue(AnalyticCost.flopRatios(TableSpec.spec(.t16), training: true).isEmpty)
    }
}
