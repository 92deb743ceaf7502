import CCSV
import Foundation

// The only file that touches libcsv's C types (`csv_parser`, the callback pointers, `csv_write`).
// Everything else in the harness sees `[CSVRecord]` and `String`.

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
        var parser = csv_parser()
        guard csv_init(&parser, UInt8(CSV_STRICT | CSV_STRICT_FINI)) == 0 else {
            throw CSVError(file: file, line: 0, message: "csv_init failed")
        }
        defer { csv_free(&parser) }
        let state = ParseState()
        let context = Unmanaged.passUnretained(state).toOpaque()

        // Feed the parser one line at a time so the callbacks know the current line number.
        var start = 0
        var lineNumber = 1
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            if end < bytes.count { end += 1 }  // include the newline
            state.line = lineNumber
            let consumed = bytes[start..<end].withUnsafeBytes { buf in
                csv_parse(&parser, buf.baseAddress, buf.count, csvFieldCallback, csvRecordCallback, context)
            }
            if consumed != end - start {
                throw CSVError(file: file, line: lineNumber,
                               message: "malformed CSV: \(String(cString: csv_strerror(csv_error(&parser))))")
            }
            start = end
            lineNumber += 1
        }
        state.line = max(1, lineNumber - 1)
        if csv_fini(&parser, csvFieldCallback, csvRecordCallback, context) != 0 {
            throw CSVError(file: file, line: state.line,
                           message: "malformed CSV at end of file: \(String(cString: csv_strerror(csv_error(&parser))))")
        }
        return state.records
    }

    /// The field quoted by libcsv's `csv_write`: wrapped in double quotes, inner quotes doubled.
    public static func quote(_ field: String) -> String {
        let src = Array(field.utf8)
        var dest = [UInt8](repeating: 0, count: 2 * src.count + 2)
        let written = src.withUnsafeBytes { s in
            dest.withUnsafeMutableBytes { d in csv_write(d.baseAddress, d.count, s.baseAddress, s.count) }
        }
        precondition(written <= dest.count, "csv_write needs \(written) bytes, buffer has \(dest.count)")
        return String(decoding: dest[0..<written], as: UTF8.self)
    }

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

private final class ParseState {
    var records: [CSVRecord] = []
    var current: [String] = []
    var line = 1
}

private let csvFieldCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = {
    field, length, context in
    let state = Unmanaged<ParseState>.fromOpaque(context!).takeUnretainedValue()
    if let field, length > 0 {
        state.current.append(String(decoding: UnsafeRawBufferPointer(start: field, count: length), as: UTF8.self))
    } else {
        state.current.append("")
    }
}

private let csvRecordCallback: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { _, context in
    let state = Unmanaged<ParseState>.fromOpaque(context!).takeUnretainedValue()
    state.records.append(CSVRecord(fields: state.current, line: state.line))
    state.current = []
}
