/// Embeddings (SPEC §1.1): e = LayerNorm(word[ids] + position[0..<L] + type[typeIds]) · W_in + b_in, then dropout.
/// The d_emb → d_model projection `hidden_mapping_in` is always present.
struct EmbeddingParams {
    var word: Int        // [V, De]
    var position: Int    // [maxSeq, De]
    var type: Int        // [typeVocab, De]
    var lnScale: Int, lnBias: Int   // [De]
    var projection: DenseParams     // De → D
}

struct EmbeddingCache {
    var sum: UnsafeMutablePointer<Float>     // (B·L, De) word + position + type
    var mean: UnsafeMutablePointer<Float>    // (B·L)
    var rstd: UnsafeMutablePointer<Float>    // (B·L)
    var normed: UnsafeMutablePointer<Float>  // (B·L, De)
    var mask: UnsafeMutablePointer<Float>    // (B·L, D) dropout mask
    var output: UnsafeMutablePointer<Float>  // (B·L, D) "embedding_output"
    var dMasked: UnsafeMutablePointer<Float> // (B·L, D) backward: the dropout-masked output gradient
    var dNormed: UnsafeMutablePointer<Float> // (B·L, De) backward accumulator: the gradient of `normed`

    /// Activations from `a`; the backward's accumulator (`dNormed`, zero on entry to the backward) from `g`.
    init(_ a: inout ArenaCarver, accumulators g: inout ArenaCarver, tokens: Int, dEmb: Int, dModel: Int,
         dropout: Bool) {
        sum = a.take(tokens * dEmb); mean = a.take(tokens); rstd = a.take(tokens)
        normed = a.take(tokens * dEmb); mask = a.take(dropout ? tokens * dModel : 0); output = a.take(tokens * dModel)
        dMasked = a.take(dropout ? tokens * dModel : 0); dNormed = g.take(tokens * dEmb)
    }
}

func embeddingForward(_ c: EmbeddingCache, ids: UnsafePointer<Int32>, typeIds: UnsafePointer<Int32>, batch: Int,
                      seq: Int, dEmb: Int, dModel: Int, _ p: EmbeddingParams, _ params: UnsafeMutablePointer<Float>,
                      dropoutRate: Float, dropoutSeed: UInt64?) {
    let tokens = batch * seq
    Parallel.forRange(tokens, grain: 256) { s, e in
        for t in s..<e {
            let w = params + p.word + Int(ids[t]) * dEmb
            let pos = params + p.position + (t % seq) * dEmb
            let ty = params + p.type + Int(typeIds[t]) * dEmb
            let out = c.sum + t * dEmb
            for j in 0..<dEmb { out[j] = w[j] + pos[j] + ty[j] }
        }
    }
    layerNormForward(c.normed, mean: c.mean, rstd: c.rstd, c.sum, scale: params + p.lnScale, bias: params + p.lnBias,
                     rows: tokens, cols: dEmb)
    denseDropoutForward(c.output, c.normed, rows: tokens, p.projection, params, mask: c.mask,
                        dropoutRate: dropoutRate, dropoutSeed: dropoutSeed)
}

/// Backward of `embeddingForward`: the parameter gradients +=. `dOut` (B·L, D) is read only. `c.dNormed` must hold
/// zeros (the step's zeroing pass clears it: `Model.zeroGradients`). Destroys the cache (normed).
func embeddingBackward(_ c: EmbeddingCache, dOut: UnsafePointer<Float>, ids: UnsafePointer<Int32>,
                       typeIds: UnsafePointer<Int32>, batch: Int, seq: Int, dEmb: Int, dModel: Int,
                       _ p: EmbeddingParams, _ params: UnsafeMutablePointer<Float>,
                       _ grads: UnsafeMutablePointer<Float>, dropout: Bool) {
    let tokens = batch * seq
    // output = Dropout(normed·W_in + b_in)
    var dy = dOut
    if dropout {
        let masked = c.dMasked, mask = c.mask
        Parallel.forRange(tokens * dModel, grain: 65536) { s, e in for i in s..<e { masked[i] = dOut[i] * mask[i] } }
        dy = UnsafePointer(masked)
    }
    denseBackward(dx: c.dNormed, dy: dy, x: c.normed, rows: tokens, p.projection, params, grads)
    // normed = LayerNorm(sum); the normalised values are no longer needed: dSum goes into their storage, written
    // whole by the LayerNorm backward (not zeroed in the step's pass: it held `normed` until the line above).
    let dSum = c.normed
    layerNormBackward(dx: dSum, dscale: grads + p.lnScale, dbias: grads + p.lnBias, dy: c.dNormed, x: c.sum,
                      mean: c.mean, rstd: c.rstd, scale: params + p.lnScale, rows: tokens, cols: dEmb,
                      output: .overwrite)
    // sum = word[ids] + position[0..<L] + type[typeIds]
    // Scatter-add into the three tables (serial: rows may repeat).
    for t in 0..<tokens {
        let d = dSum + t * dEmb
        let w = grads + p.word + Int(ids[t]) * dEmb
        let pos = grads + p.position + (t % seq) * dEmb
        let ty = grads + p.type + Int(typeIds[t]) * dEmb
        for j in 0..<dEmb { w[j] += d[j]; pos[j] += d[j]; ty[j] += d[j] }
    }
}
