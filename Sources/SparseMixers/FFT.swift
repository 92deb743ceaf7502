import CFFTW
import Foundation

/// FFTW wrapper for the 2-D real transforms of spectral mixing. One plan per shape [L, D], created once
/// (planning is not thread-safe, so it happens under a lock, outside any timed region) and executed from many
/// threads through the new-array interface on per-thread aligned scratch.
public final class SpectralPlan: @unchecked Sendable {
    public let rows: Int, cols: Int
    private let plan: fftwf_plan
    private var inputs: [UnsafeMutablePointer<Float>] = []
    private var outputs: [UnsafeMutablePointer<fftwf_complex>] = []   // complex [rows, cols/2 + 1]

    /// Planner flag used for every plan (recorded in reports). FFTW_ESTIMATE, not FFTW_MEASURE: a measured plan is
    /// chosen by timing candidate algorithms, and on a shared machine the winner changes from process to process,
    /// with it the order of the transform's additions: `bench --digest` of fourier-12 at ci gave two different
    /// results in six identical runs (hartley-12 likewise), so spectral pre-training runs were not reproducible
    /// bit for bit. An estimated plan is a function of the shape, the FFTW build and the CPU's SIMD support only.
    /// The transforms are 1-2% of a spectral model's step (bench --profile), so the plan's speed barely shows.
    public static let plannerFlagName = "FFTW_ESTIMATE"
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cache: [String: SpectralPlan] = [:]

    public static var version: String {
        String(cString: smx_fftwf_version())
    }

    /// The shared plan for [rows, cols], with scratch for `threads` workers.
    public static func shared(rows: Int, cols: Int, threads: Int) -> SpectralPlan {
        lock.lock(); defer { lock.unlock() }
        let key = "\(rows)x\(cols)"
        let p = cache[key] ?? SpectralPlan(rows: rows, cols: cols)
        cache[key] = p
        p.ensureScratch(threads)
        return p
    }

    private init(rows: Int, cols: Int) {
        self.rows = rows; self.cols = cols
        let inp = fftwf_alloc_real(rows * cols)!
        let out = fftwf_alloc_complex(rows * (cols / 2 + 1))!
        plan = fftwf_plan_dft_r2c_2d(Int32(rows), Int32(cols), inp, out, FFTW_ESTIMATE)!
        inputs.append(inp)
        outputs.append(out)
    }

    private func ensureScratch(_ n: Int) {
        while inputs.count < n {
            inputs.append(fftwf_alloc_real(rows * cols)!)
            outputs.append(fftwf_alloc_complex(rows * (cols / 2 + 1))!)
        }
    }

    /// y (+)= Re(F_L·x·F_D) (Fourier) or Re − Im of it (Hartley), for one [rows, cols] matrix, on worker `slot`.
    /// Columns k > cols/2 come from Hermitian symmetry: Z[n, k] = conj(Z[(−n) mod L, cols − k]).
    public func transform(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, hartley: Bool,
                          accumulate: Bool, slot: Int) {
        let L = rows, D = cols, H = D / 2 + 1
        let inp = inputs[slot], zc = outputs[slot]
        inp.update(from: x, count: L * D)
        fftwf_execute_dft_r2c(plan, inp, zc)
        let z = UnsafeMutableRawPointer(zc).assumingMemoryBound(to: Float.self)   // interleaved (re, im)
        for n in 0..<L {
            let yr = y + n * D
            let zr = z + 2 * n * H
            let nm = (L - n) % L
            let zm = z + 2 * nm * H
            for k in 0..<H {
                let v = hartley ? zr[2 * k] - zr[2 * k + 1] : zr[2 * k]
                if accumulate { yr[k] += v } else { yr[k] = v }
            }
            if H < D {
                for k in H..<D {
                    let kk = D - k
                    let v = hartley ? zm[2 * kk] + zm[2 * kk + 1] : zm[2 * kk]
                    if accumulate { yr[k] += v } else { yr[k] = v }
                }
            }
        }
    }
}
