import Foundation

/// optax.adamw as the reference uses it (SPEC §4.5): β1 0.9, β2 0.999, eps 1e-6 added **outside** the square root,
/// bias correction, decoupled weight decay 0.01 on **every** parameter, no clipping:
/// θ ← θ − lr·( m̂/(√v̂ + eps) + wd·θ ).
public final class AdamW {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-6
    public var weightDecay: Float = 0.01
    public let m: FloatArena
    public let v: FloatArena
    /// Number of updates applied so far (the bias-correction count).
    public internal(set) var step: Int = 0
    /// Parameter ranges that are not updated (e.g. frozen experts), as [start, end) offsets.
    public var frozen: [Range<Int>] = []

    public init(parameterCount: Int) {
        m = FloatArena(count: parameterCount)
        v = FloatArena(count: parameterCount)
    }

    public func update(params: FloatArena, grads: FloatArena, learningRate lr: Float) {
        precondition(params.count == m.count && grads.count == m.count, "AdamW arena size mismatch")
        step += 1
        let b1 = beta1, b2 = beta2, eps = eps, wd = weightDecay
        let bc1 = 1 - Float(pow(Double(b1), Double(step)))
        let bc2 = 1 - Float(pow(Double(b2), Double(step)))
        let p = params.base, g = grads.base, mp = m.base, vp = v.base
        let ranges = trainableRanges(params.count)
        for r in ranges {
        Parallel.forRange(r.count, grain: 1 << 16) { s0, e0 in
            AdamW.kernel(p: p, g: g, m: mp, v: vp, range: (r.lowerBound + s0)..<(r.lowerBound + e0),
                         b1: b1, b2: b2, eps: eps, wd: wd, lr: lr, bc1: bc1, bc2: bc2)
        }
        }
    }

    /// One fused pass over `range`, 8 lanes at a time (the four streams may alias as far as the compiler knows, so
    /// it would not vectorise the scalar loop on its own). Each lane evaluates exactly the scalar expression of
    /// `kernelReference`, operation by operation, so the result is bit-for-bit the same:
    /// m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g·g;  θ ← θ − lr·((m/bc1)/(√(v/bc2) + eps) + wd·θ).
    @inline(__always)
    static func kernel(p: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>,
                       m mp: UnsafeMutablePointer<Float>, v vp: UnsafeMutablePointer<Float>, range: Range<Int>,
                       b1: Float, b2: Float, eps: Float, wd: Float, lr: Float, bc1: Float, bc2: Float) {
        typealias V8 = SIMD8<Float>
        let b1v = V8(repeating: b1), c1v = V8(repeating: 1 - b1), b2v = V8(repeating: b2), c2v = V8(repeating: 1 - b2)
        let bc1v = V8(repeating: bc1), bc2v = V8(repeating: bc2), epsv = V8(repeating: eps)
        let wdv = V8(repeating: wd), lrv = V8(repeating: lr)
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let gi = UnsafeRawPointer(g + i).loadUnaligned(as: V8.self)
            let m0 = UnsafeRawPointer(mp + i).loadUnaligned(as: V8.self)
            let v0 = UnsafeRawPointer(vp + i).loadUnaligned(as: V8.self)
            let p0 = UnsafeRawPointer(p + i).loadUnaligned(as: V8.self)
            let mi = b1v * m0 + c1v * gi
            let vi = b2v * v0 + c2v * gi * gi
            let upd = (mi / bc1v) / ((vi / bc2v).squareRoot() + epsv) + wdv * p0
            UnsafeMutableRawPointer(mp + i).storeBytes(of: mi, as: V8.self)
            UnsafeMutableRawPointer(vp + i).storeBytes(of: vi, as: V8.self)
            UnsafeMutableRawPointer(p + i).storeBytes(of: p0 - lrv * upd, as: V8.self)
            i += 8
        }
        if i < range.upperBound {
            kernelReference(p: p, g: g, m: mp, v: vp, range: i..<range.upperBound, b1: b1, b2: b2, eps: eps, wd: wd,
                            lr: lr, bc1: bc1, bc2: bc2)
        }
    }

    /// The scalar form of `kernel` (the simple path the fast one is pinned against).
    static func kernelReference(p: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>,
                                m mp: UnsafeMutablePointer<Float>, v vp: UnsafeMutablePointer<Float>, range: Range<Int>,
                                b1: Float, b2: Float, eps: Float, wd: Float, lr: Float, bc1: Float, bc2: Float) {
        for i in range {
            let gi = g[i]
            let mi = b1 * mp[i] + (1 - b1) * gi
            let vi = b2 * vp[i] + (1 - b2) * gi * gi
            mp[i] = mi; vp[i] = vi
            let upd = (mi / bc1) / ((vi / bc2).squareRoot() + eps) + wd * p[i]
            p[i] -= lr * upd
        }
    }

    /// 0..<count minus the frozen ranges.
    func trainableRanges(_ count: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        for f in frozen.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if f.lowerBound > start { out.append(start..<f.lowerBound) }
            start = max(start, f.upperBound)
        }
        if start < count { out.append(start..<count) }
        return out
    }

    /// Zeroes both moments and the step count (a fresh optimizer).
    public func reset() { m.zero(); v.zero(); step = 0 }
}

/// Linear warm-up then linear decay to 0 (SPEC §4.5):
/// lr(s) = base · min(1, s/W) · (1 − frac(max(0, (s − W)/(S − W)))), frac = x mod 1. lr(0) = 0.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var base: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(base: Float, warmupSteps: Int, totalSteps: Int) {
        self.base = base; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    public func callAsFunction(_ step: Int) -> Float {
        let s = Double(step)
        let warm = warmupSteps > 0 ? min(1, s / Double(warmupSteps)) : 1
        let span = Double(max(totalSteps - warmupSteps, 1))
        let x = max(0, (s - Double(warmupSteps)) / span)
        let decay = 1 - (x - x.rounded(.down))
        return Float(Double(base) * warm * decay)
    }
}
