import Foundation
import XCTest
@testable import SparseMixersPaper

final class CSVTests: XCTestCase {
    let tricky: [[String]] = [
        ["plain", "with,comma", "with \"quotes\"", "multi\nline", ""],
        [" leading space", "trailing space ", "crlf\r\nfield", "ünïcødé ×", "\""],
        ["a", "b", "c", "d", "e"],
    ]

    func testQuoteUsesLibcsv() {
        XCTAssertEqual(CSV.quote("a\"b"), "\"a\"\"b\"")
        XCTAssertEqual(CSV.quote(""), "\"\"")
        XCTAssertEqual(CSV.escape("plain"), "plain")
        XCTAssertEqual(CSV.escape("x,y"), "\"x,y\"")
    }

    func testRoundTripOfTrickyFields() throws {
        let text = CSV.document(tricky)
        let back = try CSV.parse(text)
        XCTAssertEqual(back.map(\.fields), tricky)
        // Record 1 spans lines 1-2, record 2 lines 3-4, record 3 is line 5.
        XCTAssertEqual(back.map(\.line), [2, 4, 5])
    }

    func testFileWithoutTrailingNewline() throws {
        XCTAssertEqual(try CSV.parse("a,b\nc,d").map(\.fields), [["a", "b"], ["c", "d"]])
    }
}
