/// Seeded pseudo-random generator for the data pipeline: SplitMix64 seeding xoshiro256**.
///
/// The data library does not depend on the model library, so it carries its own small generator.
/// Every random decision of the data side (sentence sampling for the vocabulary, document order,
/// shuffle-buffer slots, NSP pivots and swaps, masking) comes from one of these, so a stream is a
/// pure function of its seed (SPEC §4.2-4.3 are random; our reproduction makes them replayable).
public struct DataRNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        s0 = DataRNG.splitMix(&x); s1 = DataRNG.splitMix(&x)
        s2 = DataRNG.splitMix(&x); s3 = DataRNG.splitMix(&x)
    }

    /// A generator keyed by several integers (e.g. seed, epoch, example serial); distinct keys give
    /// statistically independent streams.
    public init(keys: UInt64...) {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for k in keys {
            var x = h ^ k
            h = DataRNG.splitMix(&x)
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

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func uniform() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in 0..<n (Lemire's multiply-shift; unbiased enough for n << 2^64).
    @inline(__always)
    public mutating func int(_ n: Int) -> Int {
        precondition(n > 0, "DataRNG.int needs a positive bound")
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

/// FNV-1a 64-bit hash, used for cache keys and the held-out document split (stable across runs and
/// platforms, unlike `Hasher`).
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public init() {}
    public mutating func combine<S: Sequence>(bytes: S) where S.Element == UInt8 {
        for b in bytes { value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    }
    public mutating func combine(_ s: String) { combine(bytes: Array(s.utf8)); combine(bytes: [0]) }
    public mutating func combine(_ v: Int) {
        var x = UInt64(bitPattern: Int64(v))
        for _ in 0..<8 { combine(bytes: [UInt8(x & 0xFF)]); x >>= 8 }
    }
    public static func hash(_ s: String) -> UInt64 { var h = FNV1a(); h.combine(s); return h.value }
    public var hex: String { String(value, radix: 16, uppercase: false).leftPadded(to: 16) }
}

extension String {
    func leftPadded(to n: Int, with c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}
