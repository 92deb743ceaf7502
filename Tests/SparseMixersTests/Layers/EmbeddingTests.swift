import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/Embedding.swift: Dropout(LayerNorm(word[ids] + position + type[typeIds])·W_in + b_in). Ids repeat, so the
/// scatter-add of the tables' gradients is exercised.
final class EmbeddingTests: XCTestCase {
    func check(dropout: Float, file: StaticString = #filePath, line: UInt = #line) {
        let B = 2, L = 3, V = 5, De = 4, D = 3, T = B * L
        let ids: [Int32] = [1, 4, 1, 0, 2, 4], types: [Int32] = [0, 0, 1, 0, 1, 1]
        // params: word [V, De], position [L, De], type [2, De], LN scale and bias [De], W_in [De, D], b_in [D]
        let word = 0, position = V * De, type = position + L * De, lnScale = type + 2 * De, lnBias = lnScale + De
        let kernel = lnBias + De, bias = kernel + De * D, count = bias + D
        let p = EmbeddingParams(word: word, position: position, type: type, lnScale: lnScale, lnBias: lnBias,
                                projection: DenseParams(kernel: kernel, bias: bias, nIn: De, nOut: D))
        let arena = FloatArena(count: 4096), accumulatorArena = FloatArena(count: 1024)
        var carver = ArenaCarver(arena: arena), accumulators = ArenaCarver(arena: accumulatorArena)
        let cache = EmbeddingCache(&carver, accumulators: &accumulators, tokens: T, dEmb: De, dModel: D,
                                   dropout: dropout > 0)
        var initial = testValues(count, seed: 3)
        for c in 0..<De { initial[lnScale + c] += 1 }
        func forward(_ v: [[Float]]) -> [Float] {
            var params = v[0]
            embeddingForward(cache, ids: ids, typeIds: types, batch: B, seq: L, dEmb: De, dModel: D, p, &params,
                             dropoutRate: dropout, dropoutSeed: dropout > 0 ? 6 : nil)
            return Array(UnsafeBufferPointer(start: cache.output, count: T * D))
        }
        checkGradients([("params", initial)],
                       forward: forward,
                       backward: { v, dy, g in
                           _ = forward(v)
                           var params = v[0], grads = g[0]
                           embeddingBackward(cache, dOut: dy, ids: ids, typeIds: types, batch: B, seq: L, dEmb: De,
                                             dModel: D, p, &params, &grads, dropout: dropout > 0)
                           g = [grads]
                       }, file: file, line: line)
    }

    func testBackwardMatchesFiniteDifferences() { check(dropout: 0) }
    func testBackwardWithDropoutMatchesFiniteDifferences() { check(dropout: 0.3) }
}
