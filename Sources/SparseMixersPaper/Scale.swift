import Foundation
import SparseMixers
import SparseMixersTraining

/// How big a table run is. `paper` is the paper's exact setting; `ci`, `small` and `long` shrink every variant by
/// one rule (`ScaleSettings.scaledConfig`) that keeps each table's comparison meaningful.
public enum Scale: String, Codable, CaseIterable, Sendable {
    /// Tiny models: a whole table in minutes on 2 cores. Smoke test of the pipeline and of speed ratios' signs.
    case ci
    /// Models an eighth of the paper's width, 5.7M pre-training tokens per run, seeds for intervals (Table 3's
    /// pre-training, 11 runs, took 1 h 36 min on 2 cores: Results/small/RUN.md).
    case small
    /// `small`'s rule with 8x the pre-training tokens per run.
    case long
    /// The paper: 64 x 512, 1M pre-training steps (coordinate descent: an unknown count, 200k guessed).
    case paper

    public var settings: ScaleSettings { ScaleSettings(self) }
}

/// Every number that changes with the scale. Paper values come from SPEC §3–§5; the others are our choices.
public struct ScaleSettings: Codable, Equatable, Sendable {
    public var scale: Scale
    /// d_model, d_emb, d_ff and expert_d_ff are divided by this (heads, layers, experts kept).
    public var widthDivisor: Int
    /// Every input is padded to this length.
    public var seqLength: Int
    /// SentencePiece vocabulary size at this scale.
    public var vocabSize: Int
    /// Pre-training batch (sequences).
    public var pretrainBatch: Int
    /// Pre-training steps of the coordinate-descent tables (1–5, 11–16, 19).
    public var coordinateDescentSteps: Int
    /// Pre-training steps of the full models (6–10, 17, 18) and of the size figures.
    public var fullSteps: Int
    public var warmupSteps: Int
    public var pretrainLearningRate: Double
    /// Pre-training evaluation: number of eval batches for MLM/NSP accuracy (paper: max_num_eval_steps 1000).
    public var pretrainEvalBatches: Int
    /// Sequences per held-out batch: the eval set is `pretrainEvalBatches` x this many sequences, the same set
    /// for every variant and seed (a fixed seed, passages from every held-out book).
    public var pretrainEvalBatchSize: Int
    /// Pre-training seeds per variant (0, 1, ...), shared across variants so differences are paired.
    public var seeds: Int
    /// Seeds of a table's accuracy reference (its first row), at least `seeds`.
    public var referenceSeeds: Int
    /// Sequences per MoE routing group: the paper's 4096-token group is 8 sequences of 512 (one V100's share).
    /// At every scale max_group_size = sequencesPerGroup x seqLength.
    public var sequencesPerGroup: Int = 8
    /// Fine-tuning: at most this many training examples per task (nil: all).
    public var fineTuneTrainCap: Int?
    /// Fine-tuning: at most this many validation examples per task and split (nil: all).
    public var fineTuneEvalCap: Int?
    public var fineTuneEpochs: Int
    /// Fine-tuning: every task trains at least this many steps (epochs raised per task; 0: the protocol's epochs).
    public var fineTuneMinimumSteps: Int = 0
    /// Fine-tune a random-initialisation control of each table's reference beside the variants (the floor that
    /// says whether pre-training helped at all).
    public var fineTuneControl: Bool = true
    /// Fine-tune every pre-training seed of a variant (seed s from pre-training seed s's checkpoint, at the learning
    /// rate and batch chosen on seed 0's grid) and the control from as many initialisations, so fine-tuning scores
    /// carry an interval over seeds and differences are paired.
    public var fineTuneSeeds: Bool = false
    /// Paper fine-tuning batch sizes (16/32/64) are divided by this.
    public var fineTuneBatchDivisor: Int
    /// Base learning rates per set at this scale.
    public var learningRates: [LearningRateSet: [Double]]
    /// Table 10: pre-training runs per batch size ("stable out of 4" at paper scale).
    public var stabilityRuns: Int

