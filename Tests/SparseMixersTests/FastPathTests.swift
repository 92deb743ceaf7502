import SparseMixersCore
import XCTest
import Foundation
@testable import SparseMixers

/// Every fast path of the training step pinned bit-for-bit to its plain form (STYLE: "every fast path by an
/// equivalence"). Bitwise, not approximate: the speed work must not change any number.
final class FastPathTests: XCTestCase {
    /// The shifter-based exp equals the rounded(.toNearestOrEven) form on a sweep of the whole float line and
    /// densely around the rounding ties t = k + ½ (x = (k + ½)·ln 2), where the two could disagree.
    func testFastExpBitwiseEqualsReference() {
        var bad = 0
        var bits: UInt32 = 0
        while true {
            let x = Float(bitPattern: bits)
            if !x.isNaN, FastMath.exp(x).bitPattern != FastMath.expReference(x).bitPattern { bad += 1 }
            let (next, overflow) = bits.addingReportingOverflow(4_099)
            if overflow { break }
            bits = next
        }
        for k in -130...130 {
            let x0 = (Float(k) + 0.5) * 0.693_147_18
            var x = x0
            for _ in 0..<64 { x = x.nextDown }
            for _ in 0..<128 {
                if FastMath.exp(x).bitPattern != FastMath.expReference(x).bitPattern { bad += 1 }
                x = x.nextUp
            }
        }
        for x: Float in [0, -0, 88.7, 88.72, -87.3, -87.31, 100, -100, .infinity, -.infinity,
                         .greatestFiniteMagnitude] {
            if FastMath.exp(x).bitPattern != FastMath.expReference(x).bitPattern { bad += 1 }
        }
        XCTAssertEqual(bad, 0)
    }

