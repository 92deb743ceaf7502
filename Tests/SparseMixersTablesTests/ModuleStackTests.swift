import Foundation
import XCTest

/// ARCHITECTURE.md: the modules form one stack and each imports only modules below it. This reads the import
/// lines of every source file, so a new upward import fails here, naming the file.
final class ModuleStackTests: XCTestCase {
    static let stack = ["SparseMixersCore", "SparseMixers", "SparseMixersData", "SparseMixersTraining",
                        "SparseMixersPaper", "SparseMixersReports", "SparseMixersTables"]

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

    /// One libcsv wrapper: Delimited.swift in the data module is the only source file that imports CCSV (and the
    /// data module the only target that depends on it, in Package.swift).
    func testOnlyTheDataModulesWrapperImportsLibcsv() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources")
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: sources.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") }
        var importers: [String] = []
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            if lines.contains("import CCSV") {
                importers.append(file)
            }
        }
        XCTAssertEqual(importers, ["SparseMixersData/Delimited.swift"])
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        // "CCSV" twice: the system library's declaration and the data module's dependency on it.
        XCTAssertEqual(manifest.components(separatedBy: "\"CCSV\"").count - 1, 2)
        let manifestLines = manifest.split(separator: "\n")
        let data = try XCTUnwrap(manifestLines.first { $0.contains(".target(name: \"SparseMixersData\"") })
        XCTAssertTrue(data.contains("\"CCSV\""), String(data))
    }
}
