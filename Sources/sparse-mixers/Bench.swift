import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersHarness
import SparseMixersTables

/// `sparse-mixers bench`: one training step (forward + backward + AdamW) and one inference forward, timed.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Time a training step and an inference forward of a preset.")

    @Option(help: "Preset name (see --list).") var preset: String = "bert-base"
    @Option(help: "Sequences per batch.") var batch: Int = 8
    @Option(help: "Sequence length (sets maxSeqLength).") var seq: Int = 512
    @Option(help: "Threads for OpenBLAS and the element-wise loops.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed repeats.") var repeats: Int = 3
    @Flag(help: "List presets and exit.") var list = false
    @Flag(help: "Allow timing a debug build (numbers are meaningless).") var allowDebug = false
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print an FNV-1a digest of the parameters and gradients after the run (bitwise reproducibility checks).") var digest = false
    @Flag(help: "Print per-phase wall times of the timed training steps (mean per step).") var profile = false
    @Option(help: "Shrink the preset by a scale's rule (ci, small): its width, heads, sequence length and vocabulary; --seq is then ignored.")
    var scale: Scale?

    func validate() throws {
        try Flags.int(batch, "batch", 1...Flags.maxBatch)
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
        var cfg = try ModelConfig.preset(named: preset)
        if let scale {
            cfg = scale.settings.scaledConfig(cfg)
        } else {
            cfg.maxSeqLength = seq
            cfg.maxPredictionsPerSeq = min(cfg.maxPredictionsPerSeq, max(1, seq * 15 / 100))
        }
        try MemoryBudget.check(try MemoryBudget.trainingBytes(cfg, batch: batch), what: "bench \(preset) at batch \(batch) x \(cfg.maxSeqLength)")
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
        print("preset \(preset): \(String(format: "%.1f", Double(model.parameterCount) / 1e6))M parameters, batch \(batch) x \(cfg.maxSeqLength), d_model \(cfg.dModel), \(cfg.numHeads) heads, vocab \(cfg.vocabSize), threads \(threads)")
        print("sgemm peak (2048^3, same threads): \(String(format: "%.1f", peak)) GFLOP/s")
        let tg = r.trainFlops / r.train.median / 1e9
        print("training step  : median \(ms(r.train.median)) ms (min \(ms(r.train.min)), max \(ms(r.train.max))), "
              + String(format: "%.1f GFLOP counted, %.1f GFLOP/s = %.0f%% of sgemm peak", r.trainFlops / 1e9, tg, 100 * tg / peak))
        let ig = r.inferenceFlops / r.inference.median / 1e9
        print("inference      : median \(ms(r.inference.median)) ms (min \(ms(r.inference.min)), max \(ms(r.inference.max))), "
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
                print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%9.1f ms", sec * 1e3 / Double(repeats)))
            }
        }
        if model.config.isSparse {
            let moe = r.moeRouting + r.moeDispatch + r.moeExpert
            print(String(format: "MoE forward (all MoE layers): routing %.1f ms, dispatch/combine %.1f ms, experts %.1f ms; routing+dispatch = %.0f%% of the MoE sublayer",
                         r.moeRouting * 1e3, r.moeDispatch * 1e3, r.moeExpert * 1e3, 100 * (r.moeRouting + r.moeDispatch) / max(moe, 1e-12)))
        }
    }
}
