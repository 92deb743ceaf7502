import SparseMixersCore
import Foundation

/// Mixture-of-Experts sublayer (SPEC §2), CPU dispatch: gather each expert's tokens into one contiguous
/// block, one FFN (two sgemms) per expert, scatter back scaled by the combine weights.
/// Shapes: T = B·L tokens, E experts, G groups, C capacity, F = expertDFF, S = G·C slots per expert.
struct MoEParams {
    var router: DenseParams        // D → E, with bias
    var w1: Int, b1: Int           // [E, D, F], [E, F]
    var w2: Int, b2: Int           // [E, F, D], [E, D]
    var experts: Int, dModel: Int, dFF: Int

    func expert(_ e: Int) -> FFNParams {
        FFNParams(w1: DenseParams(kernel: w1 + e * dModel * dFF, bias: b1 + e * dFF, nIn: dModel, nOut: dFF),
                  w2: DenseParams(kernel: w2 + e * dFF * dModel, bias: b2 + e * dModel, nIn: dFF, nOut: dModel))
    }
}

/// Per-layer statistics of one forward pass (SPEC §2.4, §2.6, §2.8).
public struct MoEStats: Equatable, Codable, Sendable {
    /// Switch load-balancing loss E²·mean_{g,e}(f·P) (0 for Experts Choose).
    public var auxLoss: Float = 0
    /// mean over tokens of logsumexp(router logits)².
    public var zLoss: Float = 0
    public var fractionTokensLeftBehind: Float = 0
    /// dispatched slots / total capacity.
    public var expertUsage: Float = 0
    /// Σ combine weights / number dispatched.
    public var routerConfidence: Float = 0
    /// Seconds spent routing, in dispatch/combine, and in expert compute (forward only).
    public var routingSeconds: Double = 0
    public var dispatchSeconds: Double = 0
    public var expertSeconds: Double = 0
}

final class MoECache {
    let tokens: Int, maxSlots: Int
    var routerInput: UnsafeMutablePointer<Float>   // (T, D) jittered router input (only with jitter)
    var jitter: UnsafeMutablePointer<Float>        // (T, D) the multiplicative noise
    var logits: UnsafeMutablePointer<Float>        // (T, E)
    var probs: UnsafeMutablePointer<Float>         // (T, E)
    var lse: UnsafeMutablePointer<Float>           // (T)
    var xe: UnsafeMutablePointer<Float>            // (E·S, D) gathered expert inputs
    var ye: UnsafeMutablePointer<Float>            // (E·S, D) expert outputs (after expert dropout)
    var expert: FFNCache                           // a1, g: (E·S, F); mask (E·S, D)
    var decision: RoutingDecision? = nil
    var usedJitter = false
    var stats = MoEStats()

    init(_ a: inout ArenaCarver, tokens T: Int, dModel D: Int, experts E: Int, dFF F: Int, maxSlotsPerExpert S: Int,
         dropout: Bool, jitter: Bool) {
        tokens = T; maxSlots = S
        routerInput = a.take(jitter ? T * D : 0); self.jitter = a.take(jitter ? T * D : 0)
        logits = a.take(T * E); probs = a.take(T * E); lse = a.take(T)
        xe = a.take(E * S * D); ye = a.take(E * S * D)
        expert = FFNCache(&a, rows: E * S, dModel: D, dFF: F, dropout: dropout)
    }
}

struct MoESettings {
    var groups: Int
    var capacity: Int
    var expertsChoose: Bool
    var k: Int
    var batchPrioritized: Bool
    var jitterNoise: Float
    var expertDropout: Float
    /// The experts' forward keeps gelu' for the backward (`ffnForward`'s `keepGeluGrad`): set in training.
    var keepsGeluGrad = false
}

