/// Multi-head self-attention (SPEC §1.6). q, k, v = x·W + b; q scaled by 1/√head_dim; mask[b,q,k] =
/// nonpad(q) ∧ nonpad(k), masked logits → the most negative float, so a pad query row attends uniformly;
/// dropout on the probabilities with one [L, L] mask shared by batch and heads; out = concat(P·v)·W_o + b_o.
struct AttentionParams: Equatable {
    var query: DenseParams, key: DenseParams, value: DenseParams, out: DenseParams
}

struct AttentionCache {
    var q: UnsafeMutablePointer<Float>      // (B·L, D)
    var k: UnsafeMutablePointer<Float>      // (B·L, D)
    var v: UnsafeMutablePointer<Float>      // (B·L, D)
    var probs: UnsafeMutablePointer<Float>  // (B, H, L, L) softmax before dropout
    var dropMask: UnsafeMutablePointer<Float> // (L, L) shared dropout mask (scale or 0)
    var context: UnsafeMutablePointer<Float> // (B·L, D) concatenated heads after P·v

    init(_ a: inout ArenaCarver, batch: Int, seq: Int, dModel: Int, heads: Int, dropout: Bool) {
        let n = batch * seq * dModel
        q = a.take(n); k = a.take(n); v = a.take(n)
        probs = a.take(batch * heads * seq * seq)
        dropMask = a.take(dropout ? seq * seq : 0)
        context = a.take(n)
    }
}

/// Per-thread scratch for the backward: two [L, L] matrices per thread.
struct AttentionScratch {
    var buffers: UnsafeMutablePointer<Float>   // (threads, 2, L, L)
    init(_ a: inout ArenaCarver, seq: Int, threads: Int) { buffers = a.take(threads * 2 * seq * seq) }
}

func attentionForward(_ out: UnsafeMutablePointer<Float>, _ c: AttentionCache, _ x: UnsafePointer<Float>,
                      ids: UnsafePointer<Int32>, padId: Int32, batch: Int, seq L: Int, dModel D: Int, heads H: Int,
                      _ p: AttentionParams, _ params: UnsafeMutablePointer<Float>, dropoutRate: Float, dropoutSeed: UInt64?,
                      scratch: AttentionScratch) {
    let tokens = batch * L
    denseForward(c.q, x, rows: tokens, p.query, params)
    denseForward(c.k, x, rows: tokens, p.key, params)
    denseForward(c.v, x, rows: tokens, p.value, params)
    let hd = D / H
    let scale = 1 / Float(hd).squareRoot()
    let dropout = dropoutSeed != nil && dropoutRate > 0
    if let seed = dropoutSeed, dropout { makeDropoutMask(c.dropMask, rows: L, cols: L, rate: dropoutRate, seed: seed) }
    Parallel.forChunks(batch * H) { chunk, s, e in
        let tmp = scratch.buffers + chunk * 2 * L * L
        for bh in s..<e {
            let b = bh / H, h = bh % H
            let qb = c.q + b * L * D + h * hd, kb = c.k + b * L * D + h * hd, vb = c.v + b * L * D + h * hd
            let P = c.probs + bh * L * L
            // S = scale · q kᵀ  [L, L]
            BLAS.gemm(transB: true, m: L, n: L, k: hd, alpha: scale, a: qb, lda: D, b: kb, ldb: D, c: P, ldc: L)
            maskedSoftmaxRows(P, rows: L, cols: L, ids: ids + b * L, padId: padId)
            var A = UnsafePointer(P)
            if dropout {
                for i in 0..<(L * L) { tmp[i] = P[i] * c.dropMask[i] }
                A = UnsafePointer(tmp)
            }
            // context_bh = P_dropped · v_bh  [L, hd]
            BLAS.gemm(m: L, n: hd, k: L, a: A, lda: L, b: vb, ldb: D, c: c.context + b * L * D + h * hd, ldc: D)
        }
    }
    denseForward(out, c.context, rows: tokens, p.out, params)
}

/// Softmax of each row of S [L, L] in place over the non-pad keys (pad keys get 0); a pad query row becomes
/// uniform 1/L (every logit masked to the same value, junk that flows on, as in the reference).
/// p_j = exp(s_j − max_k s_k) / Σ_k exp(s_k − max) over non-pad k. The max and the exponentials run 8 wide; the
/// sum is taken left to right as in `maskedSoftmaxRowsReference`, so the result is bit-for-bit the same.
func maskedSoftmaxRows(_ S: UnsafeMutablePointer<Float>, rows: Int, cols L: Int, ids idb: UnsafePointer<Int32>, padId: Int32) {
    let lowest = -Float.greatestFiniteMagnitude
    for i in 0..<rows {
        let row = S + i * L
        if idb[i] == padId {
            let u = 1 / Float(L)
            for j in 0..<L { row[j] = u }
            continue
        }
        // max over non-pad keys (order-free: max is exact)
        var mx8 = SIMD8<Float>(repeating: lowest)
        var j = 0
        while j + 8 <= L {
            var v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            let id8 = UnsafeRawPointer(idb + j).loadUnaligned(as: SIMD8<Int32>.self)
            v.replace(with: lowest, where: id8 .== padId)
            mx8 = pointwiseMax(mx8, v)
            j += 8
        }
        var mx = mx8.max()
        while j < L { if idb[j] != padId { mx = max(mx, row[j]) }; j += 1 }
        for j in 0..<L { row[j] = idb[j] != padId ? FastMath.exp(row[j] - mx) : 0 }
        var sum: Float = 0
        for j in 0..<L { sum += row[j] }
        let inv = 1 / sum
        for j in 0..<L { row[j] *= inv }
    }
}

