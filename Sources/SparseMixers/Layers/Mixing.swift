/// Mixing sublayers (SPEC §1.5). None has a bias, applies dropout, or masks padding. Each acts per example on
/// X ∈ R^{L×D}. `MixingKind` is the layout (parameter offsets); Block.swift's `MixingSublayer` binds it to its cache.
enum MixingKind: Equatable {
    case attention(AttentionParams)
    /// Re(F_L·X·F_D), unnormalised.
    case fourier
    /// Re(Z) − Im(Z) of the same DFT.
    case hartley
    /// W_s·X·W_h: input_kernel W_s [L, L], hidden_kernel W_h [D, D].
    case linear(input: Int, hidden: Int)
    /// C(c_s)·X·C(c_h)ᵀ with C(v)[r, c] = v[(r − c) mod N]: vectors [L], [D].
    case circulant(input: Int, hidden: Int)
    /// T(t_s)·X·T(t_h)ᵀ with T(v)[r, c] = v[(N − 1) + c − r]: vectors [2L − 1], [2D − 1].
    case toeplitz(input: Int, hidden: Int)
}


struct MatrixMixCache {
    var z: UnsafeMutablePointer<Float>       // (B·L, D) X·M_h
    var seqMatrix: UnsafeMutablePointer<Float>    // (L, L) materialised M_s (circulant/Toeplitz)
    var hiddenMatrix: UnsafeMutablePointer<Float> // (D, D) materialised M_h
    init(_ a: inout ArenaCarver, tokens: Int, seq: Int, dModel: Int, structured: Bool) {
        z = a.take(tokens * dModel)
        seqMatrix = a.take(structured ? seq * seq : 0); hiddenMatrix = a.take(structured ? dModel * dModel : 0)
    }
}

/// Y_b = M_s · (X_b · M_h): one [B·L, D]×[D, D] product, then B products [L, L]×[L, D] side by side.
func matrixMixForward(_ y: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                      seqMatrix: UnsafePointer<Float>, hiddenMatrix: UnsafePointer<Float>, batch: Int, seq L: Int,
                      dModel D: Int) {
    BLAS.gemm(m: batch * L, n: D, k: D, a: x, lda: D, b: hiddenMatrix, ldb: D, c: z, ldc: D)
    Parallel.forChunks(batch) { _, s, e in
        for b in s..<e {
            BLAS.gemm(m: L, n: D, k: L, a: seqMatrix, lda: L, b: z + b * L * D, ldb: D, c: y + b * L * D, ldc: D)
        }
    }
}

/// dx += ∂/∂x; dM_s += Σ_b dY_b·Z_bᵀ; dM_h += Xᵀ·dZ with dZ_b = M_sᵀ·dY_b. `work` holds B·L·D floats.
func matrixMixBackward(dx: UnsafeMutablePointer<Float>, dY: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                       z: UnsafePointer<Float>, seqMatrix: UnsafePointer<Float>, hiddenMatrix: UnsafePointer<Float>,
                       dSeq: UnsafeMutablePointer<Float>, dHidden: UnsafeMutablePointer<Float>,
                       batch: Int, seq L: Int, dModel D: Int, work: UnsafeMutablePointer<Float>) {
    let dZ = work
    Parallel.forChunks(batch) { _, s, e in
        for b in s..<e {
            BLAS.gemm(transA: true, m: L, n: D, k: L, a: seqMatrix, lda: L, b: dY + b * L * D, ldb: D,
                      c: dZ + b * L * D, ldc: D)
        }
    }
    for b in 0..<batch {
        BLAS.gemm(transB: true, m: L, n: L, k: D, a: dY + b * L * D, lda: D, b: z + b * L * D, ldb: D,
                  beta: 1, c: dSeq, ldc: L)
    }
    BLAS.gemm(transA: true, m: D, n: D, k: batch * L, a: x, lda: D, b: dZ, ldb: D, beta: 1, c: dHidden, ldc: D)
    BLAS.gemm(transB: true, m: batch * L, n: D, k: D, a: dZ, lda: D, b: hiddenMatrix, ldb: D, beta: 1, c: dx, ldc: D)
}

/// M_s = C(c_s) [L, L] and M_h = C(c_h)ᵀ [D, D].
func materializeCirculant(_ v: UnsafePointer<Float>, n: Int, transpose: Bool, into m: UnsafeMutablePointer<Float>) {
    for r in 0..<n { for c in 0..<n {
        let val = v[((r - c) % n + n) % n]
        if transpose { m[c * n + r] = val } else { m[r * n + c] = val }
    } }
}

/// Folds a matrix gradient back onto the circulant vector: dv[(r − c) mod n] += dM[r, c] (or dM[c, r]).
func foldCirculant(_ dm: UnsafePointer<Float>, n: Int, transpose: Bool, into dv: UnsafeMutablePointer<Float>) {
    for r in 0..<n { for c in 0..<n {
        dv[((r - c) % n + n) % n] += transpose ? dm[c * n + r] : dm[r * n + c]
    } }
}

/// M = T(v) [n, n] with T(v)[r, c] = v[(n − 1) + c − r], or its transpose.
func materializeToeplitz(_ v: UnsafePointer<Float>, n: Int, transpose: Bool, into m: UnsafeMutablePointer<Float>) {
    for r in 0..<n { for c in 0..<n {
        let val = v[(n - 1) + c - r]
        if transpose { m[c * n + r] = val } else { m[r * n + c] = val }
    } }
}

func foldToeplitz(_ dm: UnsafePointer<Float>, n: Int, transpose: Bool, into dv: UnsafeMutablePointer<Float>) {
    for r in 0..<n { for c in 0..<n {
        dv[(n - 1) + c - r] += transpose ? dm[c * n + r] : dm[r * n + c]
    } }
}

/// Fourier/Hartley over every example: y = Re(F_L·x·F_D) (Fourier) or Re − Im of it (Hartley), per example.
func spectralMixForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, batch: Int, seq L: Int,
                        dModel D: Int, hartley: Bool) {
    spectralTransform(x, into: y, batch: batch, seq: L, dModel: D, hartley: hartley, accumulate: false)
}

/// Backward of `spectralMixForward`: dx += the same transform of dY. The transform's kernel cos/cas(2π(ni/L + jk/D))
/// is symmetric in (n, k) ↔ (i, j), so it is its own transpose.
func spectralMixBackward(dx: UnsafeMutablePointer<Float>, dY: UnsafePointer<Float>, batch: Int, seq L: Int,
                         dModel D: Int, hartley: Bool) {
    spectralTransform(dY, into: dx, batch: batch, seq: L, dModel: D, hartley: hartley, accumulate: true)
}

private func spectralTransform(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, batch: Int, seq L: Int,
                               dModel D: Int, hartley: Bool, accumulate: Bool) {
    let plan = SpectralPlan.shared(rows: L, cols: D, threads: Parallel.threads)
    Parallel.forChunks(batch) { slot, s, e in
        for b in s..<e {
            plan.transform(x + b * L * D, into: y + b * L * D, hartley: hartley, accumulate: accumulate, slot: slot)
        }
    }
}
