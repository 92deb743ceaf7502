import ArgumentParser
import Foundation
import XCTest
import SparseMixers
@testable import SparseMixersTables

/// Flags and resources (issue 14): every numeric flag is bounded with an error naming it, memory is estimated
/// before a run allocates, and output folders are created and checked before any work.
final class FlagTests: XCTestCase {
    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smx-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func expectRefused(_ args: [String], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TableOptions.parse(args), "\(args)", file: file, line: line) { e in
            let text = TableOptions.message(for: e)
            XCTAssert(text.contains(message), "\(args): \(text)", file: file, line: line)
        }
    }

    func testTableFlagsAreBoundedAndNameTheFlag() throws {
        let out = try tempDir().appendingPathComponent("reports").path
        // `--memory-budget-gb nan` used to pass the `<= 0` check and disable the memory guard.
        for v in ["nan", "inf", "0", "-1", "1e300"] {
            expectRefused(["--output", out, "--memory-budget-gb=\(v)"],
                          "--memory-budget-gb must be a finite number in (0.0, 1000000.0]")
        }
        expectRefused(["--output", out, "--batch", "1099511627776"],
                      "--batch must be in 1...1048576, got 1099511627776")
        expectRefused(["--output", out, "--batch", "0"], "--batch must be in 1...1048576, got 0")
        expectRefused(["--output", out, "--seq", "1"], "--seq must be in 2...65536, got 1")
        expectRefused(["--output", out, "--threads", "0"], "--threads must be in 1...1024, got 0")
        expectRefused(["--output", out, "--jobs", "100000"], "--jobs must be in 1...1024")
        expectRefused(["--output", out, "--warmup=-1"], "--warmup must be in 0...10000, got -1")
        // The speed phase's stopping rule (issue 13): an interval needs two rounds; the maximum is at least the
        // minimum.
        expectRefused(["--output", out, "--min-rounds", "1"], "--min-rounds must be in 2...10000, got 1")
        expectRefused(["--output", out, "--min-rounds", "6", "--max-rounds", "5"],
                      "--max-rounds must be in 6...10000, got 5")
        expectRefused(["--output", out, "--max-rounds", "20000"], "--max-rounds must be in 4...10000, got 20000")
        for v in ["nan", "0", "100", "-5"] {
            expectRefused(["--output", out, "--half-width=\(v)"],
                          "--half-width must be a finite number in (0.0, 100.0)")
        }
        for v in ["nan", "0", "inf", "1e8"] {
            expectRefused(["--output", out, "--time-limit=\(v)"],
                          "--time-limit must be a finite number in (0.0, 10000000.0]")
        }
        let r = try TableOptions.parse(["--output", out, "--min-rounds", "3", "--half-width", "2.5",
                                        "--time-limit", "60"]).settings.rule
        XCTAssertEqual(r, StoppingRule(minRounds: 3, maxRounds: 20, halfWidth: 0.025, timeLimitSeconds: 60))
        XCTAssertEqual(try TableOptions.parse(["--output", out, "--scale", "small"]).settings.rule,
                       StoppingRule.defaults(.small))
        // Per-scale defaults where a flag is not given: the ci first look stops at ±15%, small at ±5%.
        XCTAssertEqual(try TableOptions.parse(["--output", out]).settings.rule,
                       StoppingRule(minRounds: 4, maxRounds: 20, halfWidth: 0.15, timeLimitSeconds: 30))
        XCTAssertEqual(StoppingRule.defaults(.small).halfWidth, 0.05)
        let o = try TableOptions.parse(["--output", out, "--memory-budget-gb", "2.5", "--batch", "4"])
        XCTAssertEqual(o.settings.memoryBudget, 2.5e9)
        XCTAssertEqual(o.settings.shape.batch, 4)
    }

    /// A table target used to create its output folder only after hours of work, so a bad path failed last.
    func testTheOutputFolderIsCreatedAndCheckedFirst() throws {
        let dir = try tempDir()
        let nested = dir.appendingPathComponent("a/b/c").path
        _ = try TableOptions.parse(["--output", nested])
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: nested, isDirectory: &isDir) && isDir.boolValue)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: nested), [], "the write probe is removed")
        let file = dir.appendingPathComponent("plain").path
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        expectRefused(["--output", file], "--output \(file): \(file) exists and is not a directory")
        expectRefused(["--output", file + "/sub"], "is not a directory")
        expectRefused(["--output", "/proc/x"], "--output /proc/x: cannot create directory /proc/x (")
        if getuid() != 0 {
            let locked = dir.appendingPathComponent("locked")
            try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
            chmod(locked.path, 0o500)
            defer { chmod(locked.path, 0o700) }
            expectRefused(["--output", locked.path], "cannot write in the directory")
        }
    }

    func testFlagHelpers() throws {
        XCTAssertNoThrow(try Flags.int(5, "x", 1...5))
        XCTAssertNoThrow(try Flags.int(nil, "x", 1...5))
        XCTAssertThrowsError(try Flags.int(6, "x", 1...5)) { XCTAssertEqual("\($0)", "--x must be in 1...5, got 6") }
        XCTAssertThrowsError(try Flags.double(.nan, "y", 0...1)) {
            XCTAssert("\($0)".contains("--y must be a finite number in [0.0, 1.0], got nan"))
        }
        XCTAssertThrowsError(try Flags.double(1, "y", 0...1, openUpper: true)) {
            XCTAssert("\($0)".contains("[0.0, 1.0)"))
        }
        XCTAssertNoThrow(try Flags.double(0, "y", 0...1, openUpper: true))
        XCTAssertThrowsError(try Flags.double(0, "y", 0...1, openLower: true))
    }

    /// The estimate grows with the batch, stays finite for absurd ones, and the check names estimate and limit.
    func testMemoryEstimateRefusesWhatCannotFit() throws {
        let c = try ModelConfig.preset(named: "sparse-mixer-base")
        let one = try MemoryBudget.trainingBytes(c, batch: 1), eight = try MemoryBudget.trainingBytes(c, batch: 8)
        XCTAssertGreaterThan(eight, one)
        let huge = try MemoryBudget.trainingBytes(c, batch: 1_099_511_627_776)
        XCTAssertTrue(huge.isFinite)
        XCTAssertThrowsError(try MemoryBudget.check(huge, what: "pre-training at batch 1099511627776",
                                                    limit: 16e9)) { e in
            let text = "\(e)"
            XCTAssert(text.contains("pre-training at batch 1099511627776 needs about"), text)
            XCTAssert(text.contains("over the memory limit of 16.0 GB"), text)
        }
        XCTAssertThrowsError(try MemoryBudget.check(.nan, what: "x", limit: 16e9))
        XCTAssertNoThrow(try MemoryBudget.check(one, what: "x", limit: one))
        XCTAssertEqual(MemoryBudget.available(meminfo: "MemTotal: 10 kB\nMemAvailable:    2048 kB\n"), 2048 * 1024)
        XCTAssertGreaterThan(MemoryBudget.defaultLimit(), 0)
    }
}

