import SparseMixersCore
import Foundation
@testable import SparseMixers

/// Runs `body(t)` with `Parallel.threads` = t for each count in turn, then restores the caller's count.
func atThreadCounts(_ counts: [Int], _ body: (Int) -> Void) {
    let saved = Parallel.threads
    defer { Parallel.threads = saved }
    for t in counts {
        Parallel.threads = t
        body(t)
    }
}

/// Tiny configurations and random batches shared by the tests.
enum Tiny {
    static func config(_ arch: ModelArch, layers: Int = 2, attention: Int = 0, moe: Int = 0, experts: Int = 4,
                       router: DispatchAlgorithm = .maskExpertsChoose, dropout: Float = 0) -> ModelConfig {
        var c = ModelConfig()
        c.modelArch = arch
        c.vocabSize = 23; c.maxSeqLength = 6; c.maxPredictionsPerSeq = 2
        c.dEmb = 6; c.dModel = 8; c.dFF = 10; c.numHeads = 2; c.numLayers = layers
        c.numAttentionLayers = attention; c.attentionLayout = .top
        c.numMoELayers = moe; c.moeLayout = .middle; c.numExperts = moe > 0 ? experts : 0
        c.expertDFF = 7; c.maxGroupSize = 6; c.minExpertCapacity = 1
        c.dispatchAlgorithm = router
        c.dropoutRate = dropout; c.mixingDropoutRate = dropout; c.expertDropoutRate = dropout
        return c
    }

    /// Pads the last positions of every example after the first, like the fixtures.
    static func batch(_ c: ModelConfig, size B: Int = 2, seed: UInt64 = 7, classes: Int? = nil) -> Batch {
        var r = RNG(seed: seed)
        let L = c.maxSeqLength, P = c.maxPredictionsPerSeq
        var ids = [Int32](repeating: Int32(c.padId), count: B * L), types = ids
        for b in 0..<B {
            let len = b == 0 ? L : L - 1 - (b % 2)
            for i in 0..<len {
                ids[b * L + i] = Int32(1 + r.int(c.vocabSize - 1))
                types[b * L + i] = i < len / 2 ? 0 : 1
            }
        }
        var pos = [Int32](), mids = [Int32](), wts = [Float]()
        for b in 0..<B {
            for j in 0..<P {
                pos.append(Int32(1 + j)); mids.append(Int32(1 + r.int(c.vocabSize - 1)))
                wts.append(j == P - 1 && b == 1 ? 0 : 1)
            }
        }
        let labels: [Float] = (0..<B).map { b in classes.map { $0 == 1 ? Float(b) * 0.7 + 0.3 : Float(b % $0) } ?? 0 }
        return Batch(batchSize: B, seqLength: L, inputIds: ids, typeIds: types, maskedLMPositions: pos,
                     maskedLMIds: mids, maskedLMWeights: wts, nextSentenceLabels: (0..<B).map { Int32($0 % 2) },
                     labels: labels)
    }

    /// Scales every normal(0.02)-initialised tensor up so no part of the tiny model is negligible (as the fixtures do).
    static func enliven(_ m: Model, seed: UInt64 = 3) {
        var r = RNG(seed: seed)
        for t in m.layout.tensors {
            let p = m.params.base + t.offset
            switch t.initializer {
            case .normal: for i in 0..<t.count { p[i] *= 10 }
            case .zeros: for i in 0..<t.count { p[i] = 0.1 * r.normal() }
            case .ones: for i in 0..<t.count { p[i] = 1 + 0.1 * r.normal() }
            case .lecunNormal: break
            }
        }
    }

    static var goldenRoot: URL? {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<6 {
            dir.deleteLastPathComponent()
            let g = dir.appendingPathComponent("../shared/golden").standardized
            if FileManager.default.fileExists(atPath: g.path) { return g }
        }
        return nil
    }
}
