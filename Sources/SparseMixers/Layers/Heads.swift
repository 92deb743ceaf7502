import Foundation

/// Pooler, MLM head, NSP / classification head and their losses (SPEC §1.7, §4.4, §5.2).
struct MLMParams {
    var dense: DenseParams          // D → De
    var lnScale: Int, lnBias: Int   // [De]
    var outputBias: Int             // [V]; logits = t·E_wordᵀ + b (tied embedding)
}

/// The head's parameters: the pooler and classifier always (their logits are NSP's under pre-training), the MLM
/// head under pre-training.
struct HeadParams {
    var pooler: DenseParams                         // D → D "encoder/pooler"
    var classifierKernel: Int, classifierBias: Int  // [n, D], [n] "classification/output_{kernel,bias}"
    var mlm: MLMHead
    var outputs: Int                                // n
}

/// The MLM head of pre-training, with its parameters; none when fine-tuning.
enum MLMHead {
    /// "predictions_dense", "predictions_layer_norm", "predictions_output/output_bias"; the output kernel is the word
    /// embedding at `wordEmbedding` [V, De] (tied).
    case pretraining(MLMParams, wordEmbedding: Int)
    case none
}

struct HeadCache {
    var poolIn: UnsafeMutablePointer<Float>    // (B, D) h[:, 0]
    var poolPre: UnsafeMutablePointer<Float>   // (B, D)
    var pooled: UnsafeMutablePointer<Float>    // (B, D)
    var logits: UnsafeMutablePointer<Float>    // (B, n) NSP or task logits
    var gathered: UnsafeMutablePointer<Float>  // (B·P, D)
    var tPre: UnsafeMutablePointer<Float>      // (B·P, De)
    var tGelu: UnsafeMutablePointer<Float>     // (B·P, De)
    var tNorm: UnsafeMutablePointer<Float>     // (B·P, De) "mlm_transform"
    var tMean: UnsafeMutablePointer<Float>, tRstd: UnsafeMutablePointer<Float>  // (B·P)
    var mlmLogits: UnsafeMutablePointer<Float> // (B·P, V); overwritten by its gradient in backward
    var rowMax: UnsafeMutablePointer<Float>    // (B·P) max logit of each MLM row, for the backward
    var rowSum: UnsafeMutablePointer<Double>   // (B·P) Σ exp(logit − max) of each MLM row, for the backward
    var dPooled: UnsafeMutablePointer<Float>   // (B, D) backward: gradient of pooled, then of poolPre
    // Backward accumulators, carved from the workspace's `accumulators` (zero on entry to the backward):
    var dPoolIn: UnsafeMutablePointer<Float>   // (B, D) gradient of poolIn
    var dGelu: UnsafeMutablePointer<Float>     // (B·P, De) gradient of tGelu, then of tPre
    var dGathered: UnsafeMutablePointer<Float> // (B·P, D) gradient of gathered

    /// Activations from `a`; the backward's accumulators from `g`.
    init(_ a: inout ArenaCarver, accumulators g: inout ArenaCarver, batch B: Int, dModel D: Int, dEmb De: Int,
         outputs n: Int, predictions P: Int, vocab V: Int, mlm: Bool) {
        poolIn = a.take(B * D); poolPre = a.take(B * D); pooled = a.take(B * D); logits = a.take(B * n)
        let r = mlm ? B * P : 0
        gathered = a.take(r * D); tPre = a.take(r * De); tGelu = a.take(r * De); tNorm = a.take(r * De)
        tMean = a.take(r); tRstd = a.take(r); mlmLogits = a.take(r * V)
        rowMax = a.take(r)
        rowSum = UnsafeMutableRawPointer(a.take(2 * r)).bindMemory(to: Double.self, capacity: r)
        dPooled = a.take(B * D)
        dPoolIn = g.take(B * D); dGelu = g.take(r * De); dGathered = g.take(r * D)
    }
}

