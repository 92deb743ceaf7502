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

    init(_ a: inout ArenaCarver, batch B: Int, dModel D: Int, dEmb De: Int, outputs n: Int, predictions P: Int, vocab V: Int, mlm: Bool) {
        poolIn = a.take(B * D); poolPre = a.take(B * D); pooled = a.take(B * D); logits = a.take(B * n)
        let r = mlm ? B * P : 0
        gathered = a.take(r * D); tPre = a.take(r * De); tGelu = a.take(r * De); tNorm = a.take(r * De)
        tMean = a.take(r); tRstd = a.take(r); mlmLogits = a.take(r * V)
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
