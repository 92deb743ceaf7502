import Foundation

/// Something a run was asked for and did not produce (a task without data, a diverged seed), with the reason.
/// Reports list these under "Not run".
public struct SkippedItem: Codable, Equatable, Sendable {
    /// E.g. "GLUE: dataset glue/cola", or a variant name.
    public var item: String
    public var reason: String
    public init(item: String, reason: String) { self.item = item; self.reason = reason }
}