    /// The vectorised masked softmax equals the plain loop bit-for-bit, with pad queries and pad keys (pad id 0 and
    /// another, ids up to a 32000 vocabulary), on row lengths that are and are not multiples of 8, and with rows of
    /// tied scores, ±0 and the lowest float among the keys.
    func testMaskedSoftmaxBitwiseEqualsReference() {
        var r = RNG(seed: 11)
        for padId: Int32 in [0, 7] {
            for L in [1, 5, 8, 13, 64, 77, 128] {
                var ids = (0..<L).map { _ in r.uniform() < 0.1 ? Int32(31_999) : Int32(1 + r.int(9)) }
                for j in 0..<L where r.uniform() < 0.3 { ids[j] = padId }
                ids[0] = 3   // at least one real key
                let s = (0..<(L * L)).map { i -> Float in
                    switch (i / L) % 4 {
                    case 1: return Float(r.int(3)) - 1                     // ties
                    case 2: return r.uniform() < 0.5 ? 0 : -0.0             // ±0 only
                    case 3: return r.uniform() < 0.2 ? -.greatestFiniteMagnitude : 6 * r.normal()
                    default: return 6 * r.normal()
                    }
                }
                var a = s, b = s
                ids.withUnsafeBufferPointer { idp in
                    a.withUnsafeMutableBufferPointer {
                        maskedSoftmaxRows($0.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!, padId: padId)
                    }
                    b.withUnsafeMutableBufferPointer {
                        maskedSoftmaxRowsReference($0.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!,
                                                   padId: padId)
                    }
                }
                XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "pad \(padId), L = \(L)")
            }
        }
    }

    /// LayerNorm forward with eight rows' sums side by side equals the row-at-a-time loop bit-for-bit, on row
    /// counts that are and are not multiples of 8, widths from 1 to 200, and rows of very different scales.
    func testLayerNormForwardBitwiseEqualsReference() {
        var r = RNG(seed: 17)
        for (rows, cols) in [(1, 1), (7, 3), (8, 96), (9, 64), (21, 5), (64, 128), (37, 200)] {
            let x = (0..<(rows * cols)).map { i in Float(1 + i / cols) * 3 * r.normal() + Float(i % 7) }
            let scale = (0..<cols).map { _ in 1 + 0.1 * r.normal() }, bias = (0..<cols).map { _ in 0.1 * r.normal() }
            var ya = [Float](repeating: 0, count: rows * cols), yb = ya
            var ma = [Float](repeating: 0, count: rows), mb = ma, ra = ma, rb = ma
            layerNormForward(&ya, mean: &ma, rstd: &ra, x, scale: scale, bias: bias, rows: rows, cols: cols)
            layerNormForwardReference(&yb, mean: &mb, rstd: &rb, x, scale: scale, bias: bias, rows: rows, cols: cols)
            XCTAssertEqual(ya.map(\.bitPattern), yb.map(\.bitPattern), "\(rows) x \(cols)")
            XCTAssertEqual(ma.map(\.bitPattern), mb.map(\.bitPattern), "\(rows) x \(cols)")
            XCTAssertEqual(ra.map(\.bitPattern), rb.map(\.bitPattern), "\(rows) x \(cols)")
        }
    }

    /// The FFN's fused passes equal the separate ones bit-for-bit: bias + GELU (`addBias` then `geluForward`; with
    /// gelu' kept, the backward's product with it equals `geluBackward`'s) and
    /// bias + dropout (`addBias`, `makeDropoutMask`, `multiply`: the same mask too), on 1 and 2 threads and on
    /// shapes that split unevenly, including values where the tanh approximation switches branch.
    func testFusedBiasGeluAndBiasDropoutBitwiseEqualSeparatePasses() {
        var r = RNG(seed: 23)
        atThreadCounts([1, 2]) { _ in
            for (rows, cols) in [(1, 1), (3, 7), (130, 64), (257, 256), (4096, 9)] {
                let x = (0..<(rows * cols)).map { i in i % 11 == 0 ? 3e-4 * r.normal() : 5 * r.normal() }
                let bias = (0..<cols).map { _ in r.normal() }
                var a1 = x, g1 = [Float](repeating: 0, count: x.count)
                var a2 = x, g2 = g1
                addBiasGelu(&a1, bias, into: &g1, rows: rows, cols: cols)
                addBias(&a2, bias, rows: rows, cols: cols)
                geluForward(a2, into: &g2, count: x.count)
                XCTAssertEqual(a1.map(\.bitPattern), a2.map(\.bitPattern), "bias, \(rows) x \(cols)")
                XCTAssertEqual(g1.map(\.bitPattern), g2.map(\.bitPattern), "gelu, \(rows) x \(cols)")

                // The training forward's pass keeps gelu' in a's place: the backward's product with it equals
                // `geluBackward`'s, and g is the same.
                var a3 = x, g3 = [Float](repeating: 0, count: x.count)
                addBiasGelu(&a3, bias, into: &g3, rows: rows, cols: cols, keepingGrad: true)
                XCTAssertEqual(g3.map(\.bitPattern), g2.map(\.bitPattern), "gelu kept, \(rows) x \(cols)")
                let dg = (0..<x.count).map { i in i % 13 == 0 ? 0 : r.normal() }
                var d1 = dg, d2 = dg
                multiply(&d1, a3, count: x.count)
                geluBackward(&d2, a2, count: x.count)
                XCTAssertEqual(d1.map(\.bitPattern), d2.map(\.bitPattern), "gelu', \(rows) x \(cols)")

                var y1 = x, m1 = g1, y2 = x, m2 = g1
                addBiasDropout(&y1, bias, mask: &m1, rows: rows, cols: cols, rate: 0.1, seed: 99)
                addBias(&y2, bias, rows: rows, cols: cols)
                makeDropoutMask(&m2, rows: rows, cols: cols, rate: 0.1, seed: 99)
                multiply(&y2, m2, count: x.count)
                XCTAssertEqual(m1.map(\.bitPattern), m2.map(\.bitPattern), "mask, \(rows) x \(cols)")
                XCTAssertEqual(y1.map(\.bitPattern), y2.map(\.bitPattern), "dropout, \(rows) x \(cols)")
            }
        }
    }

    /// The LayerNorm backward's one-pass outputs equal the passes they replace bit-for-bit: overwrite is zeroing dx
    /// and adding into it; overwrite-and-copy also copies it out; overwrite-and-add also accumulates it into another
    /// buffer. Rows with exact zeros in dy (a dropout mask's), −0 in the other buffer, on 1 and 2 threads.
    func testLayerNormBackwardOutputsBitwiseEqualSeparatePasses() {
        var r = RNG(seed: 37)
        atThreadCounts([1, 2]) { _ in
            for (rows, cols) in [(1, 4), (9, 64), (300, 48)] {
                let n = rows * cols
                let x = (0..<n).map { _ in 2 * r.normal() }
                let dy = (0..<n).map { i in i % 5 == 0 ? 0 : r.normal() }
                let scale = (0..<cols).map { _ in 1 + 0.1 * r.normal() }, bias = [Float](repeating: 0, count: cols)
                var y = [Float](repeating: 0, count: n), mean = [Float](repeating: 0, count: rows), rstd = mean
                layerNormForward(&y, mean: &mean, rstd: &rstd, x, scale: scale, bias: bias, rows: rows, cols: cols)
                let other = (0..<n).map { i in i % 7 == 0 ? -0.0 : r.normal() }
                enum Aux { case none, copy, add }
                /// (dx, dscale, dbias, the other buffer), by the separate passes or the fused output.
                func run(_ aux: Aux, fused: Bool) -> ([Float], [Float], [Float], [Float]) {
                    var dx = (0..<n).map { _ in Float(9) }   // stale values: must not leak into the result
                    var ds = [Float](repeating: 0, count: cols), db = ds, o = other
                    if !fused {
                        dx = [Float](repeating: 0, count: n)
                        layerNormBackward(dx: &dx, dscale: &ds, dbias: &db, dy: dy, x: x, mean: mean, rstd: rstd,
                                          scale: scale, rows: rows, cols: cols)
                        switch aux {
                        case .none: break
                        case .copy: o = dx
                        case .add: for i in 0..<n { o[i] += dx[i] }
                        }
                    } else {
                        o.withUnsafeMutableBufferPointer { ob in
                            let output: LayerNormGradientOutput
                            switch aux {
                            case .none: output = .overwrite
                            case .copy: output = .overwriteAndCopy(ob.baseAddress!)
                            case .add: output = .overwriteAndAdd(into: ob.baseAddress!)
                            }
                            layerNormBackward(dx: &dx, dscale: &ds, dbias: &db, dy: dy, x: x, mean: mean, rstd: rstd,
                                              scale: scale, rows: rows, cols: cols, output: output)
                        }
                    }
                    return (dx, ds, db, o)
                }
                for aux in [Aux.none, .copy, .add] {
                    let a = run(aux, fused: false), b = run(aux, fused: true)
                    XCTAssertEqual(a.0.map(\.bitPattern), b.0.map(\.bitPattern), "dx, \(aux), \(rows) x \(cols)")
                    XCTAssertEqual(a.1.map(\.bitPattern), b.1.map(\.bitPattern), "dscale, \(aux), \(rows) x \(cols)")
                    XCTAssertEqual(a.2.map(\.bitPattern), b.2.map(\.bitPattern), "dbias, \(aux), \(rows) x \(cols)")
                    XCTAssertEqual(a.3.map(\.bitPattern), b.3.map(\.bitPattern), "other, \(aux), \(rows) x \(cols)")
                }
            }
        }
    }

    /// Cross-entropy through a scratch row (forward) and in place (gradient) equals the plain form bit-for-bit.
    func testCrossEntropyRowBitwiseEqualsReference() {
        var r = RNG(seed: 5)
        for n in [2, 7, 31, 1000] {
            let logits = (0..<n).map { _ in 4 * r.normal() }
            let label = r.int(n)
            var scratch = [Float](repeating: 0, count: n)
            var a = logits, b = logits
            let fa = a.withUnsafeMutableBufferPointer { p in scratch.withUnsafeMutableBufferPointer { s in
                crossEntropyRow(p.baseAddress!, count: n, label: label, gradScale: nil, scratch: s.baseAddress!) } }
            let fb = b.withUnsafeMutableBufferPointer {
                crossEntropyRowReference($0.baseAddress!, count: n, label: label, gradScale: nil)
            }
            XCTAssertEqual(fa.0.bitPattern, fb.0.bitPattern); XCTAssertEqual(fa.1, fb.1)
            XCTAssertEqual(a, logits)
            let ga = a.withUnsafeMutableBufferPointer {
                crossEntropyRow($0.baseAddress!, count: n, label: label, gradScale: 0.37, scratch: nil)
            }
            let gb = b.withUnsafeMutableBufferPointer {
                crossEntropyRowReference($0.baseAddress!, count: n, label: label, gradScale: 0.37)
            }
            XCTAssertEqual(ga.0.bitPattern, gb.0.bitPattern); XCTAssertEqual(ga.1, gb.1)
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "n = \(n)")
        }
    }
}