    public init(_ scale: Scale) {
        self.scale = scale
        switch scale {
        case .ci:
            widthDivisor = 16; seqLength = 64; vocabSize = 2_000; pretrainBatch = 8
            // The full-schedule tables (6-10, 17, 18, Figure 2) train as long as the coordinate descent's at ci.
            // ci models end at or below the MLM floor whatever the schedule (Table 1 in fresh first looks: 0.6-3.1%
            // at 400 steps against a 3.1% floor, 2.5-2.7% at 200 and 1.5-2.7% at 100 against 2.7%), so the steps
            // only check the pipeline: 100 keep a warm-up, a decay, 5 evaluations and the checkpoints, and the
            // accuracy phases took 471 s of a 25-minute first look instead of 579 s at 200
            // (Results/ci/first-look-2026-12-04-quiet.md).
            coordinateDescentSteps = 100; fullSteps = 100; warmupSteps = 10; pretrainLearningRate = 1e-3
            pretrainEvalBatches = 4; pretrainEvalBatchSize = 16; seeds = 1; referenceSeeds = 1
            // One learning rate per set and 256 training examples per task: ci models learn class priors, so a
            // grid over learning rates would only choose between noise (small and paper keep the grids).
            fineTuneTrainCap = 256; fineTuneEvalCap = 256; fineTuneEpochs = 1; fineTuneBatchDivisor = 4
            learningRates = [.standard: [1e-3], .large: [3e-3], .wide: [1e-3]]
            // Table 10's batch-256 runs are 4x the tokens of the others; one run per batch size checks the pipeline.
            stabilityRuns = 1
        case .small, .long:
            // Models an eighth of the paper's width at 128 tokens (`sparse-mixers plan --scale small` counts and
            // times every table).
            widthDivisor = 8; seqLength = 128; vocabSize = 8_000; pretrainBatch = 32
            let k = scale == .long ? 8 : 1
            coordinateDescentSteps = 1_400 * k; fullSteps = 1_400 * k; warmupSteps = 140; pretrainLearningRate = 1e-3
            // 64 x 32 = 2,048 held-out sequences: 32,855 masked pieces (measured) and 2,048 NSP pairs, so a
            // binomial 95% interval on MLM accuracy is about +-0.45 points at 20%; seeds 2 (reference 3) for paired
            // intervals.
            pretrainEvalBatches = 64; pretrainEvalBatchSize = 32; seeds = 2; referenceSeeds = 3
            // Fine-tuning that can leave the class prior: full training sets up to 10,000 examples (SST-2's 67k
            // capped), full dev sets, at least 300 steps per task (small sets get more epochs), batch 16 for the
            // coordinate descent's 64; a two-value grid per set, chosen per task on dev the same way for every
            // variant (the large set stays 3x the standard one, Table 19's question).
            fineTuneTrainCap = 10_000; fineTuneEvalCap = nil; fineTuneEpochs = 1; fineTuneBatchDivisor = 4
            fineTuneMinimumSteps = 300; fineTuneSeeds = true
            learningRates = [.standard: [1e-4, 3e-4], .large: [3e-4, 1e-3], .wide: [1e-4, 3e-4]]
            stabilityRuns = 1
        case .paper:
            widthDivisor = 1; seqLength = 512; vocabSize = 32_000; pretrainBatch = 64
            coordinateDescentSteps = PretrainingNotes.coordinateDescentStepsGuess
            fullSteps = PretrainingNotes.fullStepsGuess; warmupSteps = 10_000; pretrainLearningRate = 1e-4
            pretrainEvalBatches = 1_000; pretrainEvalBatchSize = 64; seeds = 1; referenceSeeds = 1
            fineTuneTrainCap = nil; fineTuneEvalCap = nil; fineTuneEpochs = 5; fineTuneBatchDivisor = 1
            fineTuneControl = false
            learningRates = Dictionary(uniqueKeysWithValues: LearningRateSet.allCases.map { ($0, $0.paperValues) })
            stabilityRuns = 4
        }
    }

    // MARK: The rule

    /// Maps a paper-scale width to this scale.
    public func width(_ x: Int) -> Int { max(1, Int((Double(x) / Double(widthDivisor)).rounded())) }

    /// The scaled model. Kept: architecture, layer count, attention/MoE layouts and explicit indices (so the
    /// layer-placement pattern is identical), expert count, router, capacity factors, minimum
    /// capacity, dropout rates, loss factors. Scaled: d_model, d_emb, d_ff, expert_d_ff by `widthDivisor`
    /// (so d_ff/d_model and expert_d_ff/d_ff are unchanged); the vocabulary set; the sequence length by
    /// `ModelConfig.atSequenceLength` (masked predictions and max_group_size scale with it: 80 and 4096 of 512;
    /// a guessed 2048-token group becomes 4 sequences). Heads: `heads(paperHeads:dModel:)` (head dim >= 32, fewer
    /// heads than the paper's where the width is small).
    public func scaledConfig(_ c: ModelConfig) -> ModelConfig {
        if scale == .paper { return c }
        var s = c.atSequenceLength(seqLength)
        s.dModel = width(c.dModel); s.dEmb = width(c.dEmb); s.dFF = width(c.dFF); s.expertDFF = width(c.expertDFF)
        s.numHeads = Self.heads(paperHeads: c.numHeads, dModel: s.dModel)
        s.vocabSize = vocabSize
        return s
    }

