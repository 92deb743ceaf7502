import SparseMixersCore
/// Element-wise kernels over flat buffers. Shapes in comments: N rows, C columns.

/// y[N, C] += bias[C] (broadcast over rows).
func addBias(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, rows: Int, cols: Int) {
    Parallel.forRange(rows, grain: max(1, 16384 / max(cols, 1))) { s, e in
        for r in s..<e {
            let row = y + r * cols
            for c in 0..<cols { row[c] += bias[c] }
        }
    }
}

/// out[n] = a[n] + b[n].
func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forRange(count, grain: 65536) { s, e in
        for i in s..<e { out[i] = a[i] + b[i] }
    }
}

/// a[n] += b[n].
func accumulate(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    Parallel.forRange(count, grain: 65536) { s, e in
        for i in s..<e { a[i] += b[i] }
    }
}

/// g[n] = gelu(a[n]).
func geluForward(_ a: UnsafePointer<Float>, into g: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forRange(count, grain: 32768) { s, e in
        for i in s..<e { g[i] = FastMath.gelu(a[i]) }
    }
}

/// a[N, C] += bias[C], then g = gelu(a): `addBias` and `geluForward` in one pass (one read of `a` instead of three
/// passes), bit-for-bit the two (pinned by a test). `keepingGrad` (the training forward) leaves gelu'(a + bias) in
/// a's place instead, so the backward multiplies by it (`multiply`) rather than computing a second tanh per element:
/// bit-for-bit `geluBackward`'s factor (pinned by a test).
func addBiasGelu(_ a: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, into g: UnsafeMutablePointer<Float>,
                 rows: Int, cols: Int, keepingGrad: Bool = false) {
    Parallel.forRange(rows, grain: max(1, 32768 / max(cols, 1))) { s, e in
        for r in s..<e {
            let ar = a + r * cols, gr = g + r * cols
            if keepingGrad {
                for c in 0..<cols { let (v, d) = FastMath.geluAndGrad(ar[c] + bias[c]); gr[c] = v; ar[c] = d }
            } else {
                for c in 0..<cols { let v = ar[c] + bias[c]; ar[c] = v; gr[c] = FastMath.gelu(v) }
            }
        }
    }
}

/// dg[n] *= gelu'(a[n]): the gradient arrives in dg and leaves as da, in place. (Written out of place into a's
/// storage, as it once was, the output aliased an input; the loop vectoriser's run-time overlap check then sent
/// every element down the scalar loop, 4x slower: 11-14% of a small model's training step.)
func geluBackward(_ dg: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, count: Int) {
    Parallel.forRange(count, grain: 32768) { s, e in
        for i in s..<e { dg[i] = dg[i] * FastMath.geluGrad(a[i]) }
    }
}

/// How inverted dropout draws its masks: row r's elements come, in order, from the stream `RNG(seed).fork(r)`,
/// each 0 (with probability `rate`) or 1/(1−rate). Per row, so a mask does not depend on the thread count; one rule
/// for `makeDropoutMask` and `addBiasDropout`, so the fused pass draws the same mask.
struct DropoutDraw {
    let rate: Float, keep: Float, root: RNG
    init(rate: Float, seed: UInt64) { self.rate = rate; keep = 1 / (1 - rate); root = RNG(seed: seed) }
    /// Row r's stream.
    func row(_ r: Int) -> RNG { root.fork(UInt64(r)) }
    /// The next element of a row's mask.
    @inline(__always) func next(_ g: inout RNG) -> Float { g.uniform() < rate ? 0 : keep }
}

/// Inverted dropout's mask [rows, cols] (`DropoutDraw`).
func makeDropoutMask(_ mask: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rate: Float, seed: UInt64) {
    let draw = DropoutDraw(rate: rate, seed: seed)
    Parallel.forRange(rows, grain: 64) { s, e in
        for r in s..<e {
            var g = draw.row(r)
            let row = mask + r * cols
            for c in 0..<cols { row[c] = draw.next(&g) }
        }
    }
}

/// y[N, C] = (y + bias[C]) · mask with the mask drawn as `makeDropoutMask` draws it (`DropoutDraw`) and stored in
/// `mask`: `addBias`, `makeDropoutMask` and `multiply` in one pass, bit-for-bit the three (pinned by a test).
func addBiasDropout(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, mask: UnsafeMutablePointer<Float>,
                    rows: Int, cols: Int, rate: Float, seed: UInt64) {
    let draw = DropoutDraw(rate: rate, seed: seed)
    Parallel.forRange(rows, grain: 64) { s, e in
        for r in s..<e {
            var g = draw.row(r)
            let yr = y + r * cols, mr = mask + r * cols
            for c in 0..<cols { let m = draw.next(&g); mr[c] = m; yr[c] = (yr[c] + bias[c]) * m }
        }
    }
}

/// x[n] *= m[n]: a dropout mask (the separate pass `addBiasDropout` is pinned against), or the gelu' the forward
/// kept (`addBiasGelu` with `keepingGrad`).
func multiply(_ x: UnsafeMutablePointer<Float>, _ m: UnsafePointer<Float>, count: Int) {
    Parallel.forRange(count, grain: 65536) { s, e in
        for i in s..<e { x[i] *= m[i] }
    }
}
