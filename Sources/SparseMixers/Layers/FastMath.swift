import Foundation

/// Vectorisable float approximations used by the hot loops. Both are within a few ulp of the libm
/// functions over the whole float range (pinned by tests against `Foundation.exp` / `tanh`).
public enum FastMath {
    /// e^x via 2^n · p(r), r = x − n·ln2 ∈ [−ln2/2, ln2/2], degree-6 polynomial (Cephes expf coefficients).
    /// Branch- and call-free so loops over it vectorise: n = round_half_even(x·log2 e) comes from the shifter
    /// 1.5·2²³ (adding it rounds any |t| < 2²² to an integer, ties to even, exactly as `rounded(.toNearestOrEven)`;
    /// here |t| ≤ 128), and 2ⁿ's bits come from the shifted value's low mantissa bits, so there is neither a libm
    /// `rintf` call nor a trapping Float→Int conversion. Bit-for-bit equal to `expReference` (pinned by a test).
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = min(max(x, -87.3), 88.7)
        let shifted = xc * 1.442_695_04 + 12_582_912   // 1.5·2²³ + n, exact
        let n = shifted - 12_582_912
        let p = expPolynomial(xc, n)
        // The low 9 mantissa bits of `shifted` hold n (two's complement); + 127 and << 23 give 2ⁿ's exponent field.
        let bits = (shifted.bitPattern &+ 127) << 23
        let y = p * Float(bitPattern: bits)
        return x < -87.3 ? 0 : y
    }

    /// e^r for r = x − n·ln2 (Cody–Waite split of ln2), the degree-6 Cephes polynomial both forms of `exp` share.
    @inline(__always)
    static func expPolynomial(_ xc: Float, _ n: Float) -> Float {
        var r = xc - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        let r2 = r * r
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        return p * r2 + r + 1
    }

    /// The straightforward form of `exp` (the simple path the fast one is pinned against).
    public static func expReference(_ x: Float) -> Float {
        let xc = min(max(x, -87.3), 88.7)
        let n = (xc * 1.442_695_04).rounded(.toNearestOrEven)
        let p = expPolynomial(xc, n)
        // A NaN input (a diverging run) must give NaN, not trap in the Int32 conversion: p is already NaN.
        let bits = UInt32(bitPattern: Int32(n.isNaN ? 0 : n) &+ 127) << 23
        let y = p * Float(bitPattern: bits)
        return x < -87.3 ? 0 : y
    }

    /// tanh via a [13/6] rational approximation on [−7.9053, 7.9053] (saturated outside).
    @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        let xc = min(max(x, -7.905_311_107_635_498_05), 7.905_311_107_635_498_05)
        let x2 = xc * xc
        var p: Float = -2.760_768_477_423_55e-16
        p = p * x2 + 2.000_187_904_824_77e-13
        p = p * x2 - 8.604_671_522_137_35e-11
        p = p * x2 + 5.122_297_090_371_14e-08
        p = p * x2 + 1.485_722_357_179_79e-05
        p = p * x2 + 6.372_619_288_754_36e-04
        p = p * x2 + 4.893_524_558_917_86e-03
        p = p * xc
        var q: Float = 1.198_258_394_667_02e-06
        q = q * x2 + 1.185_347_056_866_54e-04
        q = q * x2 + 2.268_434_632_439_00e-03
        q = q * x2 + 4.893_525_185_543_85e-03
        let t = p / q
        return abs(x) < 0.0004 ? x : t
    }

    static let geluC: Float = 0.797_884_560_802_865_4  // sqrt(2/pi)

    /// gelu(x) = 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), Flax's default (tanh approximation), and d gelu / dx,
    /// from one tanh. `gelu` and `geluGrad` are its two halves (inlined, the unused half is dropped), so the forward
    /// that keeps the gradient computes the same bits as the two functions.
    @inline(__always)
    public static func geluAndGrad(_ x: Float) -> (value: Float, grad: Float) {
        let u = geluC * (x + 0.044715 * x * x * x)
        let t = tanh(u)
        let du = geluC * (1 + 3 * 0.044715 * x * x)
        return (0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
    }

    /// gelu(x) (`geluAndGrad`).
    @inline(__always)
    public static func gelu(_ x: Float) -> Float { geluAndGrad(x).value }

    /// d gelu / dx (`geluAndGrad`).
    @inline(__always)
    public static func geluGrad(_ x: Float) -> Float { geluAndGrad(x).grad }
}
