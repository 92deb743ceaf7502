/// Token-group and capacity rules and the two routing algorithms of the reference (`routing.py`, SPEC §2).

public enum Routing {
    /// The smallest g ≥ max(1, ⌊T / maxGroupSize⌋) that divides T (SPEC §2.1). The group size can exceed
    /// maxGroupSize because of the floor (T = 32, max 12 → 2 groups of 16).
    public static func numGroups(tokens T: Int, maxGroupSize: Int) -> Int {
        precondition(T > 0 && maxGroupSize > 0, "token count and maxGroupSize must be positive")
        var g = max(1, T / maxGroupSize)
        while T % g != 0 { g += 1 }
        return g
    }

    /// Tokens per group: T / numGroups (may exceed maxGroupSize).
    public static func groupSize(tokens T: Int, maxGroupSize: Int) -> Int {
        T / numGroups(tokens: T, maxGroupSize: maxGroupSize)
    }

    /// capacity = max(round_half_even(c · tokensPerGroup / E), minExpertCapacity) (SPEC §2.2).
    public static func capacity(factor c: Float, tokensPerGroup: Int, experts E: Int, minCapacity: Int) -> Int {
        let raw = (Double(c) * Double(tokensPerGroup) / Double(E)).rounded(.toNearestOrEven)
        return max(Int(raw), minCapacity)
    }
}

/// The dispatch decisions of one MoE layer, stored expert-major so each expert's tokens form one block.
/// Expert e's entries sit at `e·slotsPerExpert ..< e·slotsPerExpert + count[e]`, in (group, slot) order.
public struct RoutingDecision: Equatable {
    public var numGroups: Int
    public var tokensPerGroup: Int
    public var capacity: Int
    public var numExperts: Int
    /// G · C: the room each expert has over all groups.
    public var slotsPerExpert: Int { numGroups * capacity }
    /// Filled slots per expert.
    public var count: [Int]
    /// Flat token index (b·L + position) of each filled slot.
    public var token: [Int32]
    /// g·C + c of each filled slot.
    public var position: [Int32]
    /// Combine weight: the token's raw router probability for that expert (not renormalised).
    public var weight: [Float]
    /// Tokens Choose only: how many tokens of group g have expert e in their top-k, before dropping [G, E].
    public var topKCounts: [Int]

    public init(numGroups: Int, tokensPerGroup: Int, capacity: Int, numExperts: Int) {
        self.numGroups = numGroups; self.tokensPerGroup = tokensPerGroup
        self.capacity = capacity; self.numExperts = numExperts
        let n = numExperts * numGroups * capacity
        count = Array(repeating: 0, count: numExperts)
        token = Array(repeating: 0, count: n)
        position = Array(repeating: 0, count: n)
        weight = Array(repeating: 0, count: n)
        topKCounts = []
    }

    /// Number of tokens that reached no expert.
    public func tokensLeftBehind(totalTokens: Int) -> Int {
        var hit = [Bool](repeating: false, count: totalTokens)
        for e in 0..<numExperts {
            for j in 0..<count[e] { hit[Int(token[e * slotsPerExpert + j])] = true }
        }
        return hit.lazy.filter { !$0 }.count
    }

    /// Experts Choose (SPEC §2.5): per group, expert e takes the C tokens with the highest p[t, e]; ties go to the
    /// lower token index; slot c = rank c. Every expert fills all C slots.
    public static func expertsChoose(probs: UnsafePointer<Float>, tokens T: Int, experts E: Int,
                                     groups G: Int, capacity C: Int) -> RoutingDecision {
        let Tg = T / G
        precondition(C <= Tg, "Experts Choose capacity \(C) exceeds the \(Tg) tokens of a group")
        var d = RoutingDecision(numGroups: G, tokensPerGroup: Tg, capacity: C, numExperts: E)
        let spe = G * C
        d.token.withUnsafeMutableBufferPointer { tok in
        d.weight.withUnsafeMutableBufferPointer { wt in
        d.position.withUnsafeMutableBufferPointer { pos in
            let tokP = tok.baseAddress!, wtP = wt.baseAddress!, posP = pos.baseAddress!
            Parallel.forEach(G * E) { ge in
                let g = ge / E, e = ge % E
                let base = probs + g * Tg * E + e
                // The top C by (−p, index), a total order: each token's key packs p's descending rank in the high
                // 32 bits and its index in the low 32, so sorting plain UInt64s gives exactly the order of the
                // comparator (pa > pb || pa == pb && a < b) without calling a closure on strided loads.
                var keys = [UInt64](unsafeUninitializedCapacity: Tg) { k, n in
                    for t in 0..<Tg { k[t] = UInt64(descendingKey(base[t * E])) << 32 | UInt64(t) }
                    n = Tg
                }
                // Only the first C of the order are used: select them, then sort those (C = Tg/E at factor 1).
                keys.withUnsafeMutableBufferPointer { sortSmallest($0, count: C) }
                for c in 0..<C {
                    let j = e * spe + g * C + c
                    let t = Int(truncatingIfNeeded: keys[c] & 0xFFFF_FFFF)
                    tokP[j] = Int32(g * Tg + t)
                    wtP[j] = base[t * E]
                    posP[j] = Int32(g * C + c)
                }
            }
        }}}
        for e in 0..<E { d.count[e] = spe }
        return d
    }

