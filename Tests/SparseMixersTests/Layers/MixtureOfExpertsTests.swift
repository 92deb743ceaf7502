import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/MixtureOfExperts.swift: router, dispatch, one FFN per expert, combine, and the load-balancing and z losses.
/// The output checked is (y, aux, z), so the loss ⟨r, ·⟩ weighs the auxiliary losses by r's last two entries, which
/// the backward takes as its factors. Routing is piecewise constant: a difference that changes a decision is skipped.
final class MixtureOfExpertsTests: XCTestCase {
    func check(expertsChoose: Bool, k: Int = 1, expertDropout: Float = 0, keepsGeluGrad: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) {
        let T = 8, D = 4, E = 3, F = 5, C = 3
        let s = MoESettings(groups: 1, capacity: C, expertsChoose: expertsChoose, k: k, batchPrioritized: true,
                            jitterNoise: 0, expertDropout: expertDropout, keepsGeluGrad: keepsGeluGrad)
        // params: router W [D, E], b [E]; w1 [E, D, F], b1 [E, F], w2 [E, F, D], b2 [E, D]
        let router = DenseParams(kernel: 0, bias: D * E, nIn: D, nOut: E)
        let w1 = D * E + E, b1 = w1 + E * D * F, w2 = b1 + E * F, b2 = w2 + E * F * D, count = b2 + E * D
        let p = MoEParams(router: router, w1: w1, b1: b1, w2: w2, b2: b2, experts: E, dModel: D, dFF: F)
        let arena = FloatArena(count: 8192)
        var carver = ArenaCarver(arena: arena)
        let cache = MoECache(&carver, tokens: T, dModel: D, experts: E, dFF: F, maxSlotsPerExpert: C,
                             dropout: expertDropout > 0, jitter: false)
        let work = carver.take(max(2 * E * C * D, T * D)), dLogits = carver.take(T * E)
        func forward(_ v: [[Float]]) -> [Float] {
            var y = [Float](repeating: 0, count: T * D), params = v[1]
            moeForward(&y, cache, v[0], tokens: T, p, &params, s, dropoutSeed: expertDropout > 0 ? 3 : nil)
            return y + [cache.stats.auxLoss, cache.stats.zLoss]
        }
        func decision() -> [[Int32]] {
            guard let d = cache.decision else { return [] }
            return [d.count.map(Int32.init), d.token, d.position, d.topKCounts.map(Int32.init)]
        }
        var router0 = testValues(count, seed: 2)
        for i in 0..<(D * E) { router0[i] *= 3 }   // spread the router's probabilities apart
        _ = forward([testValues(T * D, seed: 1, scale: 2), router0])
        let base = decision()
        checkGradients([("x", testValues(T * D, seed: 1, scale: 2)), ("params", router0)], h: 1e-2, tolerance: 3e-2,
                       forward: forward,
                       backward: { v, dy, g in
                           _ = forward(v)
                           var params = v[1], dx = g[0], grads = g[1]
                           moeBackward(dh: &dx, dOut: dy, cache, v[0], tokens: T, p, &params, &grads, s,
                                       auxFactor: dy[T * D], zFactor: dy[T * D + 1], dropout: expertDropout > 0,
                                       work: work, dLogits: dLogits)
                           g = [dx, grads]
                       },
                       unchanged: { decision() == base }, file: file, line: line)
    }

    func testExpertsChooseBackwardMatchesFiniteDifferences() { check(expertsChoose: true) }
    func testTokensChooseBackwardMatchesFiniteDifferences() { check(expertsChoose: false) }
    func testTokensChooseTop2WithExpertDropoutBackwardMatchesFiniteDifferences() {
        check(expertsChoose: false, k: 2, expertDropout: 0.3)
    }
    /// The training settings' path: the experts keep gelu' in the forward for the backward.
    func testBackwardFromTheKeptGeluGradMatchesFiniteDifferences() {
        check(expertsChoose: true, keepsGeluGrad: true)
        check(expertsChoose: false, k: 2, expertDropout: 0.3, keepsGeluGrad: true)
    }
}
