import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersTables

/// `sparse-mixers bench`: one training step (forward + backward + AdamW) and one inference forward, timed.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a training step and an inference forward of a preset.")

    @Option(help: "Preset name (see --list).") var preset: String = "bert-base"
    @Option(help: ArgumentHelp("Sequences per batch (default 8; with --tokens-per-second and --scale, the scale's "
                               + "pre-training batch)."))
    var batch: Int?
    @Option(help: "Sequence length (sets maxSeqLength).") var seq: Int = 512
    @Option(help: "Threads for OpenBLAS and the element-wise loops.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed repeats.") var repeats: Int = 3
    @Flag(help: "List presets and exit.") var list = false
    @Flag(help: "Allow timing a debug build (numbers are meaningless).") var allowDebug = false
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: ArgumentHelp("Print an FNV-1a digest of the parameters and gradients after the run (bitwise "
                             + "reproducibility checks)."))
    var digest = false
    @Flag(help: "Print per-phase wall times of the timed training steps (mean per step).") var profile = false
    @Option(help: ArgumentHelp("Shrink the preset by a scale's rule (ci, small): its width, heads, sequence length and "
                               + "vocabulary; --seq is then ignored."))
    var scale: Scale?
    @Flag(help: ArgumentHelp("Measure training tokens per second of the whole machine, two ways: one run on --threads "
                             + "threads, and --threads copies side by side on one thread each (the accuracy lanes); "
                             + "with --scale, at its pre-training batch unless --batch is given.",
                             valueName: "tokens-per-second"))
    var tokensPerSecond = false

    func validate() throws {
        if let batch { try Flags.int(batch, "batch", 1...Flags.maxBatch) }
        try Flags.int(seq, "seq", 2...Flags.maxSeq)
        try Flags.int(repeats, "repeats", 1...10_000)
        try Flags.threads(threads)
    }

    func run() throws {
        if list { for p in ModelConfig.presets { print(p.name) }; return }
        if Benchmark.isDebugBuild && !allowDebug {
            throw ValidationError("refusing to time a debug build: use `swift run -c release sparse-mixers bench ...`")
        }
        Runtime.setThreads(threads)
        let cfg = shaped(try ModelConfig.preset(named: preset))
        if tokensPerSecond { return try measureThroughput(cfg) }
        let batch = self.batch ?? 8
        try MemoryBudget.check(try MemoryBudget.trainingBytes(cfg, batch: batch),
                               what: "bench \(preset) at batch \(batch) x \(cfg.maxSeqLength)")
        let model = try Model(config: cfg, head: .pretraining, seed: 0)
        let b = Benchmark.randomBatch(cfg, batch: batch)
        let peak = Benchmark.sgemmPeak()
        Profile.enabled = profile
        let r = try Benchmark.run(model: model, batch: b, repeats: repeats)
        Profile.enabled = false
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(data: try enc.encode(r), encoding: .utf8)!)
            return
        }
        func ms(_ s: Double) -> String { String(format: "%.1f", s * 1e3) }
        print("preset \(preset): \(String(format: "%.1f", Double(model.parameterCount) / 1e6))M parameters, batch "
              + "\(batch) x \(cfg.maxSeqLength), d_model \(cfg.dModel), \(cfg.numHeads) heads, vocab \(cfg.vocabSize), "
              + "threads \(threads)")
        print("sgemm peak (2048^3, same threads): \(String(format: "%.1f", peak)) GFLOP/s")
        let tg = r.trainFlops / r.train.median / 1e9
        print("training step  : median \(ms(r.train.median)) ms (min \(ms(r.train.min)), max \(ms(r.train.max))), "
              + String(format: "%.1f GFLOP counted, %.1f GFLOP/s = %.0f%% of sgemm peak", r.trainFlops / 1e9, tg,
                       100 * tg / peak))
        let ig = r.inferenceFlops / r.inference.median / 1e9
        print("inference      : median \(ms(r.inference.median)) ms (min \(ms(r.inference.min)), max "
              + "\(ms(r.inference.max))), "
              + String(format: "%.2f ms/example, %.1f GFLOP counted, %.1f GFLOP/s = %.0f%% of peak",
                       r.inference.median * 1e3 / Double(batch), r.inferenceFlops / 1e9, ig, 100 * ig / peak))
        if digest {
            func fnv(_ a: FloatArena) -> String {
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for i in 0..<a.count { h = (h ^ UInt64(a[i].bitPattern)) &* 0x100_0000_01b3 }
                return String(h, radix: 16)
            }
            print("digest: params \(fnv(model.params)) grads \(fnv(model.grads))")
        }
        if profile {
            print("phases of a training step (mean over \(repeats) timed steps):")
            for (name, sec) in Profile.report {
                print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0)
                      + String(format: "%9.1f ms", sec * 1e3 / Double(repeats)))
            }
        }
        if model.config.isSparse {
            let moe = r.moeRouting + r.moeDispatch + r.moeExpert
            print(String(format: "MoE forward (all MoE layers): routing %.1f ms, dispatch/combine %.1f ms, experts "
                                 + "%.1f ms; routing+dispatch = %.0f%% of the MoE sublayer",
                         r.moeRouting * 1e3, r.moeDispatch * 1e3, r.moeExpert * 1e3,
                         100 * (r.moeRouting + r.moeDispatch) / max(moe, 1e-12)))
        }
    }

    /// The preset at the shape bench times: shrunk by `--scale`'s rule, or at `--seq` by the rule the table
    /// targets time with (`ModelConfig.atSequenceLength`: masked predictions and MoE group scale with the sequence).
    func shaped(_ preset: ModelConfig) -> ModelConfig {
        if let scale { return scale.settings.scaledConfig(preset) }
        return preset.atSequenceLength(seq)
    }

    /// `--tokens-per-second`: the scale's model at its pre-training shape, one run on `threads` threads against
    /// `threads` copies side by side on one thread each, each against the sgemm peak read the same way just before.
    func measureThroughput(_ cfg: ModelConfig) throws {
        let batch = self.batch ?? scale?.settings.pretrainBatch ?? 8
        let lanes = threads
        try MemoryBudget.check(try MemoryBudget.trainingBytes(cfg, batch: batch) * Double(max(lanes, 1)),
                               what: "bench --tokens-per-second \(self.preset) at batch \(batch) x "
                                     + "\(cfg.maxSeqLength), \(lanes) copies")
        // Peaks: one sgemm on all threads, and one per lane side by side on one thread each (summed).
        Runtime.setThreads(threads)
        let peakAll = Benchmark.sgemmPeak()
        let lock = NSLock()
        var lanePeaks: [Double] = []
        Parallel.lanes(lanes, lanes: lanes) { _ in
            let p = Benchmark.sgemmPeak()
            lock.lock(); lanePeaks.append(p); lock.unlock()
        }
        let peakLanes = lanePeaks.reduce(0, +)
        let one = try Throughput.measure(cfg, batch: batch, threadsPerCopy: threads, copies: 1, repeats: repeats)
        let side = lanes > 1 ? try Throughput.measure(cfg, batch: batch, threadsPerCopy: 1, copies: lanes,
                                                      repeats: repeats) : nil
        if json {
            struct Out: Codable {
                var preset: String, scale: String?, batch: Int, seq: Int
                var dModel: Int, heads: Int, vocab: Int, threads: Int
                var sgemmPeakAllThreads: Double, sgemmPeakLanes: Double
                var oneRun: Throughput.Measurement, sideBySide: Throughput.Measurement?
            }
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let o = Out(preset: self.preset, scale: scale?.rawValue, batch: batch, seq: cfg.maxSeqLength,
                        dModel: cfg.dModel, heads: cfg.numHeads, vocab: cfg.vocabSize, threads: threads,
                        sgemmPeakAllThreads: peakAll, sgemmPeakLanes: peakLanes, oneRun: one, sideBySide: side)
            print(String(data: try enc.encode(o), encoding: .utf8)!)
            return
        }
        print("preset \(self.preset)\(scale.map { " at scale \($0.rawValue)" } ?? ""): d_model \(cfg.dModel), "
              + "\(cfg.numHeads) heads, \(cfg.numLayers) layers, vocab \(cfg.vocabSize), batch \(batch) x "
              + "\(cfg.maxSeqLength) = \(batch * cfg.maxSeqLength) tokens a step, median of \(repeats) rounds")
        print(String(format: "sgemm peak (2048^3): %.1f GFLOP/s on %d threads; %.1f GFLOP/s summed over %d side by "
                             + "side on one thread each",
                     peakAll, threads, peakLanes, lanes))
        func line(_ label: String, _ m: Throughput.Measurement, _ peak: Double) {
            print(label.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: "%8.0f tokens/s  (step %.1f ms, min %.1f, max %.1f; gemm %.1f GFLOP/s = %.0f%% of "
                                   + "peak; system time %.1f%% of wall)",
                           m.tokensPerSecond, m.trainSeconds * 1e3, m.trainMinSeconds * 1e3, m.trainMaxSeconds * 1e3,
                           m.gemmGFLOPs, 100 * m.gemmGFLOPs / peak, 100 * m.systemFraction))
        }
        line("one run, \(threads) thread\(threads == 1 ? "" : "s"):", one, peakAll)
        if let side {
            line("\(lanes) runs side by side, 1 thread each:", side, peakLanes)
            let r = side.tokensPerSecond / one.tokensPerSecond
            print(String(format: "faster for the accuracy phase: %@ (%.2fx the other)",
                         r >= 1 ? "side by side (the lanes)" : "one run on all threads", r >= 1 ? r : 1 / r))
        }
    }
}
