import Foundation
import XCTest
import SparseMixers
import SparseMixersPaper
@testable import SparseMixersReports

final class ReportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("harness-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func sampleEnvironment() -> EnvironmentInfo {
        EnvironmentInfo.capture(threadsUsed: 2, blasConfiguration: "OpenBLAS test", blasThreads: 2,
                                fftwVersion: "fftw-3.3.10")
    }

    func sampleReport() throws -> Report {
        let p = try PublishedNumbers.load()
        var r = Report(spec: TableSpec.spec(.t9), scale: .ci, environment: sampleEnvironment())
        r.add(variant: "Sparse Mixer", metric: "glue_avg", ours: 71.25, published: p,
              notes: "tricky, \"quoted\"\nsecond line | pipe")
        r.add(variant: "BERT", metric: "glue_avg", ours: nil, published: p)
        r.addSpeed(variant: "BERT", timing: TimingSummary(samples: [40, 42, 41]), flopRatio: 1, shape: "B=8 L=64",
                   published: p)
        r.addSpeed(variant: "Sparse Mixer", timing: TimingSummary(samples: [20, 21, 25, 19]),
                   flopRatio: 1.6, shape: "B=8 L=64", published: p)
        r.skip("SuperGLUE: dataset super_glue/record", because: "not in Data/ (offline)")
        r.computeSpeedups()
        return r
    }

    func testReportFieldsAndSpeedups() throws {
        let r = try sampleReport()
        XCTAssertEqual(r.referenceVariant, "BERT")
        XCTAssertEqual(r.rows[0].published, 85.0)
        XCTAssertEqual(r.rows[0].unit, "%")
        XCTAssertEqual(r.rows[0].difference!, 71.25 - 85.0, accuracy: 1e-9)
        XCTAssertNil(r.rows[1].ours)
        XCTAssertEqual(r.speedRows[1].timing.median, 20.5)
        XCTAssertEqual(r.speedRows[1].ourSpeedup!, 41 / 20.5, accuracy: 1e-12)
        XCTAssertEqual(r.speedRows[0].ourSpeedup, 1)
        XCTAssertEqual(r.speedRows[1].paperSpeedup, 1.65)
        XCTAssertEqual(r.speedRows[1].paperMs, 184)
        XCTAssertTrue(r.headlines.contains("Sparse Mixer: speedup 2.00 (paper 1.65)"))
        XCTAssertTrue(r.scaleRule.contains("Scale `ci`"))
    }

    func testWritesThreeFilesAtomicallyAndCSVReadsBack() throws {
        let r = try sampleReport()
        let w = try ReportWriter(directory: dir).write(r)
        XCTAssertEqual(w.csv.lastPathComponent, "Table9.csv")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        XCTAssertEqual(names, ["Table9.csv", "Table9.json", "Table9.md"])  // no temporary file left

        // CSV read back with libcsv: the tricky note survives quoting.
        let records = try CSV.parse(contentsOf: w.csv)
        XCTAssertEqual(records[0].fields, ReportWriter.csvHeader)
        let sm = records.first { $0.fields[2] == "Sparse Mixer" && $0.fields[3] == "glue_avg" }!
        XCTAssertEqual(sm.fields[4], "71.25")
        XCTAssertEqual(sm.fields[5], "85.0")
        XCTAssertEqual(sm.fields[7], "tricky, \"quoted\"\nsecond line | pipe")
        XCTAssertTrue(records.allSatisfy { $0.fields.count == ReportWriter.csvHeader.count })
        let speed = records.first { $0.fields[2] == "Sparse Mixer" && $0.fields[3] == "speedup" }!
        XCTAssertEqual(Double(speed.fields[4])!, 2, accuracy: 1e-12)
        XCTAssertEqual(speed.fields[5], "1.65")
        XCTAssertTrue(records.contains { $0.fields[1] == "not_run" && $0.fields[2].contains("super_glue/record") })

        // JSON round trip.
        let back = try ReportWriter.decode(Data(contentsOf: w.json))
        XCTAssertEqual(back, r)
        XCTAssertEqual(back.scaleSettings?.seqLength, 64)
        let json = try String(contentsOf: w.json, encoding: .utf8)
        XCTAssertTrue(json.contains("\"large\" : ["))  // LR sets keyed by name

        // Markdown: ours beside the paper, the scale rule, environment and the skipped item.
        let md = try String(contentsOf: w.markdown, encoding: .utf8)
        XCTAssertTrue(md.contains("| Sparse Mixer | glue_avg | 71.2 | 85.0 | -13.8 | % |"))
        XCTAssertTrue(md.contains("second line \\| pipe"))
        // No reference median or interval recorded for this row: both cells are "–" (issue 13 added the columns).
        XCTAssertTrue(md.contains("| Sparse Mixer | ms_per_batch | 20.5 | 19 | 25 | 4 | – | 2.00 | – | "
                                  + "1.65 | 1.60 | 184 |"), md)
        XCTAssertTrue(md.contains("super_glue/record"))
        XCTAssertTrue(md.contains("## Scale rule"))
        XCTAssertTrue(md.contains("FFTW: fftw-3.3.10"))

        // Rewriting replaces in place and still leaves no temporary files.
        try ReportWriter(directory: dir).write(r)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).count, 3)
    }

    func testCorrelationsAreNotPercentages() {
        XCTAssertEqual(Metric.unit("stsb_spearman"), "corr x100")
        XCTAssertEqual(Metric.unit("cola_mcc"), "corr x100")
        XCTAssertEqual(Metric.unit("sst2_acc"), "%")
        XCTAssertEqual(Format.value(18.93, unit: "corr x100"), "18.9")
        XCTAssertEqual(ReportRow(variant: "v", metric: "stsb_spearman", ours: 1, published: 2).unit, "corr x100")
    }

    func testAtomicFileReplacesAndCleansUp() throws {
        let url = dir.appendingPathComponent("x.txt")
        try AtomicFile.write("one", to: url)
        try AtomicFile.write("two", to: url)
        XCTAssertEqual(try String(contentsOf: url, encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["x.txt"])
        // A failing rename (destination is a non-empty directory) leaves no temporary file behind.
        let blocker = dir.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocker.appendingPathComponent("inner"),
                                                withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.write("x", to: blocker))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["blocked", "x.txt"])
        // A killed writer's temporary file (its process gone) is removed by the next report write; a live
        // process's is kept.
        var dead: Int32 = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        let uuid = UUID().uuidString
        let stale = ".tmp-Table3-curve-tokens.svg-\(dead)-\(uuid)", live = ".tmp-Table3.md-\(getpid())-\(uuid)"
        for n in [stale, live] {
            FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: Data("x".utf8))
        }
        var r = Report(tableID: .t3, title: "t", scale: .ci)
        r.rows = []
        try ReportWriter(directory: dir).write(r)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertFalse(names.contains(stale))
        XCTAssertTrue(names.contains(live))
        XCTAssertEqual(AtomicFile.removeStaleTemporaries(in: dir), [], "nothing stale left")
    }

    func testIndexAndFigure() throws {
        let writer = ReportWriter(directory: dir)
        try writer.write(try sampleReport())
        var fig = Report(spec: TableSpec.spec(.figure2), scale: .ci, environment: nil)
        let spec = TableSpec.spec(.figure2)
        for (i, v) in spec.variants.enumerated() {
            fig.add(variant: v.name, metric: "mlm_acc", ours: 30 + Double(i), published: nil)
            fig.addSpeed(variant: v.name, timing: TimingSummary(samples: [Double(10 + i)]), published: nil)
        }
        fig.computeSpeedups()
        try writer.write(fig)
        let svgURL = try Figures.write(fig, spec: spec, to: dir)
        let svg = try String(contentsOf: svgURL, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<?xml"))
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 12 + 2)  // points + legend
        XCTAssertTrue(svg.contains(">18L/768<"))
        XCTAssertTrue(svg.contains("BERT") && svg.contains("Sparse Mixer"))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)

        let index = try ReportIndex.write(directory: dir)
        let md = try String(contentsOf: index, encoding: .utf8)
        XCTAssertTrue(md.contains("[9](Table9.md)"))
        XCTAssertTrue(md.contains("[Figure2](Figure2.md)"))
        XCTAssertTrue(md.contains("speedup 2.00 (paper 1.65)"))
        XCTAssertLessThan(md.range(of: "Table9.md")!.lowerBound, md.range(of: "Figure2.md")!.lowerBound)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .contains { $0.hasPrefix(AtomicFile.temporaryPrefix) })
    }

    func testEnvironmentCapture() {
        let e = sampleEnvironment()
        XCTAssertNotEqual(e.cpuModel, "")
        XCTAssertGreaterThan(e.logicalCores, 0)
        XCTAssertGreaterThan(e.memoryBytes, 0)
        XCTAssertEqual(e.threadsUsed, 2)
        XCTAssertEqual(e.blasConfiguration, "OpenBLAS test")
        XCTAssertTrue(e.swiftCompiler.hasPrefix("Swift"))
        XCTAssertNotEqual(e.gitCommit, "unknown")  // the tests run inside the package's git worktree
        XCTAssertEqual(e.isDebugBuild, EnvironmentInfo.isDebugBuild)
        #if DEBUG
        XCTAssertEqual(e.buildConfiguration, "debug")
        #endif
        XCTAssertEqual(EnvironmentInfo.gitCommit(in: URL(fileURLWithPath: "/")), "unknown")
        XCTAssertEqual(EnvironmentInfo.cpuModel(cpuinfo: "processor\t: 0\nmodel name\t: Test CPU @ 2GHz\n"),
                       "Test CPU @ 2GHz")
        XCTAssertEqual(EnvironmentInfo.osName(osRelease: "NAME=x\nPRETTY_NAME=\"Debian GNU/Linux 12\"\n"),
                       "Debian GNU/Linux 12")
        // The default BLAS answers come from OpenBLAS itself.
        XCTAssertFalse(EnvironmentInfo.capture(threadsUsed: 1).blasConfiguration.isEmpty)
    }
}
