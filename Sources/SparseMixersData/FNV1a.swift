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
