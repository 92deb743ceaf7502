import Foundation

/// The mixing mechanism of the non-attention layers (reference `ModelArchitecture`).
public enum ModelArch: String, Codable, CaseIterable, Sendable {
    /// Every layer is multi-head self-attention, whatever `numAttentionLayers` says.
    case bert = "BERT"
    /// Re(F_L · X · F_D): unnormalised 2-D DFT, real part taken once (SPEC §1.5).
    case fNet = "F_NET"
    /// W_s · X · W_h with learned [L, L] and [D, D] matrices (the Sparse Mixer's mixing).
    case linear = "LINEAR"
    /// Re(Z) − Im(Z) of the same 2-D DFT (cas of the summed angle).
    case hNet = "H_NET"
    /// C(c_s) · X · C(c_h)ᵀ with learned circulant vectors.
    case cNet = "C_NET"
    /// T(t_s) · X · T(t_h)ᵀ with learned Toeplitz vectors.
    case tNet = "T_NET"
}

/// Where the `n` replacement layers (attention or MoE) go among `N` layers (`_is_replacement_layer`).
public enum LayerLayout: String, Codable, CaseIterable, Sendable {
    /// ℓ < n.
    case bottom = "BOTTOM"
    /// (N − n) ≤ 2ℓ < (N + n).
    case middle = "MIDDLE"
    /// ℓ mod ⌊N/n⌋ == 0. Quirk kept: when N/n is not an integer this selects more than n layers.
    case mixed = "MIXED"
    /// ℓ ≥ N − n.
    case top = "TOP"

    /// Layer indices chosen by this layout.
    public func layers(numLayers N: Int, count n: Int) -> [Int] {
        guard n > 0 else { return [] }
        return (0..<N).filter { l in
            switch self {
            case .bottom: return l < n
            case .middle: return (N - n) <= 2 * l && 2 * l < (N + n)
            case .mixed: return l % max(1, N / n) == 0
            case .top: return l >= N - n
            }
        }
    }
}

/// MoE routing algorithm (reference `DispatchAlgorithm`). Mask and scatter Tokens Choose give identical math.
public enum DispatchAlgorithm: String, Codable, CaseIterable, Sendable {
    /// Tokens Choose top-k (Switch), optionally with Batch Prioritized Routing.
    case maskTokensChoose = "MASK_TOKENS_CHOOSE"
    /// Each expert picks its top-C tokens (Zhou et al. 2022). The Sparse Mixer's router.
    case maskExpertsChoose = "MASK_EXPERTS_CHOOSE"
    /// Same math as `maskTokensChoose`.
    case scatterTokensChoose = "SCATTER_TOKENS_CHOOSE"

    public var isExpertsChoose: Bool { self == .maskExpertsChoose }
}

/// Every knob of the reference's `configs/base.py`, with its name in lowerCamelCase and its default.
/// `validate()` rejects impossible combinations with a message that names the field.
public struct ModelConfig: Codable, Equatable, Sendable {
    public var modelArch: ModelArch = .linear
    public var vocabSize: Int = 32_000
    public var padId: Int = 0
    public var typeVocabSize: Int = 4
    /// Every input is padded to exactly this length (Linear/Circulant/Toeplitz parameters depend on it).
    public var maxSeqLength: Int = 512
    public var maxPredictionsPerSeq: Int = 80
    public var dEmb: Int = 512
    public var dModel: Int = 512
    public var dFF: Int = 2048
    public var numHeads: Int = 8
    public var numLayers: Int = 14
    public var dropoutRate: Float = 0.1
    /// Dropout on attention probabilities.
    public var mixingDropoutRate: Float = 0.1
    /// The reference's `use_fft`: circulant/Toeplitz mixing by FFT instead of explicit matrices (same numbers).
    /// Kept for the reference's name and its fixtures (all `false`); this implementation runs circulant and
    /// Toeplitz as explicit matrix products only (Fourier/Hartley always use FFTW), so `validate()` refuses `true`
    /// rather than silently run the matrix path. The analytic cost model still counts what the reference's FFT path
    /// would cost (`FLOPCounter`).
    public var useFFT: Bool = false
    public var attentionLayout: LayerLayout = .top
    public var numAttentionLayers: Int = 4
    public var moeLayout: LayerLayout = .middle
    public var numMoELayers: Int = 4
    public var numExperts: Int = 16
    /// Tokens per routing group at most (the group count rule can exceed it, SPEC §2.1).
    public var maxGroupSize: Int = 4096
    public var expertDFF: Int = 2048
    public var expertDropoutRate: Float = 0.1
    public var dispatchAlgorithm: DispatchAlgorithm = .maskExpertsChoose
    public var trainCapacityFactor: Float = 1.0
    public var evalCapacityFactor: Float = 1.0
    /// capacity = max(round_half_even(c · tokensPerGroup / E), minExpertCapacity).
    public var minExpertCapacity: Int = 4
    /// k of Tokens Choose top-k.
    public var numSelectedExperts: Int = 1
    public var batchPrioritizedRouting: Bool = true
    public var auxiliaryLossFactor: Float = 0.01
    public var routerZLossFactor: Float = 1e-4
    public var jitterNoise: Float = 0.0
    /// Explicit attention layer indices, overriding layout/count (for layouts the enums cannot express).
    public var attentionLayerIndices: [Int]? = nil
    /// Explicit MoE layer indices, overriding layout/count (Table 5's 6-MIXED-odd).
    public var moeLayerIndices: [Int]? = nil

