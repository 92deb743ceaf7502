import Foundation
import SparseMixers
import SparseMixersReports

/// Training throughput of one model at one batch shape, measured the two ways the accuracy phase can spend a
/// machine's threads: one run on all of them, or one copy per lane stepping side by side on one thread each (as
/// `Parallel.lanes` runs pre-training and fine-tuning). One measurement feeds `plan`'s estimates
/// (`WorkloadEstimate`) and `sparse-mixers bench --tokens-per-second`, so the README's figures and the plan agree.
public enum Throughput {
    public struct Measurement: Codable, Sendable {
        /// Copies stepping side by side, and the threads each one uses.
        public var copies: Int
        public var threadsPerCopy: Int
        /// Tokens of one step of one copy (batch x sequence length).
        public var tokensPerStep: Int
        /// Median wall time of one round (every copy takes one training step) and of one inference round.
        public var trainSeconds: Double
        public var inferenceSeconds: Double
        /// Fastest and slowest training round, for the spread.
        public var trainMinSeconds: Double
        public var trainMaxSeconds: Double
        /// gemm FLOPs of one copy's training step, counted as it ran.
        public var trainFlops: Double
        /// Process CPU time over the timed training rounds (user, system) and their wall time.
        public var userSeconds: Double
        public var systemSeconds: Double
        public var wallSeconds: Double

        /// Training tokens per second of the whole machine: every copy's tokens.
        public var tokensPerSecond: Double { Double(copies * tokensPerStep) / trainSeconds }
        /// gemm GFLOP/s of the whole machine in training steps.
        public var gemmGFLOPs: Double { Double(copies) * trainFlops / trainSeconds / 1e9 }
        /// System time as a fraction of the wall time of the timed rounds.
        public var systemFraction: Double { wallSeconds > 0 ? systemSeconds / wallSeconds : 0 }
    }

    /// Process CPU time so far (user, system), in seconds.
    public static func cpuTimes() -> (user: Double, system: Double) {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return (s(u.ru_utime), s(u.ru_stime))
    }

    /// Times `copies` copies of `config` (pre-training head, a random batch of `batch` sequences each) stepping
    /// side by side on `threadsPerCopy` threads each (`copies` = 1: one run on `threadsPerCopy` threads): one
    /// untimed warm-up round, then `repeats` rounds of one training step per copy and one inference round. The
    /// round's time is the wall time until every copy has finished its step, so the copies' contention (shared
    /// caches, memory bandwidth) is in it.
    public static func measure(_ config: ModelConfig, batch: Int, threadsPerCopy: Int, copies: Int,
                               repeats: Int) throws -> Measurement {
        precondition(copies >= 1 && threadsPerCopy >= 1 && repeats >= 1)
        let saved = (BLAS.threads, Parallel.threads)
        defer { BLAS.threads = saved.0; Parallel.threads = saved.1 }
        Runtime.setThreads(threadsPerCopy)
        let models = try (0..<copies).map { k in
            try TimedModel(name: "copy \(k)", config: config, batchSize: batch, seed: UInt64(k))
        }
        let lock = NSLock()
        var failure: Error?
        func round(_ body: @escaping (TimedModel) throws -> Void) throws -> Double {
            let a = DispatchTime.now().uptimeNanoseconds
            if copies == 1 { try body(models[0]) } else {
                Parallel.lanes(copies, lanes: copies) { k in
                    do { try body(models[k]) } catch { lock.lock(); failure = error; lock.unlock() }
                }
                if let failure { throw failure }
            }
            return Double(DispatchTime.now().uptimeNanoseconds - a) * 1e-9
        }
        _ = try round { try $0.trainStep(0) }
        _ = try round { try $0.inference() }
        let tally = FlopTally()
        try BLAS.counting(into: tally) { try models[0].trainStep(1) }
        var train: [Double] = [], infer: [Double] = []
        var user = 0.0, system = 0.0
        for r in 0..<repeats {
            let c0 = cpuTimes()
            train.append(try round { try $0.trainStep(r + 2) })
            let c1 = cpuTimes()
            user += c1.user - c0.user; system += c1.system - c0.system
            infer.append(try round { try $0.inference() })
        }
        let t = TimingSummary(samples: train), i = TimingSummary(samples: infer)
        return Measurement(copies: copies, threadsPerCopy: threadsPerCopy, tokensPerStep: batch * config.maxSeqLength,
                           trainSeconds: t.median, inferenceSeconds: i.median, trainMinSeconds: t.min,
                           trainMaxSeconds: t.max, trainFlops: tally.flops, userSeconds: user, systemSeconds: system,
                           wallSeconds: train.reduce(0, +))
    }
}
