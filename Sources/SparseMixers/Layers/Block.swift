import SparseMixersCore

/// One post-LayerNorm encoder block (SPEC §1.3): h = LN_mix(x + Mix(x)), out = LN_out(h + FF(h)), where Mix is the
/// block's mixing sublayer and FF its dense MLP or Mixture of Experts. Shapes: T = B·L tokens, D = d_model.

/// The layout of one block: parameter offsets only (the model's, independent of the batch).
struct BlockParams {
    var mixing: MixingKind
    var feedForward: FeedForwardKind
    var mixScale: Int, mixBias: Int   // [D] "encoder/encoder_l/mixing_layer_norm/{scale,bias}"
    var outScale: Int, outBias: Int   // [D] "encoder/encoder_l/output_layer_norm/{scale,bias}"
}

/// The feed-forward sublayer of a block.
enum FeedForwardKind {
    /// "encoder/feed_forward_l": W2·gelu(W1·h + b1) + b2.
    case dense(FFNParams)
    /// "encoder/router_weights_l" and "encoder/expert_l" (SPEC §2).
    case moe(MoEParams)
}

/// The mixing sublayer with its parameters and forward cache together, so one `switch` dispatches each pass.
enum MixingSublayer {
    case attention(AttentionParams, AttentionCache)
    case fourier
    case hartley
    case linear(input: Int, hidden: Int, MatrixMixCache)
    case circulant(input: Int, hidden: Int, MatrixMixCache)
    case toeplitz(input: Int, hidden: Int, MatrixMixCache)
}

/// The feed-forward sublayer with its parameters and forward cache together.
enum FeedForwardSublayer {
    case dense(FFNParams, FFNCache)
    case moe(MoEParams, MoECache)
}

/// What every block of one pass shares: the batch's shape and ids, the arenas, training or not.
struct PassContext {
    let config: ModelConfig
    let batch: Int                          // B
    let ids: UnsafePointer<Int32>           // (B, L) token ids: the attention padding mask
    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    let training: Bool
    var seq: Int { config.maxSeqLength }    // L
    var dModel: Int { config.dModel }       // D
    var tokens: Int { batch * config.maxSeqLength }  // T
}

/// Backward scratch the blocks share (one block runs at a time), carved once per workspace. Being reused by every
/// layer, the buffers a kernel adds into (dSeqMatrix, dHiddenMatrix, and parts of `work` and `routerGrad`) are
/// zeroed where each layer takes them up, not in the step's zeroing pass (`Model.zeroGradients`); dSum and dHidden
/// are written whole by the LayerNorm backward (`LayerNormGradientOutput`) before anything adds into them.
struct BlockScratch {
    var dSum: UnsafeMutablePointer<Float>          // (T, D) gradient of outSum, then of mixSum
    var dHidden: UnsafeMutablePointer<Float>       // (T, D) gradient of h
    var work: UnsafeMutablePointer<Float>          // max over sublayers of their backward scratch (`workFloats`)
    var routerGrad: UnsafeMutablePointer<Float>    // (T, E) MoE router logits' gradient
    var dSeqMatrix: UnsafeMutablePointer<Float>    // (L, L) circulant/Toeplitz: gradient of the materialised M_s
    var dHiddenMatrix: UnsafeMutablePointer<Float> // (D, D) circulant/Toeplitz: gradient of the materialised M_h
    var attention: AttentionScratch                // per-thread [L, L] pairs (forward and backward)
}

/// A block bound to its caches for one batch size: parameters, sublayers, activations.
struct Block {
    let index: Int                            // l: the Flax path's layer number and the dropout seeds' label
    let mixing: MixingSublayer
    let feedForward: FeedForwardSublayer
    let mixScale: Int, mixBias: Int, outScale: Int, outBias: Int
    let mixOut: UnsafeMutablePointer<Float>   // (T, D) "mixing_output"
    let mixSum: UnsafeMutablePointer<Float>   // (T, D) x + mix
    let mean1: UnsafeMutablePointer<Float>, rstd1: UnsafeMutablePointer<Float>  // (T)
    let h: UnsafeMutablePointer<Float>        // (T, D) "mixing_layer_norm"
    let ffOut: UnsafeMutablePointer<Float>    // (T, D) "feed_forward_output"
    let outSum: UnsafeMutablePointer<Float>   // (T, D) h + ffn
    let mean2: UnsafeMutablePointer<Float>, rstd2: UnsafeMutablePointer<Float>  // (T)
    let out: UnsafeMutablePointer<Float>      // (T, D) "output"

