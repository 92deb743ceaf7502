import Foundation

/// Data-parallel loops for the element-wise kernels between BLAS calls. Work is split into at most
/// `Parallel.threads` contiguous chunks; small loops run inline so the dispatch cost never dominates.
public enum Parallel {
    /// Threads used by hand-written loops (kept equal to the BLAS thread count by `Runtime.setThreads`).
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body(start, end)` over disjoint ranges covering 0..<count. `grain` is the smallest count
    /// worth a thread of its own.
    @inline(__always)
    public static func forRange(_ count: Int, grain: Int = 4096, _ body: (Int, Int) -> Void) {
        let t = min(threads, count / max(grain, 1))
        if t <= 1 { if count > 0 { body(0, count) }; return }
        let chunk = (count + t - 1) / t
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let s = i * chunk
            let e = min(count, s + chunk)
            if s < e { body(s, e) }
        }
    }

    /// Calls `body(i)` for every i in 0..<count, spread over the threads (for coarse work items).
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if threads <= 1 || count <= 1 { for i in 0..<count { body(i) }; return }
        DispatchQueue.concurrentPerform(iterations: count) { i in body(i) }
    }
}

/// Process-wide thread settings for BLAS, FFT loops and hand loops.
public enum Runtime {
    public static func setThreads(_ n: Int) {
        let n = max(1, n)
        BLAS.threads = n
        Parallel.threads = n
    }
}