extension FastPathTests {
    /// The 8-wide AdamW pass equals the scalar loop bit-for-bit (including a ragged tail and a second step).
    func testAdamWKernelBitwiseEqualsReference() {
        var r = RNG(seed: 3)
        let n = 1003
        let g = (0..<n).map { _ in r.normal() * 0.1 }
        var p1 = (0..<n).map { _ in r.normal() }, m1 = [Float](repeating: 0, count: n), v1 = m1
        var p2 = p1, m2 = m1, v2 = v1
        var gg = g
        for step in 1...2 {
            let bc1 = 1 - Float(pow(0.9, Double(step))), bc2 = 1 - Float(pow(0.999, Double(step)))
            gg.withUnsafeMutableBufferPointer { gp in
                p1.withUnsafeMutableBufferPointer { p in
                m1.withUnsafeMutableBufferPointer { m in
                v1.withUnsafeMutableBufferPointer { v in
                    AdamW.kernel(p: p.baseAddress!, g: gp.baseAddress!, m: m.baseAddress!, v: v.baseAddress!,
                                 range: 0..<n, b1: 0.9, b2: 0.999, eps: 1e-6, wd: 0.01, lr: 1e-3, bc1: bc1,
                                 bc2: bc2) } } }
                p2.withUnsafeMutableBufferPointer { p in
                m2.withUnsafeMutableBufferPointer { m in
                v2.withUnsafeMutableBufferPointer { v in
                    AdamW.kernelReference(p: p.baseAddress!, g: gp.baseAddress!, m: m.baseAddress!, v: v.baseAddress!,
                                          range: 0..<n, b1: 0.9, b2: 0.999, eps: 1e-6, wd: 0.01, lr: 1e-3, bc1: bc1,
                                          bc2: bc2) } } }
            }
        }
        XCTAssertEqual(p1.map(\.bitPattern), p2.map(\.bitPattern))
        XCTAssertEqual(m1.map(\.bitPattern), m2.map(\.bitPattern))
        XCTAssertEqual(v1.map(\.bitPattern), v2.map(\.bitPattern))
    }
}

