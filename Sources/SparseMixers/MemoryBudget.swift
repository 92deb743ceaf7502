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

    /// Bytes of one training step of `config` at `batch` sequences: 16 bytes per parameter (value, gradient, two
    /// Adam moments) plus the forward caches each layer keeps for backward (the rule of `SpeedMemory.bytes`,
    /// which matched measured peaks within 15% at 8 x 512), and the output logits of the head. Doubles, so an
    /// absurd batch cannot overflow.
    public static func trainingBytes(_ config: ModelConfig, head: ModelHead = .pretraining, batch: Int) throws -> Double {
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
                floats += 2 * Double(batch) * Double(config.numHeads) * Double(config.maxSeqLength) * Double(config.maxSeqLength)
            }
        }
        switch head {
        case .pretraining: floats += 3 * Double(batch) * Double(config.maxPredictionsPerSeq) * Double(config.vocabSize)
        case .classification(let k): floats += 3 * Double(batch) * Double(k)
        }
        return 16 * p + 4 * floats
    }

    /// MemAvailable of /proc/meminfo in bytes, nil where unreadable.
    public static func available(meminfo: String? = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) -> Double? {
        guard let text = meminfo else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Double(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    /// 75% of physical memory (a shared machine runs other jobs), at most 85% of what is available now.
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
