import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/Heads.swift: the pooler with the NSP or task classifier, and the MLM head over the tied word embeddings;
/// the loss itself is the output (dx: the gradient of the sequence output).
final class HeadsTests: XCTestCase {
    func check(_ head: ModelHead, classes: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let config = Tiny.config(.linear)
        let m = try Model(config: config, head: head, seed: 11)
        Tiny.enliven(m)
        let batch = Tiny.batch(config, classes: classes)
        let w = m.prepare(batch: batch.batchSize)
        let T = batch.batchSize * config.maxSeqLength, D = config.dModel
        let params = Array(UnsafeBufferPointer(start: m.params.base, count: m.params.count))
        func forward(_ v: [[Float]]) -> [Float] {
            m.params.base.update(from: v[1], count: v[1].count)
            var r = ForwardResult()
            headsForward(v[0], w.heads, m.heads, batch, config: config, m.params.base, &r)
            return [Float(head == .pretraining ? r.mlmLoss + r.nspLoss : r.taskLoss)]
        }
        checkGradients([("x", testValues(T * D, seed: 1, scale: 2)), ("params", params)],
                       forward: forward,
                       backward: { v, _, g in
                           _ = forward(v)
                           var dx = g[0], grads = g[1]
                           headsBackward(dx: &dx, w.heads, m.heads, batch, config: config, m.params.base, &grads)
                           g = [dx, grads]
                       }, file: file, line: line)
    }

    func testPretrainingHeads() throws { try check(.pretraining) }
    func testClassificationHead() throws { try check(.classification(outputs: 3), classes: 3) }
    func testRegressionHead() throws { try check(.classification(outputs: 1), classes: 1) }
}
