import SparseMixersCore
import Foundation

// Shape legend: B batch, L sequence length (= maxSeqLength), T = B·L tokens, D d_model, De d_emb, F d_ff,
// H heads, V vocabulary, P max predictions per sequence, E experts, G token groups, C expert capacity.

/// What sits on top of the encoder.
public enum ModelHead: Codable, Equatable, Sendable {
    /// MLM (tied embeddings) + next-sentence (sentence-order) heads.
    case pretraining
    /// A fresh n-way classifier on the pooled output (n = 1: regression).
    case classification(outputs: Int)

    var outputs: Int {
        switch self { case .pretraining: return 2; case .classification(let n): return n }
    }
}

/// One batch, padded to [B, L]. Pre-training fills the MLM/NSP fields; fine-tuning fills `labels`.
public struct Batch: Sendable {
    public var batchSize: Int
    public var seqLength: Int
    public var inputIds: [Int32]            // (B, L)
    public var typeIds: [Int32]             // (B, L)
    public var maskedLMPositions: [Int32]   // (B, P)
    public var maskedLMIds: [Int32]         // (B, P)
    public var maskedLMWeights: [Float]     // (B, P)
    public var nextSentenceLabels: [Int32]  // (B)
    /// Class index (as a float) or regression target, (B).
    public var labels: [Float]

    public init(batchSize: Int, seqLength: Int, inputIds: [Int32], typeIds: [Int32],
                maskedLMPositions: [Int32] = [], maskedLMIds: [Int32] = [], maskedLMWeights: [Float] = [],
                nextSentenceLabels: [Int32] = [], labels: [Float] = []) {
        self.batchSize = batchSize; self.seqLength = seqLength; self.inputIds = inputIds; self.typeIds = typeIds
        self.maskedLMPositions = maskedLMPositions; self.maskedLMIds = maskedLMIds; self.maskedLMWeights = maskedLMWeights
        self.nextSentenceLabels = nextSentenceLabels; self.labels = labels
    }
}

/// Losses and metrics of one forward pass.
public struct ForwardResult: Sendable {
    /// The training objective: mlm + nsp (or task loss) + auxFactor·Σaux + zFactor·Σz.
    public var totalLoss: Double = 0
    public var mlmLoss: Double = 0
    public var mlmWeightSum: Double = 0
    public var mlmCorrect: Double = 0
    public var nspLoss: Double = 0
    public var nspCorrect: Int = 0
    public var taskLoss: Double = 0
    /// Σ over MoE layers of the unscaled load-balancing and z losses.
    public var auxLoss: Double = 0
    public var zLoss: Double = 0
    /// Per MoE layer index.
    public var moe: [Int: MoEStats] = [:]
    /// Classification head outputs, (B, n).
    public var logits: [Float] = []
}

public enum ModelError: Error, CustomStringConvertible {
    case badBatch(String)
    case nonFiniteLoss(String)
    public var description: String {
        switch self {
        case .badBatch(let s): return "bad batch: \(s)"
        case .nonFiniteLoss(let s): return "non-finite loss: \(s)"
        }
    }
}

struct BlockParams {
    var mixing: MixingKind
    var mixScale: Int, mixBias: Int
    var ffn: FFNParams?
    var moe: MoEParams?
    var outScale: Int, outBias: Int
}

struct BlockCache {
    var mixOut: UnsafeMutablePointer<Float>   // (T, D) "mixing_output"
    var mixSum: UnsafeMutablePointer<Float>   // (T, D) x + mix
    var mean1: UnsafeMutablePointer<Float>, rstd1: UnsafeMutablePointer<Float>  // (T)
    var h: UnsafeMutablePointer<Float>        // (T, D) "mixing_layer_norm"
    var ffOut: UnsafeMutablePointer<Float>    // (T, D) "feed_forward_output"
    var outSum: UnsafeMutablePointer<Float>   // (T, D) h + ffn
    var mean2: UnsafeMutablePointer<Float>, rstd2: UnsafeMutablePointer<Float>  // (T)
    var out: UnsafeMutablePointer<Float>      // (T, D) "output"
    var attention: AttentionCache?
    var matrix: MatrixMixCache?
    var ffn: FFNCache?
    var moe: MoECache?
}

/// Activations and backward scratch for one batch shape, carved from one arena.
final class Workspace {
    let batch: Int, seq: Int
    let arena: FloatArena
    var ids: [Int32], typeIds: [Int32]
    var embedding: EmbeddingCache
    var blocks: [BlockCache] = []
    var heads: HeadCache
    var gradA: UnsafeMutablePointer<Float>, gradB: UnsafeMutablePointer<Float>, gradC: UnsafeMutablePointer<Float> // (T, D)
    var work: UnsafeMutablePointer<Float>       // max over layers of backward scratch
    var routerGrad: UnsafeMutablePointer<Float> // (T, E)
    var dSeqMatrix: UnsafeMutablePointer<Float> // (L, L)
    var dHiddenMatrix: UnsafeMutablePointer<Float> // (D, D)
    var attentionScratch: AttentionScratch
    var moeSettings: [Int: MoESettings] = [:]
    var lastTraining = false