/// Softmax cross-entropy of one row; returns (loss, argmax) and, with `gradScale`, writes scale·(softmax − onehot).
/// `scratch` (n floats, may be nil for short rows) lets the exponentials run vectorised: e_i = exp(l_i − max) is
/// written out first, then Σ e_i is taken left to right in Double as in `crossEntropyRowReference`, so losses and
/// gradients are bit-for-bit the same. With `gradScale` the row itself serves as the scratch.
@inline(__always)
func crossEntropyRow(_ logits: UnsafeMutablePointer<Float>, count n: Int, label: Int, gradScale: Float?,
                     scratch: UnsafeMutablePointer<Float>?) -> (Double, Int) {
    let buf = gradScale != nil ? logits : scratch
    guard let e = buf else { return crossEntropyRowReference(logits, count: n, label: label, gradScale: gradScale) }
    let (mx, arg) = rowMaxAndArgmax(logits, count: n)
    let label0 = logits[label]
    for i in 0..<n { e[i] = FastMath.exp(logits[i] - mx) }
    var sum: Double = 0
    for i in 0..<n { sum += Double(e[i]) }
    let lse = Double(mx) + Foundation.log(sum)
    let loss = lse - Double(label0)
    if let s = gradScale {
        let inv = Float(1 / sum)
        for i in 0..<n { logits[i] = s * e[i] * inv }
        logits[label] -= s
    }
    return (loss, arg)
}

/// The plain form of `crossEntropyRow` (the simple path the fast one is pinned against).
func crossEntropyRowReference(_ logits: UnsafeMutablePointer<Float>, count n: Int, label: Int,
                              gradScale: Float?) -> (Double, Int) {
    var mx = -Float.infinity, arg = 0
    for i in 0..<n where logits[i] > mx { mx = logits[i]; arg = i }
    var sum: Double = 0
    for i in 0..<n { sum += Double(FastMath.exp(logits[i] - mx)) }
    let lse = Double(mx) + Foundation.log(sum)
    let loss = lse - Double(logits[label])
    if let s = gradScale {
        let inv = Float(1 / sum)
        for i in 0..<n { logits[i] = s * FastMath.exp(logits[i] - mx) * inv }
        logits[label] -= s
    }
    return (loss, arg)
}

/// The largest of `row[0..<n]` and the first index holding it, exactly as the loop `for j where row[j] > mx` from
/// mx = −∞, a = 0 finds them (NaN never wins; −∞ or all NaN gives (−∞, 0); of +0 and −0 the first one). The max
/// runs in eight independent lanes (vmaxps: max is exact, so the order is free), then a scan finds its first index
/// (== as the loop's `>` leaves it: −0 == +0).
@inline(__always)
func rowMaxAndArgmax(_ row: UnsafePointer<Float>, count n: Int) -> (Float, Int) {
    var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0, m4 = m0, m5 = m0, m6 = m0, m7 = m0
    @inline(__always) func top(_ m: Float, _ x: Float) -> Float { x > m ? x : m }
    var j = 0
    while j + 8 <= n {
        m0 = top(m0, row[j]); m1 = top(m1, row[j + 1]); m2 = top(m2, row[j + 2]); m3 = top(m3, row[j + 3])
        m4 = top(m4, row[j + 4]); m5 = top(m5, row[j + 5]); m6 = top(m6, row[j + 6]); m7 = top(m7, row[j + 7])
        j += 8
    }
    while j < n { m0 = top(m0, row[j]); j += 1 }
    let mx = top(top(top(m0, m1), top(m2, m3)), top(top(m4, m5), top(m6, m7)))
    if !(mx > -Float.infinity) { return (-Float.infinity, 0) }
    // The scan: eight at a time (vcmpeqps, vtestps) to the first block holding a value == mx, then within it. An
    // untrained model's argmax lies anywhere, so this walked half of a 8000-logit row one compare at a time.
    var a = 0
    let target = SIMD8<Float>(repeating: mx)
    while a + 8 <= n {
        if any(UnsafeRawPointer(row + a).loadUnaligned(as: SIMD8<Float>.self) .== target) { break }
        a += 8
    }
    while row[a] != mx { a += 1 }
    return (row[a], a)
}

