import ArgumentParser
import Foundation
import SparseMixers

/// `sparse-mixers verify-golden DIR...`: forward, backward and one AdamW step on fixtures from the authors'
/// implementation; prints the largest absolute and relative error per tensor; exits 1 if any is out of tolerance.
struct VerifyGolden: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify-golden",
        abstract: "Check the model against golden fixtures from the authors' JAX/Flax implementation.")

    @Argument(help: "Fixture folders (a folder holding several fixtures is expanded).")
    var directories: [String]

    @Flag(help: "Print only failing tensors and the summary.")
    var quiet = false

    func run() throws {
        var cases: [URL] = []
        for d in directories {
            let url = URL(fileURLWithPath: d)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("manifest.json").path) {
                cases.append(url)
            } else if let items = try? FileManager.default.contentsOfDirectory(atPath: url.path) {
                cases += items.sorted().map { url.appendingPathComponent($0) }
                    .filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("manifest.json").path) }
            } else {
                throw ValidationError("no fixture at \(d)")
            }
        }
        if cases.isEmpty { throw ValidationError("no fixtures found in \(directories.joined(separator: ", "))") }
        var failures = 0
        for url in cases {
            let g = try GoldenCase(directory: url)
            let results = try GoldenVerifier.verify(g)
            let bad = results.filter { !$0.passed }
            failures += bad.count
            let worst = results.max { $0.scaledError < $1.scaledError }
            print("== \(g.name): \(results.count) tensors, \(bad.count) out of tolerance; worst scaled error "
                  + String(format: "%.2e", worst?.scaledError ?? 0) + " (\(worst?.name ?? "-"))")
            for r in results where !quiet || !r.passed {
                print(String(format: "  %@ %-60@ n=%-6d maxAbs=%.3e maxRel=%.3e scaled=%.3e",
                             r.passed ? "ok  " : "FAIL", r.name, r.count, r.maxAbsError, r.maxRelError, r.scaledError))
            }
        }
        print("verify-golden: \(cases.count) fixtures, \(failures) tensors out of tolerance "
              + "(relative \(GoldenVerifier.relativeTolerance), absolute floor \(GoldenVerifier.absoluteFloor))")
        if failures > 0 { throw ExitCode(1) }
    }
}
