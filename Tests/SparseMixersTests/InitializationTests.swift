import XCTest
import Foundation
@testable import SparseMixers
import SparseMixersCore

/// The normal generator (ziggurat) against the standard normal CDF, and the parameter initialisation built on it.
final class InitializationTests: XCTestCase {
    static func phi(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    func testZigguratDrawsFollowTheStandardNormal() {
        var r = RNG(seed: 42)
        let n = 1_000_000
        var z = [Double](repeating: 0, count: n)
        for i in 0..<n { z[i] = Double(r.normal()) }
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.005)          // standard error 0.001
        XCTAssertEqual(variance, 1, accuracy: 0.01)       // standard error 0.0014
        // Kolmogorov-Smirnov distance to Φ; 1.63/sqrt(n) is the 1% critical value.
        z.sort()
        var d = 0.0
        for (i, x) in z.enumerated() {
            let f = Self.phi(x)
            d = max(d, abs(f - Double(i) / Double(n)), abs(Double(i + 1) / Double(n) - f))
        }
        XCTAssertLessThan(d, 1.63 / Double(n).squareRoot())
        // Both kinds of rejection path: the base strip's tail beyond r and the body's wedges.
        let beyondR = z.filter { abs($0) > 3.442619855899 }.count
        let expectedBeyondR = Double(n) * 2 * (1 - Self.phi(3.442619855899))   // 576
        XCTAssertEqual(Double(beyondR), expectedBeyondR, accuracy: 0.15 * expectedBeyondR)
        let beyond4 = z.filter { abs($0) > 4 }.count
        XCTAssertEqual(Double(beyond4), Double(n) * 2 * (1 - Self.phi(4)), accuracy: 25)   // 63
        let beyond2 = Double(z.filter { abs($0) > 2 }.count) / Double(n)
        XCTAssertEqual(beyond2, 2 * (1 - Self.phi(2)), accuracy: 0.001)
        // Symmetric: signs are independent of magnitudes.
        let positive = Double(z.filter { $0 > 0 }.count) / Double(n)
        XCTAssertEqual(positive, 0.5, accuracy: 0.002)
    }

    func testInitializationIsTheSameAtAnyThreadCount() throws {
        var c = Tiny.config(.linear, layers: 2, attention: 1, moe: 1)
        c.dEmb = 32; c.dModel = 64; c.dFF = 128; c.expertDFF = 96; c.vocabSize = 300; c.numHeads = 4
        let layout = try Model(config: c, head: .pretraining, seed: 0, allocate: false).layout
        var arenas: [FloatArena] = []
        atThreadCounts([1, 2, 3]) { _ in
            let a = FloatArena(count: layout.totalCount)
            layout.initialize(a, seed: 7)
            arenas.append(a)
        }
        for a in arenas.dropFirst() {
            XCTAssertEqual(memcmp(a.base, arenas[0].base, layout.totalCount * 4), 0)
        }
        // normal(std) has variance std²; truncated lecun_normal stays within ±2σ with variance 1/fanIn.
        var checked: Set<String> = []
        for t in layout.tensors where t.count >= 2048 {
            let p = UnsafeBufferPointer(start: arenas[0].base + t.offset, count: t.count)
            let v = p.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(t.count)
            switch t.initializer {
            case .normal(let std):
                XCTAssertEqual(v / Double(std * std), 1, accuracy: 0.1, t.name)
                checked.insert("normal")
            case .lecunNormal(let fanIn):
                let sigma = (1 / Double(fanIn)).squareRoot() / 0.879_625_66
                XCTAssertLessThanOrEqual(p.map { abs(Double($0)) }.max()!, 2 * sigma * (1 + 1e-6), t.name)
                XCTAssertEqual(v * Double(fanIn), 1, accuracy: 0.1, t.name)
                checked.insert("lecun")
            default: break
            }
        }
        XCTAssertEqual(checked, ["normal", "lecun"])
    }
}
