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
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)/run.lock").path
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
}
