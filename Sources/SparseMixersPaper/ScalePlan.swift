import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData
import SparseMixersTraining

/// What a scale means for the training drivers: steps, batch, schedule, evaluation and checkpoint cadence,
/// the vocabulary, and fine-tuning caps. The model side of the rule is `ScaleSettings.scaledConfig`.
public enum ScalePlan {
    /// Pre-training options of a table regime at a scale. Paper scale uses the reference's cadence (eval every
    /// 2,000 steps over 1,000 batches, checkpoints every 20,000); smaller scales evaluate 5 times and
    /// checkpoint 4 times per run.
    public static func pretrainOptions(_ s: ScaleSettings, regime: PretrainingRegime = .full, batchSize: Int? = nil,
                                       steps: Int? = nil, seed: UInt64 = 0) -> PretrainOptions {
        let n = steps ?? s.pretrainingSteps(regime)
        let paper = s.scale == .paper
        return PretrainOptions(steps: n, batchSize: batchSize ?? s.pretrainBatch, learningRate: s.pretrainLearningRate,
                               warmupSteps: min(s.warmupSteps, max(n / 10, 1)),
                               evalEvery: paper ? 2_000 : max(n / 5, 1), evalBatches: s.pretrainEvalBatches,
                               checkpointEvery: paper ? 20_000 : max(n / 4, 1), logEvery: paper ? 100 : max(n / 50, 1),
                               seed: seed, evalBatchSize: s.pretrainEvalBatchSize)
    }

    /// The prepared corpus with the scale's vocabulary (trained once and cached under the data root's cache).
    public static func corpus(_ s: ScaleSettings, root: DataRoot,
                              log: (String) -> Void = { _ in }) throws -> PreparedCorpus {
        try corpus(vocabSize: s.vocabSize, root: root, log: log)
    }

    /// The prepared corpus with a vocabulary of `vocabSize` pieces (a checkpoint's, when fine-tuning).
    public static func corpus(vocabSize: Int, root: DataRoot,
                              log: (String) -> Void = { _ in }) throws -> PreparedCorpus {
        var o = CorpusPrepareOptions()
        o.vocabulary.vocabSize = vocabSize
        o.vocabulary.inputSentenceSize = VocabularyOptions.sentences(forVocabSize: vocabSize)
        return try PreparedCorpus.prepare(root: root, options: o, log: log)
    }

    /// The fine-tuning grid of a table variant at a scale.
    public static func gridSettings(_ s: ScaleSettings, _ f: FineTuneProtocol,
                                    seed: UInt64 = 0) -> FineTuneGrid.Settings {
        var p = f
        p.epochs = s.fineTuneEpochs
        return FineTuneGrid.Settings(learningRates: s.learningRates(f.learningRateSet), batchSizes: f.batchSizes,
                                     protocolOptions: p, trainCap: s.fineTuneTrainCap, evalCap: s.fineTuneEvalCap,
                                     seed: seed, minimumSteps: s.fineTuneMinimumSteps)
    }
}
