import Foundation
import XCTest

/// Helpers shared by the test targets (a target of its own, as swift-numerics keeps its `_TestSupport`).

/// A fresh temporary directory, removed at the end of the test.
public func makeTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smx-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Kernel-level gradient check of one layer. The loss is ⟨r, y⟩ for fixed weights r_i = cos(1.7·i) (r = 1 for a
/// scalar output), so the backward starts from dy = r. `backward` must add into the gradient buffers it is given;
/// they arrive filled with 0.25, which is taken off again, so a backward that overwrites instead of adding fails.
/// Every element of every tensor is compared with a Richardson-extrapolated central difference:
/// |fd − backward| / max(|fd|, |backward|, 1e-2) < tolerance. The forward runs in Float, so the loss carries
/// round-off of about 1e-7 of its terms; the default step (3e-2, and half of it) keeps that below 1e-4 of a
/// derivative while the extrapolation's error (order h⁴) stays smaller still.
/// - Parameters:
///   - tensors: the inputs and parameters to differentiate, by name (each a flat Float array).
///   - forward: y for the given tensors (must not keep state between calls that changes y).
///   - backward: runs the forward again (to fill its caches), then adds ∂⟨r, y⟩/∂tensor into `grads`.
///   - unchanged: for piecewise-smooth layers (MoE routing), false when the last forward crossed a discontinuity
///     (a different routing decision); that element is skipped (at most a tenth of them may be).
public func checkGradients(_ tensors: [(name: String, values: [Float])], h: Float = 3e-2, tolerance: Double = 1e-2,
                           forward: ([[Float]]) -> [Float],
                           backward: (_ values: [[Float]], _ dy: [Float], _ grads: inout [[Float]]) -> Void,
                           unchanged: (() -> Bool)? = nil,
                           file: StaticString = #filePath, line: UInt = #line) {
    let values = tensors.map(\.values)
    let y = forward(values)
    let r = (0..<y.count).map { Float(cos(1.7 * Double($0))) }
    func loss(_ v: [[Float]]) -> Double { zip(forward(v), r).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    let preset: Float = 0.25
    var grads = values.map { [Float](repeating: preset, count: $0.count) }
    backward(values, r, &grads)
    var checked = 0, skipped = 0
    for (k, t) in tensors.enumerated() {
        for i in 0..<t.values.count {
            func central(_ step: Float) -> Double? {
                var up = values, down = values
                up[k][i] += step; down[k][i] -= step
                let lu = loss(up)
                if let unchanged, !unchanged() { return nil }
                let ld = loss(down)
                if let unchanged, !unchanged() { return nil }
                return (lu - ld) / (Double(up[k][i]) - Double(down[k][i]))
            }
            guard let a = central(h / 2), let b = central(h) else { skipped += 1; continue }
            let fd = (4 * a - b) / 3
            let an = Double(grads[k][i]) - Double(preset)
            let err = abs(fd - an) / max(abs(fd), abs(an), 1e-2)
            XCTAssertLessThan(err, tolerance, "\(t.name)[\(i)]: finite difference \(fd) vs backward \(an)",
                              file: file, line: line)
            checked += 1
        }
    }
    XCTAssertGreaterThan(checked, 0, file: file, line: line)
    XCTAssertLessThanOrEqual(skipped, checked / 10, "too many elements sit on a discontinuity", file: file, line: line)
}

/// Deterministic values in about [−scale, scale] (a fixed sine sequence; no generator needed).
public func testValues(_ n: Int, seed: Int = 0, scale: Float = 1) -> [Float] {
    (0..<n).map { scale * Float(sin(Double($0 * 7 + seed * 13) * 0.91 + 0.37)) }
}
