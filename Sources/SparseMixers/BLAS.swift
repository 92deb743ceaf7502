import Foundation
import CBLAS

/// Thin wrapper over OpenBLAS's cblas. Every matrix product of the model goes through `gemm`.
/// All matrices are row-major. `C = alpha * op(A) * op(B) + beta * C` with op(A) [m, k], op(B) [k, n].
public enum BLAS {

    /// C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        currentTally?.add(2 * Double(m) * Double(n) * Double(k))
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

/// The gemm FLOPs (2·m·n·k per call) of the work run under `BLAS.counting(into:)`: the counting thread's and those
/// of the `Parallel` workers it fans out to, never another thread's. Two lanes counting at once (two pre-training
/// runs side by side) each get their own count, which a process-wide counter could not give.
public final class FlopTally: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0.0
    public init() {}
    func add(_ x: Double) { lock.lock(); value += x; lock.unlock() }
    public var flops: Double { lock.lock(); defer { lock.unlock() }; return value }
}

extension BLAS {
    private static let tallyKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// The tally gemm calls on this thread add to (nil: not counting).
    static var currentTally: FlopTally? {
        pthread_getspecific(tallyKey).map { Unmanaged<FlopTally>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with `tally` (when not nil) counting the gemm FLOPs of this thread, then restores the previous one.
    public static func counting<R>(into tally: FlopTally?, _ body: () throws -> R) rethrows -> R {
        guard let tally else { return try body() }
        let previous = pthread_getspecific(tallyKey)
        pthread_setspecific(tallyKey, Unmanaged.passUnretained(tally).toOpaque())
        defer { pthread_setspecific(tallyKey, previous) }
        return try body()
    }
}