/// The `sparse-mixers` executable's flags, run as the user runs them (the binary `swift build --build-tests`
/// built beside the tests). Each case must exit non-zero with an error naming the flag, before any work.
final class CommandLineFlagTests: XCTestCase {
    func binary() throws -> URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for dir in [".build/debug", ".build/x86_64-unknown-linux-gnu/debug", ".build/aarch64-unknown-linux-gnu/debug"] {
            let u = root.appendingPathComponent(dir).appendingPathComponent("sparse-mixers")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        throw XCTSkip("sparse-mixers executable not built")
    }

    func run(_ args: [String], in dir: URL) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = args
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        env["SPARSE_MIXERS_DATA"] = dir.appendingPathComponent("no-data").path   // nothing may be loaded
        env["SPARSE_MIXERS_CACHE"] = dir.appendingPathComponent("cache").path
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testBadFlagsExitWithAnErrorNamingTheFlag() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smx-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmp = FileManager.default.temporaryDirectory.path
        let cases: [([String], String)] = [
            (["pretrain", "--batch", "1099511627776"], "--batch must be in 1...1048576, got 1099511627776"),
            (["pretrain", "--batch", "1000000"], "needs about"),                       // in bounds, over memory
            (["pretrain", "--memory-budget-gb", "0.000001"], "over the memory limit of 0.0 GB"),
            (["pretrain", "--steps", "0"], "--steps must be in 1...1000000000, got 0"),
            (["pretrain", "--threads", "0"], "--threads must be in 1...1024, got 0"),
            (["pretrain", "--eval-every", "0"], "--eval-every must be in"),
            (["pretrain", "--memory-budget-gb", "nan"], "--memory-budget-gb must be a finite number"),
            (["pretrain", "--output", "/proc/x"], "--output /proc/x: cannot create directory /proc/x"),
            (["finetune", "--checkpoint", "x.bin", "--threads", "0"], "--threads must be in 1...1024, got 0"),
            (["finetune", "--checkpoint", "x.bin", "--batch", "0"], "--batch must be in 1...1048576, got 0"),
            (["finetune", "--checkpoint", "x.bin", "--lr", "nan"], "--lr must be a finite number"),
            (["finetune", "--checkpoint", "x.bin", "--epochs", "0"], "--epochs must be in 1...10000, got 0"),
            (["finetune", "--checkpoint", "x.bin", "--expert-dropout", "1"],
             "--expert-dropout must be a finite number in [0.0, 1.0)"),
            (["finetune", "--checkpoint", "x.bin", "--task", "nope"], "--task: unknown task nope"),
            (["finetune", "--checkpoint", "x.bin", "--output", "/proc/x"], "--output /proc/x: cannot create directory"),
            (["data", "show", "--seq-len", "0"], "--seq-len must be in 5...65536, got 0"),
            (["data", "show", "--seq-len=-1"], "--seq-len must be in 5...65536, got -1"),
            (["data", "show", "--count=-1"], "--count must be in 0...1000000, got -1"),
            (["data", "show", "--max-predictions=-1"], "--max-predictions must be in 0...128, got -1"),
            (["data", "show", "--workers", "0"], "--workers must be in 1...1024, got 0"),
            (["data", "show", "--vocab-size", "0"], "--vocab-size must be in 16...1048576, got 0"),
            (["data", "summary", "--csv", "/proc/x/t.csv"], "--csv /proc/x/t.csv: cannot create directory /proc/x"),
            (["bench", "--batch", "0"], "--batch must be in 1...1048576, got 0"),
            (["bench", "--threads", "5000"], "--threads must be in 1...1024, got 5000"),
            (["speed-check", "--tolerance", "nan"], "--tolerance must be a finite number in (0.0, 1.0)"),
            (["speed-check", "--min-rounds", "1"], "--min-rounds must be in 2...10000, got 1"),
            (["speed-check", "--half-width", "0"], "--half-width must be a finite number in (0.0, 100.0)"),
            (["speed-check", "--time-limit", "nan"], "--time-limit must be a finite number in (0.0, 10000000.0]"),
            // (--output outside the test's folder: the table flags create their report folder first.)
            (["submit", "--nodes", "0", "--dry-run", "--output", tmp], "--nodes must be in 1...100000, got 0"),
            (["submit", "--tables", "Table99", "--dry-run", "--output", tmp], "--tables: unknown table 'Table99'"),
            (["submit", "--signal-seconds", "0", "--dry-run", "--output", tmp],
             "--signal-seconds must be in 1...86400, got 0"),
            (["submit", "--work-dir", "/proc/x", "--dry-run", "--output", tmp],
             "--work-dir /proc/x: cannot create directory /proc/x"),
            (["plan", "--nodes", "2", "--count-only", "--output", tmp],
             "--nodes needs the step times: drop --count-only"),
            (["job", "pretrain", "--table", "Table99", "--variant-index", "0", "--seed-index", "0", "--output",
              "/proc/x"],
             "--output /proc/x: cannot create directory"),
        ]
        for (args, message) in cases {
            let r = try run(args, in: dir)
            XCTAssertNotEqual(r.status, 0, "\(args) exited 0")
            XCTAssert(r.output.contains(message), "\(args): \(r.output)")
        }
        // Nothing was written where the commands ran (no run directory, no cache).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }
}
