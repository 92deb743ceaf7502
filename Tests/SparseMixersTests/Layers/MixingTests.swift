import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/Mixing.swift: Fourier/Hartley (no parameters), Linear W_s·X·W_h, and Circulant/Toeplitz (the structured
/// matrices materialised, mixed, and their gradients folded back onto the vectors).
final class MixingTests: XCTestCase {
    let B = 2, L = 4, D = 3

    func spectral(hartley: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let (B, L, D) = (self.B, self.L, self.D)
        checkGradients([("x", testValues(B * L * D, seed: 1))],
                       forward: { v in
                           var y = [Float](repeating: 0, count: B * L * D)
                           spectralMixForward(&y, v[0], batch: B, seq: L, dModel: D, hartley: hartley)
                           return y
                       },
                       backward: { _, dy, g in
                           var dx = g[0]
                           spectralMixBackward(dx: &dx, dY: dy, batch: B, seq: L, dModel: D, hartley: hartley)
                           g = [dx]
                       }, file: file, line: line)
    }

    func testFourierBackwardMatchesFiniteDifferences() { spectral(hartley: false) }
    func testHartleyBackwardMatchesFiniteDifferences() { spectral(hartley: true) }

    func testLinearBackwardMatchesFiniteDifferences() {
        let (B, L, D) = (self.B, self.L, self.D)
        var z = [Float](repeating: 0, count: B * L * D), work = z
        // params: W_s [L, L], W_h [D, D]
        func forward(_ v: [[Float]]) -> [Float] {
            var y = [Float](repeating: 0, count: B * L * D)
            matrixMixForward(&y, z: &z, v[0], seqMatrix: v[1], hiddenMatrix: Array(v[1][(L * L)...]), batch: B, seq: L,
                             dModel: D)
            return y
        }
        checkGradients([("x", testValues(B * L * D, seed: 1)), ("params", testValues(L * L + D * D, seed: 2))],
                       forward: forward,
                       backward: { v, dy, g in
                           _ = forward(v)
                           var dx = g[0], dSeq = Array(g[1][..<(L * L)]), dHidden = Array(g[1][(L * L)...])
                           matrixMixBackward(dx: &dx, dY: dy, v[0], z: z, seqMatrix: v[1],
                                             hiddenMatrix: Array(v[1][(L * L)...]), dSeq: &dSeq, dHidden: &dHidden,
                                             batch: B, seq: L, dModel: D, work: &work)
                           g = [dx, dSeq + dHidden]
                       })
    }

    func structured(toeplitz: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let (B, L, D) = (self.B, self.L, self.D)
        let nS = toeplitz ? 2 * L - 1 : L, nH = toeplitz ? 2 * D - 1 : D   // params: v_s [nS], v_h [nH]
        var z = [Float](repeating: 0, count: B * L * D), work = z
        var ms = [Float](repeating: 0, count: L * L), mh = [Float](repeating: 0, count: D * D)
        func forward(_ v: [[Float]]) -> [Float] {
            let vs = Array(v[1][..<nS]), vh = Array(v[1][nS...])
            if toeplitz {
                materializeToeplitz(vs, n: L, transpose: false, into: &ms)
                materializeToeplitz(vh, n: D, transpose: true, into: &mh)
            } else {
                materializeCirculant(vs, n: L, transpose: false, into: &ms)
                materializeCirculant(vh, n: D, transpose: true, into: &mh)
            }
            var y = [Float](repeating: 0, count: B * L * D)
            matrixMixForward(&y, z: &z, v[0], seqMatrix: ms, hiddenMatrix: mh, batch: B, seq: L, dModel: D)
            return y
        }
        checkGradients([("x", testValues(B * L * D, seed: 1)), ("params", testValues(nS + nH, seed: 2))],
                       forward: forward,
                       backward: { v, dy, g in
                           _ = forward(v)
                           var dx = g[0], dvs = Array(g[1][..<nS]), dvh = Array(g[1][nS...])
                           var dms = [Float](repeating: 0, count: L * L), dmh = [Float](repeating: 0, count: D * D)
                           matrixMixBackward(dx: &dx, dY: dy, v[0], z: z, seqMatrix: ms, hiddenMatrix: mh, dSeq: &dms,
                                             dHidden: &dmh, batch: B, seq: L, dModel: D, work: &work)
                           if toeplitz {
                               foldToeplitz(dms, n: L, transpose: false, into: &dvs)
                               foldToeplitz(dmh, n: D, transpose: true, into: &dvh)
                           } else {
                               foldCirculant(dms, n: L, transpose: false, into: &dvs)
                               foldCirculant(dmh, n: D, transpose: true, into: &dvh)
                           }
                           g = [dx, dvs + dvh]
                       }, file: file, line: line)
    }

    func testCirculantBackwardMatchesFiniteDifferences() { structured(toeplitz: false) }
    func testToeplitzBackwardMatchesFiniteDifferences() { structured(toeplitz: true) }
}
