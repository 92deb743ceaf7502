import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/Dense.swift: y = x·W + b, W stored [in, out].
final class DenseTests: XCTestCase {
    func testBackwardMatchesFiniteDifferences() {
        let N = 4, nIn = 5, nOut = 3
        let p = DenseParams(kernel: 0, bias: nIn * nOut, nIn: nIn, nOut: nOut)   // params: W [in, out], b [out]
        func forward(_ v: [[Float]]) -> [Float] {
            var y = [Float](repeating: 0, count: N * nOut), params = v[1]
            denseForward(&y, v[0], rows: N, p, &params)
            return y
        }
        checkGradients([("x", testValues(N * nIn, seed: 1)), ("params", testValues(nIn * nOut + nOut, seed: 2))],
                       forward: forward,
                       backward: { v, dy, g in
                           var params = v[1], dx = g[0], grads = g[1]
                           denseBackward(dx: &dx, dy: dy, x: v[0], rows: N, p, &params, &grads)
                           g = [dx, grads]
                       })
    }
}
