import Foundation
import XCTest
import SparseMixersPaper
@testable import SparseMixersTables

final class SpeedBaselineTests: XCTestCase {
    let shape = "B=8 L=64 scale=ci"

    func baseline() -> SpeedBaseline {
        SpeedBaseline(name: "Table8", referenceVariant: "BERT", scale: .ci, tolerance: 0.10,
                      entries: ["Sparse Mixer": .init(speedup: 1.60, shape: shape),
                                "Fast Sparse Mixer": .init(speedup: 1.90, shape: shape, tolerance: 0.05)])
    }

    func m(_ v: String, _ s: Double, shape: String? = nil) -> MeasuredSpeedup {
        MeasuredSpeedup(variant: v, speedup: s, shape: shape ?? self.shape)
    }

    func testWithinTolerancePasses() {
        XCTAssertEqual(baseline().compare([m("Sparse Mixer", 1.50), m("Fast Sparse Mixer", 1.95)]), [])
        XCTAssertEqual(baseline().compare([m("Sparse Mixer", 1.70), m("Fast Sparse Mixer", 1.81)]), [])
    }

    func testRegressionIsFlagged() {
        let f = baseline().compare([m("Sparse Mixer", 1.30), m("Fast Sparse Mixer", 1.90)])
        XCTAssertEqual(f.count, 1)
        XCTAssertEqual(f[0].variant, "Sparse Mixer")
        XCTAssertEqual(f[0].kind, .slower)
        XCTAssertEqual(f[0].relativeDifference!, (1.30 - 1.60) / 1.60, accuracy: 1e-12)
        XCTAssertTrue(f[0].description.contains("slower"))
        // The per-variant tolerance (5%) applies to FSM: 1.78 is 6.3% slower.
        XCTAssertEqual(baseline().compare([m("Sparse Mixer", 1.6), m("Fast Sparse Mixer", 1.78)]).map(\.kind),
                       [.slower])
    }

    func testFasterMissingShapeAndInvalid() {
        let b = baseline()
        XCTAssertEqual(b.compare([m("Sparse Mixer", 2.0), m("Fast Sparse Mixer", 1.9)]).map(\.kind), [.faster])
        XCTAssertEqual(b.compare([m("Sparse Mixer", 2.0), m("Fast Sparse Mixer", 1.9)], regressionsOnly: true), [])
        XCTAssertEqual(b.compare([m("Sparse Mixer", 1.6)]).map(\.kind), [.missing])
        XCTAssertEqual(b.compare([m("Sparse Mixer", 1.6, shape: "B=16 L=64"), m("Fast Sparse Mixer", 1.9)]).map(\.kind),
                       [.shapeMismatch])
        XCTAssertEqual(b.compare([m("Sparse Mixer", .nan), m("Fast Sparse Mixer", 1.9)]).map(\.kind), [.invalid])
        XCTAssertEqual(b.unbaselined([m("Sparse Mixer", 1.6), m("New", 1)]), ["New"])
    }

    func testWriteLoadAndRefresh() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baseline-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("speed-baseline.json")
        try baseline().write(to: url)
        XCTAssertEqual(try SpeedBaseline.load(from: url), baseline())

        let fresh = try SpeedBaseline.refresh(at: url, name: "Table8", referenceVariant: "BERT", scale: .ci,
                                              tolerance: 0.15,
                                              measured: [m("Sparse Mixer", 1.55), m("Fast Sparse Mixer", 1.85)],
                                              provenance: "test")
        XCTAssertEqual(fresh.entries["Sparse Mixer"]?.speedup, 1.55)
        XCTAssertEqual(fresh.entries["Fast Sparse Mixer"]?.tolerance, 0.05)  // kept from the old file
        XCTAssertEqual(try SpeedBaseline.load(from: url), fresh)
        XCTAssertEqual(fresh.compare([m("Sparse Mixer", 1.55), m("Fast Sparse Mixer", 1.85)]), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["speed-baseline.json"])
    }
}
