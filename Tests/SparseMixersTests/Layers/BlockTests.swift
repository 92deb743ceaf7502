import XCTest
import SparseMixersTestSupport
@testable import SparseMixers

/// Layers/Block.swift: one post-LayerNorm block, h = LN_mix(x + Mix(x)), out = LN_out(h + FF(h)), checked on its own
/// (dx and the gradients of every parameter; the other layers' parameters must get none). The tiny models' weights
/// are enlivened (x10), so some gradients reach ~60 and the Float forward's round-off is larger than a layer's alone:
/// a step of 2e-2 and a 3% tolerance (as the whole-model MoE checks use) leave room for both; a wrong term or an
/// overwritten gradient is off by far more.
final class BlockTests: XCTestCase {
    func check(_ config: ModelConfig, block l: Int = 0, training: Bool = true, h: Float = 2e-2,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Model(config: config, head: .pretraining, seed: 11)
        Tiny.enliven(m)
        let batch = Tiny.batch(config)
        let w = m.prepare(batch: batch.batchSize)
        let block = w.blocks[l]
        let T = batch.batchSize * config.maxSeqLength, D = config.dModel
        let params = Array(UnsafeBufferPointer(start: m.params.base, count: m.params.count))
        func run(_ v: [[Float]], dy: [Float]?, grads: inout [Float], dx: inout [Float]) -> [Float] {
            m.params.base.update(from: v[1], count: v[1].count)
            return batch.inputIds.withUnsafeBufferPointer { ids in
                grads.withUnsafeMutableBufferPointer { g in
                    let ctx = PassContext(config: config, batch: batch.batchSize, ids: ids.baseAddress!,
                                          params: m.params.base, grads: g.baseAddress!, training: training)
                    _ = block.forward(v[0], ctx, dropoutSeed: training ? 5 : nil, scratch: w.scratch.attention)
                    if let dy { block.backward(dx: &dx, dOut: dy, v[0], ctx, scratch: w.scratch) }
                    return Array(UnsafeBufferPointer(start: block.out, count: T * D))
                }
            }
        }
        checkGradients([("x", testValues(T * D, seed: 1)), ("params", params)], h: h, tolerance: 3e-2,
                       forward: { v in var g = [Float](), dx = [Float](); return run(v, dy: nil, grads: &g, dx: &dx) },
                       backward: { v, dy, g in
                           var dx = g[0], grads = g[1]
                           _ = run(v, dy: dy, grads: &grads, dx: &dx)
                           g = [dx, grads]
                       }, file: file, line: line)
    }

    func testLinearBlock() throws { try check(Tiny.config(.linear)) }
    func testFourierBlockWithDropout() throws { try check(Tiny.config(.fNet, dropout: 0.2)) }
    func testAttentionBlockWithDropout() throws { try check(Tiny.config(.bert, attention: 2, dropout: 0.2)) }
    func testToeplitzBlockInEvaluation() throws { try check(Tiny.config(.tNet), training: false) }
}