    init(model m: Model, batch B: Int) {
        let cfg = m.config
        let L = cfg.maxSeqLength, D = cfg.dModel, T = B * L
        batch = B; seq = L
        ids = Array(repeating: 0, count: T); typeIds = Array(repeating: 0, count: T)
        func carve(_ a: inout ArenaCarver) -> (EmbeddingCache, [BlockCache], HeadCache, [UnsafeMutablePointer<Float>], AttentionScratch) {
            let emb = EmbeddingCache(&a, tokens: T, dEmb: cfg.dEmb, dModel: D, dropout: cfg.dropoutRate > 0)
            var blocks: [BlockCache] = []
            var workFloats = 0
            for bp in m.blocks {
                var bc = BlockCache(mixOut: a.take(T * D), mixSum: a.take(T * D), mean1: a.take(T), rstd1: a.take(T),
                                    h: a.take(T * D), ffOut: a.take(T * D), outSum: a.take(T * D), mean2: a.take(T),
                                    rstd2: a.take(T), out: a.take(T * D))
                switch bp.mixing {
                case .attention:
                    bc.attention = AttentionCache(&a, batch: B, seq: L, dModel: D, heads: cfg.numHeads,
                                                  dropout: cfg.mixingDropoutRate > 0)
                    workFloats = max(workFloats, 4 * T * D)
                case .linear:
                    bc.matrix = MatrixMixCache(&a, tokens: T, seq: L, dModel: D, structured: false)
                    workFloats = max(workFloats, T * D)
                case .circulant, .toeplitz:
                    bc.matrix = MatrixMixCache(&a, tokens: T, seq: L, dModel: D, structured: true)
                    workFloats = max(workFloats, T * D)
                case .fourier, .hartley: break
                }
                if let f = bp.ffn {
                    bc.ffn = FFNCache(&a, rows: T, dModel: D, dFF: f.w1.nOut, dropout: cfg.dropoutRate > 0)
                    workFloats = max(workFloats, T * D)
                }
                if let mp = bp.moe {
                    let S = m.maxSlotsPerExpert(tokens: T)
                    bc.moe = MoECache(&a, tokens: T, dModel: D, experts: mp.experts, dFF: mp.dFF, maxSlotsPerExpert: S,
                                      dropout: cfg.expertDropoutRate > 0, jitter: cfg.jitterNoise > 0)
                    workFloats = max(workFloats, (cfg.expertDropoutRate > 0 ? 2 : 1) * mp.experts * S * D, T * D)
                }
                blocks.append(bc)
            }
            let heads = HeadCache(&a, batch: B, dModel: D, dEmb: cfg.dEmb, outputs: m.head.outputs,
                                  predictions: cfg.maxPredictionsPerSeq, vocab: cfg.vocabSize, mlm: m.head == .pretraining)
            let hasStructured = m.blocks.contains { if case .circulant = $0.mixing { return true }; if case .toeplitz = $0.mixing { return true }; return false }
            let bufs = [a.take(T * D), a.take(T * D), a.take(T * D), a.take(workFloats),
                        a.take(T * max(cfg.numExperts, 1)), a.take(hasStructured ? L * L : 0), a.take(hasStructured ? D * D : 0)]
            let hasAttention = m.blocks.contains { if case .attention = $0.mixing { return true }; return false }
            let scratch = AttentionScratch(&a, seq: L, threads: hasAttention ? max(Parallel.threads, 1) : 0)
            return (emb, blocks, heads, bufs, scratch)
        }
        var sizing = ArenaCarver.sizing()
        _ = carve(&sizing)
        arena = FloatArena(count: sizing.used)
        var real = ArenaCarver(arena: arena)
        let r = carve(&real)
        embedding = r.0; blocks = r.1; heads = r.2
        gradA = r.3[0]; gradB = r.3[1]; gradC = r.3[2]; work = r.3[3]; routerGrad = r.3[4]
        dSeqMatrix = r.3[5]; dHiddenMatrix = r.3[6]
        attentionScratch = r.4
    }
}

/// A post-LayerNorm encoder of the Sparse Mixer family with its heads: parameters and gradients in two
/// arenas with one layout, hand-written forward and backward.
public final class Model {
    public let config: ModelConfig
    public let head: ModelHead
    public let layout: ParameterLayout
    public let params: FloatArena
    public let grads: FloatArena
    var embedding: EmbeddingParams
    var blocks: [BlockParams] = []
    var pooler: DenseParams
    var mlm: MLMParams?
    var classifierKernel: Int, classifierBias: Int
    var workspace: Workspace?
    private var lastBatch: Batch?

    /// Builds the layout from `config` (validated) and initialises the parameters from `seed` (SPEC §1.8).
    public convenience init(config: ModelConfig, head: ModelHead = .pretraining, seed: UInt64 = 0) throws {
        try self.init(config: config, head: head, seed: seed, allocate: true)
    }

