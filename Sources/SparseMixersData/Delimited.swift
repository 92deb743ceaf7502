import CCSV
import Foundation
import SparseMixersCore

// The only file that touches libcsv's C types (`csv_parser`, the callback pointers, `csv_write`): the GLUE
// loaders, `data summary --csv` and the harness's CSV (published numbers, report tables) all read and write
// through it, and see `[DelimitedRow]` and `String`.

/// One parsed row of a delimited file with its 1-based physical line number.
public struct DelimitedRow: Equatable {
    public var line: Int
    public var fields: [String]
}

/// Reads tab-separated files through libcsv with quoting disabled and whitespace preserved.
///
/// GLUE TSVs are read as TFDS and the GLUE scripts read them (`csv` with `QUOTE_NONE`): fields may
/// contain unbalanced `"` characters, so the quote character is set to NUL and field-trimming is turned off.
/// Because libcsv would then treat a NUL byte as a quote (and silently merge the rows up to the next NUL), and
/// a lone carriage return as a row end, the bytes are checked first: a NUL byte, a carriage return not
/// followed by a line feed, or invalid UTF-8 is a `DataFileError` naming the line and byte column.
/// Blank and whitespace-only lines (spaces and tabs) are skipped; CRLF endings are accepted.
public enum DelimitedReader {
    /// Parses `data` into rows. Line numbers count `\n` characters.
    public static func parse(_ data: Data, delimiter: UInt8 = 0x09, path: String) throws -> [DelimitedRow] {
        try checkBytes(data, path: path)
        final class Context {
            var rows: [DelimitedRow] = []
            var fields: [String] = []
            var line = 1
        }
        let ctx = Context()
        var parser = csv_parser()
        guard csv_init(&parser, UInt8(CSV_REPALL_NL)) == 0 else {
            throw DataFileError(path: path, line: 0, reason: "libcsv could not initialise a parser")
        }
        defer { csv_free(&parser) }
        csv_set_delim(&parser, delimiter)
        csv_set_quote(&parser, 0)  // quoting disabled
        csv_set_space_func(&parser) { _ in 0 }  // keep leading/trailing spaces and tabs

        let fieldCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = {
            ptr, len, data in
            let ctx = Unmanaged<Context>.fromOpaque(data!).takeUnretainedValue()
            if let p = ptr, len > 0 {
                ctx.fields.append(String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self))
            } else {
                ctx.fields.append("")
            }
        }
        let rowCallback: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { c, data in
            let ctx = Unmanaged<Context>.fromOpaque(data!).takeUnretainedValue()
            if !ctx.fields.isEmpty {
                // A row whose fields hold only spaces and tabs is a blank line (skipped, counted by the caller).
                if !ctx.fields.allSatisfy(DelimitedReader.isBlank) {
                    ctx.rows.append(DelimitedRow(line: ctx.line, fields: ctx.fields))
                }
                ctx.fields.removeAll(keepingCapacity: true)
            }
            if c == 0x0A { ctx.line += 1 }
        }
        let opaque = Unmanaged.passUnretained(ctx).toOpaque()
        let consumed = data.withUnsafeBytes { buf -> Int in
            guard let base = buf.baseAddress else { return 0 }
            return csv_parse(&parser, base, buf.count, fieldCallback, rowCallback, opaque)
        }
        if consumed != data.count {
            throw DataFileError(path: path, line: ctx.line,
                                reason: "libcsv: \(String(cString: csv_strerror(csv_error(&parser))))")
        }
        csv_fini(&parser, fieldCallback, rowCallback, opaque)
        return ctx.rows
    }

    /// Whether a field holds only spaces and tabs (or nothing).
    static func isBlank(_ field: String) -> Bool {
        field.utf8.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    /// Rejects what libcsv (with quoting off) would misread: NUL bytes, carriage returns that do not end a
    /// line, and bytes that are not UTF-8. The error names the 1-based line and byte column.
    static func checkBytes(_ data: Data, path: String) throws {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let b = raw.bindMemory(to: UInt8.self)
            func position(_ i: Int) -> (line: Int, column: Int) {
                var line = 1, start = 0
                for j in 0..<i where b[j] == 0x0A { line += 1; start = j + 1 }
                return (line, i - start + 1)
            }
            for i in 0..<b.count where b[i] == 0 || b[i] == 0x0D {
                if b[i] == 0x0D && (i + 1 == b.count || b[i + 1] == 0x0A) { continue }
                let p = position(i)
                throw DataFileError(path: path, line: p.line,
                                    reason: b[i] == 0 ? "NUL byte at column \(p.column)"
                                                      : "carriage return inside the line at column \(p.column)")
            }
            if String(validating: b, as: UTF8.self) != nil { return }
            // Find the first invalid sequence, line by line.
            var start = 0
            while start < b.count {
                var end = start
                while end < b.count && b[end] != 0x0A { end += 1 }
                let line = UnsafeBufferPointer(rebasing: b[start..<end])
                if String(validating: line, as: UTF8.self) == nil {
                    var column = 0
                    var it = line.makeIterator()
                    var decoder = UTF8()
                    decoding: while true {
                        switch decoder.decode(&it) {
                        case .scalarValue(let s): column += UTF8.width(s)
                        case .emptyInput: break decoding
                        case .error: break decoding
                        }
                    }
                    throw DataFileError(path: path, line: position(start).line,
                                        reason: "invalid UTF-8 at column \(column + 1)")
                }
                start = end + 1
            }
        }
    }

    /// Parses comma-separated `bytes` with quoting, as libcsv's strict mode reads them (published_numbers.csv,
    /// the reports' CSVs): a stray quote or an unterminated quoted field is a `DataFileError` naming `path` and
    /// the line. Empty lines are skipped (libcsv's default); fields are decoded as UTF-8. A row's `line` is the
    /// line on which it ends: its only line, or the last one of a quoted field with newlines.
    public static func parseQuotedCSV(bytes: [UInt8], path: String) throws -> [DelimitedRow] {
        var parser = csv_parser()
        guard csv_init(&parser, UInt8(CSV_STRICT | CSV_STRICT_FINI)) == 0 else {
            throw DataFileError(path: path, line: 0, reason: "csv_init failed")
        }
        defer { csv_free(&parser) }
        let state = QuotedParseState()
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
                csv_parse(&parser, buf.baseAddress, buf.count, quotedFieldCallback, quotedRecordCallback, context)
            }
            if consumed != end - start {
                throw DataFileError(path: path, line: lineNumber,
                                    reason: "malformed CSV: \(String(cString: csv_strerror(csv_error(&parser))))")
            }
            start = end
            lineNumber += 1
        }
        state.line = max(1, lineNumber - 1)
        if csv_fini(&parser, quotedFieldCallback, quotedRecordCallback, context) != 0 {
            let error = String(cString: csv_strerror(csv_error(&parser)))
            throw DataFileError(path: path, line: state.line, reason: "malformed CSV at end of file: \(error)")
        }
        return state.rows
    }

    /// Reads and parses a file; a missing file is a `MissingDataError` naming `dataset`.
    public static func read(path: String, dataset: String, delimiter: UInt8 = 0x09) throws -> [DelimitedRow] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingDataError(dataset: dataset, path: path)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try parse(data, delimiter: delimiter, path: path)
    }
}

