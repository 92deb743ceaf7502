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
                      _ p: AttentionParams, _ params: UnsafeMutablePointer<Float>, dropoutRate: Float,
                      dropoutSeed: UInt64?, scratch: AttentionScratch) {
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
func maskedSoftmaxRows(_ S: UnsafeMutablePointer<Float>, rows: Int, cols L: Int, ids idb: UnsafePointer<Int32>,
                       padId: Int32) {
    let lowest = -Float.greatestFiniteMagnitude
    // Step 1 per row: max over non-pad keys, then e_j = exp(s_j − max) (0 for pad keys), in place.
    @inline(__always) func exponentiate(_ row: UnsafeMutablePointer<Float>) {
        // 8 running maxima, lane k over the keys j ≡ k (mod 8), each step `max`'s own select (key >= m ? key : m),
        // then the tail into lane 0 and a fixed tree: the same value whichever of equal keys (±0) or NaNs come
        // first. The pad test compares the ids as floats (exact below 2^24, far above any vocabulary): Swift
        // lowers an Int32 SIMD comparison lane by lane through memory, a Float one to vcmpeqps.
        var m = SIMD8<Float>(repeating: lowest)
        let pad = SIMD8<Float>(repeating: Float(padId))
        var j = 0
        while j + 8 <= L {
            let v = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            let ids = SIMD8<Float>(UnsafeRawPointer(idb + j).loadUnaligned(as: SIMD8<Int32>.self))
            let key = v.replacing(with: lowest, where: ids .== pad)
            m = m.replacing(with: key, where: key .>= m)
            j += 8
        }
        var m0 = m[0]
        while j < L { m0 = max(m0, idb[j] != padId ? row[j] : lowest); j += 1 }
        let mx = max(max(max(m0, m[1]), max(m[2], m[3])), max(max(m[4], m[5]), max(m[6], m[7])))
        for j in 0..<L { row[j] = idb[j] != padId ? FastMath.exp(row[j] - mx) : 0 }
    }
    // Step 3 per row: p_j = e_j · (1 / Σ e).
    @inline(__always) func normalize(_ row: UnsafeMutablePointer<Float>, _ sum: Float) {
        let inv = 1 / sum
        for j in 0..<L { row[j] *= inv }
    }
    var i = 0
    while i < rows {
        let n = min(8, rows - i)
        for k in 0..<n {
            let row = S + (i + k) * L
            if idb[i + k] == padId { let u = 1 / Float(L); for j in 0..<L { row[j] = u } } else { exponentiate(row) }
        }
        // Step 2: Σ_j e_j left to right for each row, eight rows interleaved so the eight dependent chains of
        // additions overlap (each row's own sum keeps its order, hence its bits).
        if n == 8 {
            let r0 = S + i * L, r1 = r0 + L, r2 = r1 + L, r3 = r2 + L
            let r4 = r3 + L, r5 = r4 + L, r6 = r5 + L, r7 = r6 + L
            var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
            var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
            for j in 0..<L {
                s0 += r0[j]; s1 += r1[j]; s2 += r2[j]; s3 += r3[j]; s4 += r4[j]; s5 += r5[j]; s6 += r6[j]; s7 += r7[j]
            }
            let sums = (s0, s1, s2, s3, s4, s5, s6, s7)
            withUnsafeBytes(of: sums) { sp in
                let sp = sp.bindMemory(to: Float.self)
                for k in 0..<8 where idb[i + k] != padId { normalize(S + (i + k) * L, sp[k]) }
            }
        } else {
            for k in 0..<n where idb[i + k] != padId {
                let row = S + (i + k) * L
                var sum: Float = 0
                for j in 0..<L { sum += row[j] }
                normalize(row, sum)
            }
        }
        i += n
    }
}

/// The plain form of `maskedSoftmaxRows` (the simple path the fast one is pinned against).
func maskedSoftmaxRowsReference(_ S: UnsafeMutablePointer<Float>, rows: Int, cols L: Int, ids idb: UnsafePointer<Int32>,
                                padId: Int32) {
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

/// dx += ∂/∂x, parameter gradients +=; `dOut` (B·L, D), the gradient of the attention output, is read only. `work`
/// holds 4·B·L·D floats.
func attentionBackward(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, _ c: AttentionCache,
                       _ x: UnsafePointer<Float>, ids: UnsafePointer<Int32>, padId: Int32, batch: Int, seq L: Int,
                       dModel D: Int, heads H: Int, _ p: AttentionParams, _ params: UnsafeMutablePointer<Float>,
                       _ grads: UnsafeMutablePointer<Float>, dropout: Bool, work: UnsafeMutablePointer<Float>,
                       scratch: AttentionScratch) {
    let tokens = batch * L, n = tokens * D
    let dContext = work, dQ = work + n, dK = work + 2 * n, dV = work + 3 * n
    // out = context·W_o + b_o. `work` is every layer's scratch: dContext is zeroed here, where it is taken up.
    dContext.update(repeating: 0, count: n)
    denseBackward(dx: dContext, dy: dOut, x: c.context, rows: tokens, p.out, params, grads)
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
            softmaxBackwardRows(dP, P, rows: L, cols: L, ids: ids + b * L, padId: padId)
            // dq = scale · dS · k ;  dk = scale · dSᵀ · q
            BLAS.gemm(m: L, n: hd, k: L, alpha: scale, a: dP, lda: L, b: c.k + off, ldb: D, c: dQ + off, ldc: D)
            BLAS.gemm(transA: true, m: L, n: hd, k: L, alpha: scale, a: dP, lda: L, b: c.q + off, ldb: D, c: dK + off,
                      ldc: D)
        }
    }
    denseBackward(dx: dx, dy: dQ, x: x, rows: tokens, p.query, params, grads)
    denseBackward(dx: dx, dy: dK, x: x, rows: tokens, p.key, params, grads)
    denseBackward(dx: dx, dy: dV, x: x, rows: tokens, p.value, params, grads)
}

