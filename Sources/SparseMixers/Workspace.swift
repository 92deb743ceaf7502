/// Activations and backward scratch for one batch size, carved from two arenas (shape legend in Model.swift):
/// `arena` holds the activations and the backward scratch every layer reuses; `accumulators` holds the backward
/// buffers used once per step, which the step's one zeroing pass clears with the parameter gradients
/// (`Model.zeroGradients`), so the kernels that fill them only add.
final class Workspace {
    let batch: Int                          // B
    let arena: FloatArena
    /// The heads' and the embedding's input-gradient buffers (`HeadCache.dPoolIn`, `dGelu`, `dGathered`;
    /// `EmbeddingCache.dNormed`): each backward adds into them once per step.
    let accumulators: FloatArena
    /// True while `accumulators` holds zeros: when the arena is new and after `zeroAccumulators()`, until the next
    /// backward.
    var accumulatorsAreZero = true
    let embedding: EmbeddingCache
    let blocks: [Block]
    let heads: HeadCache
    /// Backward: the gradient of the current block's output, and of its input (the two swap between blocks).
    let dOut: UnsafeMutablePointer<Float>   // (T, D)
    let dIn: UnsafeMutablePointer<Float>    // (T, D)
    let scratch: BlockScratch
    var ids: [Int32], typeIds: [Int32]      // (B, L) of the last forward
    var lastTraining = false

    init(model m: Model, batch B: Int) {
        var sizing = ArenaCarver.sizing(), accumulatorSizing = ArenaCarver.sizing()
        _ = Buffers(&sizing, accumulators: &accumulatorSizing, model: m, batch: B)
        arena = FloatArena(count: sizing.used)
        accumulators = FloatArena(count: accumulatorSizing.used)
        var carver = ArenaCarver(arena: arena), accumulatorCarver = ArenaCarver(arena: accumulators)
        let b = Buffers(&carver, accumulators: &accumulatorCarver, model: m, batch: B)
        batch = B
        embedding = b.embedding; blocks = b.blocks; heads = b.heads
        dOut = b.dOut; dIn = b.dIn; scratch = b.scratch
        let T = B * m.config.maxSeqLength
        ids = Array(repeating: 0, count: T); typeIds = Array(repeating: 0, count: T)
    }

    /// Clears the once-per-step backward buffers (part of the step's zeroing pass).
    func zeroAccumulators() {
        accumulators.zero()
        accumulatorsAreZero = true
    }

    /// Every buffer of the workspace, carved in order (once to size the arenas, once for real).
    private struct Buffers {
        var embedding: EmbeddingCache
        var blocks: [Block] = []
        var heads: HeadCache
        var dOut: UnsafeMutablePointer<Float>, dIn: UnsafeMutablePointer<Float>
        var scratch: BlockScratch

        init(_ a: inout ArenaCarver, accumulators g: inout ArenaCarver, model m: Model, batch B: Int) {
            let cfg = m.config
            let L = cfg.maxSeqLength, D = cfg.dModel, T = B * L
            embedding = EmbeddingCache(&a, accumulators: &g, tokens: T, dEmb: cfg.dEmb, dModel: D,
                                       dropout: cfg.dropoutRate > 0)
            for (l, bp) in m.blocks.enumerated() { blocks.append(Block(&a, bp, index: l, config: cfg, batch: B)) }
            heads = HeadCache(&a, accumulators: &g, batch: B, dModel: D, dEmb: cfg.dEmb, outputs: m.head.outputs,
                              predictions: cfg.maxPredictionsPerSeq, vocab: cfg.vocabSize, mlm: m.head == .pretraining)
            let structured = m.blocks.contains {
                switch $0.mixing { case .circulant, .toeplitz: return true; default: return false }
            }
            let attention = m.blocks.contains { if case .attention = $0.mixing { return true }; return false }
            dOut = a.take(T * D); dIn = a.take(T * D)
            scratch = BlockScratch(dSum: a.take(T * D), dHidden: a.take(T * D),
                                   work: a.take(blocks.map(\.workFloats).max() ?? 0),
                                   routerGrad: a.take(T * max(cfg.numExperts, 1)),
                                   dSeqMatrix: a.take(structured ? L * L : 0),
                                   dHiddenMatrix: a.take(structured ? D * D : 0),
                                   attention: AttentionScratch(&a, seq: L,
                                                               threads: attention ? max(Parallel.threads, 1) : 0))
        }
    }
}
