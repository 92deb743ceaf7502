import Foundation

/// A problem with an input file: which file, which line (1-based; 0 when not line-specific) and why.
/// Loaders throw this instead of crashing on malformed input (brief item 9).
public struct DataFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var line: Int
    public var reason: String
    public init(path: String, line: Int, reason: String) {
        self.path = path; self.line = line; self.reason = reason
    }
    public var description: String {
        line > 0 ? "\(path):\(line): \(reason)" : "\(path): \(reason)"
    }
}

/// A whole dataset file is absent. Names the task/corpus and the path that was tried.
public struct MissingDataError: Error, CustomStringConvertible, Equatable {
    public var dataset: String
    public var path: String
    public var description: String {
        "\(dataset): data file not found at \(path) (see Data/README.md and ../shared/data/MANIFEST.md)"
    }
}

/// Failures of the SentencePiece shim or of the cache.
public struct DataPipelineError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