extension FastPathTests {
    /// The row-interleaved softmax backward equals the plain loop bit-for-bit (pad queries, ragged row counts).
    func testSoftmaxBackwardBitwiseEqualsReference() {
        var r = RNG(seed: 17)
        for L in [1, 5, 8, 13, 64, 77] {
            var ids = (0..<L).map { _ in Int32(1 + r.int(9)) }
            for j in 0..<L where r.uniform() < 0.3 { ids[j] = 0 }
            let p = (0..<(L * L)).map { _ in r.uniform() }
            let dp = (0..<(L * L)).map { _ in r.normal() }
            var a = dp, b = dp
            ids.withUnsafeBufferPointer { idp in p.withUnsafeBufferPointer { pp in
                a.withUnsafeMutableBufferPointer {
                    softmaxBackwardRows($0.baseAddress!, pp.baseAddress!, rows: L, cols: L, ids: idp.baseAddress!,
                                        padId: 0)
                }
                b.withUnsafeMutableBufferPointer {
                    softmaxBackwardRowsReference($0.baseAddress!, pp.baseAddress!, rows: L, cols: L,
                                                 ids: idp.baseAddress!, padId: 0)
                }
            } }
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "L = \(L)")
        }
    }
}

extension FastPathTests {
    /// The MLM loss over rows (the output bias added row by row, eight rows' Double sums side by side, row
    /// statistics kept) equals `addBias` then the row-at-a-time plain form bit-for-bit, on row counts that are and
    /// are not multiples of 8, with ties for the argmax; and the gradient from the kept statistics equals the plain
    /// form's gradient.
    func testCrossEntropyRowsBitwiseEqualReference() {
        var r = RNG(seed: 23)
        for (R, V) in [(1, 5), (8, 100), (13, 1000), (16, 37), (21, 8)] {
            for withBias in [false, true] {
            var raw = (0..<(R * V)).map { _ in 5 * r.normal() }
            raw[3 % (R * V)] = 40; raw[(3 + V) % (R * V)] = 40; raw[(5 + V) % (R * V)] = 40   // ties at the top
            let bias = (0..<V).map { j in withBias && j != 3 && j != 5 ? r.normal() : 0 }
            var logits = raw   // what the plain form sees: the separate `addBias` pass first
            if withBias { addBias(&logits, bias, rows: R, cols: V) }
            var given = raw
            let labels = (0..<R).map { _ in Int32(r.int(V)) }
            var loss = [Double](repeating: 0, count: R), arg = [Int](repeating: 0, count: R)
            var mx = [Float](repeating: 0, count: R), sum = [Double](repeating: 0, count: R)
            var scratch = [Float](repeating: 0, count: 8 * V)
            bias.withUnsafeBufferPointer { b in
                crossEntropyRows(&given, rows: R, count: V, bias: withBias ? b.baseAddress! : nil, labels: labels,
                                 loss: &loss, arg: &arg, rowMax: &mx, rowSum: &sum, scratch: &scratch)
            }
            XCTAssertEqual(given.map(\.bitPattern), logits.map(\.bitPattern), "\(R) x \(V): biased logits")
            for i in 0..<R {
                var row = Array(logits[(i * V)..<((i + 1) * V)]), plain = row
                let ref = plain.withUnsafeMutableBufferPointer {
                    crossEntropyRowReference($0.baseAddress!, count: V, label: Int(labels[i]), gradScale: nil)
                }
                XCTAssertEqual(loss[i].bitPattern, ref.0.bitPattern, "\(R) x \(V), row \(i)")
                XCTAssertEqual(arg[i], ref.1, "\(R) x \(V), row \(i)")
                row.withUnsafeMutableBufferPointer {
                    crossEntropyRowGradient($0.baseAddress!, count: V, label: Int(labels[i]), gradScale: 0.29,
                                            max: mx[i], sum: sum[i])
                }
                _ = plain.withUnsafeMutableBufferPointer {
                    crossEntropyRowReference($0.baseAddress!, count: V, label: Int(labels[i]), gradScale: 0.29)
                }
                XCTAssertEqual(row.map(\.bitPattern), plain.map(\.bitPattern), "\(R) x \(V), row \(i)")
            }
            }
        }
    }

