import CCSV
import Foundation

/// One parsed row of a delimited file with its 1-based physical line number.
public struct DelimitedRow: Equatable {
    public var line: Int
    public var fields: [String]
}

/// Reads tab-separated files through libcsv with quoting disabled and whitespace preserved.
///
/// GLUE TSVs are read as TFDS and the GLUE scripts read them (`csv` with `QUOTE_NONE`): fields may
/// contain unbalanced `"` characters, so the quote character is set to NUL (which never occurs in
/// text) and field-trimming is turned off. Blank lines are skipped; CRLF endings are accepted.
public enum DelimitedReader {
    /// Parses `data` into rows. Line numbers count `\n` characters.
    public static func parse(_ data: Data, delimiter: UInt8 = 0x09, path: String) throws -> [DelimitedRow] {
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

        let fieldCallback: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutableRawPointer?) -> Void = { ptr, len, data in
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
                // A lone empty field is what libcsv reports for a line holding only spaces; treat
                // every row of empty fields as a blank line.
                if !(ctx.fields.count == 1 && ctx.fields[0].isEmpty) {
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

    /// Reads and parses a file; a missing file is a `MissingDataError` naming `dataset`.
    public static func read(path: String, dataset: String, delimiter: UInt8 = 0x09) throws -> [DelimitedRow] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingDataError(dataset: dataset, path: path)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try parse(data, delimiter: delimiter, path: path)
    }
}

/// Writes CSV through libcsv's quoting (`csv_write`): every field is quoted, inner quotes doubled.
public enum CSVWriter {
    /// One CSV line (with trailing newline) for the given fields.
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\n"
    }

    static func quote(_ field: String) -> String {
        let src = Array(field.utf8)
        let needed = src.withUnsafeBytes { csv_write(nil, 0, $0.baseAddress, $0.count) }
        var dest = [UInt8](repeating: 0, count: needed)
        _ = dest.withUnsafeMutableBytes { d in
            src.withUnsafeBytes { s in csv_write(d.baseAddress, needed, s.baseAddress, s.count) }
        }
        return String(decoding: dest, as: UTF8.self)
    }

    /// Writes rows to `path` atomically (temp file, then rename).
    public static func write(rows: [[String]], to path: String) throws {
        let text = rows.map(line).joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