    public init() {}

    // MARK: Layer placement (SPEC §1.3)

    /// Layers whose mixing sublayer is self-attention.
    public var attentionLayers: [Int] {
        if modelArch == .bert { return Array(0..<numLayers) }
        if let explicit = attentionLayerIndices { return explicit.sorted() }
        return attentionLayout.layers(numLayers: numLayers, count: numAttentionLayers)
    }

    /// Layers whose FFN is a Mixture of Experts.
    public var moeLayers: [Int] {
        if numExperts <= 0 { return [] }
        if let explicit = moeLayerIndices { return explicit.sorted() }
        return moeLayout.layers(numLayers: numLayers, count: numMoELayers)
    }

    public var headDim: Int { dModel / max(numHeads, 1) }
    public var isSparse: Bool { !moeLayers.isEmpty }

    /// Throws `ConfigError` naming the first impossible field.
    public func validate() throws {
        func need(_ ok: Bool, _ field: String, _ why: String) throws {
            if !ok { throw ConfigError(field: field, message: why) }
        }
        try need(vocabSize > 0, "vocabSize", "must be positive, got \(vocabSize)")
        try need(padId >= 0 && padId < vocabSize, "padId", "must be in 0..<vocabSize (\(vocabSize)), got \(padId)")
        try need(typeVocabSize > 0, "typeVocabSize", "must be positive, got \(typeVocabSize)")
        try need(maxSeqLength > 0, "maxSeqLength", "must be positive, got \(maxSeqLength)")
        try need(maxPredictionsPerSeq >= 0 && maxPredictionsPerSeq <= maxSeqLength, "maxPredictionsPerSeq",
                 "must be in 0...maxSeqLength (\(maxSeqLength)), got \(maxPredictionsPerSeq)")
        try need(dEmb > 0, "dEmb", "must be positive, got \(dEmb)")
        try need(dModel > 0, "dModel", "must be positive, got \(dModel)")
        try need(dFF > 0, "dFF", "must be positive, got \(dFF)")
        try need(numLayers > 0, "numLayers", "must be positive, got \(numLayers)")
        try need(!useFFT, "useFFT", "must be false: circulant and Toeplitz mixing run as explicit matrix products "
                 + "here (the reference's use_fft = False); the FFT path is not implemented")
        for (name, p) in [("dropoutRate", dropoutRate), ("mixingDropoutRate", mixingDropoutRate),
                          ("expertDropoutRate", expertDropoutRate)] {
            try need(p >= 0 && p < 1, name, "must be in [0, 1), got \(p)")
        }
        let needsAttention = modelArch == .bert || !attentionLayers.isEmpty
        if needsAttention {
            try need(numHeads > 0, "numHeads", "must be positive, got \(numHeads)")
            try need(dModel % numHeads == 0, "numHeads", "\(numHeads) heads do not divide dModel = \(dModel)")
        }
        try need(numAttentionLayers >= 0 && numAttentionLayers <= numLayers, "numAttentionLayers",
                 "must be in 0...numLayers (\(numLayers)), got \(numAttentionLayers)")
        try need(numMoELayers >= 0 && numMoELayers <= numLayers, "numMoELayers",
                 "must be in 0...numLayers (\(numLayers)), got \(numMoELayers)")
        if let a = attentionLayerIndices {
            try need(a.allSatisfy { $0 >= 0 && $0 < numLayers } && Set(a).count == a.count, "attentionLayerIndices",
                     "must be distinct layers in 0..<\(numLayers), got \(a)")
        }
        if let m = moeLayerIndices {
            try need(m.allSatisfy { $0 >= 0 && $0 < numLayers } && Set(m).count == m.count, "moeLayerIndices",
                     "must be distinct layers in 0..<\(numLayers), got \(m)")
        }
        if !moeLayers.isEmpty {
            try need(numExperts >= 1, "numExperts", "must be positive when MoE layers are present, got \(numExperts)")
            try need(expertDFF > 0, "expertDFF", "must be positive, got \(expertDFF)")
            try need(maxGroupSize > 0, "maxGroupSize", "must be positive, got \(maxGroupSize)")
            try need(trainCapacityFactor > 0 && trainCapacityFactor.isFinite, "trainCapacityFactor",
                     "must be positive, got \(trainCapacityFactor)")
            try need(evalCapacityFactor > 0 && evalCapacityFactor.isFinite, "evalCapacityFactor",
                     "must be positive, got \(evalCapacityFactor)")
            try need(minExpertCapacity >= 1, "minExpertCapacity", "must be at least 1, got \(minExpertCapacity)")
            try need(numSelectedExperts >= 1 && numSelectedExperts <= numExperts, "numSelectedExperts",
                     "must be in 1...numExperts (\(numExperts)), got \(numSelectedExperts)")
            try need(jitterNoise >= 0 && jitterNoise < 1, "jitterNoise", "must be in [0, 1), got \(jitterNoise)")
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let field: String
    public let message: String
    public var description: String { "invalid config: \(field) \(message)" }
}

// MARK: - Named presets (SPEC §3.4, §8)

extension ModelConfig {
    /// BERT-Base as in the authors' codebase: 12 attention layers, D = 768, F = 3072, 12 heads, no MoE.
    public static var bertBase: ModelConfig {
        var c = ModelConfig()
        c.modelArch = .bert
        c.dEmb = 768; c.dModel = 768; c.dFF = 3072; c.numHeads = 12; c.numLayers = 12
        c.numAttentionLayers = 12; c.numMoELayers = 0; c.numExperts = 0
        return c
    }

    /// Sparse Mixer Base: Linear mixing, 14 layers, D = 512, F = 2048, 4 TOP attention, 4 MIDDLE EC MoE of 16 experts.
    public static var sparseMixerBase: ModelConfig { ModelConfig() }

    /// Fast Sparse Mixer: the Sparse Mixer with train and eval capacity factor 0.5.
    public static var fastSparseMixerBase: ModelConfig {
        var c = ModelConfig()
        c.trainCapacityFactor = 0.5; c.evalCapacityFactor = 0.5
        return c
    }

    /// README's "Small" Sparse Mixer: 8 layers, 4 attention, 4 MoE.
    public static var sparseMixerSmall: ModelConfig {
        var c = ModelConfig(); c.numLayers = 8; return c
    }

    /// Table 1: all 12 layers mixing (no attention, no MoE), BERT-Base shape.
    public static func allMixing(_ arch: ModelArch) -> ModelConfig {
        var c = ModelConfig()
        c.modelArch = arch
        c.dEmb = 768; c.dModel = 768; c.dFF = 3072; c.numHeads = 12; c.numLayers = 12
        c.numAttentionLayers = 0; c.numMoELayers = 0; c.numExperts = 0
        return c
    }

    /// Table 2: the top `k` of 12 mixing layers replaced by self-attention ("Hartley-k", "Linear-k").
    public static func hybrid(_ arch: ModelArch, attentionLayers k: Int) -> ModelConfig {
        var c = allMixing(arch)
        c.attentionLayout = .top; c.numAttentionLayers = k
        return c
    }

    /// The coordinate-descent base "Linear-4": 12 layers, D 768, F 3072, 4 TOP attention, no MoE.
    public static var linear4: ModelConfig { hybrid(.linear, attentionLayers: 4) }

    /// The MoE-ablation base of Tables 4, 5, 14, 15, 19: Linear-4 plus 6 MIXED EC MoE layers of 16 experts,
    /// expert d_ff 3072, c = 1.
    public static var moeAblationBase: ModelConfig {
        var c = linear4
        c.moeLayout = .mixed; c.numMoELayers = 6; c.numExperts = 16; c.expertDFF = 3072
        c.dispatchAlgorithm = .maskExpertsChoose
        return c
    }

    /// A.5 size pairs for Figures 2 and 4 (`size` 1...6, 5 = Base). Head dim 64; d_emb = d_model.
    public static func a5(bert: Bool, size: Int) -> ModelConfig {
        //            (BERT L, D, F), (SM L, D, F, attn, moe, experts)
        let rows: [(Int, Int, Int, Int, Int, Int, Int, Int, Int)] = [
            (2, 256, 1024, 2, 256, 1024, 2, 2, 16),
            (4, 256, 1024, 4, 256, 1024, 2, 2, 16),
            (4, 512, 2048, 4, 512, 2048, 2, 2, 16),
            (8, 512, 2048, 8, 512, 2048, 4, 4, 16),
            (12, 768, 3072, 14, 512, 2048, 4, 4, 16),
            (18, 768, 3072, 18, 768, 3072, 6, 6, 32),
        ]
        precondition((1...6).contains(size), "A.5 size must be 1...6")
        let r = rows[size - 1]
        if bert {
            var c = bertBase
            c.numLayers = r.0; c.dModel = r.1; c.dEmb = r.1; c.dFF = r.2; c.numHeads = r.1 / 64
            c.numAttentionLayers = r.0
            return c
        }
        var c = sparseMixerBase
        c.numLayers = r.3; c.dModel = r.4; c.dEmb = r.4; c.dFF = r.5; c.expertDFF = r.5; c.numHeads = r.4 / 64
        c.numAttentionLayers = r.6; c.numMoELayers = r.7; c.numExperts = r.8
        return c
    }

    /// Every named preset, by the name the command line uses.
    public static var presets: [(name: String, config: ModelConfig)] {
        var list: [(String, ModelConfig)] = [
            ("bert-base", bertBase),
            ("sparse-mixer-base", sparseMixerBase),
            ("fast-sparse-mixer-base", fastSparseMixerBase),
            ("sparse-mixer-small", sparseMixerSmall),
            ("fourier-12", allMixing(.fNet)),
            ("hartley-12", allMixing(.hNet)),
            ("circulant-12", allMixing(.cNet)),
            ("toeplitz-12", allMixing(.tNet)),
            ("linear-12", allMixing(.linear)),
            ("moe-ablation-base", moeAblationBase),
        ]
        for k in [0, 1, 2, 3, 4, 6] {
            list.append(("hartley-\(k)", hybrid(.hNet, attentionLayers: k)))
            list.append(("linear-\(k)", hybrid(.linear, attentionLayers: k)))
        }
        for s in 1...6 {
            list.append(("a5-bert-\(s)", a5(bert: true, size: s)))
            list.append(("a5-sparse-mixer-\(s)", a5(bert: false, size: s)))
        }
        return list
    }

    public static func preset(named name: String) throws -> ModelConfig {
        if let p = presets.first(where: { $0.name == name }) { return p.config }
        let known = presets.map(\.name).joined(separator: ", ")
        throw ConfigError(field: "preset", message: "unknown preset '\(name)'; known: \(known)")
    }

    /// This config with every input padded to `seq` tokens, the one rule that adapts a config to a sequence length
    /// (every scale's `scaledConfig`, every speed shape, `bench --seq`). The masked predictions and the MoE routing
    /// group scale with the sequence, so a shorter input keeps the reference's 80 predictions per 512 tokens and
    /// its group of 8 sequences (4096 tokens at 512):
    ///
    ///     maxPredictionsPerSeq = max(1, round(P · seq / L))    (half away from zero)
    ///     maxGroupSize         = max(1, ⌊G · seq / L⌋)
    ///
    /// e.g. the Sparse Mixer at 128 tokens: 20 predictions and groups of 1024, so 16 × 128 tokens route as two
    /// groups. Widths, layers, experts and the vocabulary are unchanged.
    public func atSequenceLength(_ seq: Int) -> ModelConfig {
        precondition(seq > 0 && maxSeqLength > 0, "sequence lengths must be positive, got \(seq) from \(maxSeqLength)")
        var c = self
        c.maxSeqLength = seq
        let predictions = Double(maxPredictionsPerSeq) * Double(seq) / Double(maxSeqLength)
        c.maxPredictionsPerSeq = max(1, Int(predictions.rounded()))
        c.maxGroupSize = max(1, maxGroupSize * seq / maxSeqLength)
        return c
    }
}
