import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/Attention.swift: multi-head self-attention with the padding mask (the second example ends in a pad).
final class AttentionTests: XCTestCase {
    func check(dropout: Float, file: StaticString = #filePath, line: UInt = #line) {
        let B = 2, L = 4, D = 4, H = 2, T = B * L
        let ids: [Int32] = [5, 3, 7, 2, 4, 6, 1, 0]   // pad id 0
        func dense(_ k: Int) -> DenseParams {
            DenseParams(kernel: k * (D * D + D), bias: k * (D * D + D) + D * D, nIn: D, nOut: D)
        }
        // params: 4 × (W [D, D], b [D])
        let p = AttentionParams(query: dense(0), key: dense(1), value: dense(2), out: dense(3))
        let arena = FloatArena(count: 8192)
        var carver = ArenaCarver(arena: arena)
        let cache = AttentionCache(&carver, batch: B, seq: L, dModel: D, heads: H, dropout: dropout > 0)
        let scratch = AttentionScratch(&carver, seq: L, threads: max(Parallel.threads, 1))
        let work = carver.take(4 * T * D)
        func forward(_ v: [[Float]]) -> [Float] {
            var y = [Float](repeating: 0, count: T * D), params = v[1]
            attentionForward(&y, cache, v[0], ids: ids, padId: 0, batch: B, seq: L, dModel: D, heads: H, p, &params,
                             dropoutRate: dropout, dropoutSeed: dropout > 0 ? 4 : nil, scratch: scratch)
            return y
        }
        checkGradients([("x", testValues(T * D, seed: 1)), ("params", testValues(4 * (D * D + D), seed: 2))],
                       forward: forward,
                       backward: { v, dy, g in
                           _ = forward(v)
                           var params = v[1], dx = g[0], grads = g[1]
                           attentionBackward(dx: &dx, dOut: dy, cache, v[0], ids: ids, padId: 0, batch: B, seq: L,
                                             dModel: D, heads: H, p, &params, &grads, dropout: dropout > 0, work: work,
                                             scratch: scratch)
                           g = [dx, grads]
                       }, file: file, line: line)
    }

    func testBackwardMatchesFiniteDifferences() { check(dropout: 0) }
    func testBackwardWithDropoutMatchesFiniteDifferences() { check(dropout: 0.3) }
}