    /// Puts the `c` smallest keys, ascending, in keys[0..<c] (the rest in no order): the first `c` of a full ascending
    /// sort, in O(n + c log c). Quickselect (Hoare partition, median-of-three pivot) makes keys[c] the element a sort
    /// would put there with every key before it ≤ it; a range that will not shrink in 2·log₂n rounds is sorted
    /// instead, so the worst case stays O(n log n).
    static func sortSmallest(_ keys: UnsafeMutableBufferPointer<UInt64>, count c: Int) {
        let n = keys.count
        precondition(c >= 0 && c <= n, "cannot select \(c) of \(n) keys")
        if c < n {
            var lo = 0, hi = n          // keys[c]'s final value lies in lo..<hi; before lo ≤ it, from hi on ≥ it
            var rounds = 2 * (Int.bitWidth - n.leadingZeroBitCount)
            while hi - lo > 16 && rounds > 0 {
                rounds -= 1
                let a = keys[lo], b = keys[lo + (hi - lo) / 2], z = keys[hi - 1]
                let pivot = max(min(a, b), min(max(a, b), z))
                var i = lo, j = hi - 1
                while i <= j {
                    while keys[i] < pivot { i += 1 }
                    while keys[j] > pivot { j -= 1 }
                    if i <= j { keys.swapAt(i, j); i += 1; j -= 1 }
                }
                // lo...j ≤ pivot, j+1..<i == pivot, i..<hi ≥ pivot.
                if c <= j { hi = j + 1 } else if c >= i { lo = i } else { lo = c; hi = c + 1 }
            }
            var rest = UnsafeMutableBufferPointer(rebasing: keys[lo..<hi])
            rest.sort()
        }
        var first = UnsafeMutableBufferPointer(rebasing: keys[0..<c])
        first.sort()
    }

    /// A UInt32 that sorts ascending as `p` sorts descending, with −0 and +0 equal (as `==` has them); for any
    /// non-NaN floats a > b ⇔ key(a) < key(b) and a == b ⇔ key(a) == key(b).
    @inline(__always)
    static func descendingKey(_ p: Float) -> UInt32 {
        let b = (p + 0).bitPattern   // −0 + 0 = +0
        let ascending = b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
        return ~ascending
    }

    /// Tokens Choose top-k (SPEC §2.4). Each token's top-k experts (ties to the lower expert index, gates not
    /// renormalised). With Batch Prioritized Routing tokens are ordered by their top-1 gate, descending and stable;
    /// otherwise left to right. All 1st choices are placed before all 2nd choices; a token's slot is the number
    /// of earlier entries that chose the same expert; slots ≥ C are dropped.
    public static func tokensChoose(probs: UnsafePointer<Float>, tokens T: Int, experts E: Int, groups G: Int,
                                    capacity C: Int, k: Int, batchPrioritized: Bool) -> RoutingDecision {
        let Tg = T / G
        var d = RoutingDecision(numGroups: G, tokensPerGroup: Tg, capacity: C, numExperts: E)
        d.topKCounts = Array(repeating: 0, count: G * E)
        let spe = G * C
        var choice = [Int](repeating: 0, count: Tg * k)
        var gate = [Float](repeating: 0, count: Tg * k)
        var order = Array(0..<Tg)
        var fill = [Int](repeating: 0, count: E)
        for g in 0..<G {
            let pg = probs + g * Tg * E
            for t in 0..<Tg {
                let row = pg + t * E
                for j in 0..<k {
                    var best = -1
                    var bestP = -Float.infinity
                    for e in 0..<E {
                        var taken = false
                        for i in 0..<j where choice[t * k + i] == e { taken = true }
                        if !taken && row[e] > bestP { best = e; bestP = row[e] }
                    }
                    choice[t * k + j] = best; gate[t * k + j] = bestP
                    d.topKCounts[g * E + best] += 1
                }
            }
            for t in 0..<Tg { order[t] = t }
            if batchPrioritized {
                // Stable sort by top-1 gate, descending.
                order.sort { a, b in
                    let ga = gate[a * k], gb = gate[b * k]
                    return ga > gb || (ga == gb && a < b)
                }
            }
            for e in 0..<E { fill[e] = 0 }
            for j in 0..<k {
                for t in order {
                    let e = choice[t * k + j]
                    let slot = fill[e]
                    fill[e] += 1
                    if slot < C {
                        let idx = e * spe + d.count[e]
                        d.token[idx] = Int32(g * Tg + t)
                        d.position[idx] = Int32(g * C + slot)
                        d.weight[idx] = gate[t * k + j]
                        d.count[e] += 1
                    }
                }
            }
            // Slots of an expert only grow, so its entries of this group are already in slot order.
        }
        return d
    }
}
