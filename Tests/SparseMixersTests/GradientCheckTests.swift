import SparseMixersCore
import XCTest
@testable import SparseMixers

/// Central finite differences of the total loss against the hand-written backward, for every tensor of every
/// layer kind (each tensor's gradient flows through the backward of every layer below it).
final class GradientCheckTests: XCTestCase {
    /// Checks `samples` elements of every tensor; returns the worst relative error.
    func check(_ config: ModelConfig, head: ModelHead = .pretraining, classes: Int? = nil, training: Bool = true,
               h: Float = 1e-2, tolerance: Double = 1e-2, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Model(config: config, head: head, seed: 11)
        Tiny.enliven(m)
        let batch = Tiny.batch(config, classes: classes)
        let base = try m.forward(batch, training: training, dropoutSeed: 5)
        XCTAssertTrue(base.totalLoss.isFinite)
        m.zeroGradients()
        m.backward()
        // Routing is piecewise constant: a difference across a changed routing decision measures a jump, not a
        // slope. Each difference must leave every MoE decision as it was; otherwise the step shrinks.
        // The discrete part of each decision: who went where (the combine weights move with any step).
        func decisions() -> [[[Int32]]] {
            m.workspace!.blocks.compactMap { $0.moe?.decision }.map { d in
                [d.count.map(Int32.init), d.token, d.position, d.topKCounts.map(Int32.init)]
            }
        }
        let baseDecisions = decisions()
        var r = RNG(seed: 99)
        var checked = 0, unstable = 0
        for t in m.layout.tensors {
            let picks = Set((0..<min(t.count, 4)).map { _ in r.int(t.count) })
            for i in picks {
                let p = m.params.base + t.offset + i
                let saved = p.pointee
                func central(_ step: Float) throws -> Double? {
                    defer { p.pointee = saved }
                    p.pointee = saved + step
                    let up = try m.forward(batch, training: training, dropoutSeed: 5).totalLoss
                    if decisions() != baseDecisions { return nil }
                    p.pointee = saved - step
                    let down = try m.forward(batch, training: training, dropoutSeed: 5).totalLoss
                    if decisions() != baseDecisions { return nil }
                    return (up - down) / Double(2 * step)
                }
                // Richardson extrapolation cancels the h² term of the central difference.
                var fd: Double? = nil
                var step = h
                while fd == nil && step >= h / 64 {
                    if let a = try central(step / 2), let b = try central(step) { fd = (4 * a - b) / 3 }
                    step /= 4
                }
                guard let fd else { unstable += 1; continue }
                let an = Double(m.grads.base[t.offset + i])
                let err = abs(fd - an) / max(abs(fd), abs(an), 1e-2)
                XCTAssertLessThan(err, tolerance, "\(t.name)[\(i)]: finite difference \(fd) vs backward \(an)",
                                  file: file, line: line)
                checked += 1
            }
        }
        XCTAssertLessThanOrEqual(unstable, checked / 20, "too many elements sit on a routing boundary", file: file,
                                 line: line)
        XCTAssertGreaterThan(checked, 10, file: file, line: line)
    }

    func testBERT() throws { try check(Tiny.config(.bert, attention: 2)) }
    func testBERTWithDropout() throws { try check(Tiny.config(.bert, attention: 2, dropout: 0.2)) }
    func testFourier() throws { try check(Tiny.config(.fNet)) }
    func testHartley() throws { try check(Tiny.config(.hNet)) }
    func testLinear() throws { try check(Tiny.config(.linear)) }
    func testCirculant() throws { try check(Tiny.config(.cNet)) }
    func testToeplitz() throws { try check(Tiny.config(.tNet)) }
    func testHybridWithDropout() throws { try check(Tiny.config(.hNet, layers: 3, attention: 1, dropout: 0.1)) }

    // MoE: small perturbations so no routing decision flips (a flip shows up as a gross mismatch).
    func testExpertsChoose() throws {
        try check(Tiny.config(.linear, layers: 3, attention: 1, moe: 1), h: 2e-3, tolerance: 3e-2)
    }
    func testTokensChoose() throws {
        try check(Tiny.config(.linear, layers: 3, attention: 1, moe: 1, router: .maskTokensChoose), h: 2e-3,
                  tolerance: 3e-2)
    }
    func testTokensChooseTop2WithExpertDropout() throws {
        var c = Tiny.config(.linear, layers: 3, attention: 1, moe: 1, router: .maskTokensChoose, dropout: 0.1)
        c.numSelectedExperts = 2
        try check(c, h: 2e-3, tolerance: 3e-2)
    }
    func testClassificationHead() throws {
        try check(Tiny.config(.linear, layers: 2, attention: 1), head: .classification(outputs: 3), classes: 3)
    }
    func testRegressionHeadWithMoE() throws {
        try check(Tiny.config(.linear, layers: 3, attention: 1, moe: 1), head: .classification(outputs: 1), classes: 1,
                  h: 2e-3, tolerance: 3e-2)
    }
}
