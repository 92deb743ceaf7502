import CCSV
import Foundation
import SparseMixersCore

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

    /// Writes rows to `path` atomically and durably (`DurableFile`: temp file, fsync, rename, directory fsync).
    public static func write(rows: [[String]], to path: String) throws {
        let text = rows.map(line).joined()
        try DurableFile.write(Data(text.utf8), to: URL(fileURLWithPath: path))
    }
}