extension ModelConfig {
    /// The routing settings of one pass over T tokens: G groups, capacity C at the train or eval factor (at most
    /// the group's tokens under Experts Choose); jitter and expert dropout only in training.
    func moeSettings(tokens T: Int, training: Bool) -> MoESettings {
        let G = Routing.numGroups(tokens: T, maxGroupSize: maxGroupSize)
        let c = training ? trainCapacityFactor : evalCapacityFactor
        var C = Routing.capacity(factor: c, tokensPerGroup: T / G, experts: numExperts, minCapacity: minExpertCapacity)
        if dispatchAlgorithm.isExpertsChoose { C = min(C, T / G) }
        return MoESettings(groups: G, capacity: C, expertsChoose: dispatchAlgorithm.isExpertsChoose,
                           k: numSelectedExperts, batchPrioritized: batchPrioritizedRouting,
                           jitterNoise: training ? jitterNoise : 0,
                           expertDropout: training ? expertDropoutRate : 0, keepsGeluGrad: training)
    }

    /// Slots per expert to prepare: G·C at the larger of the two capacity factors.
    func maxSlotsPerExpert(tokens T: Int) -> Int {
        let G = Routing.numGroups(tokens: T, maxGroupSize: maxGroupSize)
        let c = max(trainCapacityFactor, evalCapacityFactor)
        return G * Routing.capacity(factor: c, tokensPerGroup: T / G, experts: numExperts,
                                    minCapacity: minExpertCapacity)
    }
}

