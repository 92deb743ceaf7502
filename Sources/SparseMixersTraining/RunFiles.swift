import Foundation
import SparseMixersCore

/// Errors of the training drivers. Each names the file, field or step it is about.
public struct TrainingError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Small file helpers shared by the drivers: atomic, durable JSON writes (`DurableFile`) and an append-only JSONL
/// log whose tail can be cut back to a step. After a resume the log's train and eval records of every step hold
/// the same losses and scores, bit for bit, as an uninterrupted run's (the records after the checkpoint are
/// dropped and replayed once), but the log is not byte-identical: each resume adds a `{"kind":"resume"}` line,
/// and the wall-clock fields (`tokensPerSecond`, `stepSeconds`, `stallSeconds`, an eval's `trainSeconds`) differ.
public enum RunFiles {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]; return e
    }()
    static let lineEncoder: JSONEncoder = {
        let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return e
    }()

    /// Writes `value` as JSON to a temporary file beside `url`, fsyncs it, renames it over `url` and fsyncs the
    /// directory.
    public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        do { try DurableFile.write(try encoder.encode(value), to: url) } catch let e as DurableFile.Failure {
            throw TrainingError(e.description)
        }
    }

    public static func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw TrainingError("\(url.path): file not found")
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch {
            throw TrainingError("\(url.path): cannot be decoded as \(T.self) (\(error))")
        }
    }
}

/// One JSON object per line. Every record carries a `step`; `truncate(after:)` drops records of later steps.
public final class JSONLLog {
    public let url: URL
    private var handle: FileHandle?

    public init(url: URL) throws {
        self.url = url
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: url.path) {
            FileManager.default.createFile(atPath: url.path, contents: nil)
        }
    }

    deinit { try? handle?.close() }

    /// Keeps only the records with `step <= step` (atomically rewritten). Used on resume.
    public func truncate(after step: Int) throws {
        try? handle?.close(); handle = nil
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        var kept: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let s = obj["step"] as? Int else { continue }   // a torn last line from a kill is dropped too
            if s <= step { kept.append(line) }
        }
        let body = kept.isEmpty ? "" : kept.joined(separator: "\n") + "\n"
        do { try DurableFile.write(Data(body.utf8), to: url) } catch let e as DurableFile.Failure {
            throw TrainingError(e.description)
        }
    }

    public func append<T: Encodable>(_ record: T) throws {
        if handle == nil {
            guard let h = FileHandle(forWritingAtPath: url.path) else {
                throw TrainingError("\(url.path): cannot open for writing")
            }
            try h.seekToEnd()
            handle = h
        }
        var data = try RunFiles.lineEncoder.encode(record)
        data.append(0x0A)
        try handle!.write(contentsOf: data)
    }

    /// Every record of the log, decoded as `T` (lines of another shape are skipped).
    public func records<T: Decodable>(_ type: T.Type) -> [T] {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }
}

/// A one-line progress display: rewritten in place on a terminal, printed every `every` calls otherwise.
public struct ProgressLine {
    public let isTerminal = isatty(2) != 0
    public init() {}
    public func show(_ text: String, final: Bool = false) {
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (final ? "\n" : "")).utf8))
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}

/// Seconds formatted as h:mm:ss.
func clock(_ s: Double) -> String {
    guard s.isFinite, s >= 0 else { return "?" }
    let t = Int(s.rounded())
    return String(format: "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60)
}
