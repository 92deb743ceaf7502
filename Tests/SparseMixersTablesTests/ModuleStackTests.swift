import Foundation
import XCTest

/// ARCHITECTURE.md: the modules form one stack and each imports only modules below it. This reads the import
/// lines of every source file, so a new upward import fails here, naming the file.
final class ModuleStackTests: XCTestCase {
    static let stack = ["SparseMixersCore", "SparseMixers", "SparseMixersData", "SparseMixersTraining", "SparseMixersPaper",
                        "SparseMixersReports", "SparseMixersTables"]

    func testNoModuleImportsOneAboveIt() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let fm = FileManager.default
        var checked = 0
        for (level, module) in Self.stack.enumerated() {
            let dir = root.appendingPathComponent("Sources/\(module)")
            let files = try XCTUnwrap(fm.enumerator(atPath: dir.path)).compactMap { $0 as? String }
                .filter { $0.hasSuffix(".swift") }
            XCTAssertFalse(files.isEmpty, module)
            for file in files {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") where line.hasPrefix("import SparseMixers") {
                    let imported = String(line.dropFirst("import ".count))
                    let other = try XCTUnwrap(Self.stack.firstIndex(of: imported), "\(module)/\(file): \(imported)")
                    XCTAssertLessThan(other, level, "\(module)/\(file) imports \(imported), which is not below it")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 50)
    }
}
