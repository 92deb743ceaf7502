import Foundation
import XCTest
@testable import SparseMixersData

func write(_ text: String, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}

/// The real data root (../shared/data via the package), or nil when it holds nothing.
func realDataRoot() -> DataRoot? {
    let r = DataRoot.resolve(environment: [:])
    return DataRoot.holdsDatasets(r.url) ? r : nil
}
