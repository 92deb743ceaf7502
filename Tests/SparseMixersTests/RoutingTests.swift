import SparseMixersCore
import XCTest
@testable import SparseMixers

final class RoutingTests: XCTestCase {
    /// SPEC §2.7: one group, 6 tokens, 3 experts, C = 2.
    let probs: [Float] = [0.5, 0.3, 0.2, 0.6, 0.3, 0.1, 0.7, 0.2, 0.1, 0.2, 0.5, 0.3, 0.1, 0.1, 0.8, 0.4, 0.35, 0.25]

    /// combine weight per token (summed over experts) and the (token → [expert: weight]) map.
    func combine(_ d: RoutingDecision) -> [Int: [Int: Float]] {
        var m: [Int: [Int: Float]] = [:]
        for e in 0..<d.numExperts { for j in 0..<d.count[e] {
            let i = e * d.slotsPerExpert + j
            m[Int(d.token[i]), default: [:]][e] = d.weight[i]
        } }
        return m
    }

    func testGroupAndCapacityRules() {
        XCTAssertEqual(Routing.numGroups(tokens: 32, maxGroupSize: 8), 4)
        XCTAssertEqual(Routing.numGroups(tokens: 32, maxGroupSize: 16), 2)
        XCTAssertEqual(Routing.numGroups(tokens: 32, maxGroupSize: 3), 16)
        XCTAssertEqual(Routing.numGroups(tokens: 32, maxGroupSize: 32), 1)
        XCTAssertEqual(Routing.numGroups(tokens: 32, maxGroupSize: 64), 1)
        XCTAssertEqual(Routing.numGroups(tokens: 32, maxGroupSize: 12), 2)   // group of 16 > 12: the floor quirk
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 4096, experts: 16, minCapacity: 4), 256)
        XCTAssertEqual(Routing.capacity(factor: 0.75, tokensPerGroup: 4096, experts: 16, minCapacity: 4), 192)
        XCTAssertEqual(Routing.capacity(factor: 0.5, tokensPerGroup: 4096, experts: 16, minCapacity: 4), 128)
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 4096, experts: 64, minCapacity: 4), 64)
        // 2.5 → 2 (half-even)
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 10, experts: 4, minCapacity: 1), 2)
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 14, experts: 4, minCapacity: 1), 4)  // 3.5 → 4
        XCTAssertEqual(Routing.capacity(factor: 0.1, tokensPerGroup: 16, experts: 4, minCapacity: 4), 4)
    }

    func testWorkedExampleTokensChooseWithBPR() {
        let d = RoutingDecision.tokensChoose(probs: probs, tokens: 6, experts: 3, groups: 1, capacity: 2, k: 1,
                                             batchPrioritized: true)
        let c = combine(d)
        XCTAssertEqual(Set(c.keys), [1, 2, 3, 4])
        XCTAssertEqual(c[1], [0: 0.6]); XCTAssertEqual(c[2], [0: 0.7]); XCTAssertEqual(c[3], [1: 0.5])
        XCTAssertEqual(c[4], [2: 0.8])
        // slots: t2 → e0 slot 0, t1 → e0 slot 1
        XCTAssertEqual(Array(d.token[0..<2]), [2, 1]); XCTAssertEqual(Array(d.position[0..<2]), [0, 1])
        // aux = E² · mean_e f·P = 1.125
        var aux = 0.0
        for e in 0..<3 {
            let f = Double(d.topKCounts[e]) / 6
            let P = (0..<6).reduce(0.0) { $0 + Double(probs[$1 * 3 + e]) } / 6
            aux += f * P
        }
        XCTAssertEqual(9 * aux / 3, 1.125, accuracy: 1e-6)
    }

    func testWorkedExampleTokensChooseWithoutBPR() {
        let d = RoutingDecision.tokensChoose(probs: probs, tokens: 6, experts: 3, groups: 1, capacity: 2, k: 1,
                                             batchPrioritized: false)
        let c = combine(d)
        XCTAssertEqual(Set(c.keys), [0, 1, 3, 4])
        XCTAssertEqual(c[0], [0: 0.5]); XCTAssertEqual(c[1], [0: 0.6]); XCTAssertEqual(c[3], [1: 0.5])
        XCTAssertEqual(c[4], [2: 0.8])
    }

    func testWorkedExampleExpertsChoose() {
        let d = RoutingDecision.expertsChoose(probs: probs, tokens: 6, experts: 3, groups: 1, capacity: 2)
        XCTAssertEqual(Array(d.token[0..<2]), [2, 1]); XCTAssertEqual(Array(d.weight[0..<2]), [0.7, 0.6])
        XCTAssertEqual(Array(d.token[2..<4]), [3, 5]); XCTAssertEqual(Array(d.weight[2..<4]), [0.5, 0.35])
        XCTAssertEqual(Array(d.token[4..<6]), [4, 3]); XCTAssertEqual(Array(d.weight[4..<6]), [0.8, 0.3])
        let c = combine(d)
        XCTAssertNil(c[0]); XCTAssertEqual(c[3], [1: 0.5, 2: 0.3])
    }

    func testExpertsChooseTiesGoToLowerIndex() {
        let p: [Float] = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]   // 4 tokens, 2 experts, all tied
        let d = RoutingDecision.expertsChoose(probs: p, tokens: 4, experts: 2, groups: 1, capacity: 2)
        XCTAssertEqual(Array(d.token[0..<2]), [0, 1]); XCTAssertEqual(Array(d.token[2..<4]), [0, 1])
    }

    /// Random property tests: capacity respected, EC fills exactly C, TC tokens sit in at most k experts, combine
    /// weights equal router probabilities, slots unique and in order.
    func testRoutingInvariantsOnRandomInputs() {
        var r = RNG(seed: 2024)
        for trial in 0..<60 {
            let E = 2 + r.int(6), G = 1 + r.int(3), Tg = 4 + r.int(20), T = G * Tg
            let C = 1 + r.int(Tg), k = 1 + r.int(min(E, 3))
            var p = [Float](repeating: 0, count: T * E)
            for t in 0..<T {
                var s: Float = 0
                for e in 0..<E { p[t * E + e] = Float(r.int(8)) + r.uniform(); s += p[t * E + e] }   // some near-ties
                for e in 0..<E { p[t * E + e] /= s }
            }
            for ec in [true, false] {
                let d = ec ? RoutingDecision.expertsChoose(probs: p, tokens: T, experts: E, groups: G, capacity: C)
                           : RoutingDecision.tokensChoose(probs: p, tokens: T, experts: E, groups: G, capacity: C, k: k,
                                                          batchPrioritized: trial % 2 == 0)
                var perToken = [Int](repeating: 0, count: T)
                for e in 0..<E {
                    XCTAssertLessThanOrEqual(d.count[e], G * C)
                    if ec { XCTAssertEqual(d.count[e], G * C) }
                    var perGroup = [Int](repeating: 0, count: G)
                    var lastPos = -1
                    for j in 0..<d.count[e] {
                        let i = e * d.slotsPerExpert + j
                        let t = Int(d.token[i]), pos = Int(d.position[i])
                        XCTAssertEqual(d.weight[i], p[t * E + e])
                        XCTAssertEqual(pos / C, t / Tg, "slot in the token's own group")
                        XCTAssertGreaterThan(pos, lastPos); lastPos = pos
                        perGroup[t / Tg] += 1
                        perToken[t] += 1
                    }
                    for g in 0..<G { XCTAssertLessThanOrEqual(perGroup[g], C) }
                }
                if !ec { for t in 0..<T { XCTAssertLessThanOrEqual(perToken[t], k) } }
            }
        }
    }
}
