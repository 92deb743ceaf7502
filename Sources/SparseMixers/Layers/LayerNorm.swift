/// LayerNorm over the last axis, biased variance, eps 1e-12 (SPEC §1.2):
/// y = (x − mean)/√(var + eps) · scale + bias.
let layerNormEps: Float = 1e-12

/// x [N, C] → y [N, C]; caches mean [N] and rstd [N].
/// A row's mean and variance are sums taken left to right, one dependent chain of additions each; eight rows at a
/// time run their chains side by side in the lanes of a SIMD8 (lane k is row k's chain in its own order), so the
/// result is bit-for-bit `layerNormForwardReference`'s (pinned by a test) at up to 8x the speed on narrow rows.
func layerNormForward(_ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                      rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                      bias: UnsafePointer<Float>, rows: Int, cols: Int) {
    Parallel.forRange(rows, grain: max(8, 8192 / max(cols, 1))) { s, e in
        var r = s
        while r + 8 <= e {
            let x0 = x + r * cols
            @inline(__always) func column(_ c: Int) -> SIMD8<Float> {
                SIMD8(x0[c], x0[cols + c], x0[2 * cols + c], x0[3 * cols + c],
                      x0[4 * cols + c], x0[5 * cols + c], x0[6 * cols + c], x0[7 * cols + c])
            }
            var sum = SIMD8<Float>()
            for c in 0..<cols { sum += column(c) }
            let m = sum / Float(cols)
            var v = SIMD8<Float>()
            for c in 0..<cols { let d = column(c) - m; v += d * d }
            let rs = 1 / (v / Float(cols) + layerNormEps).squareRoot()
            for k in 0..<8 {
                let xr = x0 + k * cols, yr = y + (r + k) * cols, mk = m[k], rk = rs[k]
                for c in 0..<cols { yr[c] = (xr[c] - mk) * rk * scale[c] + bias[c] }
                mean[r + k] = mk; rstd[r + k] = rk
            }
            r += 8
        }
        if r < e {
            layerNormForwardReference(y + r * cols, mean: mean + r, rstd: rstd + r, x + r * cols, scale: scale,
                                      bias: bias, rows: e - r, cols: cols)
        }
    }
}

/// The plain form of `layerNormForward`, one row at a time (the simple path the fast one is pinned against).
func layerNormForwardReference(_ y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                               rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                               scale: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int) {
    for r in 0..<rows {
        let xr = x + r * cols, yr = y + r * cols
        var sum: Float = 0
        for c in 0..<cols { sum += xr[c] }
        let m = sum / Float(cols)
        var v: Float = 0
        for c in 0..<cols { let d = xr[c] - m; v += d * d }
        let rs = 1 / (v / Float(cols) + layerNormEps).squareRoot()
        for c in 0..<cols { yr[c] = (xr[c] - m) * rs * scale[c] + bias[c] }
        mean[r] = m; rstd[r] = rs
    }
}

/// What the backward does with each element d of the input gradient (after the step's buffers are taken up).
enum LayerNormGradientOutput {
    /// dx += d.
    case accumulate
    /// dx = 0 + d: bit-for-bit zeroing dx and adding into it, in one pass (0 + d, not d: a −0 becomes +0 exactly as
    /// it did in the zeroed buffer).
    case overwrite
    /// dx = 0 + d, and `copy` = the same value: bit-for-bit zeroing dx, adding into it and copying it out.
    case overwriteAndCopy(UnsafeMutablePointer<Float>)
    /// dx = 0 + d, then `into` += dx: bit-for-bit zeroing dx, adding into it and accumulating it into `into`.
    case overwriteAndAdd(into: UnsafeMutablePointer<Float>)
}

/// Backward of `layerNormForward`: dscale and dbias accumulate (+=); dx as `output` says (default +=). dx must not
/// alias x, dy or the output's other buffer.
/// x̂ = (x − mean)·rstd, dx̂ = dy·scale, dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)).
func layerNormBackward(dx: UnsafeMutablePointer<Float>, dscale: UnsafeMutablePointer<Float>,
                       dbias: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                       mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, scale: UnsafePointer<Float>, rows: Int,
                       cols: Int, output: LayerNormGradientOutput = .accumulate) {
    let chunks = max(1, min(Parallel.threads, rows / max(1, 8192 / max(cols, 1))))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: chunks * 2 * cols)
    partial.initialize(repeating: 0, count: chunks * 2 * cols)
    defer { partial.deallocate() }
    let per = (rows + chunks - 1) / chunks
    Parallel.forEach(chunks) { k in
        let ds = partial + k * 2 * cols, db = ds + cols
        let s = k * per, e = min(rows, s + per)
        if s >= e { return }
        for r in s..<e {
            let xr = x + r * cols, dyr = dy + r * cols, dxr = dx + r * cols
            let m = mean[r], rs = rstd[r]
            var sumD: Float = 0, sumDX: Float = 0
            for c in 0..<cols {
                let xh = (xr[c] - m) * rs
                let d = dyr[c] * scale[c]
                sumD += d; sumDX += d * xh
                ds[c] += dyr[c] * xh
                db[c] += dyr[c]
            }
            let mD = sumD / Float(cols), mDX = sumDX / Float(cols)
            @inline(__always) func grad(_ c: Int) -> Float {
                let xh = (xr[c] - m) * rs
                return rs * (dyr[c] * scale[c] - mD - xh * mDX)
            }
            switch output {
            case .accumulate:
                for c in 0..<cols { dxr[c] += grad(c) }
            case .overwrite:
                for c in 0..<cols { dxr[c] = 0 + grad(c) }
            case .overwriteAndCopy(let copy):
                let cr = copy + r * cols
                for c in 0..<cols { let v = 0 + grad(c); dxr[c] = v; cr[c] = v }
            case .overwriteAndAdd(let into):
                let ir = into + r * cols
                for c in 0..<cols { let v = 0 + grad(c); dxr[c] = v; ir[c] += v }
            }
        }
    }
    for k in 0..<chunks {
        let ds = partial + k * 2 * cols, db = ds + cols
        for c in 0..<cols { dscale[c] += ds[c]; dbias[c] += db[c] }
    }
}
