import SparseMixersCore
import XCTest
import Foundation
@testable import SparseMixers

/// Every fast path of the training step pinned bit-for-bit to its plain form (STYLE: "every fast path by an
/// equivalence"). Bitwise, not approximate: the speed work must not change any number.
final class FastPathTests: XCTestCase {
    /// The shifter-based exp equals the rounded(.toNearestOrEven) form on a sweep of the whole float line and
    /// densely around the rounding ties t = k + ½ (x = (k + ½)·ln 2), where the two could disagree.
    func testFastExpBitwiseEqualsReference() {
        var bad = 0
        var bits: UInt32 = 0
        while true {
            let x = Float(bitPattern: bits)
            if !x.isNaN, FastMath.exp(x).bitPattern != FastMath.expReference(x).bitPattern { bad += 1 }
            let (next, overflow) = bits.addingReportingOverflow(4_099)
            if overflow { break }
            bits = next
        }
        for k in -130...130 {
            let x0 = (Float(k) + 0.5) * 0.693_147_18
            var x = x0
            for _ in 0..<64 { x = x.nextDown }
            for _ in 0..<128 {
                if FastMath.exp(x).bitPattern != FastMath.expReference(x).bitPattern { bad += 1 }
                x = x.nextUp
            }
        }
        for x: Float in [0, -0, 88.7, 88.72, -87.3, -87.31, 100, -100, .infinity, -.infinity, .greatestFiniteMagnitude] {
            if FastMath.exp(x).bitPattern != FastMath.expReference(x).bitPattern { bad += 1 }
        }
        XCTAssertEqual(bad, 0)
    }

    /// The vectorised masked softmax equals the plain loop bit-for-bit, with pad queries and pad keys, on row
    /// lengths that are and are not multiples of 8.
    func testMaskedSoftmaxBitwiseEqualsReference() {
        var r = RNG(seed: 11)
        for L in [1, 5, 8, 13, 64, 77] {
            var ids = (0..<L).map { _ in Int32(1 + r.int(9)) }
            for j in 0..<L where r.uniform() < 0.3 { ids[j] = 0 }
            ids[0] = 3   // at least one real key
            let s = (0..<(L * L)).map { _ in 6 * r.normal() }
            var a = s, b = s
            ids.withUnsafeBufferPointer { idp in
                a.withUnsafeMutableBufferPointer { maskedSoftmaxRows($0.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!, padId: 0) }
                b.withUnsafeMutableBufferPointer { maskedSoftmaxRowsReference($0.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!, padId: 0) }
            }
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "L = \(L)")
        }
    }

    /// Cross-entropy through a scratch row (forward) and in place (gradient) equals the plain form bit-for-bit.
    func testCrossEntropyRowBitwiseEqualsReference() {
        var r = RNG(seed: 5)
        for n in [2, 7, 31, 1000] {
            let logits = (0..<n).map { _ in 4 * r.normal() }
            let label = r.int(n)
            var scratch = [Float](repeating: 0, count: n)
            var a = logits, b = logits
            let fa = a.withUnsafeMutableBufferPointer { p in scratch.withUnsafeMutableBufferPointer { s in
                crossEntropyRow(p.baseAddress!, count: n, label: label, gradScale: nil, scratch: s.baseAddress!) } }
            let fb = b.withUnsafeMutableBufferPointer { crossEntropyRowReference($0.baseAddress!, count: n, label: label, gradScale: nil) }
            XCTAssertEqual(fa.0.bitPattern, fb.0.bitPattern); XCTAssertEqual(fa.1, fb.1)
            XCTAssertEqual(a, logits)
            let ga = a.withUnsafeMutableBufferPointer { crossEntropyRow($0.baseAddress!, count: n, label: label, gradScale: 0.37, scratch: nil) }
            let gb = b.withUnsafeMutableBufferPointer { crossEntropyRowReference($0.baseAddress!, count: n, label: label, gradScale: 0.37) }
            XCTAssertEqual(ga.0.bitPattern, gb.0.bitPattern); XCTAssertEqual(ga.1, gb.1)
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "n = \(n)")
        }
    }
}

extension FastPathTests {
    /// The 8-wide AdamW pass equals the scalar loop bit-for-bit (including a ragged tail and a second step).
    func testAdamWKernelBitwiseEqualsReference() {
        var r = RNG(seed: 3)
        let n = 1003
        let g = (0..<n).map { _ in r.normal() * 0.1 }
        var p1 = (0..<n).map { _ in r.normal() }, m1 = [Float](repeating: 0, count: n), v1 = m1
        var p2 = p1, m2 = m1, v2 = v1
        var gg = g
        for step in 1...2 {
            let bc1 = 1 - Float(pow(0.9, Double(step))), bc2 = 1 - Float(pow(0.999, Double(step)))
            gg.withUnsafeMutableBufferPointer { gp in
                p1.withUnsafeMutableBufferPointer { p in m1.withUnsafeMutableBufferPointer { m in v1.withUnsafeMutableBufferPointer { v in
                    AdamW.kernel(p: p.baseAddress!, g: gp.baseAddress!, m: m.baseAddress!, v: v.baseAddress!, range: 0..<n,
                                 b1: 0.9, b2: 0.999, eps: 1e-6, wd: 0.01, lr: 1e-3, bc1: bc1, bc2: bc2) } } }
                p2.withUnsafeMutableBufferPointer { p in m2.withUnsafeMutableBufferPointer { m in v2.withUnsafeMutableBufferPointer { v in
                    AdamW.kernelReference(p: p.baseAddress!, g: gp.baseAddress!, m: m.baseAddress!, v: v.baseAddress!, range: 0..<n,
                                          b1: 0.9, b2: 0.999, eps: 1e-6, wd: 0.01, lr: 1e-3, bc1: bc1, bc2: bc2) } } }
            }
        }
        XCTAssertEqual(p1.map(\.bitPattern), p2.map(\.bitPattern))
        XCTAssertEqual(m1.map(\.bitPattern), m2.map(\.bitPattern))
        XCTAssertEqual(v1.map(\.bitPattern), v2.map(\.bitPattern))
    }
}

extension FastPathTests {
    /// The row-interleaved softmax backward equals the plain loop bit-for-bit (pad queries, ragged row counts).
    func testSoftmaxBackwardBitwiseEqualsReference() {
        var r = RNG(seed: 17)
        for L in [1, 5, 8, 13, 64, 77] {
            var ids = (0..<L).map { _ in Int32(1 + r.int(9)) }
            for j in 0..<L where r.uniform() < 0.3 { ids[j] = 0 }
            let p = (0..<(L * L)).map { _ in r.uniform() }
            let dp = (0..<(L * L)).map { _ in r.normal() }
            var a = dp, b = dp
            ids.withUnsafeBufferPointer { idp in p.withUnsafeBufferPointer { pp in
                a.withUnsafeMutableBufferPointer { softmaxBackwardRows($0.baseAddress!, pp.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!, padId: 0) }
                b.withUnsafeMutableBufferPointer { softmaxBackwardRowsReference($0.baseAddress!, pp.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!, padId: 0) }
            } }
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "L = \(L)")
        }
    }
}
