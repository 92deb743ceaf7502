import Foundation
import SparseMixersData

// The harness's CSV (published_numbers.csv, the reports' tables) over the data module's libcsv wrapper
// (`DelimitedReader.parseQuotedCSV`, `CSVWriter.quote` in Delimited.swift, the only file that touches libcsv).

/// One parsed CSV record.
public struct CSVRecord: Equatable, Sendable {
    public var fields: [String]
    /// 1-based line on which the record ends. For a one-line record (every record of
    /// published_numbers.csv) that is its only line; a quoted field with newlines makes it the last one.
    public var line: Int
}

/// A CSV text that libcsv rejects, or a record that a loader rejects, named by file and line.
public struct CSVError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String
    public init(file: String, line: Int, message: String) {
        self.file = file; self.line = line; self.message = message
    }
    public var description: String { "\(file):\(line): \(message)" }
}

public enum CSV {
    /// Parses `text` with libcsv in strict mode (a stray quote or an unterminated quoted field is an error).
    /// Empty lines are skipped (libcsv's default). Fields are decoded as UTF-8.
    public static func parse(_ text: String, file: String = "<memory>") throws -> [CSVRecord] {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Reads and parses a file.
    public static func parse(contentsOf url: URL) throws -> [CSVRecord] {
        let data = try Data(contentsOf: url)
        return try parse(bytes: [UInt8](data), file: url.path)
    }

    public static func parse(bytes: [UInt8], file: String) throws -> [CSVRecord] {
        do {
            return try DelimitedReader.parseQuotedCSV(bytes: bytes, path: file).map {
                CSVRecord(fields: $0.fields, line: $0.line)
            }
        } catch let e as DataFileError {
            throw CSVError(file: e.path, line: e.line, message: e.reason)
        }
    }

    /// The field quoted by libcsv's `csv_write`: wrapped in double quotes, inner quotes doubled.
    public static func quote(_ field: String) -> String { CSVWriter.quote(field) }

    /// The field as it goes into a CSV line: quoted by libcsv when it holds a comma, quote, CR, LF,
    /// or leading/trailing whitespace (which libcsv would otherwise trim on reading), else verbatim.
    public static func escape(_ field: String) -> String {
        let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            || field.first?.isWhitespace == true || field.last?.isWhitespace == true
        return needsQuotes ? quote(field) : field
    }

    /// One CSV line, terminated by "\n".
    public static func line(_ fields: [String]) -> String {
        fields.map(escape).joined(separator: ",") + "\n"
    }

    /// A whole CSV document.
    public static func document(_ rows: [[String]]) -> String {
        rows.map(line).joined()
    }
}
