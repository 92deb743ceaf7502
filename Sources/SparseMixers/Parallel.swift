import Foundation

/// Data-parallel loops for the element-wise kernels between BLAS calls. Work is split into at most
/// `Parallel.threads` contiguous chunks; small loops run inline so the dispatch cost never dominates.
public enum Parallel {
    /// Threads used by hand-written loops (kept equal to the BLAS thread count by `Runtime.setThreads`).
    nonisolated(unsafe) public static var threads: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// True inside a `forChunks` region: nested loops then run inline on their worker thread.
    nonisolated(unsafe) static var nested = false

    /// The threads a model step started here runs on: 1 inside `lanes` / `forChunks` (OpenBLAS and the hand
    /// loops held to one thread), else `threads`. Part of a pre-training run's identity: a resume must match it.
    public static var effectiveThreads: Int { nested ? 1 : threads }

    /// Calls `body(start, end)` over disjoint ranges covering 0..<count. `grain` is the smallest count
    /// worth a thread of its own.
    @inline(__always)
    public static func forRange(_ count: Int, grain: Int = 4096, _ body: (Int, Int) -> Void) {
        let t = nested ? 1 : min(threads, count / max(grain, 1))
        if t <= 1 { if count > 0 { body(0, count) }; return }
        let chunk = (count + t - 1) / t
        let tally = BLAS.currentTally
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let s = i * chunk
            let e = min(count, s + chunk)
            if s < e { BLAS.counting(into: tally) { body(s, e) } }
        }
    }

    /// Calls `body(i)` for every i in 0..<count, spread over the threads (for coarse work items).
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if nested || threads <= 1 || count <= 1 { for i in 0..<count { body(i) }; return }
        let tally = BLAS.currentTally
        DispatchQueue.concurrentPerform(iterations: count) { i in BLAS.counting(into: tally) { body(i) } }
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

extension Parallel {
    /// Splits 0..<count into one contiguous chunk per thread and calls `body(chunk, start, end)` in parallel,
    /// with OpenBLAS held to one thread inside, so per-item BLAS calls (one attention head, one example) run
    /// side by side instead of fighting over the BLAS thread pool. `chunk` < `Parallel.threads` indexes scratch.
    public static func forChunks(_ count: Int, _ body: (Int, Int, Int) -> Void) {
        let t = nested ? 1 : min(threads, count)
        if t <= 1 { if count > 0 { body(0, 0, count) }; return }
        let chunk = (count + t - 1) / t
        sideBySide(t) { i in
            let s = i * chunk, e = min(count, s + chunk)
            if s < e { body(i, s, e) }
        }
    }

    /// Runs `body(0..<t)` on `t` threads with OpenBLAS held to one thread and the hand loops inline (nested)
    /// inside, then restores both; the caller's FLOP tally counts what the threads run.
    static func sideBySide(_ t: Int, _ body: (Int) -> Void) {
        let saved = BLAS.threads
        BLAS.threads = 1
        nested = true
        defer { BLAS.threads = saved; nested = false }
        let tally = BLAS.currentTally
        DispatchQueue.concurrentPerform(iterations: t) { i in BLAS.counting(into: tally) { body(i) } }
    }
}

extension Parallel {
    /// Calls `body(i)` for every i in 0..<count on `lanes` threads, each lane taking the next index when it is
    /// free (so jobs of unequal cost balance), with OpenBLAS and the hand loops held to one thread inside. For
    /// independent jobs on small models (the ci scale's pre-training and fine-tuning runs), where two
    /// single-threaded jobs side by side finish about 1.6x sooner than one after the other on two threads.
    /// Runs in order on the caller's thread settings when `lanes` <= 1, and inline when already nested.
    public static func lanes(_ count: Int, lanes: Int, _ body: (Int) -> Void) {
        let t = nested ? 1 : min(lanes, count)
        if t <= 1 { for i in 0..<count { body(i) }; return }
        let queue = LaneQueue(count: count)
        sideBySide(t) { _ in
            while let i = queue.take() { body(i) }
        }
    }
}

/// The shared next-index counter of `Parallel.lanes`.
private final class LaneQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let count: Int
    init(count: Int) { self.count = count }
    func take() -> Int? {
        lock.lock(); defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}
