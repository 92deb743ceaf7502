import Foundation
import SparseMixers

/// A set of fine-tuning base learning rates (SPEC §5.4). All values at paper scale are unknown.
public enum LearningRateSet: String, Codable, CodingKeyRepresentable, CaseIterable, Sendable {
    /// "Three default base learning rates adapted from Devlin et al." (dense coordinate-descent models).
    case standard = "default"
    /// "Larger base learning rates" for MoE models in the coordinate descent.
    case large
    /// The "wider range" for the final BERT vs Sparse Mixer comparison.
    case wide

    /// Paper-scale values. Every set is [GUESS]: the paper's numbers were lost in extraction.
    public var paperValues: [Double] {
        switch self {
        case .standard: return [2e-5, 3e-5, 5e-5]
        case .large: return [1e-4, 2e-4, 3e-4]
        case .wide: return [1e-5, 2e-5, 3e-5, 5e-5, 1e-4, 2e-4]
        }
    }
}

/// What to freeze during fine-tuning (Table 19).
public enum FreezePolicy: String, Codable, CaseIterable, Sendable {
    /// Fine-tune every parameter (the default).
    case none
    /// Freeze the MoE sublayers (router and experts).
    case moe
    /// Table 19's "Dense MLP" row. Its meaning is [UNKNOWN]. Our interpretation: freeze the dense MLP (FFN)
    /// sublayers, i.e. the counterpart of "Freeze MoE"; A.4 says "We did not find benefits from freezing
    /// different parts of the model", which places the row in the freezing group.
    case denseMLP
}

/// A table variant's fine-tuning protocol (SPEC §3.3, §5.3, §5.4; Table 19): which learning-rate set and batch
/// sizes the grid searches, epochs, expert dropout, the capacity override and what is frozen. One run of the grid
/// is a `FineTuneOptions` (`FineTuneOptions(_:learningRate:batchSize:seed:)`); the paper's presets are in
/// SparseMixersPaper (`Schedules.swift`).
public struct FineTuneProtocol: Codable, Equatable, Sendable {
    /// Expert dropout during fine-tuning (0.2 in the classification config).
    public var expertDropoutRate: Float = 0.2
    public var learningRateSet: LearningRateSet = .standard
    /// Capacity factor during fine-tuning, applied to both train and eval [GUESS]; nil keeps the model's.
    public var capacityFactor: Float? = nil
    public var freeze: FreezePolicy = .none
    /// Fine-tuning batch sizes at paper scale; the best per benchmark is kept.
    public var batchSizes: [Int] = [64]
    /// Epochs at paper scale (5 per the classification config [likely]).
    public var epochs: Int = 5
    public var warmupProportion: Double = 0.1

    public init(expertDropoutRate: Float = 0.2, learningRateSet: LearningRateSet = .standard,
                capacityFactor: Float? = nil, freeze: FreezePolicy = .none, batchSizes: [Int] = [64], epochs: Int = 5) {
        self.expertDropoutRate = expertDropoutRate; self.learningRateSet = learningRateSet
        self.capacityFactor = capacityFactor; self.freeze = freeze; self.batchSizes = batchSizes; self.epochs = epochs
    }

    /// The model configuration used while fine-tuning: expert dropout and the capacity-factor override applied.
    public func apply(to config: ModelConfig) -> ModelConfig {
        var c = config
        c.expertDropoutRate = expertDropoutRate
        if let cf = capacityFactor { c.trainCapacityFactor = cf; c.evalCapacityFactor = cf }
        return c
    }
}
