import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/FeedForward.swift: FFN(x) = Dropout(W2·gelu(W1·x + b1) + b2).
final class FeedForwardTests: XCTestCase {
    /// `keep`: the training forward's path, gelu' kept in the cache for the backward.
    func check(dropout: Float, keep: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let N = 6, D = 4, F = 5
        // params: W1 [D, F], b1 [F], W2 [F, D], b2 [D]
        let p = FFNParams(w1: DenseParams(kernel: 0, bias: D * F, nIn: D, nOut: F),
                          w2: DenseParams(kernel: D * F + F, bias: 2 * D * F + F, nIn: F, nOut: D))
        let arena = FloatArena(count: 4096)
        var carver = ArenaCarver(arena: arena)
        let cache = FFNCache(&carver, rows: N, dModel: D, dFF: F, dropout: dropout > 0)
        let work = carver.take(N * D)
        func forward(_ v: [[Float]]) -> [Float] {
            var y = [Float](repeating: 0, count: N * D), params = v[1]
            ffnForward(&y, cache, v[0], rows: N, p, &params, dropoutRate: dropout, dropoutSeed: dropout > 0 ? 9 : nil,
                       keepGeluGrad: keep)
            return y
        }
        checkGradients([("x", testValues(N * D, seed: 1)), ("params", testValues(2 * D * F + F + D, seed: 2))],
                       forward: forward,
                       backward: { v, dy, g in
                           _ = forward(v)
                           var params = v[1], dx = g[0], grads = g[1]
                           ffnBackward(dx: &dx, dOut: dy, cache, v[0], rows: N, p, &params, &grads,
                                       dropout: dropout > 0, geluGradKept: keep, work: work)
                           g = [dx, grads]
                       }, file: file, line: line)
    }

    func testBackwardMatchesFiniteDifferences() { check(dropout: 0, keep: false) }
    func testBackwardWithDropoutMatchesFiniteDifferences() { check(dropout: 0.3, keep: false) }
    func testBackwardFromTheKeptGeluGradMatchesFiniteDifferences() {
        check(dropout: 0, keep: true); check(dropout: 0.3, keep: true)
    }
}
