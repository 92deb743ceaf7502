import Foundation
import SparseMixers
import XCTest
@testable import SparseMixersPaper

final class CostTests: XCTestCase {
    func testGroupsAndCapacityOfSPEC() {
        // SPEC §2.1 unit-test examples (max group size, tokens) → groups.
        for (maxG, t, g) in [(8, 32, 4), (16, 32, 2), (3, 32, 16), (32, 32, 1), (64, 32, 1), (12, 32, 2)] {
            XCTAssertEqual(Routing.numGroups(tokens: t, maxGroupSize: maxG), g, "max \(maxG) T \(t)")
        }
        XCTAssertEqual(Routing.groupSize(tokens: 32, maxGroupSize: 12), 16)  // can exceed the maximum
        // SPEC §2.2: 4096 tokens.
        func cap(_ e: Int, _ c: Float) -> Int {
            Routing.capacity(factor: c, tokensPerGroup: 4096, experts: e, minCapacity: 4)
        }
        XCTAssertEqual([cap(16, 1), cap(16, 0.75), cap(16, 0.5), cap(64, 1)], [256, 192, 128, 64])
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 10, experts: 4, minCapacity: 1), 2)  // 2.5 → 2
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 14, experts: 4, minCapacity: 1), 4)  // 3.5 → 4
        XCTAssertEqual(Routing.capacity(factor: 1, tokensPerGroup: 8, experts: 16, minCapacity: 4), 4)
    }

    /// SPEC §6: BERT ~101.3 GFLOPs/ex forward (published 102), SM ~62 and FSM ~49 with einsum dispatch,
    /// SM "44.8 for the rest".
    func testForwardFLOPsMatchSPEC() {
        let bert = FLOPCounter.forward(.bertBase, options: .reference)
        XCTAssertEqual(bert.gflops, 101.3, accuracy: 0.05)
        XCTAssertEqual(bert.dispatch + bert.experts + bert.router + bert.mixing, 0)

        let sm = FLOPCounter.forward(.sparseMixerBase, options: .reference)
        XCTAssertEqual(sm.gflops, 62.0, accuracy: 0.1)
        XCTAssertEqual((sm.total - sm.dispatch - sm.combine) / 1e9, 44.8, accuracy: 0.1)
        // Dispatch and combine each 2·T·E·C·D per group: 2·4096·16·256·512, one group per 8 examples.
        XCTAssertEqual(sm.dispatch, 4 * 2 * 4096 * 16 * 256 * 512 / 8, accuracy: 1)
        XCTAssertEqual(sm.combine, sm.dispatch)

        let fsm = FLOPCounter.forward(.fastSparseMixerBase, options: .reference)
        XCTAssertEqual(fsm.gflops, 49.1, accuracy: 0.1)
        // SM − FSM ≈ 13, matching the published 73 − 60.
        XCTAssertEqual(sm.gflops - fsm.gflops, 13, accuracy: 0.2)

        // Our gather/scatter dispatch drops the einsums: only a 2·E·C·D combine per group remains.
        let smCPU = FLOPCounter.forward(.sparseMixerBase)
        XCTAssertEqual(smCPU.dispatch, 0)
        XCTAssertEqual(smCPU.combine, 4 * 2 * 16 * 256 * 512 / 8, accuracy: 1)
        XCTAssertEqual(smCPU.experts, sm.experts)
        XCTAssertLessThan(smCPU.gflops, 45)
    }

    func testTrainingStepConvention() {
        let f = FLOPCounter.forward(.sparseMixerBase).total
        XCTAssertEqual(FLOPCounter.trainingStep(.sparseMixerBase), 3 * f, accuracy: 1)
        // Training uses the train capacity factor.
        var c = ModelConfig.sparseMixerBase
        c.trainCapacityFactor = 0.5
        XCTAssertLessThan(FLOPCounter.trainingStep(c), 3 * f)
        XCTAssertEqual(FLOPCounter.forward(c).total, f)
        let ratio = FLOPCounter.flopRatio(reference: .bertBase, variant: .sparseMixerBase, training: false,
                                          options: .reference)
        XCTAssertEqual(ratio, 101.3 / 62.0, accuracy: 0.01)
    }

    /// SPEC §6: BERT 111.8M parameters (published 112), SM 182.4M (published 180), FSM = SM.
    func testParameterCountsMatchSPEC() {
        XCTAssertEqual(ParameterCounter.count(.bertBase).millions, 111.8, accuracy: 0.05)
        XCTAssertEqual(ParameterCounter.count(.sparseMixerBase).millions, 182.4, accuracy: 0.05)
        XCTAssertEqual(ParameterCounter.count(.fastSparseMixerBase), ParameterCounter.count(.sparseMixerBase))
        // Mixing parameters depend on the sequence length: Linear L² + D², Circulant L + D, Toeplitz 2L−1 + 2D−1.
        XCTAssertEqual(ParameterCounter.count(.allMixing(.linear)).mixing, 12 * (512 * 512 + 768 * 768))
        XCTAssertEqual(ParameterCounter.count(.allMixing(.cNet)).mixing, 12 * (512 + 768))
        XCTAssertEqual(ParameterCounter.count(.allMixing(.tNet)).mixing, 12 * (1023 + 1535))
        XCTAssertEqual(ParameterCounter.count(.allMixing(.fNet)).mixing, 0)
        // The Linear-4 base differs from BERT only by the 8 mixing layers' params replacing attention.
        let l4 = ParameterCounter.count(.linear4), bert = ParameterCounter.count(.bertBase)
        XCTAssertEqual(l4.total - bert.total, 8 * (512 * 512 + 768 * 768) - 8 * 4 * (768 * 768 + 768))
    }

    func testMixingFLOPs() {
        let L = 512.0, D = 768.0
        let lin = FLOPCounter.forward(.allMixing(.linear)).mixing
        XCTAssertEqual(lin, 12 * (2 * L * L * D + 2 * L * D * D))
        XCTAssertEqual(FLOPCounter.forward(.allMixing(.fNet)).mixing, 12 * (4 * L * D * D + 4 * L * L * D))
        XCTAssertEqual(FLOPCounter.forward(.allMixing(.cNet)).mixing, lin)  // use_fft = False, as in Table 1
        var fft = FLOPOptions(); fft.spectral = .fft
        XCTAssertLessThan(FLOPCounter.forward(.allMixing(.hNet), options: fft).mixing, lin / 20)
        var circFFT = ModelConfig.allMixing(.cNet); circFFT.useFFT = true
        XCTAssertLessThan(FLOPCounter.forward(circFFT).mixing, lin / 10)
    }
}