func moeForward(_ out: UnsafeMutablePointer<Float>, _ c: MoECache, _ h: UnsafePointer<Float>, tokens T: Int,
                _ p: MoEParams, _ params: UnsafeMutablePointer<Float>, _ s: MoESettings, dropoutSeed: UInt64?) {
    let D = p.dModel, E = p.experts, F = p.dFF
    let t0 = DispatchTime.now().uptimeNanoseconds
    // Router (float32): logits = x·W_r + b_r, optional multiplicative jitter in training.
    var routerIn = h
    c.usedJitter = false
    if let seed = dropoutSeed, s.jitterNoise > 0 {
        var r = RNG(seed: seed ^ 0x6A17_7E12)
        for i in 0..<(T * D) {
            let u = 1 - s.jitterNoise + 2 * s.jitterNoise * r.uniform()
            c.jitter[i] = u; c.routerInput[i] = h[i] * u
        }
        routerIn = UnsafePointer(c.routerInput)
        c.usedJitter = true
    }
    denseForward(c.logits, routerIn, rows: T, p.router, params)
    var zSum: Double = 0
    for t in 0..<T {
        let l = c.logits + t * E, pr = c.probs + t * E
        var mx = -Float.infinity
        for e in 0..<E { mx = max(mx, l[e]) }
        var sum: Float = 0
        for e in 0..<E { let v = Foundation.exp(l[e] - mx); pr[e] = v; sum += v }
        for e in 0..<E { pr[e] /= sum }
        let lse = mx + Foundation.log(sum)
        c.lse[t] = lse
        zSum += Double(lse) * Double(lse)
    }
    let d: RoutingDecision = s.expertsChoose
        ? .expertsChoose(probs: c.probs, tokens: T, experts: E, groups: s.groups, capacity: s.capacity)
        : .tokensChoose(probs: c.probs, tokens: T, experts: E, groups: s.groups, capacity: s.capacity,
                        k: s.k, batchPrioritized: s.batchPrioritized)
    c.decision = d
    let t1 = DispatchTime.now().uptimeNanoseconds

    // Statistics and losses.
    var st = MoEStats()
    st.zLoss = Float(zSum / Double(T))
    if !s.expertsChoose {
        // aux = E² · mean_{g,e} f_{g,e}·P_{g,e}
        let G = s.groups, Tg = T / G
        var acc: Double = 0
        for g in 0..<G {
            for e in 0..<E {
                var P: Double = 0
                for t in 0..<Tg { P += Double(c.probs[(g * Tg + t) * E + e]) }
                P /= Double(Tg)
                let f = Double(d.topKCounts[g * E + e]) / Double(Tg)
                acc += f * P
            }
        }
        st.auxLoss = Float(Double(E * E) * acc / Double(G * E))
    }
    let dispatched = d.count.reduce(0, +)
    st.fractionTokensLeftBehind = Float(d.tokensLeftBehind(totalTokens: T)) / Float(T)
    st.expertUsage = Float(dispatched) / Float(E * d.slotsPerExpert)
    var wsum: Double = 0
    for e in 0..<E { for j in 0..<d.count[e] { wsum += Double(d.weight[e * d.slotsPerExpert + j]) } }
    st.routerConfidence = dispatched > 0 ? Float(wsum / Double(dispatched)) : 0

    // Gather: expert e's block starts at row e·S.
    let S = c.maxSlots
    precondition(d.slotsPerExpert <= S, "MoE capacity \(d.slotsPerExpert) exceeds the prepared \(S) slots per expert")
    Parallel.forEach(E) { e in
        for j in 0..<d.count[e] {
            let t = Int(d.token[e * d.slotsPerExpert + j])
            (c.xe + (e * S + j) * D).update(from: h + t * D, count: D)
        }
    }
    let t2 = DispatchTime.now().uptimeNanoseconds
    // Expert FFNs, one block each, experts side by side with single-threaded BLAS.
    let dropSeed = dropoutSeed
    Parallel.forChunks(E) { _, s0, e0 in
        for e in s0..<e0 {
            let n = d.count[e]
            if n == 0 { continue }
            let rows = e * S
            let cache = FFNCache(a1: c.expert.a1 + rows * F, g: c.expert.g + rows * F,
                                 mask: s.expertDropout > 0 && dropSeed != nil
                                     ? c.expert.mask + rows * D : c.expert.mask)
            ffnForward(c.ye + rows * D, cache, c.xe + rows * D, rows: n, p.expert(e), params,
                       dropoutRate: s.expertDropout, dropoutSeed: dropSeed.map { $0 &+ UInt64(e) &* 0x9E37_79B9 },
                       keepGeluGrad: s.keepsGeluGrad)
        }
    }
    let t3 = DispatchTime.now().uptimeNanoseconds
    // Combine: out[t] = Σ weight · y. Unrouted tokens get 0 (residual only).
    out.update(repeating: 0, count: T * D)
    for e in 0..<E {
        for j in 0..<d.count[e] {
            let idx = e * d.slotsPerExpert + j
            let t = Int(d.token[idx]), w = d.weight[idx]
            let y = c.ye + (e * S + j) * D, o = out + t * D
            for i in 0..<D { o[i] += w * y[i] }
        }
    }
    let t4 = DispatchTime.now().uptimeNanoseconds
    st.routingSeconds = Double(t1 - t0) * 1e-9
    st.dispatchSeconds = Double(t2 - t1 + t4 - t3) * 1e-9
    st.expertSeconds = Double(t3 - t2) * 1e-9
    c.stats = st
}

