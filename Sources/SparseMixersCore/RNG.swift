import Foundation

/// Seeded, splittable pseudo-random generator (SplitMix64 seeding a xoshiro256** state), shared by the model
/// (initialisation, dropout, routing jitter) and the data pipeline (vocabulary sampling, document order, shuffle
/// buffer, NSP pivots, masking), so every run is a pure function of its seeds.
public struct RNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    // @usableFromInline and the @inlinable draws below: callers in other modules (dropout masks, routing jitter,
    // data masking) inline a draw instead of calling it once per element (1-2% of a small-scale training step).
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        s0 = RNG.splitMix(&x); s1 = RNG.splitMix(&x); s2 = RNG.splitMix(&x); s3 = RNG.splitMix(&x)
    }

    /// A generator keyed by several integers (e.g. seed, epoch, example serial); distinct keys give
    /// statistically independent streams.
    public init(keys: UInt64...) {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for k in keys {
            var x = h ^ k
            h = RNG.splitMix(&x)
        }
        self.init(seed: h)
    }

    @inline(__always)
    static func splitMix(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent stream derived from this seed and a label (e.g. a layer index).
    public func fork(_ label: UInt64) -> RNG {
        var r = self
        let mixed = r.next() ^ (label &* 0x9E37_79B9_7F4A_7C15)
        return RNG(seed: mixed)
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inlinable @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable @inline(__always)
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in (0, 1), never 0 (for logarithms).
    @inlinable @inline(__always)
    public mutating func uniformOpen() -> Double { (Double(next() >> 11) + 0.5) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal: Marsaglia and Tsang's ziggurat (128 layers), about 10x faster than Box-Muller with
    /// libm's log and cos, which made building a 540M-parameter model take half a minute. One 64-bit draw
    /// gives the layer (low 7 bits) and the signed 32-bit position (high 32 bits), so the two are independent
    /// (the original shares bits between them).
    @inline(__always)
    public mutating func normal() -> Float {
        let u = next()
        let iz = Int(u & 127)
        let hz = Int64(Int32(truncatingIfNeeded: u >> 32))
        let z = Ziggurat.shared
        if abs(hz) < z.k[iz] { return Float(Double(hz) * z.w[iz]) }
        return Float(normalSlowPath(hz: hz, iz: iz))
    }

    /// The ziggurat's rejection steps: the base strip's tail (x > r) and the wedges between layers.
    mutating func normalSlowPath(hz: Int64, iz: Int) -> Double {
        let z = Ziggurat.shared
        var hz = hz, iz = iz
        while true {
            let x = Double(hz) * z.w[iz]
            if iz == 0 {
                // Tail beyond r by Marsaglia's method.
                var t: Double, y: Double
                repeat {
                    t = -Foundation.log(uniformOpen()) / Ziggurat.r
                    y = -Foundation.log(uniformOpen())
                } while y + y < t * t
                return hz > 0 ? Ziggurat.r + t : -Ziggurat.r - t
            }
            if z.f[iz] + uniformOpen() * (z.f[iz - 1] - z.f[iz]) < Foundation.exp(-0.5 * x * x) { return x }
            let u = next()
            iz = Int(u & 127)
            hz = Int64(Int32(truncatingIfNeeded: u >> 32))
            if abs(hz) < z.k[iz] { return Double(hz) * z.w[iz] }
        }
    }

    /// Uniform integer in 0..<n (Lemire's multiply-shift; unbiased enough for n << 2^64).
    @inlinable @inline(__always)
    public mutating func int(_ n: Int) -> Int {
        precondition(n > 0, "RNG.int needs a positive bound")
        return Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Fisher-Yates shuffle in place.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, int(i + 1))
        }
    }
}

/// The 128-layer ziggurat tables for the standard normal (Marsaglia & Tsang 2000, "The Ziggurat Method for
/// Generating Random Variables", J. Stat. Software 5(8)): layer i covers x in [x_{i+1}, x_i]; `k` is the
/// acceptance threshold of a signed 32-bit position, `w` maps it to x, `f` = exp(-x^2/2) at the layer edge.
final class Ziggurat: @unchecked Sendable {
    static let r = 3.442619855899
    static let shared = Ziggurat()
    let k: UnsafeMutablePointer<Int64>
    let w: UnsafeMutablePointer<Double>
    let f: UnsafeMutablePointer<Double>

    private init() {
        k = .allocate(capacity: 128); w = .allocate(capacity: 128); f = .allocate(capacity: 128)
        let m1 = 2_147_483_648.0
        let v = 9.91256303526217e-3   // area of each layer
        var dn = Ziggurat.r, tn = dn
        let q = v / Foundation.exp(-0.5 * dn * dn)
        k[0] = Int64(dn / q * m1); k[1] = 0
        w[0] = q / m1; w[127] = dn / m1
        f[0] = 1; f[127] = Foundation.exp(-0.5 * dn * dn)
        for i in stride(from: 126, through: 1, by: -1) {
            dn = (-2 * Foundation.log(v / dn + Foundation.exp(-0.5 * dn * dn))).squareRoot()
            k[i + 1] = Int64(dn / tn * m1)
            tn = dn
            f[i] = Foundation.exp(-0.5 * dn * dn)
            w[i] = dn / m1
        }
    }
}
