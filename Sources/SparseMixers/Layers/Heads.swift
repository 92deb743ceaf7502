import Foundation

/// Pooler, MLM head, NSP / classification head and their losses (SPEC §1.7, §4.4, §5.2).
struct MLMParams {
    var dense: DenseParams          // D → De
    var lnScale: Int, lnBias: Int   // [De]
    var outputBias: Int             // [V]; logits = t·E_wordᵀ + b (tied embedding)
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
    var dPoolIn: UnsafeMutablePointer<Float>   // (B, D) backward: gradient of poolIn
    var dGelu: UnsafeMutablePointer<Float>     // (B·P, De) backward: gradient of tGelu, then of tPre
    var dGathered: UnsafeMutablePointer<Float> // (B·P, D) backward: gradient of gathered

    init(_ a: inout ArenaCarver, batch B: Int, dModel D: Int, dEmb De: Int, outputs n: Int, predictions P: Int, vocab V: Int, mlm: Bool) {
        poolIn = a.take(B * D); poolPre = a.take(B * D); pooled = a.take(B * D); logits = a.take(B * n)
        let r = mlm ? B * P : 0
        gathered = a.take(r * D); tPre = a.take(r * De); tGelu = a.take(r * De); tNorm = a.take(r * De)
        tMean = a.take(r); tRstd = a.take(r); mlmLogits = a.take(r * V)
        rowMax = a.take(r)
        rowSum = UnsafeMutableRawPointer(a.take(2 * r)).bindMemory(to: Double.self, capacity: r)
        dPooled = a.take(B * D); dPoolIn = a.take(B * D); dGelu = a.take(r * De); dGathered = a.take(r * D)
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
    var mx = -Float.infinity, arg = 0
    for i in 0..<n where logits[i] > mx { mx = logits[i]; arg = i }
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
func crossEntropyRowReference(_ logits: UnsafeMutablePointer<Float>, count n: Int, label: Int, gradScale: Float?) -> (Double, Int) {
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

/// The MLM loss over R rows of V logits: per row (loss, argmax) as `crossEntropyRow` computes them, plus the row's
/// max and Σ exp(l − max), kept for `crossEntropyRowsGradient`. Eight rows at a time: their exponentials go to
/// `scratch` (8·V floats) and their Double sums, each left to right, run side by side (eight dependent chains
/// overlap instead of one at a time), so every value is bit-for-bit `crossEntropyRowReference`'s (pinned by a test).
func crossEntropyRows(_ logits: UnsafePointer<Float>, rows R: Int, count V: Int, labels: UnsafePointer<Int32>,
                      loss: UnsafeMutablePointer<Double>, arg: UnsafeMutablePointer<Int>,
                      rowMax: UnsafeMutablePointer<Float>, rowSum: UnsafeMutablePointer<Double>,
                      scratch: UnsafeMutablePointer<Float>) {
    var i = 0
    while i < R {
        let n = min(8, R - i)
        for k in 0..<n {
            let row = logits + (i + k) * V, e = scratch + k * V
            var mx = -Float.infinity, a = 0
            for j in 0..<V where row[j] > mx { mx = row[j]; a = j }
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
