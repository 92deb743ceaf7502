import Foundation
import SparseMixers
import SparseMixersTraining

/// Which pre-training schedule a table's runs used (SPEC §4.5, §8).
public enum PretrainingRegime: String, Codable, Sendable {
    /// Tables 1–5, 11–16, 19: the short coordinate-descent schedule (step count lost in extraction).
    case coordinateDescent
    /// Tables 6–10, 17, 18: "the full [N] steps" (1M guessed).
    case full
    /// Figures 2/4 and A.5: run on 32 TPU v3; steps not stated.
    case scaling
}

/// Pre-training settings of a table at paper scale, with the unknowns spelled out.
public struct PretrainingNotes: Codable, Equatable, Sendable {
    public var regime: PretrainingRegime
    /// Sequences per batch (Table 10 also uses 256).
    public var batchSizes: [Int]
    public var seqLength: Int = 512
    /// Steps used at paper scale (a guess where the paper's number is lost).
    public var steps: Int
    public var stepsAreGuessed: Bool
    public var learningRate: Double = 1e-4
    public var warmupSteps: Int = 10_000
    public var note: String

    public static let coordinateDescentStepsGuess = 200_000
    public static let fullStepsGuess = 1_000_000

    public static let coordinateDescent = PretrainingNotes(
        regime: .coordinateDescent, batchSizes: [64], steps: coordinateDescentStepsGuess, stepsAreGuessed: true,
        note: "Coordinate-descent pre-training: batch 64 x 512, lr 1e-4, 10k warmup. The step count was lost in "
            + "extraction [UNKNOWN]; \(coordinateDescentStepsGuess) is our guess (\"fewer\" than the full 1M).")
    public static let full = PretrainingNotes(
        regime: .full, batchSizes: [64], steps: fullStepsGuess, stepsAreGuessed: true,
        note: "Full pre-training: batch 64 x 512, lr 1e-4, 10k warmup, 1M steps [GUESS: config default and the "
            + "released checkpoint name ..._990000].")
    public static let stability = PretrainingNotes(
        regime: .full, batchSizes: [64, 256], steps: fullStepsGuess, stepsAreGuessed: true,
        note: "Stability: 4 pre-training runs per column; columns 64 / 256 guessed to be pre-training batch sizes "
            + "[GUESS]; what counts as stable (no divergence) is [UNKNOWN]. Steps as the full schedule [GUESS].")
    public static let scaling = PretrainingNotes(
        regime: .scaling, batchSizes: [64], steps: fullStepsGuess, stepsAreGuessed: true,
        note: "A.5 sizes were pre-trained on 32 TPU v3; batch and steps are not stated [UNKNOWN]; we use the "
            + "full schedule's batch 64 and 1M steps [GUESS].")
}

/// The paper's fine-tuning protocols (SPEC §5.3, §5.4), as the catalog assigns them to table variants.
extension FineTuneProtocol {
    /// Coordinate-descent protocol for a dense model: batch 64, 5 epochs, default LR set.
    public static let coordinateDescentDense = FineTuneProtocol()
    /// Coordinate-descent protocol for an MoE model: the large LR set and expert dropout 0.2.
    public static let coordinateDescentMoE = FineTuneProtocol(learningRateSet: .large)
    /// Final comparison (Tables 6–10, 17, 18): batch {16, 32, 64} x the wide LR range.
    public static let finalComparison = FineTuneProtocol(learningRateSet: .wide, batchSizes: [16, 32, 64])

    /// The protocol a coordinate-descent table uses for `config` (MoE models get the large LR set).
    public static func coordinateDescent(for config: ModelConfig) -> FineTuneProtocol {
        config.isSparse ? coordinateDescentMoE : coordinateDescentDense
    }
}
