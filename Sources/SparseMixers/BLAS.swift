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

/// OpenBLAS picks its kernels when the library loads, from the CPU's family and model. Debian 12's OpenBLAS 0.3.21
/// does not know recent Intel Xeons (seen: family 6 model 207, AVX-512) and falls back to its Prescott (SSE3)
/// kernels: 38 GFLOP/s of sgemm on two cores where its SkylakeX kernels give 228 on the same machine. The kernel
/// can only be chosen before the library loads (`OPENBLAS_CORETYPE`), so an executable that finds the fallback
/// restarts itself once with the best kernel the CPU's flags support. A user's own `OPENBLAS_CORETYPE` is kept;
/// `SMX_KEEP_BLAS_CORE=1` keeps OpenBLAS's choice. The test process cannot restart itself: `test.sh` exports the
/// same choice (`sparse-mixers blas-kernel --restart-choice`) before it runs the suite.
public enum BLASKernel {
    /// The kernel family OpenBLAS chose at load time, e.g. "Haswell", "SkylakeX", "Zen", "Prescott".
    public static var coreName: String {
        guard let s = openblas_get_corename() else { return "unknown" }
        return String(cString: s)
    }

    /// OpenBLAS's names for kernels without AVX2: on a CPU with AVX2 and FMA these mean it did not recognise the CPU.
    static let preAVX2Cores: Set<String> = ["Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                            "Coppermine", "Northwood", "Banias", "Sandybridge", "Barcelona",
                                            "Opteron", "Opteron_SSE3", "Bobcat", "Bulldozer", "Piledriver",
                                            "Steamroller", "Excavator", "Unknown"]

    /// The best OpenBLAS kernel family `flags` (the `flags` line of /proc/cpuinfo) support, or nil for none
    /// better than the generic ones.
    public static func bestCore(flags: Set<String>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// The kernel to restart with, when OpenBLAS chose a generic one that this CPU outgrows; nil otherwise.
    public static func replacement(chosen: String, flags: Set<String>) -> String? {
        guard preAVX2Cores.contains(chosen), let best = bestCore(flags: flags) else { return nil }
        return best
    }

    static func cpuFlags() -> Set<String> {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " ").map(String.init))
    }

    /// Set (to the kernel chosen) in a process that `ensureFastKernel` restarted.
    public static let restartedVariable = "SMX_BLAS_RESTARTED"

    /// The kernel this process was restarted with, nil when OpenBLAS's own choice stands.
    public static var restartedWith: String? { ProcessInfo.processInfo.environment[restartedVariable] }

    /// How long an idle OpenBLAS worker spins (2^n cycles, calling sched_yield) before it sleeps: OpenBLAS's
    /// default, 2^28 cycles (about 0.1 s), keeps the worker spinning through every hand-written loop between two
    /// gemms, where it competes for the two cores with the loop's own threads (and with any other process). At
    /// 2^12 cycles it sleeps at once and a gemm wakes it: the small scale's BERT step on two threads went from
    /// 574-701 ms to 446-504 ms (three alternating runs each), system time from 2.8-4.7 s to 0.6-0.8 s per run
    /// (README, "Throughput"). Read by OpenBLAS when it loads, like the kernel.
    public static let threadTimeout = "12"

    /// Call first thing in `main`: restarts the process once, with `OPENBLAS_CORETYPE` set when OpenBLAS fell back
    /// to a generic kernel on a CPU that supports a better one, and with `OPENBLAS_THREAD_TIMEOUT` =
    /// `threadTimeout` when the environment does not set it. Returns (doing nothing) when neither applies. A
    /// user's own values of either are kept; `SMX_KEEP_BLAS_CORE=1` keeps OpenBLAS's own choices for both.
    public static func ensureFastKernel() {
        #if os(Linux)
        let env = ProcessInfo.processInfo.environment
        if env["SMX_KEEP_BLAS_CORE"] != nil { return }
        var restart = false
        if env["OPENBLAS_CORETYPE"] == nil, let better = replacement(chosen: coreName, flags: cpuFlags()) {
            FileHandle.standardError.write(Data(("note: OpenBLAS chose its \(coreName) kernels, which "
                + "this CPU outgrows (it does not recognise the model); restarting with OPENBLAS_CORETYPE=\(better). "
                + "Set OPENBLAS_CORETYPE to choose, or SMX_KEEP_BLAS_CORE=1 to keep OpenBLAS's choice.\n").utf8))
            setenv("OPENBLAS_CORETYPE", better, 1)
            setenv(restartedVariable, better, 1)
            restart = true
        }
        if env["OPENBLAS_THREAD_TIMEOUT"] == nil {
            setenv("OPENBLAS_THREAD_TIMEOUT", threadTimeout, 1)
            restart = true
        }
        guard restart else { return }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv returns only on failure: carry on with the library as loaded.
        let note = "note: restart failed (errno \(errno)); continuing with \(coreName)\n"
        FileHandle.standardError.write(Data(note.utf8))
        #endif
    }
}
