import SparseMixersCore
import XCTest
import Foundation
@testable import SparseMixers

final class EquivalenceTests: XCTestCase {
    /// Naive 2-D DFT in Double: Re(F_L X F_D) or Re − Im.
    func dft(_ x: [Float], L: Int, D: Int, hartley: Bool) -> [Double] {
        var y = [Double](repeating: 0, count: L * D)
        for n in 0..<L { for k in 0..<D {
            var re = 0.0, im = 0.0
            for i in 0..<L { for j in 0..<D {
                let a = -2 * Double.pi * (Double(n * i) / Double(L) + Double(j * k) / Double(D))
                re += Double(x[i * D + j]) * cos(a); im += Double(x[i * D + j]) * sin(a)
            } }
            y[n * D + k] = hartley ? re - im : re
        } }
        return y
    }

    func testFFTWEqualsDFTMatrixProduct() {
        for (L, D) in [(6, 10), (5, 7), (8, 4)] {
            var r = RNG(seed: UInt64(L * D))
            let x = (0..<(L * D)).map { _ in r.normal() }
            for hartley in [false, true] {
                var y = [Float](repeating: 0, count: L * D)
                x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
                    spectralMixForward(yp.baseAddress!, xp.baseAddress!, batch: 1, seq: L, dModel: D, hartley: hartley)
                } }
                let ref = dft(x, L: L, D: D, hartley: hartley)
                for i in 0..<(L * D) {
                    XCTAssertEqual(Double(y[i]), ref[i], accuracy: 1e-4 * max(1, abs(ref[i])),
                                   "L=\(L) D=\(D) hartley=\(hartley) [\(i)]")
                }
            }
        }
    }

    /// The golden values of SPEC §1.5.
    func testSpecGoldenValues() {
        let x: [Float] = [0, 1, 2, 3, 4, 5, 6, 7]
        var y = [Float](repeating: 0, count: 8)
        spectralMixForward(&y, x, batch: 1, seq: 4, dModel: 2, hartley: false)
        XCTAssertEqual(y, [28, -4, -8, 0, -8, 0, -8, 0])
        spectralMixForward(&y, x, batch: 1, seq: 4, dModel: 2, hartley: true)
        for (a, b) in zip(y, [28, -4, -16, 0, -8, 0, 0, 0] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-4) }

        let X = (0..<24).map(Float.init)
        func mix(_ seqM: [Float], _ hidM: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: 24), z = out
            matrixMixForward(&out, z: &z, X, seqMatrix: seqM, hiddenMatrix: hidM, batch: 1, seq: 4, dModel: 6)
            return out
        }
        var cs = [Float](repeating: 0, count: 16), ch = [Float](repeating: 0, count: 36)
        materializeCirculant([0, 1, 2, 3], n: 4, transpose: false, into: &cs)
        XCTAssertEqual(Array(cs[0..<4]), [0, 3, 2, 1])   // C([0,1,2,3]) row 0
        materializeCirculant([0, 1, 2, 3, 4, 5], n: 6, transpose: true, into: &ch)
        XCTAssertEqual(Array(mix(cs, ch)[0..<6]), [1110, 1164, 1182, 1164, 1110, 1020])
        var ts = [Float](repeating: 0, count: 16), th = [Float](repeating: 0, count: 36)
        materializeToeplitz((0..<7).map(Float.init), n: 4, transpose: false, into: &ts)
        XCTAssertEqual(Array(ts[0..<4]), [3, 4, 5, 6])
        materializeToeplitz((0..<11).map(Float.init), n: 6, transpose: true, into: &th)
        XCTAssertEqual(Array(mix(ts, th)[0..<6]), [10980, 9558, 8136, 6714, 5292, 3870])
    }

    func testGemmEqualsNaiveLoop() {
        var r = RNG(seed: 1)
        let m = 7, n = 5, k = 9
        let a = (0..<(m * k)).map { _ in r.normal() }, b = (0..<(n * k)).map { _ in r.normal() }
        var c = [Float](repeating: 0, count: m * n)
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c, ldc: n)
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for l in 0..<k { s += a[i * k + l] * b[j * k + l] }
            XCTAssertEqual(c[i * n + j], s, accuracy: 1e-4)
        } }
    }

    func testFastMathMatchesLibm() {
        var worstExp: Float = 0, worstTanh: Float = 0
        var x: Float = -30
        while x < 30 {
            worstExp = max(worstExp, abs(FastMath.exp(x) - Foundation.exp(x)) / Foundation.exp(x))
            worstTanh = max(worstTanh, abs(FastMath.tanh(x) - Foundation.tanh(x)))
            x += 0.0137
        }
        XCTAssertLessThan(worstExp, 3e-7)
        XCTAssertLessThan(worstTanh, 3e-7)
        XCTAssertEqual(FastMath.exp(-200), 0)
        XCTAssert(FastMath.exp(.nan).isNaN && FastMath.tanh(.nan).isNaN,
                  "a NaN (diverging run) must propagate, not trap")
        XCTAssertEqual(FastMath.tanh(50), 1, accuracy: 1e-7)
    }

    /// One expert with room for every token, under Experts Choose, is the dense MLP (combine weight = softmax of
    /// one logit = 1).
    func testSingleExpertWithAmpleCapacityEqualsDenseMLP() throws {
        var sparse = Tiny.config(.linear, layers: 2, moe: 1, experts: 1)
        sparse.moeLayerIndices = [1]; sparse.expertDFF = sparse.dFF
        var dense = sparse
        dense.numExperts = 0; dense.numMoELayers = 0; dense.moeLayerIndices = nil
        let ms = try Model(config: sparse, seed: 1), md = try Model(config: dense, seed: 1)
        Tiny.enliven(ms)
        for t in md.layout.tensors {
            let src: String
            switch t.name {
            case "encoder/feed_forward_1/intermediate/kernel": src = "encoder/expert_1/intermediate/kernel"
            case "encoder/feed_forward_1/intermediate/bias": src = "encoder/expert_1/intermediate/bias"
            case "encoder/feed_forward_1/output/kernel": src = "encoder/expert_1/output/kernel"
            case "encoder/feed_forward_1/output/bias": src = "encoder/expert_1/output/bias"
            default: src = t.name
            }
            md.parameter(t.name)!.update(from: ms.parameter(src)!, count: t.count)
        }
        let b = Tiny.batch(sparse)
        let rs = try ms.forward(b, training: false), rd = try md.forward(b, training: false)
        XCTAssertEqual(rs.mlmLoss, rd.mlmLoss, accuracy: 1e-5)
        XCTAssertEqual(rs.nspLoss, rd.nspLoss, accuracy: 1e-5)
        let ws = ms.workspace!.blocks[1].out, wd = md.workspace!.blocks[1].out
        for i in 0..<(2 * 6 * 8) { XCTAssertEqual(ws[i], wd[i], accuracy: 1e-5) }
    }
}