    init(config: ModelConfig, head: ModelHead, seed: UInt64, allocate: Bool) throws {
        try config.validate()
        if case .classification(let n) = head, n < 1 {
            throw ConfigError(field: "head", message: "a classifier needs at least one output, got \(n)")
        }
        self.config = config
        self.head = head
        var lay = ParameterLayout()
        let D = config.dModel, De = config.dEmb, L = config.maxSeqLength, std: Float = 0.02
        embedding = EmbeddingParams(
            word: lay.add("encoder/embedder/word/embedding", [config.vocabSize, De], .normal(std)),
            position: lay.add("encoder/embedder/position/embedding", [L, De], .normal(std)),
            type: lay.add("encoder/embedder/type/embedding", [config.typeVocabSize, De], .normal(std)),
            lnScale: lay.add("encoder/embedder/layer_norm/scale", [De], .ones),
            lnBias: lay.add("encoder/embedder/layer_norm/bias", [De], .zeros),
            projection: DenseParams(kernel: lay.add("encoder/embedder/hidden_mapping_in/kernel", [De, D], .lecunNormal(fanIn: De)),
                                    bias: lay.add("encoder/embedder/hidden_mapping_in/bias", [D], .zeros), nIn: De, nOut: D))
        func dense(_ name: String, _ nIn: Int, _ nOut: Int) -> DenseParams {
            DenseParams(kernel: lay.add("\(name)/kernel", [nIn, nOut], .normal(std)),
                        bias: lay.add("\(name)/bias", [nOut], .zeros), nIn: nIn, nOut: nOut)
        }
        let attention = Set(config.attentionLayers), moe = Set(config.moeLayers)
        for l in 0..<config.numLayers {
            let mixing: MixingKind
            if attention.contains(l) {
                let a = "encoder/attention_\(l)/self"
                mixing = .attention(AttentionParams(query: dense("\(a)/query", D, D), key: dense("\(a)/key", D, D),
                                                    value: dense("\(a)/value", D, D), out: dense("\(a)/out", D, D)))
            } else {
                switch config.modelArch {
                case .bert: fatalError("unreachable: BERT layers are all attention")
                case .fNet: mixing = .fourier
                case .hNet: mixing = .hartley
                case .linear:
                    mixing = .linear(input: lay.add("encoder/linear_transform_\(l)/input_kernel", [L, L], .normal(std)),
                                     hidden: lay.add("encoder/linear_transform_\(l)/hidden_kernel", [D, D], .normal(std)))
                case .cNet:
                    mixing = .circulant(input: lay.add("encoder/circulant_transform_\(l)/input_kernel", [L], .normal(std)),
                                        hidden: lay.add("encoder/circulant_transform_\(l)/hidden_kernel", [D], .normal(std)))
                case .tNet:
                    mixing = .toeplitz(input: lay.add("encoder/toeplitz_transform_\(l)/input_kernel", [2 * L - 1], .normal(std)),
                                       hidden: lay.add("encoder/toeplitz_transform_\(l)/hidden_kernel", [2 * D - 1], .normal(std)))
                }
            }
            let mixScale = lay.add("encoder/encoder_\(l)/mixing_layer_norm/scale", [D], .ones)
            let mixBias = lay.add("encoder/encoder_\(l)/mixing_layer_norm/bias", [D], .zeros)
            var ffn: FFNParams? = nil
            var moeP: MoEParams? = nil
            if moe.contains(l) {
                let E = config.numExperts, F = config.expertDFF
                let r = dense("encoder/router_weights_\(l)/DenseGeneral_0", D, E)
                let x = "encoder/expert_\(l)"
                moeP = MoEParams(router: r,
                                 w1: lay.add("\(x)/intermediate/kernel", [E, D, F], .normal(std), reference: .expertKernel, isExpert: true),
                                 b1: lay.add("\(x)/intermediate/bias", [E, F], .zeros, reference: .expertBias, isExpert: true),
                                 w2: lay.add("\(x)/output/kernel", [E, F, D], .normal(std), reference: .expertKernel, isExpert: true),
                                 b2: lay.add("\(x)/output/bias", [E, D], .zeros, reference: .expertBias, isExpert: true),
                                 experts: E, dModel: D, dFF: F)
            } else {
                ffn = FFNParams(w1: dense("encoder/feed_forward_\(l)/intermediate", D, config.dFF),
                                w2: dense("encoder/feed_forward_\(l)/output", config.dFF, D))
            }
            let outScale = lay.add("encoder/encoder_\(l)/output_layer_norm/scale", [D], .ones)
            let outBias = lay.add("encoder/encoder_\(l)/output_layer_norm/bias", [D], .zeros)
            blocks.append(BlockParams(mixing: mixing, mixScale: mixScale, mixBias: mixBias, ffn: ffn, moe: moeP,
                                      outScale: outScale, outBias: outBias))
        }
        pooler = dense("encoder/pooler", D, D)
        if head == .pretraining {
            mlm = MLMParams(dense: dense("predictions_dense", D, De),
                            lnScale: lay.add("predictions_layer_norm/scale", [De], .ones),
                            lnBias: lay.add("predictions_layer_norm/bias", [De], .zeros),
                            outputBias: lay.add("predictions_output/output_bias", [config.vocabSize], .zeros))
        }
        classifierKernel = lay.add("classification/output_kernel", [head.outputs, D], .normal(std))
        classifierBias = lay.add("classification/output_bias", [head.outputs], .zeros)
        layout = lay
        params = FloatArena(count: allocate ? lay.totalCount : 0)
        grads = FloatArena(count: allocate ? lay.totalCount : 0)
        if allocate { lay.initialize(params, seed: seed) }
    }