    /// The lane-wise max and first-index scan equal the loop `for j where row[j] > mx` on the edge cases: NaN
    /// anywhere, −∞ and all-NaN rows (index 0), +0 and −0 in either order, ties, lengths around 8, and rows of
    /// 8000 and 8003 with the max anywhere.
    func testRowMaxAndArgmaxEqualsTheLoop() {
        func loop(_ x: [Float]) -> (Float, Int) {
            var mx = -Float.infinity, a = 0
            for j in 0..<x.count where x[j] > mx { mx = x[j]; a = j }
            return (mx, a)
        }
        var rows: [[Float]] = [[.nan], [-.infinity, -.infinity], [.nan, .nan, -.infinity], [-0.0, 0.0], [0.0, -0.0],
                               [-1, .nan, 3, 3, .nan, 2, 3, 1, 0], [.nan, -2, -0.0, -3, 0.0, -0.0, -1, -1, -7, 0.0]]
        var r = RNG(seed: 31)
        for n in [1, 7, 8, 9, 15, 16, 17, 100] {
            for _ in 0..<20 {
                rows.append((0..<n).map { _ in
                    let u = r.uniform()
                    return u < 0.1 ? .nan : u < 0.2 ? -.infinity : u < 0.3 ? 0 : u < 0.4 ? -0.0 : Float(r.int(5)) - 2
                })
            }
        }
        // Vocabulary-length rows with the max (twice, +0/−0 once) at the start, the end, and in and after the last
        // block of eight.
        for n in [8000, 8003] {
            for at in [0, 7, 8, 4095, n - 4, n - 1] {
                var x = (0..<n).map { _ in r.normal() }
                x[at] = 9; x[n - 1 - (at % 3)] = 9
                rows.append(x)
                var z = (0..<n).map { _ in -1 - abs(r.normal()) }
                z[at] = -0.0; z[n - 1] = 0
                rows.append(z)
            }
        }
        for x in rows {
            let (m, a) = x.withUnsafeBufferPointer { rowMaxAndArgmax($0.baseAddress!, count: x.count) }
            let (m2, a2) = loop(x)
            XCTAssertEqual(a, a2, "\(x)")
            XCTAssertEqual(m.bitPattern, m2.bitPattern, "\(x)")
        }
    }

