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
            let idb = ids + b * L
            for i in 0..<L {
                let row = P + i * L
                if idb[i] == padId {
                    // Every logit masked to the same value: uniform attention (junk that flows on, as in the reference).
                    let u = 1 / Float(L)
                    for j in 0..<L { row[j] = u }
                    continue
                }
                var mx = -Float.greatestFiniteMagnitude
                for j in 0..<L where idb[j] != padId { mx = max(mx, row[j]) }
                var sum: Float = 0
                for j in 0..<L {
                    let e = idb[j] != padId ? FastMath.exp(row[j] - mx) : 0
                    row[j] = e; sum += e
                }
                let inv = 1 / sum
                for j in 0..<L { row[j] *= inv }
            }
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
