/// Dense FFN, also the expert (SPEC §1.4): FFN(x) = Dropout_p(W2·gelu(W1·x + b1) + b2), tanh-GELU.
struct FFNParams { var w1: DenseParams; var w2: DenseParams }

struct FFNCache {
    var a1: UnsafeMutablePointer<Float>    // (N, F) pre-activation, or gelu' of it (`keepGeluGrad`)
    var g: UnsafeMutablePointer<Float>     // (N, F) gelu(a1)
    var mask: UnsafeMutablePointer<Float>  // (N, D) dropout mask

    init(a1: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>) {
        self.a1 = a1; self.g = g; self.mask = mask
    }

    init(_ a: inout ArenaCarver, rows: Int, dModel: Int, dFF: Int, dropout: Bool) {
        a1 = a.take(rows * dFF); g = a.take(rows * dFF); mask = a.take(dropout ? rows * dModel : 0)
    }
}

/// `keepGeluGrad` (a forward the backward will follow) leaves gelu'(a1) in the cache instead of a1, so the backward
/// needs no second tanh; the backward must be told the same.
func ffnForward(_ out: UnsafeMutablePointer<Float>, _ c: FFNCache, _ x: UnsafePointer<Float>, rows: Int,
                _ p: FFNParams, _ params: UnsafeMutablePointer<Float>, dropoutRate: Float, dropoutSeed: UInt64?,
                keepGeluGrad: Bool) {
    // Each gemm is followed by one fused pass: a1 += b1 with g = gelu(a1); out += b2 with the dropout mask.
    precondition(p.w1.bias >= 0, "an FFN's first layer has a bias")
    denseProduct(c.a1, x, rows: rows, p.w1, params)
    addBiasGelu(c.a1, params + p.w1.bias, into: c.g, rows: rows, cols: p.w1.nOut, keepingGrad: keepGeluGrad)
    denseDropoutForward(out, c.g, rows: rows, p.w2, params, mask: c.mask, dropoutRate: dropoutRate,
                        dropoutSeed: dropoutSeed)
}

/// Backward of `ffnForward`: dx += ∂/∂x, parameter gradients +=. `dOut` (N, D) is read only; `work` holds N·D floats
/// (the dropout-masked dOut; unused without dropout). Destroys the cache (a1, g). `geluGradKept`: the forward ran with
/// `keepGeluGrad`.
func ffnBackward(dx: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, _ c: FFNCache, _ x: UnsafePointer<Float>,
                 rows: Int, _ p: FFNParams, _ params: UnsafeMutablePointer<Float>, _ grads: UnsafeMutablePointer<Float>,
                 dropout: Bool, geluGradKept: Bool, work: UnsafeMutablePointer<Float>) {
    let D = p.w2.nOut, F = p.w1.nOut
    // out = Dropout(g·W2 + b2), g = gelu(a1), a1 = x·W1 + b1
    var dy = dOut
    if dropout {
        let n = rows * D
        Parallel.forRange(n, grain: 65536) { s, e in for i in s..<e { work[i] = dOut[i] * c.mask[i] } }
        dy = UnsafePointer(work)
    }
    // dW2 += gᵀ·dy ; dg = dy·W2ᵀ (into g's storage once dW2 is done)
    denseBackward(dx: nil, dy: dy, x: c.g, rows: rows, p.w2, params, grads)
    BLAS.gemm(transB: true, m: rows, n: F, k: D, a: dy, lda: D, b: params + p.w2.kernel, ldb: D, c: c.g, ldc: F)
    // da1 = dg · gelu'(a1), in place in g's storage.
    if geluGradKept { multiply(c.g, c.a1, count: rows * F) } else { geluBackward(c.g, c.a1, count: rows * F) }
    denseBackward(dx: dx, dy: c.g, x: x, rows: rows, p.w1, params, grads)
}