/// The plain form of `maskedSoftmaxRows` (the simple path the fast one is pinned against).
func maskedSoftmaxRowsReference(_ S: UnsafeMutablePointer<Float>, rows: Int, cols L: Int, ids idb: UnsafePointer<Int32>, padId: Int32) {
    for i in 0..<rows {
        let row = S + i * L
        if idb[i] == padId {
            let u = 1 / Float(L)
            for j in 0..<L { row[j] = u }
            continue
        }
        var mx = -Float.greatestFiniteMagnitude
        for j in 0..<L where idb[j] != padId { mx = max(mx, row[j]) }
        var sum: Float = 0
        for j in 0..<L {
            let e = idb[j] != padId ? FastMath.expReference(row[j] - mx) : 0
            row[j] = e; sum += e
        }
        let inv = 1 / sum
        for j in 0..<L { row[j] *= inv }
    }
}

/// dx += ∂/∂x; `dOut` (B·L, D) is the gradient of the attention output. `work` holds 4·B·L·D floats.
func attentionBackward(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, _ c: AttentionCache, _ x: UnsafePointer<Float>,
                       ids: UnsafePointer<Int32>, padId: Int32, batch: Int, seq L: Int, dModel D: Int, heads H: Int,
                       _ p: AttentionParams, _ params: UnsafeMutablePointer<Float>, _ grads: UnsafeMutablePointer<Float>,
                       dropout: Bool, work: UnsafeMutablePointer<Float>, scratch: AttentionScratch) {
    let tokens = batch * L, n = tokens * D
    let dContext = work, dQ = work + n, dK = work + 2 * n, dV = work + 3 * n
    denseBackward(dx: dContext, accumulateInput: false, dy: dOut, x: c.context, rows: tokens, p.out, params, grads)
    let hd = D / H
    let scale = 1 / Float(hd).squareRoot()
    Parallel.forChunks(batch * H) { chunk, s, e in
        let pd = scratch.buffers + chunk * 2 * L * L   // P after dropout
        let dP = pd + L * L
        for bh in s..<e {
            let b = bh / H, h = bh % H
            let off = b * L * D + h * hd
            let P = c.probs + bh * L * L
            var A = UnsafePointer(P)
            if dropout {
                for i in 0..<(L * L) { pd[i] = P[i] * c.dropMask[i] }
                A = UnsafePointer(pd)
            }
            // dV = P_droppedᵀ · dContext
            BLAS.gemm(transA: true, m: L, n: hd, k: L, a: A, lda: L, b: dContext + off, ldb: D, c: dV + off, ldc: D)
            // dP_dropped = dContext · vᵀ
            BLAS.gemm(transB: true, m: L, n: L, k: hd, a: dContext + off, lda: D, b: c.v + off, ldb: D, c: dP, ldc: L)
            if dropout { for i in 0..<(L * L) { dP[i] *= c.dropMask[i] } }
            // dS = P ⊙ (dP − Σ_j dP·P); masked logits get no gradient (whole pad-query rows).
            let idb = ids + b * L
            for i in 0..<L {
                let row = dP + i * L, pr = P + i * L
                if idb[i] == padId { for j in 0..<L { row[j] = 0 }; continue }
                var dot: Float = 0
                for j in 0..<L { dot += row[j] * pr[j] }
                for j in 0..<L { row[j] = pr[j] * (row[j] - dot) }
            }
            // dq = scale · dS · k ;  dk = scale · dSᵀ · q
            BLAS.gemm(m: L, n: hd, k: L, alpha: scale, a: dP, lda: L, b: c.k + off, ldb: D, c: dQ + off, ldc: D)
            BLAS.gemm(transA: true, m: L, n: hd, k: L, alpha: scale, a: dP, lda: L, b: c.q + off, ldb: D, c: dK + off, ldc: D)
        }
    }
    denseBackward(dx: dx, accumulateInput: true, dy: dQ, x: x, rows: tokens, p.query, params, grads)
    denseBackward(dx: dx, accumulateInput: true, dy: dK, x: x, rows: tokens, p.key, params, grads)
    denseBackward(dx: dx, accumulateInput: true, dy: dV, x: x, rows: tokens, p.value, params, grads)
}
