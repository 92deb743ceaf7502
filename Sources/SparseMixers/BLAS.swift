import Foundation
import CBLAS

/// Thin wrapper over OpenBLAS's cblas. Every matrix product of the model goes through `gemm`.
/// All matrices are row-major. `C = alpha * op(A) * op(B) + beta * C` with op(A) [m, k], op(B) [k, n].
public enum BLAS {
    /// When true, every `gemm` adds 2·m·n·k to `flops` (for benchmarks: the FLOPs actually run).
    nonisolated(unsafe) public static var countFlops = false
    nonisolated(unsafe) public static var flops: Double = 0
    static let flopLock = NSLock()

    /// C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if countFlops { flopLock.lock(); flops += 2 * Double(m) * Double(n) * Double(k); flopLock.unlock() }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[n] += alpha * sum over rows of A[m, n]  (column sums; used for bias gradients).
    public static func addColumnSums(_ a: UnsafePointer<Float>, rows m: Int, cols n: Int,
                                     into y: UnsafeMutablePointer<Float>, alpha: Float = 1) {
        if m == 0 { return }
        let ones = UnsafeMutablePointer<Float>.allocate(capacity: m)
        ones.initialize(repeating: 1, count: m)
        defer { ones.deallocate() }
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), alpha, a, Int32(n), ones, 1, 1, y, 1)
    }

    /// Number of threads OpenBLAS uses for one call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// OpenBLAS build configuration string (for reports).
    public static var configuration: String {
        guard let s = openblas_get_config() else { return "unknown" }
        return String(cString: s)
    }
}