    public var parameterCount: Int { layout.parameterCount }

    /// Slots per expert to prepare: G·C at the larger of the two capacity factors.
    func maxSlotsPerExpert(tokens T: Int) -> Int {
        let G = Routing.numGroups(tokens: T, maxGroupSize: config.maxGroupSize)
        let c = max(config.trainCapacityFactor, config.evalCapacityFactor)
        return G * Routing.capacity(factor: c, tokensPerGroup: T / G, experts: config.numExperts, minCapacity: config.minExpertCapacity)
    }

    public func zeroGradients() { grads.zero() }

    /// The rest of a training step after `forward(training: true)`: zeroed gradients, the backward pass, one AdamW
    /// update (each a phase of `Profile`).
    public func backwardAndUpdate(_ optimizer: AdamW, learningRate: Float) {
        Profile.time("zeroGradients") { zeroGradients() }
        Profile.time("backward") { backward() }
        Profile.time("AdamW") { optimizer.update(params: params, grads: grads, learningRate: learningRate) }
    }

    /// Pointer to a named parameter (nil when absent).
    public func parameter(_ name: String) -> UnsafeMutablePointer<Float>? {
        layout.tensor(named: name).map { params.base + $0.offset }
    }
    public func gradient(_ name: String) -> UnsafeMutablePointer<Float>? {
        layout.tensor(named: name).map { grads.base + $0.offset }
    }

    func prepare(batch B: Int) -> Workspace {
        if let w = workspace, w.batch == B { return w }
        workspace = nil
        let w = Workspace(model: self, batch: B)
        workspace = w
        return w
    }

    /// Releases the activation arena.
    public func releaseWorkspace() { workspace = nil }

    private func check(_ b: Batch) throws {
        let L = config.maxSeqLength, B = b.batchSize, P = config.maxPredictionsPerSeq
        guard b.seqLength == L else { throw ModelError.badBatch("seqLength \(b.seqLength) != maxSeqLength \(L)") }
        guard b.inputIds.count == B * L, b.typeIds.count == B * L else {
            throw ModelError.badBatch("inputIds/typeIds must hold batchSize·seqLength = \(B * L) ids")
        }
        for (i, id) in b.inputIds.enumerated() where id < 0 || Int(id) >= config.vocabSize {
            throw ModelError.badBatch("inputIds[\(i)] = \(id) outside the vocabulary 0..<\(config.vocabSize)")
        }
        for (i, id) in b.typeIds.enumerated() where id < 0 || Int(id) >= config.typeVocabSize {
            throw ModelError.badBatch("typeIds[\(i)] = \(id) outside 0..<\(config.typeVocabSize)")
        }
        switch head {
        case .pretraining:
            guard b.maskedLMPositions.count == B * P, b.maskedLMIds.count == B * P, b.maskedLMWeights.count == B * P,
                  b.nextSentenceLabels.count == B else {
                throw ModelError.badBatch("pre-training needs \(B * P) masked-LM slots and \(B) NSP labels")
            }
            for (i, p) in b.maskedLMPositions.enumerated() where p < 0 || Int(p) >= L {
                throw ModelError.badBatch("maskedLMPositions[\(i)] = \(p) outside 0..<\(L)")
            }
            for (i, id) in b.maskedLMIds.enumerated() where id < 0 || Int(id) >= config.vocabSize {
                throw ModelError.badBatch("maskedLMIds[\(i)] = \(id) outside the vocabulary")
            }
            for (i, y) in b.nextSentenceLabels.enumerated() where y != 0 && y != 1 {
                throw ModelError.badBatch("nextSentenceLabels[\(i)] = \(y) is not 0 or 1")
            }
        case .classification(let n):
            guard b.labels.count == B else { throw ModelError.badBatch("classification needs \(B) labels") }
            if n > 1 {
                for (i, y) in b.labels.enumerated() where y < 0 || Int(y) >= n || y != y.rounded() {
                    throw ModelError.badBatch("labels[\(i)] = \(y) is not a class in 0..<\(n)")
                }
            }
        }
    }

    private func seed(_ base: UInt64, _ label: UInt64) -> UInt64 { var r = RNG(seed: base).fork(label); return r.next() }

