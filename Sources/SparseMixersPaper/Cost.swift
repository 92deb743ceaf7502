import Foundation
import SparseMixers

// Analytic cost of a ModelConfig (SPEC §6): FLOPs per example and parameter counts.
//
// Legend: L = max_seq_length, D = d_model, D_e = d_emb, F = d_ff, F_e = expert_d_ff, E = experts,
// V = vocabulary, P = max_predictions_per_seq, T = tokens per device (sequencesPerDevice · L),
// G = routing groups per device, T_g = T / G, C = expert capacity.
// Convention: 2 FLOPs per multiply-add; only matrix products (and the FFT estimates) are counted —
// softmax, LayerNorm, GELU, bias adds, dropout and embedding look-ups are not.

// Group and capacity arithmetic (SPEC §2.1, §2.2) is the model's own: `Routing.numGroups`, `Routing.capacity`.

/// How the MoE dispatch and combine are counted.
public enum DispatchCounting: String, Codable, CaseIterable, Sendable {
    /// Our CPU path: dispatch is a gather (0 FLOPs); combine is one multiply-add per slot element,
    /// 2·E·C·D per group.
    case gatherScatter
    /// The reference's masked einsums: dispatch [T_g,E,C]×[T_g,D] and combine [T_g,E,C]×[E,C,D],
    /// each 2·T_g·E·C·D per group.
    case maskedEinsum
}

/// How Fourier/Hartley mixing is counted.
public enum SpectralCounting: String, Codable, CaseIterable, Sendable {
    /// The reference's default (use_fft = False): real DFT-matrix products, 4·L·D² + 4·L²·D per layer for both
    /// Fourier (Re(F_L·X·F_D)) and Hartley (C_L(XC_D + XS_D) + S_L(XC_D − XS_D)).
    case dftMatrix
    /// FFT estimate: 2.5·N·log2(N) for a real 2-D transform of N = L·D points (+N for Hartley's Re − Im).
    case fft
}

public struct FLOPOptions: Codable, Equatable, Sendable {
    /// Sequences per (virtual) device: the routing groups are made from sequencesPerDevice · L tokens.
    /// Paper: global batch 64 on 8 V100s = 8, i.e. one group of 4096 tokens.
    public var sequencesPerDevice: Int = 8
    public var dispatch: DispatchCounting = .gatherScatter
    public var spectral: SpectralCounting = .dftMatrix
    /// Use the train capacity factor instead of the eval one.
    public var training: Bool = false
    /// Count the pre-training heads (pooler, MLM on P positions, NSP).
    public var includePretrainingHeads: Bool = true

    public init(sequencesPerDevice: Int = 8, dispatch: DispatchCounting = .gatherScatter,
                spectral: SpectralCounting = .dftMatrix, training: Bool = false, includePretrainingHeads: Bool = true) {
        self.sequencesPerDevice = sequencesPerDevice; self.dispatch = dispatch; self.spectral = spectral
        self.training = training; self.includePretrainingHeads = includePretrainingHeads
    }

    /// SPEC §6 / Table 8's setting: reference einsum dispatch, eval capacity.
    public static let reference = FLOPOptions(dispatch: .maskedEinsum)
}

/// Forward FLOPs per example, by component.
public struct FLOPBreakdown: Codable, Equatable, Sendable {
    /// D_e → D projection ("hidden_mapping_in").
    public var embeddingProjection = 0.0
    /// Linear / Fourier / Hartley / Circulant / Toeplitz sublayers.
    public var mixing = 0.0
    /// Q, K, V, output projections and the two L×L products.
    public var attention = 0.0
    public var denseFFN = 0.0
    public var router = 0.0
    /// E·C slots per group, each through a D → F_e → D expert.
    public var experts = 0.0
    public var dispatch = 0.0
    public var combine = 0.0
    public var pooler = 0.0
    public var mlmHead = 0.0
    public var nspHead = 0.0

    public var total: Double {
        embeddingProjection + mixing + attention + denseFFN + router + experts + dispatch + combine
            + pooler + mlmHead + nspHead
    }
    public var gflops: Double { total / 1e9 }
}

public enum FLOPCounter {
    /// Training-step FLOPs = this × forward FLOPs: the backward pass of every matrix product costs two products
    /// (gradient with respect to the input and to the weight). Applied uniformly, also to parameter-free
    /// mixing (whose backward is really 1×) and to the dispatch; the AdamW update (~10 FLOPs per parameter)
    /// is not included.
    public static let trainingMultiplier = 3.0

    /// Per-example forward FLOPs of `config` at its own max_seq_length.
    public static func forward(_ c: ModelConfig, options o: FLOPOptions = FLOPOptions()) -> FLOPBreakdown {
        let L = Double(c.maxSeqLength), D = Double(c.dModel), De = Double(c.dEmb), F = Double(c.dFF)
        var b = FLOPBreakdown()
        b.embeddingProjection = 2 * L * De * D
        let attention = Set(c.attentionLayers), moe = Set(c.moeLayers)
        for layer in 0..<c.numLayers {
            if attention.contains(layer) {
                b.attention += 8 * L * D * D + 4 * L * L * D
            } else {
                b.mixing += mixingFLOPs(c, o.spectral)
            }
            if moe.contains(layer) {
                let m = moeFLOPs(c, o)
                b.router += m.router; b.experts += m.experts; b.dispatch += m.dispatch; b.combine += m.combine
            } else {
                b.denseFFN += 4 * L * D * F
            }
        }
        if o.includePretrainingHeads {
            let P = Double(c.maxPredictionsPerSeq), V = Double(c.vocabSize)
            b.pooler = 2 * D * D
            b.mlmHead = 2 * P * D * De + 2 * P * De * V
            b.nspHead = 2 * D * 2
        }
        return b
    }

