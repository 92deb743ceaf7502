import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/LayerNorm.swift: y = (x − mean)/√(var + eps)·scale + bias over the last axis.
final class LayerNormTests: XCTestCase {
    func testBackwardMatchesFiniteDifferences() {
        let N = 5, C = 7   // x (N, C), scale and bias (C)
        func run(_ v: [[Float]]) -> (y: [Float], mean: [Float], rstd: [Float]) {
            var y = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
            layerNormForward(&y, mean: &mean, rstd: &rstd, v[0], scale: v[1], bias: v[2], rows: N, cols: C)
            return (y, mean, rstd)
        }
        checkGradients([("x", testValues(N * C, seed: 1, scale: 2)),
                        ("scale", testValues(C, seed: 2).map { 1 + 0.3 * $0 }), ("bias", testValues(C, seed: 3))],
                       forward: { run($0).y },
                       backward: { v, dy, g in
                           let f = run(v)
                           var dx = g[0], ds = g[1], db = g[2]
                           layerNormBackward(dx: &dx, dscale: &ds, dbias: &db, dy: dy, x: v[0], mean: f.mean,
                                             rstd: f.rstd, scale: v[1], rows: N, cols: C)
                           g = [dx, ds, db]
                       })
    }
}
