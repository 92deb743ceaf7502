import XCTest
import Foundation
@testable import SparseMixers
import SparseMixersCore

/// `Parallel.lanes` (independent jobs side by side) and `FileLock` (cached runs made once).
final class ConcurrencyTests: XCTestCase {
    func testLanesVisitEveryIndexOnceWithOneBLASThreadEach() {
        let saved = BLAS.threads
        BLAS.threads = 2
        defer { BLAS.threads = saved }
        let lock = NSLock()
        var seen: [Int] = [], threadsInside: Set<Int> = [], nestedInline = true
        Parallel.lanes(37, lanes: 2) { i in
            // A nested lanes call runs inline, in order.
            var inner: [Int] = []
            Parallel.lanes(3, lanes: 2) { inner.append($0) }
            lock.lock()
            seen.append(i); threadsInside.insert(BLAS.threads)
            if inner != [0, 1, 2] { nestedInline = false }
            lock.unlock()
        }
        XCTAssertEqual(seen.sorted(), Array(0..<37))
        XCTAssertEqual(threadsInside, [1])
        XCTAssertTrue(nestedInline)
        XCTAssertEqual(BLAS.threads, 2, "restored after the lanes")
        var order: [Int] = []
        Parallel.lanes(5, lanes: 1) { order.append($0) }
        XCTAssertEqual(order, [0, 1, 2, 3, 4])
    }

    func testFileLockLetsOneHolderInAtATime() throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("lock-\(UUID().uuidString)/run.lock").path
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        final class Box: @unchecked Sendable { var inside = 0; var overlaps = 0; var total = 0 }
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<25 {
                try? FileLock.withLock(path) {
                    box.inside += 1
                    if box.inside > 1 { box.overlaps += 1 }
                    usleep(200)
                    box.total += 1
                    box.inside -= 1
                }
            }
        }
        XCTAssertEqual(box.total, 100)
        XCTAssertEqual(box.overlaps, 0)
        XCTAssertThrowsError(try FileLock.withLock("/proc/no-such-dir/x.lock") {}) {
            XCTAssertTrue("\($0)".contains("/proc/no-such-dir"))
        }
    }

    func testFlopTalliesCountTheirOwnWorkAndItsWorkersOnly() {
        let n = 16, perGemm = 2.0 * Double(n * n * n)
        let a = [Float](repeating: 1, count: n * n)
        func gemms(_ k: Int) {
            var c = [Float](repeating: 0, count: n * n)
            a.withUnsafeBufferPointer { ap in
                c.withUnsafeMutableBufferPointer { cp in
                    for _ in 0..<k { BLAS.gemm(m: n, n: n, k: n, a: ap.baseAddress!, lda: n, b: ap.baseAddress!, ldb: n,
                                               c: cp.baseAddress!, ldc: n) }
                }
            }
        }
        let alone = FlopTally()
        BLAS.counting(into: alone) { gemms(10) }
        XCTAssertEqual(alone.flops, 10 * perGemm)
        gemms(3)   // outside any tally: nothing counted, nothing crashes
        XCTAssertEqual(alone.flops, 10 * perGemm)
        // Work fanned out to Parallel's workers counts for the caller.
        let saved = Parallel.threads
        Parallel.threads = 2
        defer { Parallel.threads = saved }
        let fanned = FlopTally()
        BLAS.counting(into: fanned) { Parallel.forChunks(6) { _, s, e in gemms(e - s) } }
        XCTAssertEqual(fanned.flops, 6 * perGemm)
        // Two lanes counting at once each get their own count.
        let lock = NSLock()
        var counts = [0.0, 0.0]
        Parallel.lanes(2, lanes: 2) { i in
            let t = FlopTally()
            BLAS.counting(into: t) { gemms(i == 0 ? 40 : 80) }
            lock.lock(); counts[i] = t.flops; lock.unlock()
        }
        XCTAssertEqual(counts, [40 * perGemm, 80 * perGemm])
    }
}
