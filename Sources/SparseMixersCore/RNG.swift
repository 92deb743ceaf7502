import Foundation

/// Seeded, splittable pseudo-random generator (SplitMix64 seeding a xoshiro256** state), shared by the model
/// (initialisation, dropout, routing jitter) and the data pipeline (vocabulary sampling, document order, shuffle
/// buffer, NSP pivots, masking), so every run is a pure function of its seeds.
public struct RNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

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

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        var u1 = uniformDouble()
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = uniformDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n (Lemire's multiply-shift; unbiased enough for n << 2^64).
    @inline(__always)
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
