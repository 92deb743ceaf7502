import Foundation
import XCTest
@testable import SparseMixersData

/// A fresh temporary directory, removed at the end of the test.
func makeTempDir(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smx-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

func write(_ text: String, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}

/// The real data root (../shared/data via the package), or nil when it holds nothing.
func realDataRoot() -> DataRoot? {
    let r = DataRoot.resolve(environment: [:])
    return DataRoot.holdsDatasets(r.url) ? r : nil
}