    /// Floats of `BlockScratch.work` this block's backward needs.
    let workFloats: Int

    /// The MoE cache, for the golden comparison and the tests (nil for a dense block).
    var moe: MoECache? { if case .moe(_, let c) = feedForward { return c }; return nil }

    init(_ a: inout ArenaCarver, _ p: BlockParams, index l: Int, config cfg: ModelConfig, batch B: Int) {
        let L = cfg.maxSeqLength, D = cfg.dModel, T = B * L
        index = l
        mixScale = p.mixScale; mixBias = p.mixBias; outScale = p.outScale; outBias = p.outBias
        mixOut = a.take(T * D); mixSum = a.take(T * D); mean1 = a.take(T); rstd1 = a.take(T)
        h = a.take(T * D); ffOut = a.take(T * D); outSum = a.take(T * D); mean2 = a.take(T)
        rstd2 = a.take(T); out = a.take(T * D)
        var work = 0
        switch p.mixing {
        case .attention(let ap):
            mixing = .attention(ap, AttentionCache(&a, batch: B, seq: L, dModel: D, heads: cfg.numHeads,
                                                   dropout: cfg.mixingDropoutRate > 0))
            work = 4 * T * D
        case .fourier: mixing = .fourier
        case .hartley: mixing = .hartley
        case .linear(let i, let hd):
            mixing = .linear(input: i, hidden: hd, MatrixMixCache(&a, tokens: T, seq: L, dModel: D, structured: false))
            work = T * D
        case .circulant(let i, let hd):
            mixing = .circulant(input: i, hidden: hd, MatrixMixCache(&a, tokens: T, seq: L, dModel: D,
                                                                     structured: true))
            work = T * D
        case .toeplitz(let i, let hd):
            mixing = .toeplitz(input: i, hidden: hd, MatrixMixCache(&a, tokens: T, seq: L, dModel: D, structured: true))
            work = T * D
        }
        switch p.feedForward {
        case .dense(let f):
            feedForward = .dense(f, FFNCache(&a, rows: T, dModel: D, dFF: f.w1.nOut, dropout: cfg.dropoutRate > 0))
            work = max(work, T * D)
        case .moe(let mp):
            let S = cfg.maxSlotsPerExpert(tokens: T)
            feedForward = .moe(mp, MoECache(&a, tokens: T, dModel: D, experts: mp.experts, dFF: mp.dFF,
                                            maxSlotsPerExpert: S, dropout: cfg.expertDropoutRate > 0,
                                            jitter: cfg.jitterNoise > 0))
            work = max(work, (cfg.expertDropoutRate > 0 ? 2 : 1) * mp.experts * S * D, T * D)
        }
        workFloats = work
    }