    /// Runs the model. `training` turns on dropout (config rates) and uses the train capacity factor;
    /// `dropoutSeed` fixes every dropout mask of the step. Keeps what `backward()` needs.
    @discardableResult
    public func forward(_ batch: Batch, training: Bool, dropoutSeed: UInt64 = 0) throws -> ForwardResult {
        try check(batch)
        let w = prepare(batch: batch.batchSize)
        let cfg = config
        let B = batch.batchSize, L = cfg.maxSeqLength, D = cfg.dModel, T = B * L
        let P = params.base
        w.ids = batch.inputIds; w.typeIds = batch.typeIds
        w.lastTraining = training
        lastBatch = batch
        var result = ForwardResult()
        let pad = Int32(cfg.padId)
        w.ids.withUnsafeBufferPointer { idsB in
        w.typeIds.withUnsafeBufferPointer { typesB in
            let ids = idsB.baseAddress!, types = typesB.baseAddress!
            var pt = Profile.now()
            embeddingForward(w.embedding, ids: ids, typeIds: types, batch: B, seq: L, dEmb: cfg.dEmb, dModel: D,
                             embedding, P, dropoutRate: cfg.dropoutRate, dropoutSeed: training ? seed(dropoutSeed, 1) : nil)
            Profile.add("fwd.embedding", since: pt)
            var x = UnsafePointer(w.embedding.output)
            for (l, bp) in blocks.enumerated() {
                let bc = w.blocks[l]
                let lseed = UInt64(l + 1) * 16
                pt = Profile.now()
                switch bp.mixing {
                case .attention(let ap):
                    attentionForward(bc.mixOut, bc.attention!, x, ids: ids, padId: pad, batch: B, seq: L, dModel: D,
                                     heads: cfg.numHeads, ap, P, dropoutRate: cfg.mixingDropoutRate,
                                     dropoutSeed: training ? seed(dropoutSeed, lseed + 2) : nil, scratch: w.attentionScratch)
                case .fourier, .hartley:
                    spectralMixForward(bc.mixOut, x, batch: B, seq: L, dModel: D, hartley: bp.mixing == .hartley)
                case .linear(let inp, let hid):
                    matrixMixForward(bc.mixOut, z: bc.matrix!.z, x, seqMatrix: P + inp, hiddenMatrix: P + hid, batch: B, seq: L, dModel: D)
                case .circulant(let inp, let hid):
                    materializeCirculant(P + inp, n: L, transpose: false, into: bc.matrix!.seqMatrix)
                    materializeCirculant(P + hid, n: D, transpose: true, into: bc.matrix!.hiddenMatrix)
                    matrixMixForward(bc.mixOut, z: bc.matrix!.z, x, seqMatrix: bc.matrix!.seqMatrix,
                                     hiddenMatrix: bc.matrix!.hiddenMatrix, batch: B, seq: L, dModel: D)
                case .toeplitz(let inp, let hid):
                    materializeToeplitz(P + inp, n: L, transpose: false, into: bc.matrix!.seqMatrix)
                    materializeToeplitz(P + hid, n: D, transpose: true, into: bc.matrix!.hiddenMatrix)
                    matrixMixForward(bc.mixOut, z: bc.matrix!.z, x, seqMatrix: bc.matrix!.seqMatrix,
                                     hiddenMatrix: bc.matrix!.hiddenMatrix, batch: B, seq: L, dModel: D)
                }
                Profile.add("fwd.mixing", since: pt); pt = Profile.now()
                add(x, bc.mixOut, into: bc.mixSum, count: T * D)
                layerNormForward(bc.h, mean: bc.mean1, rstd: bc.rstd1, bc.mixSum, scale: P + bp.mixScale, bias: P + bp.mixBias,
                                 rows: T, cols: D)
                Profile.add("fwd.add+layernorm", since: pt); pt = Profile.now()
                if let fp = bp.ffn {
                    ffnForward(bc.ffOut, bc.ffn!, bc.h, rows: T, fp, P, dropoutRate: cfg.dropoutRate,
                               dropoutSeed: training ? seed(dropoutSeed, lseed + 3) : nil)
                } else if let mp = bp.moe {
                    let s = moeSettings(tokens: T, training: training)
                    w.moeSettings[l] = s
                    moeForward(bc.ffOut, bc.moe!, bc.h, tokens: T, mp, P, s,
                               dropoutSeed: training ? seed(dropoutSeed, lseed + 4) : nil)
                    let st = bc.moe!.stats
                    result.moe[l] = st
                    result.auxLoss += Double(st.auxLoss); result.zLoss += Double(st.zLoss)
                }
                Profile.add(bp.ffn != nil ? "fwd.ffn" : "fwd.moe", since: pt); pt = Profile.now()
                add(bc.h, bc.ffOut, into: bc.outSum, count: T * D)
                layerNormForward(bc.out, mean: bc.mean2, rstd: bc.rstd2, bc.outSum, scale: P + bp.outScale, bias: P + bp.outBias,
                                 rows: T, cols: D)
                Profile.add("fwd.add+layernorm", since: pt)
                x = UnsafePointer(bc.out)
            }
            pt = Profile.now()
            headsForward(x, w, batch, &result)
            Profile.add("fwd.heads", since: pt)
        }}
        result.totalLoss = (head == .pretraining ? result.mlmLoss + result.nspLoss : result.taskLoss)
            + Double(cfg.auxiliaryLossFactor) * result.auxLoss + Double(cfg.routerZLossFactor) * result.zLoss
        return result
    }