    /// `sortSmallest` leaves in keys[0..<c] exactly the first c of a full sort, for random, sorted, reversed,
    /// constant and few-valued keys, every c from 0 to n at the small sizes and some at the larger.
    func testSortSmallestEqualsTheFullSortsPrefix() {
        var r = RNG(seed: 37)
        for n in [0, 1, 2, 16, 17, 40, 257, 4096] {
            let patterns: [[UInt64]] = [
                (0..<n).map { _ in UInt64(r.int(1 << 30)) << 20 | UInt64(r.int(1 << 20)) },
                (0..<n).map { UInt64($0) },
                (0..<n).map { UInt64(n - $0) },
                Array(repeating: 7, count: n),
                (0..<n).map { _ in UInt64(r.int(3)) },
                (0..<n).map { UInt64($0 % 2 == 0 ? $0 : n - $0) },   // organ pipe
            ]
            let cs = n <= 64 ? Array(0...n) : [0, 1, 2, n / 16, n / 2, n - 1, n]
            for keys in patterns {
                let full = keys.sorted()
                for c in cs {
                    var k = keys
                    k.withUnsafeMutableBufferPointer { RoutingDecision.sortSmallest($0, count: c) }
                    XCTAssertEqual(Array(k[0..<c]), Array(full[0..<c]), "n \(n), c \(c)")
                    XCTAssertEqual(k.sorted(), full, "n \(n), c \(c): a permutation")
                }
            }
        }
    }

    /// Experts Choose's packed-key sort selects the same tokens in the same order as sorting indices with the
    /// comparator (p descending, then index), with many ties, exact zeros and a −0.
    func testExpertsChooseKeysOrderAsTheComparator() {
        var r = RNG(seed: 29)
        let T = 96, E = 4, G = 2, C = 20
        var p = (0..<(T * E)).map { _ in Float(r.int(6)) / 8 }   // few distinct values: ties everywhere
        p[5] = -0.0; p[9] = 0; p[13] = 1e-30
        let d = p.withUnsafeBufferPointer {
            RoutingDecision.expertsChoose(probs: $0.baseAddress!, tokens: T, experts: E, groups: G, capacity: C)
        }
        let Tg = T / G
        for g in 0..<G {
            for e in 0..<E {
                let order = (0..<Tg).sorted { a, b in
                    let pa = p[(g * Tg + a) * E + e], pb = p[(g * Tg + b) * E + e]
                    return pa > pb || (pa == pb && a < b)
                }
                for c in 0..<C {
                    let j = e * d.slotsPerExpert + g * C + c
                    XCTAssertEqual(Int(d.token[j]), g * Tg + order[c], "group \(g), expert \(e), slot \(c)")
                    XCTAssertEqual(d.weight[j].bitPattern, p[(g * Tg + order[c]) * E + e].bitPattern)
                }
            }
        }
        for a: Float in [0, -0.0, 1e-30, 0.5, 1, .infinity] {
            for b: Float in [0, -0.0, 1e-30, 0.5, 1, .infinity] {
                XCTAssertEqual(a > b, RoutingDecision.descendingKey(a) < RoutingDecision.descendingKey(b), "\(a) \(b)")
                XCTAssertEqual(a == b, RoutingDecision.descendingKey(a) == RoutingDecision.descendingKey(b),
                               "\(a) \(b)")
            }
        }
    }
}
