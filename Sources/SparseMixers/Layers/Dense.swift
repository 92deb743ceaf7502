/// Dense layer y = x · W + b with W stored [in, out] (Flax convention).
struct DenseParams: Equatable {
    var kernel: Int   // offset of W [nIn, nOut]
    var bias: Int     // offset of b [nOut], or -1 for none
    var nIn: Int
    var nOut: Int
}

/// y[N, out] = x[N, in] · W, without the bias: for callers that add it in a fused pass of their own.
func denseProduct(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int,
                  _ p: DenseParams, _ params: UnsafeMutablePointer<Float>) {
    BLAS.gemm(m: rows, n: p.nOut, k: p.nIn, a: x, lda: p.nIn, b: params + p.kernel, ldb: p.nOut, c: y, ldc: p.nOut)
}

/// y[N, out] = x[N, in] · W + b.
func denseForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int,
                  _ p: DenseParams, _ params: UnsafeMutablePointer<Float>) {
    denseProduct(y, x, rows: rows, p, params)
    if p.bias >= 0 { addBias(y, params + p.bias, rows: rows, cols: p.nOut) }
}

/// y = Dropout(x · W + b) with the mask drawn into `mask` (N, out) when `dropoutSeed` is given and the rate is
/// positive, else x · W + b: the product, then one pass for the bias and the mask (`addBiasDropout`).
func denseDropoutForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int,
                         _ p: DenseParams, _ params: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>,
                         dropoutRate: Float, dropoutSeed: UInt64?) {
    guard let seed = dropoutSeed, dropoutRate > 0 else { denseForward(y, x, rows: rows, p, params); return }
    precondition(p.bias >= 0, "a dense layer with dropout has a bias")
    denseProduct(y, x, rows: rows, p, params)
    addBiasDropout(y, params + p.bias, mask: mask, rows: rows, cols: p.nOut, rate: dropoutRate, seed: seed)
}

/// Backward of `denseForward` (y = x·W + b): dW += xᵀ·dy, db += Σ_rows dy, dx += dy·Wᵀ (`dx` may be nil: no input
/// gradient). dx must not alias x or dy.
func denseBackward(dx: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                   rows: Int, _ p: DenseParams, _ params: UnsafeMutablePointer<Float>,
                   _ grads: UnsafeMutablePointer<Float>) {
    BLAS.gemm(transA: true, m: p.nIn, n: p.nOut, k: rows, a: x, lda: p.nIn, b: dy, ldb: p.nOut,
              beta: 1, c: grads + p.kernel, ldc: p.nOut)
    if p.bias >= 0 { BLAS.addColumnSums(dy, rows: rows, cols: p.nOut, into: grads + p.bias) }
    if let dx {
        BLAS.gemm(transB: true, m: rows, n: p.nIn, k: p.nOut, a: dy, lda: p.nOut, b: params + p.kernel, ldb: p.nOut,
                  beta: 1, c: dx, ldc: p.nIn)
    }
}
