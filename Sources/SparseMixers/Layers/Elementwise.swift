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
/// passes), bit-for-bit the two (pinned by a test).
func addBiasGelu(_ a: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, into g: UnsafeMutablePointer<Float>,
                 rows: Int, cols: Int) {
    Parallel.forRange(rows, grain: max(1, 32768 / max(cols, 1))) { s, e in
        for r in s..<e {
            let ar = a + r * cols, gr = g + r * cols
            for c in 0..<cols { let v = ar[c] + bias[c]; ar[c] = v; gr[c] = FastMath.gelu(v) }
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

/// Inverted dropout. `mask[n]` is 0 or 1/(1−p); a row's mask comes from `RNG(seed).fork(row)`, so it does not
/// depend on the thread count.
func makeDropoutMask(_ mask: UnsafeMutablePointer<Float>, rows: Int, cols: Int, rate: Float, seed: UInt64) {
    let keep = 1 / (1 - rate)
    let root = RNG(seed: seed)
    Parallel.forRange(rows, grain: 64) { s, e in
        for r in s..<e {
            var g = root.fork(UInt64(r))
            let row = mask + r * cols
            for c in 0..<cols { row[c] = g.uniform() < rate ? 0 : keep }
        }
    }
}

/// y[N, C] = (y + bias[C]) · mask with the mask made as `makeDropoutMask` makes it (same stream per row, so the same
/// mask) and stored in `mask`: `addBias`, `makeDropoutMask` and `applyMask` in one pass, bit-for-bit the three.
func addBiasDropout(_ y: UnsafeMutablePointer<Float>, _ bias: UnsafePointer<Float>, mask: UnsafeMutablePointer<Float>,
                    rows: Int, cols: Int, rate: Float, seed: UInt64) {
    let keep = 1 / (1 - rate)
    let root = RNG(seed: seed)
    Parallel.forRange(rows, grain: 64) { s, e in
        for r in s..<e {
            var g = root.fork(UInt64(r))
            let yr = y + r * cols, mr = mask + r * cols
            for c in 0..<cols {
                let m: Float = g.uniform() < rate ? 0 : keep
                mr[c] = m; yr[c] = (yr[c] + bias[c]) * m
            }
        }
    }
}

/// x[n] *= mask[n].
func applyMask(_ x: UnsafeMutablePointer<Float>, _ mask: UnsafePointer<Float>, count: Int) {
    Parallel.forRange(count, grain: 65536) { s, e in
        for i in s..<e { x[i] *= mask[i] }
    }
}