    func moeSettings(tokens T: Int, training: Bool) -> MoESettings {
        let G = Routing.numGroups(tokens: T, maxGroupSize: config.maxGroupSize)
        let c = training ? config.trainCapacityFactor : config.evalCapacityFactor
        var C = Routing.capacity(factor: c, tokensPerGroup: T / G, experts: config.numExperts, minCapacity: config.minExpertCapacity)
        if config.dispatchAlgorithm.isExpertsChoose { C = min(C, T / G) }
        return MoESettings(groups: G, capacity: C, expertsChoose: config.dispatchAlgorithm.isExpertsChoose,
                           k: config.numSelectedExperts, batchPrioritized: config.batchPrioritizedRouting,
                           jitterNoise: training ? config.jitterNoise : 0,
                           expertDropout: training ? config.expertDropoutRate : 0)
    }

    private func headsForward(_ x: UnsafePointer<Float>, _ w: Workspace, _ batch: Batch, _ r: inout ForwardResult) {
        let cfg = config, P = params.base
        let B = batch.batchSize, L = cfg.maxSeqLength, D = cfg.dModel, De = cfg.dEmb, V = cfg.vocabSize
        let hc = w.heads, n = head.outputs
        for b in 0..<B { (hc.poolIn + b * D).update(from: x + b * L * D, count: D) }
        denseForward(hc.poolPre, hc.poolIn, rows: B, pooler, P)
        for i in 0..<(B * D) { hc.pooled[i] = Foundation.tanh(hc.poolPre[i]) }
        BLAS.gemm(transB: true, m: B, n: n, k: D, a: hc.pooled, lda: D, b: P + classifierKernel, ldb: D, c: hc.logits, ldc: n)
        addBias(hc.logits, P + classifierBias, rows: B, cols: n)
        r.logits = Array(UnsafeBufferPointer(start: hc.logits, count: B * n))
        switch head {
        case .pretraining:
            let m = mlm!, Pn = cfg.maxPredictionsPerSeq, R = B * Pn
            for b in 0..<B { for j in 0..<Pn {
                let pos = Int(batch.maskedLMPositions[b * Pn + j])
                (hc.gathered + (b * Pn + j) * D).update(from: x + (b * L + pos) * D, count: D)
            } }
            denseForward(hc.tPre, hc.gathered, rows: R, m.dense, P)
            geluForward(hc.tPre, into: hc.tGelu, count: R * De)
            layerNormForward(hc.tNorm, mean: hc.tMean, rstd: hc.tRstd, hc.tGelu, scale: P + m.lnScale, bias: P + m.lnBias,
                             rows: R, cols: De)
            BLAS.gemm(transB: true, m: R, n: V, k: De, a: hc.tNorm, lda: De, b: P + embedding.word, ldb: De, c: hc.mlmLogits, ldc: V)
            addBias(hc.mlmLogits, P + m.outputBias, rows: R, cols: V)
            // Rows in parallel (each chunk with its own scratch for 8 rows), then the weighted sums in row order.
            var rowLoss = [Double](repeating: 0, count: R), rowArg = [Int](repeating: 0, count: R)
            rowLoss.withUnsafeMutableBufferPointer { lossB in
            rowArg.withUnsafeMutableBufferPointer { argB in
            batch.maskedLMIds.withUnsafeBufferPointer { labels in
                let lossP = lossB.baseAddress!, argP = argB.baseAddress!, lab = labels.baseAddress!
                Parallel.forRange(R, grain: 8) { s, e in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 8 * V)
                    defer { scratch.deallocate() }
                    crossEntropyRows(hc.mlmLogits + s * V, rows: e - s, count: V, labels: lab + s, loss: lossP + s,
                                     arg: argP + s, rowMax: hc.rowMax + s, rowSum: hc.rowSum + s, scratch: scratch)
                }
            }}}
            var lossSum: Double = 0, wSum: Double = 0, correct: Double = 0
            for i in 0..<R {
                let wt = Double(batch.maskedLMWeights[i])
                lossSum += wt * rowLoss[i]; wSum += wt
                if rowArg[i] == Int(batch.maskedLMIds[i]) { correct += wt }
            }
            r.mlmWeightSum = wSum; r.mlmCorrect = correct
            r.mlmLoss = wSum > 0 ? lossSum / wSum : 0
            var nsp: Double = 0
            for b in 0..<B {
                let (loss, arg) = crossEntropyRow(hc.logits + b * 2, count: 2, label: Int(batch.nextSentenceLabels[b]), gradScale: nil, scratch: nil)
                nsp += loss
                if arg == Int(batch.nextSentenceLabels[b]) { r.nspCorrect += 1 }
            }
            r.nspLoss = nsp / Double(B)
        case .classification(let n):
            var loss: Double = 0
            for b in 0..<B {
                if n == 1 {
                    let d = Double(hc.logits[b]) - Double(batch.labels[b]); loss += d * d
                } else {
                    loss += crossEntropyRow(hc.logits + b * n, count: n, label: Int(batch.labels[b]), gradScale: nil, scratch: nil).0
                }
            }
            r.taskLoss = loss / Double(B)
        }
    }

    /// Accumulates ∂totalLoss/∂θ into `grads` for the last `forward` (which must have run in this model).
    public func backward() {
        guard let w = workspace, let batch = lastBatch else { preconditionFailure("backward() needs a forward() first") }
        let cfg = config, P = params.base, Gd = grads.base
        let B = batch.batchSize, L = cfg.maxSeqLength, D = cfg.dModel, De = cfg.dEmb, V = cfg.vocabSize, T = B * L
        let training = w.lastTraining
        let hc = w.heads, n = head.outputs
        var pt = Profile.now()
        let G = w.gradA
        G.update(repeating: 0, count: T * D)
        // ---- Heads ----
        switch head {
        case .pretraining:
            let m = mlm!, Pn = cfg.maxPredictionsPerSeq, R = B * Pn
            let wSum = batch.maskedLMWeights.reduce(0, +)
            batch.maskedLMWeights.withUnsafeBufferPointer { wts in
            batch.maskedLMIds.withUnsafeBufferPointer { labels in
                let wt = wts.baseAddress!, lab = labels.baseAddress!
                Parallel.forRange(R, grain: 8) { s, e in
                    for i in s..<e {
                        let row = hc.mlmLogits + i * V
                        if wt[i] == 0 || wSum == 0 { row.update(repeating: 0, count: V); continue }
                        crossEntropyRowGradient(row, count: V, label: Int(lab[i]), gradScale: wt[i] / wSum,
                                                max: hc.rowMax[i], sum: hc.rowSum[i])
                    }
                }
            }}
            let dLogits = UnsafePointer(hc.mlmLogits)
            // logits = t·Eᵀ + b  ⇒  dE += dlogitsᵀ·t, dt = dlogits·E, db += Σ dlogits
            BLAS.gemm(transA: true, m: V, n: De, k: R, a: dLogits, lda: V, b: hc.tNorm, ldb: De, beta: 1, c: Gd + embedding.word, ldc: De)
            BLAS.addColumnSums(dLogits, rows: R, cols: V, into: Gd + m.outputBias)
            BLAS.gemm(m: R, n: De, k: V, a: dLogits, lda: V, b: P + embedding.word, ldb: De, c: hc.tNorm, ldc: De)
            hc.dGelu.update(repeating: 0, count: R * De)
            layerNormBackward(dx: hc.dGelu, dscale: Gd + m.lnScale, dbias: Gd + m.lnBias, dy: hc.tNorm, x: hc.tGelu,
                              mean: hc.tMean, rstd: hc.tRstd, scale: P + m.lnScale, rows: R, cols: De)
            geluBackward(hc.dGelu, hc.tPre, count: R * De)
            hc.dGathered.update(repeating: 0, count: R * D)
            denseBackward(dx: hc.dGathered, dy: hc.dGelu, x: hc.gathered, rows: R, m.dense, P, Gd)
            for b in 0..<B { for j in 0..<Pn {
                let pos = Int(batch.maskedLMPositions[b * Pn + j])
                let src = hc.dGathered + (b * Pn + j) * D, dst = G + (b * L + pos) * D
                for k in 0..<D { dst[k] += src[k] }
            } }
            for b in 0..<B {
                _ = crossEntropyRow(hc.logits + b * 2, count: 2, label: Int(batch.nextSentenceLabels[b]), gradScale: 1 / Float(B), scratch: nil)
            }
        case .classification:
            for b in 0..<B {
                if n == 1 {
                    hc.logits[b] = 2 * (hc.logits[b] - batch.labels[b]) / Float(B)
                } else {
                    _ = crossEntropyRow(hc.logits + b * n, count: n, label: Int(batch.labels[b]), gradScale: 1 / Float(B), scratch: nil)
                }
            }
        }
        // logits = pooled·Wᵀ + b
        BLAS.gemm(transA: true, m: n, n: D, k: B, a: hc.logits, lda: n, b: hc.pooled, ldb: D, beta: 1, c: Gd + classifierKernel, ldc: D)
        BLAS.addColumnSums(hc.logits, rows: B, cols: n, into: Gd + classifierBias)
        let dPooled = hc.dPooled
        BLAS.gemm(m: B, n: D, k: n, a: hc.logits, lda: n, b: P + classifierKernel, ldb: D, c: dPooled, ldc: D)
        for i in 0..<(B * D) { dPooled[i] *= 1 - hc.pooled[i] * hc.pooled[i] }
        hc.dPoolIn.update(repeating: 0, count: B * D)
        denseBackward(dx: hc.dPoolIn, dy: dPooled, x: hc.poolIn, rows: B, pooler, P, Gd)
        for b in 0..<B {
            let dst = G + b * L * D
            for k in 0..<D { dst[k] += hc.dPoolIn[b * D + k] }
        }
        Profile.add("bwd.heads", since: pt)
        // ---- Blocks, top to bottom ----
        let A = w.gradB, Bf = w.gradC
        let pad = Int32(cfg.padId)
        w.ids.withUnsafeBufferPointer { idsB in
        w.typeIds.withUnsafeBufferPointer { typesB in
            let ids = idsB.baseAddress!, types = typesB.baseAddress!
            for l in stride(from: blocks.count - 1, through: 0, by: -1) {
                let bp = blocks[l], bc = w.blocks[l]
                let x = l == 0 ? UnsafePointer(w.embedding.output) : UnsafePointer(w.blocks[l - 1].out)
                // out = LN_out(h + ffn(h))
                pt = Profile.now()
                A.update(repeating: 0, count: T * D)
                layerNormBackward(dx: A, dscale: Gd + bp.outScale, dbias: Gd + bp.outBias, dy: G, x: bc.outSum,
                                  mean: bc.mean2, rstd: bc.rstd2, scale: P + bp.outScale, rows: T, cols: D)
                Bf.update(from: A, count: T * D)
                Profile.add("bwd.layernorm+copy", since: pt); pt = Profile.now()
                if let fp = bp.ffn {
                    ffnBackward(dx: Bf, dOut: A, bc.ffn!, bc.h, rows: T, fp, P, Gd, dropout: training && cfg.dropoutRate > 0, work: w.work)
                } else if let mp = bp.moe {
                    moeBackward(dh: Bf, dOut: A, bc.moe!, bc.h, tokens: T, mp, P, Gd, w.moeSettings[l]!,
                                auxFactor: cfg.auxiliaryLossFactor, zFactor: cfg.routerZLossFactor,
                                dropout: training, work: w.work, dLogits: w.routerGrad)
                }
                Profile.add(bp.ffn != nil ? "bwd.ffn" : "bwd.moe", since: pt); pt = Profile.now()
                // h = LN_mix(x + mix(x))
                A.update(repeating: 0, count: T * D)
                layerNormBackward(dx: A, dscale: Gd + bp.mixScale, dbias: Gd + bp.mixBias, dy: Bf, x: bc.mixSum,
                                  mean: bc.mean1, rstd: bc.rstd1, scale: P + bp.mixScale, rows: T, cols: D)
                G.update(from: A, count: T * D)
                Profile.add("bwd.layernorm+copy", since: pt); pt = Profile.now()
                switch bp.mixing {
                case .attention(let ap):
                    attentionBackward(dx: G, dOut: A, bc.attention!, x, ids: ids, padId: pad, batch: B, seq: L, dModel: D,
                                      heads: cfg.numHeads, ap, P, Gd, dropout: training && cfg.mixingDropoutRate > 0,
                                      work: w.work, scratch: w.attentionScratch)
                case .fourier, .hartley:
                    spectralMixBackward(dx: G, dY: A, batch: B, seq: L, dModel: D, hartley: bp.mixing == .hartley)
                case .linear(let inp, let hid):
                    matrixMixBackward(dx: G, dY: A, x, z: bc.matrix!.z, seqMatrix: P + inp, hiddenMatrix: P + hid,
                                      dSeq: Gd + inp, dHidden: Gd + hid, batch: B, seq: L, dModel: D, work: w.work)
                case .circulant(let inp, let hid), .toeplitz(let inp, let hid):
                    let mc = bc.matrix!
                    w.dSeqMatrix.update(repeating: 0, count: L * L)
                    w.dHiddenMatrix.update(repeating: 0, count: D * D)
                    matrixMixBackward(dx: G, dY: A, x, z: mc.z, seqMatrix: mc.seqMatrix, hiddenMatrix: mc.hiddenMatrix,
                                      dSeq: w.dSeqMatrix, dHidden: w.dHiddenMatrix, batch: B, seq: L, dModel: D, work: w.work)
                    if case .circulant = bp.mixing {
                        foldCirculant(w.dSeqMatrix, n: L, transpose: false, into: Gd + inp)
                        foldCirculant(w.dHiddenMatrix, n: D, transpose: true, into: Gd + hid)
                    } else {
                        foldToeplitz(w.dSeqMatrix, n: L, transpose: false, into: Gd + inp)
                        foldToeplitz(w.dHiddenMatrix, n: D, transpose: true, into: Gd + hid)
                    }
                }
                Profile.add("bwd.mixing", since: pt)
            }
            pt = Profile.now()
            embeddingBackward(w.embedding, dOut: G, ids: ids, typeIds: types, batch: B, seq: L,
                              dEmb: De, dModel: D, embedding, P, Gd, dropout: training && cfg.dropoutRate > 0)
            Profile.add("bwd.embedding", since: pt)
        }}
    }
}