    /// out = LN_out(h + FF(h)), h = LN_mix(x + Mix(x)). `dropoutSeed` is the step's seed in training, else nil.
    /// Returns the MoE statistics of an MoE block.
    func forward(_ x: UnsafePointer<Float>, _ ctx: PassContext, dropoutSeed: UInt64?,
                 scratch: AttentionScratch) -> MoEStats? {
        let cfg = ctx.config, P = ctx.params
        let B = ctx.batch, L = ctx.seq, D = ctx.dModel, T = ctx.tokens
        let label = UInt64(index + 1) * 16
        func seed(_ k: UInt64) -> UInt64? { dropoutSeed.map { derivedSeed($0, label + k) } }
        var pt = Profile.now()
        switch mixing {
        case .attention(let ap, let c):
            attentionForward(mixOut, c, x, ids: ctx.ids, padId: Int32(cfg.padId), batch: B, seq: L, dModel: D,
                             heads: cfg.numHeads, ap, P, dropoutRate: cfg.mixingDropoutRate, dropoutSeed: seed(2),
                             scratch: scratch)
        case .fourier:
            spectralMixForward(mixOut, x, batch: B, seq: L, dModel: D, hartley: false)
        case .hartley:
            spectralMixForward(mixOut, x, batch: B, seq: L, dModel: D, hartley: true)
        case .linear(let inp, let hid, let c):
            matrixMixForward(mixOut, z: c.z, x, seqMatrix: P + inp, hiddenMatrix: P + hid, batch: B, seq: L, dModel: D)
        case .circulant(let inp, let hid, let c):
            materializeCirculant(P + inp, n: L, transpose: false, into: c.seqMatrix)
            materializeCirculant(P + hid, n: D, transpose: true, into: c.hiddenMatrix)
            matrixMixForward(mixOut, z: c.z, x, seqMatrix: c.seqMatrix, hiddenMatrix: c.hiddenMatrix,
                             batch: B, seq: L, dModel: D)
        case .toeplitz(let inp, let hid, let c):
            materializeToeplitz(P + inp, n: L, transpose: false, into: c.seqMatrix)
            materializeToeplitz(P + hid, n: D, transpose: true, into: c.hiddenMatrix)
            matrixMixForward(mixOut, z: c.z, x, seqMatrix: c.seqMatrix, hiddenMatrix: c.hiddenMatrix,
                             batch: B, seq: L, dModel: D)
        }
        Profile.add("fwd.mixing", since: pt); pt = Profile.now()
        add(x, mixOut, into: mixSum, count: T * D)
        layerNormForward(h, mean: mean1, rstd: rstd1, mixSum, scale: P + mixScale, bias: P + mixBias, rows: T, cols: D)
        Profile.add("fwd.add+layernorm", since: pt); pt = Profile.now()
        var stats: MoEStats? = nil
        switch feedForward {
        case .dense(let fp, let c):
            ffnForward(ffOut, c, h, rows: T, fp, P, dropoutRate: cfg.dropoutRate, dropoutSeed: seed(3),
                       keepGeluGrad: ctx.training)
            Profile.add("fwd.ffn", since: pt)
        case .moe(let mp, let c):
            moeForward(ffOut, c, h, tokens: T, mp, P, cfg.moeSettings(tokens: T, training: ctx.training),
                       dropoutSeed: seed(4))
            stats = c.stats
            Profile.add("fwd.moe", since: pt)
        }
        pt = Profile.now()
        add(h, ffOut, into: outSum, count: T * D)
        layerNormForward(out, mean: mean2, rstd: rstd2, outSum, scale: P + outScale, bias: P + outBias, rows: T,
                         cols: D)
        Profile.add("fwd.add+layernorm", since: pt)
        return stats
    }

