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
}