/// dS = P ⊙ (dP − Σ_j dP·P) per row of [L, L], in place in `dP`; pad-query rows get no gradient (masked logits).
/// The dot products are taken left to right, eight rows interleaved so their dependent chains overlap; each row's
/// own sum keeps its order, so the result is bit-for-bit that of `softmaxBackwardRowsReference`.
func softmaxBackwardRows(_ dP: UnsafeMutablePointer<Float>, _ P: UnsafePointer<Float>, rows: Int, cols L: Int,
                         ids idb: UnsafePointer<Int32>, padId: Int32) {
    @inline(__always) func finish(_ k: Int, _ dot: Float) {
        let row = dP + k * L, pr = P + k * L
        if idb[k] == padId { for j in 0..<L { row[j] = 0 }; return }
        for j in 0..<L { row[j] = pr[j] * (row[j] - dot) }
    }
    var i = 0
    while i + 8 <= rows {
        let d0 = dP + i * L, p0 = P + i * L
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        for j in 0..<L {
            s0 += d0[j] * p0[j]; s1 += d0[L + j] * p0[L + j]; s2 += d0[2 * L + j] * p0[2 * L + j]
            s3 += d0[3 * L + j] * p0[3 * L + j]; s4 += d0[4 * L + j] * p0[4 * L + j]
            s5 += d0[5 * L + j] * p0[5 * L + j]
            s6 += d0[6 * L + j] * p0[6 * L + j]; s7 += d0[7 * L + j] * p0[7 * L + j]
        }
        finish(i, s0); finish(i + 1, s1); finish(i + 2, s2); finish(i + 3, s3)
        finish(i + 4, s4); finish(i + 5, s5); finish(i + 6, s6); finish(i + 7, s7)
        i += 8
    }
    while i < rows {
        var dot: Float = 0
        let row = dP + i * L, pr = P + i * L
        if idb[i] != padId { for j in 0..<L { dot += row[j] * pr[j] } }
        finish(i, dot)
        i += 1
    }
}

/// The plain form of `softmaxBackwardRows` (the simple path the fast one is pinned against).
func softmaxBackwardRowsReference(_ dP: UnsafeMutablePointer<Float>, _ P: UnsafePointer<Float>, rows: Int, cols L: Int,
                                  ids idb: UnsafePointer<Int32>, padId: Int32) {
    for i in 0..<rows {
        let row = dP + i * L, pr = P + i * L
        if idb[i] == padId { for j in 0..<L { row[j] = 0 }; continue }
        var dot: Float = 0
        for j in 0..<L { dot += row[j] * pr[j] }
        for j in 0..<L { row[j] = pr[j] * (row[j] - dot) }
    }
}