/// Backward of `moeForward`: dh += ∂loss/∂h and parameter gradients +=, where loss includes auxFactor·aux +
/// zFactor·z of this layer. `dOut` (T, D), the gradient of the MoE output, is read only. `work` holds E·S·D floats,
/// 2·E·S·D with expert dropout, and at least T·D. Destroys the expert caches (a1, g, ye).
func moeBackward(dh: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, _ c: MoECache, _ h: UnsafePointer<Float>,
                 tokens T: Int, _ p: MoEParams, _ params: UnsafeMutablePointer<Float>,
                 _ grads: UnsafeMutablePointer<Float>, _ s: MoESettings, auxFactor: Float, zFactor: Float,
                 dropout: Bool, work: UnsafeMutablePointer<Float>, dLogits: UnsafeMutablePointer<Float>) {
    guard let d = c.decision else { preconditionFailure("moeBackward before moeForward") }
    let D = p.dModel, E = p.experts, S = c.maxSlots
    let dProbs = dLogits   // (T, E): first the gradient w.r.t. probabilities, then turned into logits' gradient
    dProbs.update(repeating: 0, count: T * E)   // every MoE layer's scratch (`BlockScratch.routerGrad`)
    // out[t] = Σ w·y_e[j]  ⇒  dY_e[j] = w·dOut[t];  dw = ⟨dOut[t], y_e[j]⟩
    let dY = work                      // (E·S, D)
    Parallel.forEach(E) { e in
        for j in 0..<d.count[e] {
            let idx = e * d.slotsPerExpert + j
            let t = Int(d.token[idx]), w = d.weight[idx]
            let go = dOut + t * D, y = c.ye + (e * S + j) * D, dy = dY + (e * S + j) * D
            var dot: Float = 0
            for i in 0..<D { dot += go[i] * y[i]; dy[i] = w * go[i] }
            dProbs[t * E + e] += dot   // (t, e) pairs are unique per expert, so no race across e
        }
    }
    // y_e = FFN_e(x_e): each expert's FFN backward (`ffnBackward`, the dense FFN's), experts side by side. dX_e goes
    // into ye's storage (no longer needed), zeroed first; the dropout-masked dY_e into the second half of `work`.
    let dX = c.ye                      // (E·S, D)
    let expertDropout = dropout && s.expertDropout > 0
    Parallel.forChunks(E) { _, s0, e0 in
        for e in s0..<e0 {
            let n = d.count[e]
            if n == 0 { continue }
            let rows = e * S
            let cache = FFNCache(a1: c.expert.a1 + rows * p.dFF, g: c.expert.g + rows * p.dFF,
                                 mask: expertDropout ? c.expert.mask + rows * D : c.expert.mask)
            (dX + rows * D).update(repeating: 0, count: n * D)
            ffnBackward(dx: dX + rows * D, dOut: dY + rows * D, cache, c.xe + rows * D, rows: n, p.expert(e), params,
                        grads, dropout: expertDropout, geluGradKept: s.keepsGeluGrad, work: dY + E * S * D + rows * D)
        }
    }
    // Scatter the input gradients back to tokens.
    for e in 0..<E {
        for j in 0..<d.count[e] {
            let t = Int(d.token[e * d.slotsPerExpert + j])
            let src = dX + (e * S + j) * D, dst = dh + t * D
            for i in 0..<D { dst[i] += src[i] }
        }
    }
    // Load-balancing loss: ∂(auxFactor · E²/(G·E) · Σ f·P)/∂p[t,e] = auxFactor · E/G · f_{g,e} / Tg.
    if !s.expertsChoose && auxFactor != 0 {
        let G = s.groups, Tg = T / G
        for g in 0..<G {
            for e in 0..<E {
                let f = Float(d.topKCounts[g * E + e]) / Float(Tg)
                let gval = auxFactor * Float(E) / Float(G) * f / Float(Tg)
                for t in 0..<Tg { dProbs[(g * Tg + t) * E + e] += gval }
            }
        }
    }
    // Softmax backward plus z-loss: ∂(zFactor·mean lse²)/∂logit = zFactor · 2·lse/T · p.
    for t in 0..<T {
        let pr = c.probs + t * E, dp = dProbs + t * E
        var dot: Float = 0
        for e in 0..<E { dot += pr[e] * dp[e] }
        let zg = zFactor * 2 * c.lse[t] / Float(T)
        for e in 0..<E { dp[e] = pr[e] * (dp[e] - dot) + zg * pr[e] }
    }
    // Router: dW_r += xᵀ·dlogits; dx = dlogits·W_rᵀ (times the jitter noise, when used).
    if c.usedJitter {
        work.update(repeating: 0, count: T * D)   // every layer's scratch, and dY above: zeroed for this use
        denseBackward(dx: work, dy: dProbs, x: c.routerInput, rows: T, p.router, params, grads)
        for i in 0..<(T * D) { dh[i] += work[i] * c.jitter[i] }
    } else {
        denseBackward(dx: dh, dy: dProbs, x: h, rows: T, p.router, params, grads)
    }
}
