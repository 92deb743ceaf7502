import Foundation
import SparseMixers
import XCTest
@testable import SparseMixersPaper

final class ScaleTests: XCTestCase {
    func testPaperScaleIsIdentity() {
        let s = Scale.paper.settings
        for t in TableSpec.all { for v in t.runVariants { XCTAssertEqual(s.scaledConfig(v.config), v.config) } }
        XCTAssertEqual(s.seqLength, 512)
        XCTAssertEqual(s.pretrainBatch, 64)
        XCTAssertEqual(s.fullSteps, 1_000_000)
        XCTAssertEqual(s.pretrainingSteps(.coordinateDescent), PretrainingNotes.coordinateDescentStepsGuess)
        XCTAssertEqual(s.fineTuneBatch(16), 16)
    }

    /// The rule keeps layouts, placements, expert counts and relative shapes for every variant of every table.
    func testScaledConfigsKeepTheComparison() throws {
        for scale in [Scale.ci, .small] {
            let s = scale.settings
            for t in TableSpec.all {
                for v in t.runVariants {
                    let p = v.config, c = s.scaledConfig(p)
                    let where_ = "\(scale) \(t.id) \(v.name)"
                    XCTAssertNoThrow(try c.validate(), where_)
                    XCTAssertEqual(c.modelArch, p.modelArch, where_)
                    XCTAssertEqual(c.numLayers, p.numLayers, where_)
                    XCTAssertEqual(c.attentionLayers, p.attentionLayers, where_)
                    XCTAssertEqual(c.moeLayers, p.moeLayers, where_)
                    XCTAssertEqual(c.numExperts, p.numExperts, where_)
                    // Heads: the paper's count or fewer, head dim >= 32 unless the model is narrower than 32.
                    if p.numHeads > 0 {
                        XCTAssertLessThanOrEqual(c.numHeads, p.numHeads, where_)
                        XCTAssertEqual(c.dModel % c.numHeads, 0, where_)
                        if c.dModel >= ScaleSettings.minimumHeadDim {
                            XCTAssertGreaterThanOrEqual(c.headDim, ScaleSettings.minimumHeadDim, where_)
                        } else {
                            XCTAssertEqual(c.numHeads, 1, where_)
                        }
                    }
                    XCTAssertEqual(c.dispatchAlgorithm, p.dispatchAlgorithm, where_)
                    XCTAssertEqual(c.trainCapacityFactor, p.trainCapacityFactor, where_)
                    // Relative shapes: every width divided by the same factor.
                    XCTAssertEqual(c.dModel * s.widthDivisor, p.dModel, where_)
                    XCTAssertEqual(c.dFF * s.widthDivisor, p.dFF, where_)
                    XCTAssertEqual(c.expertDFF * s.widthDivisor, p.expertDFF, where_)
                    XCTAssertEqual(c.dEmb * s.widthDivisor, p.dEmb, where_)
                    XCTAssertEqual(c.maxSeqLength, s.seqLength)
                    XCTAssertEqual(c.vocabSize, s.vocabSize)
                    // Routing groups: same number of sequences per group as the paper's.
                    XCTAssertEqual(c.maxGroupSize * p.maxSeqLength, p.maxGroupSize * c.maxSeqLength, where_)
                    XCTAssertFalse(s.capacityFloorBinds(c), "capacity floor binds: \(where_)")
                    XCTAssertFalse(s.capacityFloorBinds(c, training: true), "capacity floor binds: \(where_)")
                    if let pc = v.pairedConfig { XCTAssertNoThrow(try s.scaledConfig(pc).validate(), where_) }
                }
            }
        }
    }

    func testCiShapes() {
        let s = Scale.ci.settings
        let sm = s.scaledConfig(.sparseMixerBase), bert = s.scaledConfig(.bertBase)
        XCTAssertEqual([sm.dModel, sm.dFF, sm.expertDFF, sm.maxSeqLength, sm.maxPredictionsPerSeq, sm.maxGroupSize],
                       [32, 128, 128, 64, 10, 512])
        XCTAssertEqual([bert.dModel, bert.dFF, bert.numHeads, bert.headDim], [48, 192, 1, 48])
        // Capacity at ci: one group of 8 x 64 tokens, 16 experts → 32 slots each (FSM: 16).
        let g = Routing.groupSize(tokens: s.sequencesPerGroup * sm.maxSeqLength, maxGroupSize: sm.maxGroupSize)
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: g, experts: 16, minCapacity: 4), 32)
        // Scaled table: batch sizes and steps follow the scale.
        let t10 = s.scaled(TableSpec.spec(.t10))
        XCTAssertEqual(t10.pretraining.batchSizes, [8, 32])
        XCTAssertEqual(t10.pretraining.steps, s.fullSteps)
        let t17 = s.scaled(TableSpec.spec(.t17))
        XCTAssertEqual(t17.variant(named: "SM bs64")!.fineTuning.batchSizes, [16])
        XCTAssertEqual(s.scaled(TableSpec.spec(.t1)).pretraining.steps, s.coordinateDescentSteps)
        XCTAssertEqual(s.learningRates(.large).count, 1)
    }

    /// The head rule on hand-picked widths: as many heads as the paper's (at most) with head dim >= 32.
    func testHeadRule() {
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 12, dModel: 768), 12)   // paper: unchanged
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 12, dModel: 96), 3)     // small BERT: 3 heads of 32
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 8, dModel: 64), 2)      // small Sparse Mixer: 2 of 32
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 12, dModel: 48), 1)     // ci BERT: one head of 48
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 2, dModel: 16), 1)      // narrower than 32: one head
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 12, dModel: 160), 5)    // 5 of 32
        XCTAssertEqual(ScaleSettings.heads(paperHeads: 12, dModel: 112), 2)    // 3 does not divide 112: 2 of 56
        let small = Scale.small.settings.scaledConfig(.bertBase)
        XCTAssertEqual([small.dModel, small.numHeads, small.headDim], [96, 3, 32])
        XCTAssertTrue(Scale.small.settings.ruleText.contains("head dim >= 32"))
    }

    func testSeedsAndEvalSet() {
        let small = Scale.small.settings
        XCTAssertGreaterThanOrEqual(small.seeds, 2)
        XCTAssertGreaterThanOrEqual(small.referenceSeeds, 3)
        // >= 2,000 NSP pairs; masked predictions: about 15% of 125 tokens per sequence, capped at 20, so >= 20,000.
        let sequences = small.pretrainEvalBatches * small.pretrainEvalBatchSize
        XCTAssertGreaterThanOrEqual(sequences, 2_000)
        XCTAssertGreaterThanOrEqual(sequences * 10, 20_000)
    }

    func testRuleText() {
        for scale in Scale.allCases {
            let text = scale.settings.ruleText
            XCTAssertTrue(text.contains("Scale `\(scale.rawValue)`"))
            XCTAssertTrue(text.contains("Pre-training"))
            XCTAssertTrue(text.contains("Fine-tuning"))
        }
        XCTAssertTrue(Scale.ci.settings.ruleText.contains("depend on the sequence length"))
        XCTAssertTrue(Scale.paper.settings.ruleText.contains("GUESS"))
        XCTAssertTrue(Scale.allRulesText.contains("Scale `small`"))
    }
}