    /// Backward of `forward`: dx += ∂/∂x and parameter gradients +=, from `dOut` (T, D), read only. `x` is the
    /// forward's input. Destroys the sublayers' caches.
    func backward(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                  _ ctx: PassContext, scratch s: BlockScratch) {
        let cfg = ctx.config, P = ctx.params, Gd = ctx.grads
        let B = ctx.batch, L = ctx.seq, D = ctx.dModel, T = ctx.tokens
        let dSum = s.dSum, dH = s.dHidden
        // out = LN_out(outSum)
        var pt = Profile.now()
        // dSum is shared scratch (`BlockScratch`): written, not added into. outSum = h + FF(h)  ⇒
        // dh = dSum + FF'(dSum): the residual's share first (the copy into dH), then FF adds its own.
        layerNormBackward(dx: dSum, dscale: Gd + outScale, dbias: Gd + outBias, dy: dOut, x: outSum,
                          mean: mean2, rstd: rstd2, scale: P + outScale, rows: T, cols: D,
                          output: .overwriteAndCopy(dH))
        Profile.add("bwd.layernorm+copy", since: pt); pt = Profile.now()
        switch feedForward {
        case .dense(let fp, let c):
            ffnBackward(dx: dH, dOut: dSum, c, h, rows: T, fp, P, Gd, dropout: ctx.training && cfg.dropoutRate > 0,
                        geluGradKept: ctx.training, work: s.work)
            Profile.add("bwd.ffn", since: pt)
        case .moe(let mp, let c):
            moeBackward(dh: dH, dOut: dSum, c, h, tokens: T, mp, P, Gd,
                        cfg.moeSettings(tokens: T, training: ctx.training),
                        auxFactor: cfg.auxiliaryLossFactor, zFactor: cfg.routerZLossFactor,
                        dropout: ctx.training, work: s.work, dLogits: s.routerGrad)
            Profile.add("bwd.moe", since: pt)
        }
        // h = LN_mix(mixSum)
        pt = Profile.now()
        // dSum taken up again, written again. mixSum = x + Mix(x)  ⇒  dx += dSum + Mix'(dSum): the residual's
        // share first (added into dx in the same pass), then Mix adds its own.
        layerNormBackward(dx: dSum, dscale: Gd + mixScale, dbias: Gd + mixBias, dy: dH, x: mixSum,
                          mean: mean1, rstd: rstd1, scale: P + mixScale, rows: T, cols: D,
                          output: .overwriteAndAdd(into: dx))
        Profile.add("bwd.layernorm+copy", since: pt); pt = Profile.now()
        switch mixing {
        case .attention(let ap, let c):
            attentionBackward(dx: dx, dOut: dSum, c, x, ids: ctx.ids, padId: Int32(cfg.padId), batch: B, seq: L,
                              dModel: D, heads: cfg.numHeads, ap, P, Gd,
                              dropout: ctx.training && cfg.mixingDropoutRate > 0, work: s.work, scratch: s.attention)
        case .fourier:
            spectralMixBackward(dx: dx, dY: dSum, batch: B, seq: L, dModel: D, hartley: false)
        case .hartley:
            spectralMixBackward(dx: dx, dY: dSum, batch: B, seq: L, dModel: D, hartley: true)
        case .linear(let inp, let hid, let c):
            matrixMixBackward(dx: dx, dY: dSum, x, z: c.z, seqMatrix: P + inp, hiddenMatrix: P + hid,
                              dSeq: Gd + inp, dHidden: Gd + hid, batch: B, seq: L, dModel: D, work: s.work)
        case .circulant(let inp, let hid, let c):
            structuredMixBackward(dx: dx, dY: dSum, x, c, ctx, scratch: s)
            foldCirculant(s.dSeqMatrix, n: L, transpose: false, into: Gd + inp)
            foldCirculant(s.dHiddenMatrix, n: D, transpose: true, into: Gd + hid)
        case .toeplitz(let inp, let hid, let c):
            structuredMixBackward(dx: dx, dY: dSum, x, c, ctx, scratch: s)
            foldToeplitz(s.dSeqMatrix, n: L, transpose: false, into: Gd + inp)
            foldToeplitz(s.dHiddenMatrix, n: D, transpose: true, into: Gd + hid)
        }
        Profile.add("bwd.mixing", since: pt)
    }

    /// Circulant/Toeplitz: the matrix-mixing backward into the gradients of the materialised M_s and M_h (zeroed
    /// here: every structured layer reuses them), which the caller folds back onto the vectors.
    private func structuredMixBackward(dx: UnsafeMutablePointer<Float>, dY: UnsafePointer<Float>,
                                       _ x: UnsafePointer<Float>, _ c: MatrixMixCache, _ ctx: PassContext,
                                       scratch s: BlockScratch) {
        let L = ctx.seq, D = ctx.dModel
        s.dSeqMatrix.update(repeating: 0, count: L * L)
        s.dHiddenMatrix.update(repeating: 0, count: D * D)
        matrixMixBackward(dx: dx, dY: dY, x, z: c.z, seqMatrix: c.seqMatrix, hiddenMatrix: c.hiddenMatrix,
                          dSeq: s.dSeqMatrix, dHidden: s.dHiddenMatrix, batch: ctx.batch, seq: L, dModel: D,
                          work: s.work)
    }
}

/// The seed of one dropout mask of a step: `RNG(seed: base).fork(label)`'s first draw.
func derivedSeed(_ base: UInt64, _ label: UInt64) -> UInt64 { var r = RNG(seed: base).fork(label); return r.next() }