    /// Smallest head dimension a shrunk model keeps (the earlier keep-the-head-count rule made heads 4 wide at ci
    /// and 8 at small).
    public static let minimumHeadDim = 32

    /// Heads of a shrunk model: the most heads, at most the paper's count, that divide `dModel` with a head
    /// dimension of at least `minimumHeadDim`; a model narrower than that gets one head.
    public static func heads(paperHeads: Int, dModel: Int) -> Int {
        guard paperHeads > 0 else { return paperHeads }
        let most = min(paperHeads, dModel / minimumHeadDim)
        guard most >= 1 else { return 1 }
        return (1...most).last { dModel % $0 == 0 } ?? 1
    }

    /// Pre-training seeds of a variant; a table's first row (the reference of the paired differences) gets at
    /// least `referenceSeeds`.
    public func seeds(reference: Bool) -> Int { reference ? max(seeds, referenceSeeds) : seeds }

    /// Pre-training steps for a table's regime.
    public func pretrainingSteps(_ regime: PretrainingRegime) -> Int {
        regime == .coordinateDescent ? coordinateDescentSteps : fullSteps
    }

    /// Pre-training batch sizes for a table (Table 10 uses 64 and 256 at paper scale: multiples kept).
    public func pretrainingBatchSizes(_ notes: PretrainingNotes) -> [Int] {
        notes.batchSizes.map { max(1, $0 * pretrainBatch / 64) }
    }

    /// Fine-tuning batch size for a paper batch size.
    public func fineTuneBatch(_ paperBatch: Int) -> Int { max(1, paperBatch / fineTuneBatchDivisor) }

    /// Base learning rates of a set at this scale.
    public func learningRates(_ set: LearningRateSet) -> [Double] { learningRates[set] ?? set.paperValues }

    /// A variant at this scale: configs scaled, fine-tuning batch sizes mapped. Names, guesses and notes kept.
    public func scaled(_ v: VariantSpec) -> VariantSpec {
        var s = v
        s.config = scaledConfig(v.config)
        s.pairedConfig = v.pairedConfig.map(scaledConfig)
        s.fineTuning.batchSizes = v.fineTuning.batchSizes.map(fineTuneBatch)
        s.fineTuning.epochs = fineTuneEpochs
        return s
    }

    /// A table at this scale.
    public func scaled(_ t: TableSpec) -> TableSpec {
        var s = t
        s.variants = t.variants.map(scaled)
        s.speedReference = t.speedReference.map(scaled)
        s.pretraining.batchSizes = pretrainingBatchSizes(t.pretraining)
        s.pretraining.seqLength = seqLength
        s.pretraining.steps = pretrainingSteps(t.pretraining.regime)
        s.pretraining.stepsAreGuessed = scale == .paper ? t.pretraining.stepsAreGuessed : false
        s.pretraining.learningRate = pretrainLearningRate
        s.pretraining.warmupSteps = warmupSteps
        return s
    }

    /// Whether the capacity floor (min_expert_capacity) binds for `config` at this scale, which would change
    /// the relative capacity of the variants (C = max(round(c·T_g/E), 4)).
    public func capacityFloorBinds(_ config: ModelConfig, training: Bool = false) -> Bool {
        guard config.isSparse else { return false }
        let g = Routing.groupSize(tokens: sequencesPerGroup * config.maxSeqLength, maxGroupSize: config.maxGroupSize)
        let unfloored = Routing.capacity(factor: training ? config.trainCapacityFactor : config.evalCapacityFactor,
                                         tokensPerGroup: g, experts: config.numExperts, minCapacity: 0)
        return unfloored < config.minExpertCapacity
    }

    // MARK: Human-readable rule

    private func fmt(_ x: Double) -> String { String(format: "%g", x) }