    /// Per-example FLOPs of one pre-training step (forward + backward), with the train capacity factor.
    public static func trainingStep(_ c: ModelConfig, options: FLOPOptions = FLOPOptions()) -> Double {
        var o = options; o.training = true
        return trainingMultiplier * forward(c, options: o).total
    }

    /// The speed-up that the FLOP counts alone would predict: reference FLOPs / variant FLOPs.
    public static func flopRatio(reference: ModelConfig, variant: ModelConfig, training: Bool,
                                 options: FLOPOptions = FLOPOptions()) -> Double {
        if training { return trainingStep(reference, options: options) / trainingStep(variant, options: options) }
        return forward(reference, options: options).total / forward(variant, options: options).total
    }

    /// Mixing sublayer FLOPs per example and layer.
    static func mixingFLOPs(_ c: ModelConfig, _ spectral: SpectralCounting) -> Double {
        let L = Double(c.maxSeqLength), D = Double(c.dModel)
        func rfft2(_ l: Double, _ d: Double) -> Double { 2.5 * l * d * log2(l * d) }
        /// FFT circular convolution along both axes of an l×d input: forward and inverse real FFT per axis
        /// plus the complex pointwise product (6 FLOPs per complex multiply).
        func fftConv(_ l: Double, _ d: Double) -> Double {
            let seq = 2 * d * 2.5 * l * log2(l) + 6 * (l / 2 + 1) * d
            let hidden = 2 * l * 2.5 * d * log2(d) + 6 * (d / 2 + 1) * l
            return seq + hidden
        }
        switch c.modelArch {
        case .bert: return 8 * L * D * D + 4 * L * L * D
        case .linear: return 2 * L * L * D + 2 * L * D * D
        case .fNet, .hNet:
            switch spectral {
            case .dftMatrix: return 4 * L * D * D + 4 * L * L * D
            case .fft: return rfft2(L, D) + (c.modelArch == .hNet ? L * D : 0)
            }
        case .cNet: return c.useFFT ? fftConv(L, D) : 2 * L * L * D + 2 * L * D * D
        case .tNet: return c.useFFT ? fftConv(2 * L, 2 * D) : 2 * L * L * D + 2 * L * D * D
        }
    }

    /// MoE sublayer FLOPs per example and layer: router on every token, E·C slots per group through the experts.
    static func moeFLOPs(_ c: ModelConfig, _ o: FLOPOptions)
        -> (router: Double, experts: Double, dispatch: Double, combine: Double)
    {
        let L = c.maxSeqLength, D = Double(c.dModel), E = c.numExperts
        let tokens = o.sequencesPerDevice * L
        let groups = Routing.numGroups(tokens: tokens, maxGroupSize: c.maxGroupSize)
        let tg = tokens / groups
        let cap = Routing.capacity(factor: o.training ? c.trainCapacityFactor : c.evalCapacityFactor,
                                   tokensPerGroup: tg, experts: E, minCapacity: c.minExpertCapacity)
        let perExample = Double(groups) / Double(o.sequencesPerDevice)  // groups' share of one example
        let slots = Double(E * cap)
        let router = 2 * Double(L) * D * Double(E)
        let experts = perExample * slots * 4 * D * Double(c.expertDFF)
        switch o.dispatch {
        case .maskedEinsum:
            let each = perExample * 2 * Double(tg) * slots * D
            return (router, experts, each, each)
        case .gatherScatter:
            return (router, experts, 0, perExample * 2 * slots * D)
        }
    }
}

/// Parameter counts by component (SPEC §1, §6).
public struct ParameterBreakdown: Codable, Equatable, Sendable {
    /// Word, position and type tables plus the embedding LayerNorm.
    public var embeddings = 0
    public var embeddingProjection = 0
    public var mixing = 0
    public var attention = 0
    /// Two LayerNorms per layer.
    public var layerNorms = 0
    public var denseFFN = 0
    public var router = 0
    public var experts = 0
    public var pooler = 0
    /// Dense D → D_e, LayerNorm and the output bias (the output matrix is tied to the word embedding).
    public var mlmHead = 0
    public var nspHead = 0

    public var total: Int {
        embeddings + embeddingProjection + mixing + attention + layerNorms + denseFFN + router + experts
            + pooler + mlmHead + nspHead
    }
    public var millions: Double { Double(total) / 1e6 }
}

public enum ParameterCounter {
    public static func count(_ c: ModelConfig) -> ParameterBreakdown {
        let L = c.maxSeqLength, D = c.dModel, De = c.dEmb, F = c.dFF, V = c.vocabSize
        var p = ParameterBreakdown()
        p.embeddings = V * De + L * De + c.typeVocabSize * De + 2 * De
        p.embeddingProjection = De * D + D
        let attention = Set(c.attentionLayers), moe = Set(c.moeLayers)
        for layer in 0..<c.numLayers {
            p.layerNorms += 4 * D
            if attention.contains(layer) {
                p.attention += 4 * (D * D + D)
            } else {
                switch c.modelArch {
                case .bert: p.attention += 4 * (D * D + D)
                case .linear: p.mixing += L * L + D * D
                case .cNet: p.mixing += L + D
                case .tNet: p.mixing += (2 * L - 1) + (2 * D - 1)
                case .fNet, .hNet: break
                }
            }
            if moe.contains(layer) {
                let E = c.numExperts, Fe = c.expertDFF
                p.router += D * E + E
                p.experts += E * (2 * D * Fe + Fe + D)
            } else {
                p.denseFFN += 2 * D * F + F + D
            }
        }
        p.pooler = D * D + D
        p.mlmHead = D * De + De + 2 * De + V
        p.nspHead = 2 * D + 2
        return p
    }
}
