import Foundation

/// The memory a training run will need, estimated before anything is allocated, and the limit it must fit:
/// `pretrain --batch 1099511627776` used to climb to 15 GB until the kernel's OOM killer ended it (and another
/// process), `finetune --batch 100000` trapped allocating. Runs that cannot fit are refused with the estimate
/// and the limit instead.
public enum MemoryBudget {
    /// The limit in bytes; nil means `defaultLimit()`, read when a run checks. The command-line tools set it
    /// from `--memory-budget-gb`.
    nonisolated(unsafe) public static var limit: Double? = nil

    public struct Exceeded: Error, CustomStringConvertible {
        public var what: String
        public var estimate: Double
        public var limit: Double
        public var description: String {
            "\(what) needs about \(MemoryBudget.gb(estimate)) (parameters, gradients, AdamW moments and activations), "
                + "over the memory limit of \(MemoryBudget.gb(limit)) (75% of RAM, at most 85% of what is free; "
                + "--memory-budget-gb sets it); use a smaller batch or model"
        }
    }

    /// Bytes of one training step of `config` at `batch` sequences, the one estimate every run and every speed
    /// group is checked with: 16 bytes per allocated parameter float (value, gradient, two AdamW moments; the
    /// arena's count, alignment padding included) plus 4 bytes per activation float kept for the backward pass
    /// and the work buffers: per layer 8·T·D, plus 2·T·d_ff for a dense MLP or, for an MoE layer, the expert
    /// slots at the larger capacity factor (c·T·(D + 2·expert_d_ff)) and the router's T·E logits and
    /// probabilities, plus 2·B·H·L² for attention; then the head's logits (3·B·P·V for the MLM). Calibrated on
    /// the peak resident set of `sparse-mixers bench` at 8 x 512 (2 threads): BERT Base 6.0 GB (estimate 6.9),
    /// Sparse Mixer 5.4 GB (5.6), the 6-MoE-layer ablation model 11.6 GB (11.8); the first version was 2.3x too
    /// high for BERT, which at 8 x 512 left every variant "too large" to time beside it. Doubles, so an absurd
    /// batch cannot overflow. Throws `ConfigError` for a config the model refuses.
    public static func trainingBytes(_ config: ModelConfig, head: ModelHead = .pretraining,
                                     batch: Int) throws -> Double {
        let p = Double(try Model.layoutOnly(config: config, head: head).totalCount)
        let T = Double(batch) * Double(config.maxSeqLength), D = Double(config.dModel)
        let moe = Set(config.moeLayers), att = Set(config.attentionLayers)
        var floats = 0.0
        for l in 0..<config.numLayers {
            floats += 8 * T * D
            if moe.contains(l) {
                let cf = Double(max(config.trainCapacityFactor, config.evalCapacityFactor))
                floats += cf * T * (D + 2 * Double(config.expertDFF)) + T * Double(config.numExperts) * 2
            } else {
                floats += 2 * T * Double(config.dFF)
            }
            if att.contains(l) {
                let L = Double(config.maxSeqLength)
                floats += 2 * Double(batch) * Double(config.numHeads) * L * L
            }
        }
        switch head {
        case .pretraining: floats += 3 * Double(batch) * Double(config.maxPredictionsPerSeq) * Double(config.vocabSize)
        case .classification(let k): floats += 3 * Double(batch) * Double(k)
        }
        return 16 * p + 4 * floats
    }

    /// MemAvailable of /proc/meminfo in bytes, nil where unreadable.
    public static func available(
        meminfo: String? = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)
    ) -> Double? {
        guard let text = meminfo else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Double(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    /// 75% of physical memory (a shared machine runs other jobs), at most 85% of what is available now. On
    /// 24 GiB that times the 6-MoE-layer ablation models (11.9 GB estimated at 8 x 512, 11.6 GB measured) beside
    /// BERT Base (6.9 GB; 6.0 measured); 60% left them out at 8 x 512.
    public static func defaultLimit() -> Double {
        let budget = 0.75 * Double(ProcessInfo.processInfo.physicalMemory)
        if let a = available() { return min(budget, 0.85 * a) }
        return budget
    }

    /// Throws `Exceeded` when `bytes` is over the limit (or not a finite number).
    public static func check(_ bytes: Double, what: String, limit: Double? = nil) throws {
        let l = limit ?? Self.limit ?? defaultLimit()
        if !(bytes.isFinite && bytes <= l) { throw Exceeded(what: what, estimate: bytes, limit: l) }
    }

    public static func gb(_ bytes: Double) -> String {
        bytes.isFinite ? String(format: "%.1f GB", bytes / 1e9) : "\(bytes) bytes"
    }
}
