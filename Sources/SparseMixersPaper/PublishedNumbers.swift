import Foundation

/// One row of published_numbers.csv (columns table,variant,metric,value).
public struct PublishedNumber: Codable, Equatable, Sendable {
    /// Table id as in the CSV: "1" ... "19" or "A5".
    public var table: String
    /// Variant name exactly as in the CSV.
    public var variant: String
    /// Metric name (SPEC §8 "Metric names").
    public var metric: String
    public var value: Double
    /// 1-based line in the file.
    public var line: Int
}

public enum PublishedNumbersError: Error, CustomStringConvertible, Equatable {
    /// No reference directory with published_numbers.csv was found; `searched` lists the paths tried.
    case referenceDirectoryNotFound(searched: [String])

    public var description: String {
        switch self {
        case .referenceDirectoryNotFound(let searched):
            return "published_numbers.csv not found; searched: \(searched.joined(separator: ", ")). "
                + "Pass a path or set SPARSE_MIXERS_REFERENCE."
        }
    }
}

/// The paper's numbers as transcribed in `../shared/reference/published_numbers.csv` (SPEC §8).
public struct PublishedNumbers: Sendable {
    public static let fileName = "published_numbers.csv"
    public static let environmentVariable = "SPARSE_MIXERS_REFERENCE"

    public let rows: [PublishedNumber]
    public let file: String
    private let index: [Key: Int]

    private struct Key: Hashable { let table: String, variant: String, metric: String }

    /// Parses a CSV text. Throws `CSVError` naming `file` and the line of the first malformed row:
    /// wrong header, wrong field count, empty table/variant/metric, a value that is not a finite number,
    /// or a duplicate (table, variant, metric).
    public init(csvText: String, file: String = "<memory>") throws {
        let records = try CSV.parse(csvText, file: file)
        try self.init(records: records, file: file)
    }

    /// Loads `published_numbers.csv` from `directory`, or from `locateReferenceDirectory()` when nil.
    public static func load(referenceDirectory directory: URL? = nil) throws -> PublishedNumbers {
        let dir = try directory ?? locateReferenceDirectory()
        let url = dir.appendingPathComponent(fileName)
        let records = try CSV.parse(contentsOf: url)
        return try PublishedNumbers(records: records, file: url.path)
    }

    private init(records: [CSVRecord], file: String) throws {
        self.file = file
        guard let header = records.first else {
            throw CSVError(file: file, line: 1, message: "empty file, expected header table,variant,metric,value")
        }
        guard header.fields == ["table", "variant", "metric", "value"] else {
            throw CSVError(file: file, line: header.line,
                           message: "header must be table,variant,metric,value, got "
                                    + "\(header.fields.joined(separator: ","))")
        }
        var rows: [PublishedNumber] = []
        var index: [Key: Int] = [:]
        for r in records.dropFirst() {
            guard r.fields.count == 4 else {
                throw CSVError(file: file, line: r.line,
                               message: "expected 4 fields, got \(r.fields.count): \(r.fields)")
            }
            let (t, v, m, s) = (r.fields[0], r.fields[1], r.fields[2], r.fields[3])
            for (name, f) in [("table", t), ("variant", v), ("metric", m)] where f.isEmpty {
                throw CSVError(file: file, line: r.line, message: "empty \(name) field")
            }
            guard let value = Double(s.trimmingCharacters(in: .whitespaces)), value.isFinite else {
                throw CSVError(file: file, line: r.line, message: "value '\(s)' is not a finite number")
            }
            let key = Key(table: t, variant: v, metric: m)
            if let previous = index[key] {
                throw CSVError(file: file, line: r.line,
                               message: "duplicate (\(t), \(v), \(m)); first on line \(rows[previous].line)")
            }
            index[key] = rows.count
            rows.append(PublishedNumber(table: t, variant: v, metric: m, value: value, line: r.line))
        }
        self.rows = rows
        self.index = index
    }

    /// The published value, or nil when the paper has none for this (table, variant, metric).
    public func value(table: String, variant: String, metric: String) -> Double? {
        index[Key(table: table, variant: variant, metric: metric)].map { rows[$0].value }
    }

    public func value(table: TableID, variant: String, metric: String) -> Double? {
        guard let t = table.csvTable else { return nil }
        return value(table: t, variant: variant, metric: metric)
    }

    /// All rows of one table, in file order.
    public func rows(table: String) -> [PublishedNumber] { rows.filter { $0.table == table } }

    /// Variant names of one table, in file order of first appearance.
    public func variants(table: String) -> [String] {
        var seen = Set<String>()
        return rows(table: table).compactMap { seen.insert($0.variant).inserted ? $0.variant : nil }
    }

    /// Table ids present, in file order.
    public var tables: [String] {
        var seen = Set<String>()
        return rows.compactMap { seen.insert($0.table).inserted ? $0.table : nil }
    }

    // MARK: Locating the reference directory

    /// The reference directory: `explicit` if given, else `$SPARSE_MIXERS_REFERENCE`, else
    /// `../shared/reference` relative to the package root, else relative to the current directory.
    /// A candidate counts only when it holds published_numbers.csv.
    public static func locateReferenceDirectory(explicit: String? = nil,
                                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                                packageRoot: URL? = PackagePaths.packageRoot,
                                                currentDirectory: String = FileManager.default.currentDirectoryPath)
        throws -> URL
    {
        var candidates: [String] = []
        if let explicit { candidates.append(explicit) }
        else {
            if let env = environment[environmentVariable], !env.isEmpty { candidates.append(env) }
            if let root = packageRoot { candidates.append(root.appendingPathComponent("../shared/reference").path) }
            candidates.append(URL(fileURLWithPath: currentDirectory).appendingPathComponent("../shared/reference").path)
        }
        for c in candidates {
            let url = URL(fileURLWithPath: c).standardizedFileURL
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(fileName).path) { return url }
        }
        throw PublishedNumbersError.referenceDirectoryNotFound(searched: candidates)
    }
}

/// Paths known at compile time.
public enum PackagePaths {
    /// The package root, derived from this source file's path (Sources/SparseMixersPaper/<file>),
    /// or nil when that directory no longer holds Package.swift (a binary moved elsewhere).
    public static var packageRoot: URL? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) ? root : nil
    }
}
