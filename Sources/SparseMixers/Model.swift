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

/// A post-LayerNorm encoder of the Sparse Mixer family with its heads: parameters and gradients in two
/// arenas with one layout, hand-written forward and backward. The layers are in Layers/ (a block: Block.swift; the
/// heads: Heads.swift), the activations in `Workspace`.
public final class Model {
    public let config: ModelConfig
    public let head: ModelHead
    public let layout: ParameterLayout
    public let params: FloatArena
    public let grads: FloatArena
    var embedding: EmbeddingParams
    var blocks: [BlockParams] = []
    var heads: HeadParams
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
            projection: DenseParams(kernel: lay.add("encoder/embedder/hidden_mapping_in/kernel", [De, D],
                                                    .lecunNormal(fanIn: De)),
                                    bias: lay.add("encoder/embedder/hidden_mapping_in/bias", [D], .zeros), nIn: De,
                                    nOut: D))
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
                                     hidden: lay.add("encoder/linear_transform_\(l)/hidden_kernel", [D, D],
                                                     .normal(std)))
                case .cNet:
                    mixing = .circulant(input: lay.add("encoder/circulant_transform_\(l)/input_kernel", [L],
                                                       .normal(std)),
                                        hidden: lay.add("encoder/circulant_transform_\(l)/hidden_kernel", [D],
                                                        .normal(std)))
                case .tNet:
                    mixing = .toeplitz(input: lay.add("encoder/toeplitz_transform_\(l)/input_kernel", [2 * L - 1],
                                                      .normal(std)),
                                       hidden: lay.add("encoder/toeplitz_transform_\(l)/hidden_kernel", [2 * D - 1],
                                                       .normal(std)))
                }
            }
            let mixScale = lay.add("encoder/encoder_\(l)/mixing_layer_norm/scale", [D], .ones)
            let mixBias = lay.add("encoder/encoder_\(l)/mixing_layer_norm/bias", [D], .zeros)
            let feedForward: FeedForwardKind
            if moe.contains(l) {
                let E = config.numExperts, F = config.expertDFF
                let r = dense("encoder/router_weights_\(l)/DenseGeneral_0", D, E)
                let x = "encoder/expert_\(l)"
                feedForward = .moe(MoEParams(router: r,
                                 w1: lay.add("\(x)/intermediate/kernel", [E, D, F], .normal(std),
                                             reference: .expertKernel, isExpert: true),
                                 b1: lay.add("\(x)/intermediate/bias", [E, F], .zeros, reference: .expertBias,
                                             isExpert: true),
                                 w2: lay.add("\(x)/output/kernel", [E, F, D], .normal(std), reference: .expertKernel,
                                             isExpert: true),
                                 b2: lay.add("\(x)/output/bias", [E, D], .zeros, reference: .expertBias,
                                             isExpert: true),
                                 experts: E, dModel: D, dFF: F))
            } else {
                feedForward = .dense(FFNParams(w1: dense("encoder/feed_forward_\(l)/intermediate", D, config.dFF),
                                               w2: dense("encoder/feed_forward_\(l)/output", config.dFF, D)))
            }
            let outScale = lay.add("encoder/encoder_\(l)/output_layer_norm/scale", [D], .ones)
            let outBias = lay.add("encoder/encoder_\(l)/output_layer_norm/bias", [D], .zeros)
            blocks.append(BlockParams(mixing: mixing, feedForward: feedForward, mixScale: mixScale, mixBias: mixBias,
                                      outScale: outScale, outBias: outBias))
        }
        let pooler = dense("encoder/pooler", D, D)
        var mlm = MLMHead.none
        if head == .pretraining {
            mlm = .pretraining(MLMParams(dense: dense("predictions_dense", D, De),
                                         lnScale: lay.add("predictions_layer_norm/scale", [De], .ones),
                                         lnBias: lay.add("predictions_layer_norm/bias", [De], .zeros),
                                         outputBias: lay.add("predictions_output/output_bias", [config.vocabSize],
                                                             .zeros)),
                               wordEmbedding: embedding.word)
        }
        heads = HeadParams(pooler: pooler,
                           classifierKernel: lay.add("classification/output_kernel", [head.outputs, D], .normal(std)),
                           classifierBias: lay.add("classification/output_bias", [head.outputs], .zeros),
                           mlm: mlm, outputs: head.outputs)
        layout = lay
        params = FloatArena(count: allocate ? lay.totalCount : 0)
        grads = FloatArena(count: allocate ? lay.totalCount : 0)
        if allocate { lay.initialize(params, seed: seed) }
    }

    public var parameterCount: Int { layout.parameterCount }

    /// The step's one zeroing pass: the parameter gradients and the workspace's once-per-step backward accumulators
    /// (every backward adds into its outputs). Buffers that several layers reuse in turn are zeroed where each is
    /// taken up again (`backward()`, `Block.backward`).
    public func zeroGradients() {
        grads.zero()
        workspace?.zeroAccumulators()
    }

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

    /// Runs the model. `training` turns on dropout (config rates) and uses the train capacity factor;
    /// `dropoutSeed` fixes every dropout mask of the step. Keeps what `backward()` needs.
    @discardableResult
    public func forward(_ batch: Batch, training: Bool, dropoutSeed: UInt64 = 0) throws -> ForwardResult {
        try batch.check(config: config, head: head)
        let w = prepare(batch: batch.batchSize)
        let cfg = config, B = batch.batchSize, P = params.base
        w.ids = batch.inputIds; w.typeIds = batch.typeIds
        w.lastTraining = training
        lastBatch = batch
        var result = ForwardResult()
        let stepSeed: UInt64? = training ? dropoutSeed : nil
        w.ids.withUnsafeBufferPointer { idsB in
        w.typeIds.withUnsafeBufferPointer { typesB in
            let ctx = PassContext(config: cfg, batch: B, ids: idsB.baseAddress!, params: P, grads: grads.base,
                                  training: training)
            var pt = Profile.now()
            embeddingForward(w.embedding, ids: ctx.ids, typeIds: typesB.baseAddress!, batch: B, seq: ctx.seq,
                             dEmb: cfg.dEmb, dModel: ctx.dModel, embedding, P, dropoutRate: cfg.dropoutRate,
                             dropoutSeed: stepSeed.map { derivedSeed($0, 1) })
            Profile.add("fwd.embedding", since: pt)
            var x = UnsafePointer(w.embedding.output)
            for block in w.blocks {
                if let st = block.forward(x, ctx, dropoutSeed: stepSeed, scratch: w.scratch.attention) {
                    result.moe[block.index] = st
                    result.auxLoss += Double(st.auxLoss); result.zLoss += Double(st.zLoss)
                }
                x = UnsafePointer(block.out)
            }
            pt = Profile.now()
            headsForward(x, w.heads, heads, batch, config: cfg, P, &result)
            Profile.add("fwd.heads", since: pt)
        }}
        result.totalLoss = (head == .pretraining ? result.mlmLoss + result.nspLoss : result.taskLoss)
            + Double(cfg.auxiliaryLossFactor) * result.auxLoss + Double(cfg.routerZLossFactor) * result.zLoss
        return result
    }

    /// Accumulates ∂totalLoss/∂θ into `grads` for the last `forward` (which must have run in this model).
    public func backward() {
        guard let w = workspace, let batch = lastBatch else {
            preconditionFailure("backward() needs a forward() first")
        }
        let cfg = config, P = params.base, Gd = grads.base
        let B = batch.batchSize, T = B * cfg.maxSeqLength, D = cfg.dModel
        // The heads' and the embedding's accumulators are zero after `zeroGradients()`; a second backward without
        // one (gradients summed over batches) clears them here instead.
        if !w.accumulatorsAreZero { w.zeroAccumulators() }
        w.accumulatorsAreZero = false
        // dOut: the gradient of the current block's output; each block adds its input's gradient into dIn. The two
        // swap between blocks, so each is zeroed here as it is taken up, not in the step's pass.
        var dOut = w.dOut, dIn = w.dIn
        var pt = Profile.now()
        dOut.update(repeating: 0, count: T * D)
        headsBackward(dx: dOut, w.heads, heads, batch, config: cfg, P, Gd)
        Profile.add("bwd.heads", since: pt)
        w.ids.withUnsafeBufferPointer { idsB in
        w.typeIds.withUnsafeBufferPointer { typesB in
            let ctx = PassContext(config: cfg, batch: B, ids: idsB.baseAddress!, params: P, grads: Gd,
                                  training: w.lastTraining)
            for (l, block) in w.blocks.enumerated().reversed() {
                let x = l == 0 ? UnsafePointer(w.embedding.output) : UnsafePointer(w.blocks[l - 1].out)
                dIn.update(repeating: 0, count: T * D)
                block.backward(dx: dIn, dOut: dOut, x, ctx, scratch: w.scratch)
                swap(&dOut, &dIn)
            }
            pt = Profile.now()
            embeddingBackward(w.embedding, dOut: dOut, ids: ctx.ids, typeIds: typesB.baseAddress!, batch: B,
                              seq: ctx.seq, dEmb: cfg.dEmb, dModel: D, embedding, P, Gd,
                              dropout: ctx.training && cfg.dropoutRate > 0)
            Profile.add("bwd.embedding", since: pt)
        }}
    }
}