private final class QuotedParseState {
    var rows: [DelimitedRow] = []
    var current: [String] = []
    var line = 1
}

private let quotedFieldCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = {
    field, length, context in
    let state = Unmanaged<QuotedParseState>.fromOpaque(context!).takeUnretainedValue()
    if let field, length > 0 {
        state.current.append(String(decoding: UnsafeRawBufferPointer(start: field, count: length), as: UTF8.self))
    } else {
        state.current.append("")
    }
}

private let quotedRecordCallback: @convention(c) (Int32, UnsafeMutableRawPointer?) -> Void = { _, context in
    let state = Unmanaged<QuotedParseState>.fromOpaque(context!).takeUnretainedValue()
    state.rows.append(DelimitedRow(line: state.line, fields: state.current))
    state.current = []
}

/// Writes CSV through libcsv's quoting (`csv_write`): every field is quoted, inner quotes doubled.
public enum CSVWriter {
    /// One CSV line (with trailing newline) for the given fields.
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\n"
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

    /// Writes rows to `path` atomically and durably (`DurableFile`: temp file, fsync, rename, directory fsync).
    public static func write(rows: [[String]], to path: String) throws {
        let text = rows.map(line).joined()
        try DurableFile.write(Data(text.utf8), to: URL(fileURLWithPath: path))
    }
}