/// The MLM loss over R rows of V logits: per row (loss, argmax) as `crossEntropyRow` computes them, plus the row's
/// max and Σ exp(l − max), kept for `crossEntropyRowsGradient`. With `bias` ([V]) each row first gets
/// row += bias in place, while it is in cache (one pass over the R·V logits fewer than `addBias` before).
/// Eight rows at a time: their exponentials go to `scratch` (8·V floats) and their Double sums, each left to
/// right, run side by side (eight dependent chains overlap instead of one at a time), so every value is bit-for-bit
/// `crossEntropyRowReference`'s (pinned by a test).
func crossEntropyRows(_ logits: UnsafeMutablePointer<Float>, rows R: Int, count V: Int, bias: UnsafePointer<Float>?,
                      labels: UnsafePointer<Int32>, loss: UnsafeMutablePointer<Double>, arg: UnsafeMutablePointer<Int>,
                      rowMax: UnsafeMutablePointer<Float>, rowSum: UnsafeMutablePointer<Double>,
                      scratch: UnsafeMutablePointer<Float>) {
    var i = 0
    while i < R {
        let n = min(8, R - i)
        for k in 0..<n {
            let row = logits + (i + k) * V, e = scratch + k * V
            if let bias { for j in 0..<V { row[j] += bias[j] } }
            let (mx, a) = rowMaxAndArgmax(row, count: V)
            for j in 0..<V { e[j] = FastMath.exp(row[j] - mx) }
            rowMax[i + k] = mx; arg[i + k] = a
        }
        if n == 8 {
            let e0 = scratch, e1 = e0 + V, e2 = e1 + V, e3 = e2 + V, e4 = e3 + V, e5 = e4 + V, e6 = e5 + V, e7 = e6 + V
            var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
            for j in 0..<V {
                s0 += Double(e0[j]); s1 += Double(e1[j]); s2 += Double(e2[j]); s3 += Double(e3[j])
                s4 += Double(e4[j]); s5 += Double(e5[j]); s6 += Double(e6[j]); s7 += Double(e7[j])
            }
            rowSum[i] = s0; rowSum[i + 1] = s1; rowSum[i + 2] = s2; rowSum[i + 3] = s3
            rowSum[i + 4] = s4; rowSum[i + 5] = s5; rowSum[i + 6] = s6; rowSum[i + 7] = s7
        } else {
            for k in 0..<n {
                let e = scratch + k * V
                var sum = 0.0
                for j in 0..<V { sum += Double(e[j]) }
                rowSum[i + k] = sum
            }
        }
        for k in 0..<n {
            let lse = Double(rowMax[i + k]) + Foundation.log(rowSum[i + k])
            loss[i + k] = lse - Double(logits[(i + k) * V + Int(labels[i + k])])
        }
        i += n
    }
}

/// The gradient of one row's loss, in place: scale·(softmax − onehot), from the max and sum its forward kept
/// (`crossEntropyRows`); bit-for-bit what `crossEntropyRow` with `gradScale` computes from scratch.
@inline(__always)
func crossEntropyRowGradient(_ row: UnsafeMutablePointer<Float>, count V: Int, label: Int, gradScale s: Float,
                             max mx: Float, sum: Double) {
    let inv = Float(1 / sum)
    for j in 0..<V { row[j] = s * FastMath.exp(row[j] - mx) * inv }
    row[label] -= s
}

