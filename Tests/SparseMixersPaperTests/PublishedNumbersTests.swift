import Foundation
import XCTest
@testable import SparseMixersPaper

final class PublishedNumbersTests: XCTestCase {
    func testLoadsAllRowsAndSpotValues() throws {
        let p = try PublishedNumbers.load()
        XCTAssertEqual(p.rows.count, 1_669)
        XCTAssertEqual(p.tables.count, 20)  // 1..19 and A5
        XCTAssertEqual(p.value(table: "1", variant: "Fourier", metric: "glue_avg"), 78.4)
        XCTAssertEqual(p.value(table: "1", variant: "Fourier", metric: "ms_per_batch"), 173)
        XCTAssertEqual(p.value(table: "8", variant: "Sparse Mixer", metric: "params_m"), 180)
        XCTAssertEqual(p.value(table: "8", variant: "BERT", metric: "gflops_per_ex"), 102)
        XCTAssertEqual(p.value(table: .t9, variant: "SM variant C (c=0.75 + unknown 2nd change)",
                               metric: "ms_per_batch"), 165)
        XCTAssertEqual(p.value(table: "10", variant: "BERT-12 (sparse BERT)", metric: "stable_64"), 1)
        XCTAssertEqual(p.value(table: "16", variant: "T5:6-MIXED-odd", metric: "glue_avg"), 83.2)
        XCTAssertEqual(p.value(table: "18", variant: "SM variant A (guess c=0.75) bs16", metric: "cb_acc"), 85.7)
        XCTAssertEqual(p.value(table: "A5", variant: "Base", metric: "sm_layers"), 14)
        XCTAssertNil(p.value(table: "14", variant: "64 experts", metric: "glue_avg"))
        XCTAssertNil(p.value(table: .figure2, variant: "BERT Base", metric: "mlm_acc"))
        XCTAssertEqual(p.rows.first?.line, 2)
        XCTAssertEqual(p.rows.last?.line, 1_670)
    }

    func testEveryRowMatchesTheRawFile() throws {
        // Independent check: split the file by hand (it has no quoted fields) and compare every row.
        let dir = try PublishedNumbers.locateReferenceDirectory()
        let text = try String(contentsOf: dir.appendingPathComponent("published_numbers.csv"), encoding: .utf8)
        let p = try PublishedNumbers.load(referenceDirectory: dir)
        let lines = text.split(whereSeparator: \.isNewline).dropFirst()  // the file has CRLF endings
        XCTAssertEqual(lines.count, p.rows.count)
        for (line, row) in zip(lines, p.rows) {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(f.count, 4)
            XCTAssertEqual([row.table, row.variant, row.metric], Array(f[0..<3]))
            XCTAssertEqual(row.value, Double(f[3]))
        }
    }

    func testMalformedRowsNameFileAndLine() {
        let header = "table,variant,metric,value\n"
        func error(_ body: String) -> CSVError? {
            do { _ = try PublishedNumbers(csvText: header + body, file: "x.csv"); return nil }
            catch let e as CSVError { return e } catch { XCTFail("\(error)"); return nil }
        }
        let notNumber = error("1,A,glue_avg,78.4\n1,B,glue_avg,abc\n")
        XCTAssertEqual(notNumber?.file, "x.csv")
        XCTAssertEqual(notNumber?.line, 3)
        XCTAssertTrue(notNumber?.description.hasPrefix("x.csv:3:") ?? false)

        XCTAssertEqual(error("1,A,glue_avg\n")?.line, 2)                      // 3 fields
        XCTAssertEqual(error("1,A,glue_avg,1\n1,A,glue_avg,2\n")?.line, 3)     // duplicate
        XCTAssertEqual(error("1,,glue_avg,1\n")?.line, 2)                     // empty variant
        XCTAssertEqual(error("1,A,x,1\n1,A,y,inf\n")?.line, 3)                // not finite
        XCTAssertEqual(error("1,A,x,1\n1,\"A\"b,y,2\n")?.line, 3)             // libcsv strict-mode quote error
        XCTAssertEqual(error("1,A,x,1\n1,\"A,y,2\n")?.line, 3)                // unterminated quote at EOF
        XCTAssertNotNil(try? PublishedNumbers(csvText: header + "1,\"A, b\",x,1\n"))
        do { _ = try PublishedNumbers(csvText: "t,v,m,val\n", file: "y.csv"); XCTFail("bad header accepted") }
        catch let e as CSVError { XCTAssertEqual(e.line, 1) } catch { XCTFail("\(error)") }
    }

    func testLocateReferenceDirectory() throws {
        let real = try PublishedNumbers.locateReferenceDirectory()
        XCTAssertTrue(FileManager.default.fileExists(atPath: real.appendingPathComponent("published_numbers.csv").path))
        // Explicit path wins.
        XCTAssertEqual(try PublishedNumbers.locateReferenceDirectory(explicit: real.path).path, real.path)
        // Environment variable next.
        let viaEnv = try PublishedNumbers.locateReferenceDirectory(environment: ["SPARSE_MIXERS_REFERENCE": real.path],
                                                                   packageRoot: nil, currentDirectory: "/nonexistent")
        XCTAssertEqual(viaEnv.path, real.path)
        // Current directory fallback: <cwd>/../shared/reference.
        let cwd = real.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("wt-x").path
        XCTAssertEqual(try PublishedNumbers.locateReferenceDirectory(environment: [:], packageRoot: nil,
                                                                     currentDirectory: cwd).path, real.path)
        // Nothing found: the error lists what was searched.
        XCTAssertThrowsError(try PublishedNumbers.locateReferenceDirectory(
            environment: ["SPARSE_MIXERS_REFERENCE": "/no/a"], packageRoot: nil, currentDirectory: "/no/b")) {
            guard case .referenceDirectoryNotFound(let searched)? = $0 as? PublishedNumbersError else {
                return XCTFail()
            }
            XCTAssertEqual(searched.count, 2)
            XCTAssertEqual(searched.first, "/no/a")
        }
    }
}