    /// The rule at this scale, for README and every report.
    public var ruleText: String {
        let div = widthDivisor
        var lines: [String] = []
        lines.append("Scale `\(scale.rawValue)`: " + (scale == .paper ? "the paper's settings." :
            "every paper variant is shrunk by one rule so each table's comparison keeps its meaning."))
        if scale != .paper {
            lines.append("- Kept from the paper config: architecture, layer count, attention and MoE layouts and "
                + "explicit layer indices (identical placement pattern), expert count, router, "
                + "capacity factors, min expert capacity 4, dropout rates, loss factors.")
            lines.append("- Widths divided by \(div): d_model, d_emb, d_ff, expert_d_ff (e.g. BERT 768/3072 -> "
                + "\(width(768))/\(width(3072)); SM 512/2048 -> \(width(512))/\(width(2048))), so d_ff/d_model and "
                + "expert_d_ff/d_ff ratios are unchanged. Heads: as many as the paper's, at most, with head dim >= "
                + "\(Self.minimumHeadDim) (BERT -> \(Self.heads(paperHeads: 12, dModel: width(768))) heads of "
                + "\(width(768) / Self.heads(paperHeads: 12, dModel: width(768)))); a model narrower than "
                + "\(Self.minimumHeadDim) gets one head.")
            let atSeq = ModelConfig.sparseMixerBase.atSequenceLength(seqLength)
            lines.append("- Sequence length 512 -> \(seqLength); masked predictions 80 -> "
                + "\(atSeq.maxPredictionsPerSeq); vocabulary 32,000 -> \(vocabSize). Linear, Circulant and "
                + "Toeplitz mixing parameters depend on the sequence length (L x L, L, 2L-1), so their parameter "
                + "counts and mixing cost shrink with it.")
            lines.append("- MoE routing group = \(sequencesPerGroup) sequences (paper: 4096 = 8 x 512 tokens per "
                + "V100) -> max_group_size \(atSeq.maxGroupSize); capacity C = max(round(c*T_g/E), 4) "
                + "keeps c*T_g/E >= 4 for every table variant, so relative capacities are preserved.")
        }
        lines.append("- Pre-training: batch \(pretrainBatch) x \(seqLength), lr \(fmt(pretrainLearningRate)), "
            + "\(warmupSteps) warmup steps, \(coordinateDescentSteps) steps for coordinate-descent tables "
            + "(1-5, 11-16, 19)\(scale == .paper ? " [GUESS: the paper's count is lost]" : ""), \(fullSteps) steps "
            + "for the full models (6-10, 17, 18, figures)\(scale == .paper ? " [GUESS]" : ""); "
            + "held-out MLM/NSP accuracy on one fixed set of \(pretrainEvalBatches * pretrainEvalBatchSize) sequences "
            + "(\(pretrainEvalBatches) batches of \(pretrainEvalBatchSize), passages from every held-out book, "
            + "the same for every run); \(seeds) seed\(seeds == 1 ? "" : "s") per variant, "
            + "\(self.seeds(reference: true)) for the "
            + "table's first row, shared across variants. Table 10 batch sizes 64/256 -> "
            + "\(64 * pretrainBatch / 64)/\(256 * pretrainBatch / 64), "
            + "\(stabilityRuns) run\(stabilityRuns == 1 ? "" : "s") each.")
        let cap: (Int?) -> String = { $0.map { "\($0)" } ?? "all" }
        lines.append("- Fine-tuning: \(fineTuneEpochs) epoch(s); examples per task: train \(cap(fineTuneTrainCap)), "
            + "eval \(cap(fineTuneEvalCap)); batch sizes 16/32/64 -> \(fineTuneBatch(16))/\(fineTuneBatch(32))/"
            + "\(fineTuneBatch(64)) (coordinate descent: \(fineTuneBatch(64))); base LR sets: "
            + LearningRateSet.allCases.map { "\($0.rawValue) {\(learningRates($0).map(fmt).joined(separator: ", "))}" }
                .joined(separator: "; ")
            + (scale == .paper ? " [all GUESS: the paper's values are lost]" : "") + "; expert dropout 0.2"
            + (fineTuneMinimumSteps > 0
               ? "; at least \(fineTuneMinimumSteps) steps per task (more epochs for small sets)" : "")
            + "; the learning rate chosen per task on dev, the same way for every variant"
            + (fineTuneSeeds ? "; every pre-training seed fine-tuned (seeds after the first at the learning rate the "
               + "first chose), scores as means over seeds with their 95% interval" : "")
            + (fineTuneControl ? "; floors beside every task: the majority class and a random-initialisation control "
               + "(the table's reference fine-tuned the same way from its untrained weights); a task whose reference "
               + "does not beat both by more than the dev set's 95% noise"
               + (fineTuneSeeds ? " and the seeds' 95% interval" : "")
               + " is marked \"no signal at this scale\" and left out of the averages." : "."))
        lines.append("- Speed: ratios to BERT Base measured in the same run, never absolute ms against the paper.")
        return lines.joined(separator: "\n")
    }
}

extension Scale {
    /// The rule text of every scale, for the README.
    public static var allRulesText: String {
        Scale.allCases.map { $0.settings.ruleText }.joined(separator: "\n\n")
    }
}
