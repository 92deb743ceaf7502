import SparseMixersCore
import Foundation

/// Median, min and max of repeated timings, in the samples' unit (seconds in `Benchmark`, milliseconds in the
/// reports). The one timing summary: `bench`, the throughput measurement and every speed row use it. Timing is
/// done the same way everywhere: warm-up outside the timed region (FFTW planning, allocation), then repeats.
public struct TimingSummary: Codable, Equatable, Sendable {
    public var median: Double
    public var min: Double
    public var max: Double
    public var count: Int

    public init(median: Double, min: Double, max: Double, count: Int) {
        self.median = median; self.min = min; self.max = max; self.count = count
    }

    /// From raw samples. The median of an even count is the mean of the two middle samples.
    public init(samples: [Double]) {
        precondition(!samples.isEmpty, "TimingSummary needs at least one sample")
        let s = samples.sorted()
        let n = s.count
        median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        min = s[0]; max = s[n - 1]; count = n
    }
}

public enum Benchmark {
    public static var isDebugBuild: Bool {
        #if DEBUG
        return true
        #else
        return false
        #endif
    }

    /// A random pre-training batch of the right shapes (ids drawn from the vocabulary, 15% masked slots).
    public static func randomBatch(_ c: ModelConfig, batch B: Int, seed: UInt64 = 1) -> Batch {
        var r = RNG(seed: seed)
        let L = c.maxSeqLength, P = c.maxPredictionsPerSeq
        let ids = (0..<(B * L)).map { _ in Int32(1 + r.int(c.vocabSize - 1)) }
        let types = (0..<(B * L)).map { i in Int32((i % L) < L / 2 ? 0 : 1) }
        let pos = (0..<(B * P)).map { _ in Int32(1 + r.int(L - 1)) }
        let mids = (0..<(B * P)).map { _ in Int32(1 + r.int(c.vocabSize - 1)) }
        return Batch(batchSize: B, seqLength: L, inputIds: ids, typeIds: types, maskedLMPositions: pos,
                     maskedLMIds: mids, maskedLMWeights: Array(repeating: 1, count: B * P),
                     nextSentenceLabels: (0..<B).map { Int32($0 % 2) })
    }

    /// Seconds for one sgemm of n×n×n and its GFLOP/s, median of `repeats` after a warm-up (the machine's peak
    /// measured in the same run with the same threads).
    public static func sgemmPeak(n: Int = 2048, repeats: Int = 5) -> Double {
        let a = FloatArena(count: n * n), b = FloatArena(count: n * n), c = FloatArena(count: n * n)
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.1; b[i] = Float(i % 5) * 0.1 }
        var times: [Double] = []
        for i in 0...repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(m: n, n: n, k: n, a: a.base, lda: n, b: b.base, ldb: n, c: c.base, ldc: n)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if i > 0 { times.append(dt) }
        }
        return 2 * Double(n * n * n) / TimingSummary(samples: times).median / 1e9
    }

    public struct Result: Codable, Sendable {
        /// Seconds.
        public var train: TimingSummary
        public var inference: TimingSummary
        /// gemm FLOPs of one training step and of one inference forward, counted as they ran.
        public var trainFlops: Double
        public var inferenceFlops: Double
        /// MoE sublayer split of the last training forward, summed over MoE layers (seconds).
        public var moeRouting: Double
        public var moeDispatch: Double
        public var moeExpert: Double
    }

    /// Times `repeats` training steps (forward + backward + AdamW) and inference forwards of `model` on `batch`.
    public static func run(model: Model, batch: Batch, repeats: Int, warmup: Int = 1) throws -> Result {
        let opt = AdamW(parameterCount: model.params.count)
        func trainStep(_ seed: UInt64) throws -> ForwardResult {
            let r = try Profile.time("forward (train)") { try model.forward(batch, training: true, dropoutSeed: seed) }
            model.backwardAndUpdate(opt, learningRate: 1e-5)
            return r
        }
        for i in 0..<warmup { _ = try trainStep(UInt64(i)); _ = try model.forward(batch, training: false) }
        let trainTally = FlopTally(), inferenceTally = FlopTally()
        _ = try BLAS.counting(into: trainTally) { try trainStep(99) }
        _ = try BLAS.counting(into: inferenceTally) { try model.forward(batch, training: false) }
        let trainFlops = trainTally.flops, infFlops = inferenceTally.flops
        Profile.reset()
        var train: [Double] = [], inf: [Double] = []
        var last = ForwardResult()
        for i in 0..<repeats {
            // Interleave training and inference so drift of a shared machine affects both alike.
            var t0 = DispatchTime.now().uptimeNanoseconds
            last = try trainStep(UInt64(100 + i))
            train.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            let profiling = Profile.enabled
            Profile.enabled = false   // the phase profile covers training steps only
            defer { Profile.enabled = profiling }
            t0 = DispatchTime.now().uptimeNanoseconds
            _ = try model.forward(batch, training: false)
            inf.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        let moe = last.moe.values
        return Result(train: TimingSummary(samples: train), inference: TimingSummary(samples: inf),
                      trainFlops: trainFlops, inferenceFlops: infFlops,
                      moeRouting: moe.reduce(0) { $0 + $1.routingSeconds },
                      moeDispatch: moe.reduce(0) { $0 + $1.dispatchSeconds },
                      moeExpert: moe.reduce(0) { $0 + $1.expertSeconds })
    }
}