/// pooled = tanh(x[:, 0]·W_p + b_p); logits = pooled·W_cᵀ + b_c (NSP under pre-training, else the task);
/// pre-training also: t = LN(gelu(x[positions]·W_t + b_t)), MLM logits = t·E_wordᵀ + b. Fills the losses of `r`.
func headsForward(_ x: UnsafePointer<Float>, _ hc: HeadCache, _ hp: HeadParams, _ batch: Batch, config cfg: ModelConfig,
                  _ P: UnsafeMutablePointer<Float>, _ r: inout ForwardResult) {
    let B = batch.batchSize, L = cfg.maxSeqLength, D = cfg.dModel, De = cfg.dEmb, V = cfg.vocabSize
    let n = hp.outputs
    for b in 0..<B { (hc.poolIn + b * D).update(from: x + b * L * D, count: D) }
    denseForward(hc.poolPre, hc.poolIn, rows: B, hp.pooler, P)
    for i in 0..<(B * D) { hc.pooled[i] = Foundation.tanh(hc.poolPre[i]) }
    BLAS.gemm(transB: true, m: B, n: n, k: D, a: hc.pooled, lda: D, b: P + hp.classifierKernel, ldb: D, c: hc.logits,
              ldc: n)
    addBias(hc.logits, P + hp.classifierBias, rows: B, cols: n)
    r.logits = Array(UnsafeBufferPointer(start: hc.logits, count: B * n))
    switch hp.mlm {
    case .pretraining(let m, let word):
        let Pn = cfg.maxPredictionsPerSeq, R = B * Pn
        for b in 0..<B { for j in 0..<Pn {
            let pos = Int(batch.maskedLMPositions[b * Pn + j])
            (hc.gathered + (b * Pn + j) * D).update(from: x + (b * L + pos) * D, count: D)
        } }
        denseForward(hc.tPre, hc.gathered, rows: R, m.dense, P)
        geluForward(hc.tPre, into: hc.tGelu, count: R * De)
        layerNormForward(hc.tNorm, mean: hc.tMean, rstd: hc.tRstd, hc.tGelu, scale: P + m.lnScale, bias: P + m.lnBias,
                         rows: R, cols: De)
        BLAS.gemm(transB: true, m: R, n: V, k: De, a: hc.tNorm, lda: De, b: P + word, ldb: De, c: hc.mlmLogits, ldc: V)
        // Rows in parallel (each chunk with its own scratch for 8 rows), then the weighted sums in row order.
        var rowLoss = [Double](repeating: 0, count: R), rowArg = [Int](repeating: 0, count: R)
        rowLoss.withUnsafeMutableBufferPointer { lossB in
        rowArg.withUnsafeMutableBufferPointer { argB in
        batch.maskedLMIds.withUnsafeBufferPointer { labels in
            let lossP = lossB.baseAddress!, argP = argB.baseAddress!, lab = labels.baseAddress!
            Parallel.forRange(R, grain: 8) { s, e in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 8 * V)
                defer { scratch.deallocate() }
                crossEntropyRows(hc.mlmLogits + s * V, rows: e - s, count: V, bias: P + m.outputBias,
                                 labels: lab + s, loss: lossP + s, arg: argP + s, rowMax: hc.rowMax + s,
                                 rowSum: hc.rowSum + s, scratch: scratch)
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
            let (loss, arg) = crossEntropyRow(hc.logits + b * 2, count: 2, label: Int(batch.nextSentenceLabels[b]),
                                              gradScale: nil, scratch: nil)
            nsp += loss
            if arg == Int(batch.nextSentenceLabels[b]) { r.nspCorrect += 1 }
        }
        r.nspLoss = nsp / Double(B)
    case .none:
        var loss: Double = 0
        for b in 0..<B {
            if n == 1 {
                let d = Double(hc.logits[b]) - Double(batch.labels[b]); loss += d * d
            } else {
                loss += crossEntropyRow(hc.logits + b * n, count: n, label: Int(batch.labels[b]), gradScale: nil,
                                        scratch: nil).0
            }
        }
        r.taskLoss = loss / Double(B)
    }
}

/// Backward of `headsForward`: dx (T, D) += ∂loss/∂x (rows 0 of each example and the masked positions), parameter
/// gradients +=. Overwrites the logits with their gradients. The cache's accumulators (dPoolIn, dGelu, dGathered)
/// must hold zeros: the step's zeroing pass clears them (`Model.zeroGradients`).
func headsBackward(dx: UnsafeMutablePointer<Float>, _ hc: HeadCache, _ hp: HeadParams, _ batch: Batch,
                   config cfg: ModelConfig, _ P: UnsafeMutablePointer<Float>, _ Gd: UnsafeMutablePointer<Float>) {
    let B = batch.batchSize, L = cfg.maxSeqLength, D = cfg.dModel, De = cfg.dEmb, V = cfg.vocabSize
    let n = hp.outputs
    switch hp.mlm {
    case .pretraining(let m, let word):
        let Pn = cfg.maxPredictionsPerSeq, R = B * Pn
        // loss = Σ w_i·CE(logits_i, y_i) / Σ w  ⇒  dlogits_i = w_i/Σw · (softmax − onehot), in place.
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
        // logits = t·Eᵀ + b  ⇒  dE += dlogitsᵀ·t, dt = dlogits·E (into t's storage), db += Σ dlogits
        BLAS.gemm(transA: true, m: V, n: De, k: R, a: dLogits, lda: V, b: hc.tNorm, ldb: De, beta: 1, c: Gd + word,
                  ldc: De)
        BLAS.addColumnSums(dLogits, rows: R, cols: V, into: Gd + m.outputBias)
        BLAS.gemm(m: R, n: De, k: V, a: dLogits, lda: V, b: P + word, ldb: De, c: hc.tNorm, ldc: De)
        // t = LN(gelu(tPre)), tPre = gathered·W_t + b_t
        layerNormBackward(dx: hc.dGelu, dscale: Gd + m.lnScale, dbias: Gd + m.lnBias, dy: hc.tNorm, x: hc.tGelu,
                          mean: hc.tMean, rstd: hc.tRstd, scale: P + m.lnScale, rows: R, cols: De)
        geluBackward(hc.dGelu, hc.tPre, count: R * De)
        denseBackward(dx: hc.dGathered, dy: hc.dGelu, x: hc.gathered, rows: R, m.dense, P, Gd)
        // gathered = x[positions]  ⇒  scatter-add
        for b in 0..<B { for j in 0..<Pn {
            let pos = Int(batch.maskedLMPositions[b * Pn + j])
            let src = hc.dGathered + (b * Pn + j) * D, dst = dx + (b * L + pos) * D
            for k in 0..<D { dst[k] += src[k] }
        } }
        // NSP: mean over the batch of CE(logits_b, label_b)
        for b in 0..<B {
            _ = crossEntropyRow(hc.logits + b * 2, count: 2, label: Int(batch.nextSentenceLabels[b]),
                                gradScale: 1 / Float(B), scratch: nil)
        }
    case .none:
        // Task: mean squared error (n = 1) or mean CE over the batch.
        for b in 0..<B {
            if n == 1 {
                hc.logits[b] = 2 * (hc.logits[b] - batch.labels[b]) / Float(B)
            } else {
                _ = crossEntropyRow(hc.logits + b * n, count: n, label: Int(batch.labels[b]), gradScale: 1 / Float(B),
                                    scratch: nil)
            }
        }
    }
    // logits = pooled·Wᵀ + b
    BLAS.gemm(transA: true, m: n, n: D, k: B, a: hc.logits, lda: n, b: hc.pooled, ldb: D, beta: 1,
              c: Gd + hp.classifierKernel, ldc: D)
    BLAS.addColumnSums(hc.logits, rows: B, cols: n, into: Gd + hp.classifierBias)
    let dPooled = hc.dPooled
    BLAS.gemm(m: B, n: D, k: n, a: hc.logits, lda: n, b: P + hp.classifierKernel, ldb: D, c: dPooled, ldc: D)
    // pooled = tanh(poolPre), poolPre = poolIn·W_p + b_p
    for i in 0..<(B * D) { dPooled[i] *= 1 - hc.pooled[i] * hc.pooled[i] }
    denseBackward(dx: hc.dPoolIn, dy: dPooled, x: hc.poolIn, rows: B, hp.pooler, P, Gd)
    // poolIn = x[:, 0]
    for b in 0..<B {
        let dst = dx + b * L * D
        for k in 0..<D { dst[k] += hc.dPoolIn[b * D + k] }
    }
}
