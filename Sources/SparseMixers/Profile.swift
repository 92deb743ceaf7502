import Foundation

/// Coarse wall-clock phase timers for `sparse-mixers bench --profile`. Off by default; when off, `begin`/`end`
/// cost one branch. Phases are summed over calls until `reset()`. Single-threaded use only (the model's
/// forward/backward drive the phases from the calling thread).
public enum Profile {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) public private(set) static var seconds: [String: Double] = [:]
    nonisolated(unsafe) static var order: [String] = []

    @inline(__always)
    static func now() -> UInt64 { enabled ? DispatchTime.now().uptimeNanoseconds : 0 }

    /// Adds the time since `t0` (from `now()`) to `phase`.
    @inline(__always)
    static func add(_ phase: String, since t0: UInt64) {
        guard enabled else { return }
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        if seconds[phase] == nil { order.append(phase) }
        seconds[phase, default: 0] += dt
    }

    /// Times `body` as `phase` (when enabled).
    @inline(__always)
    public static func time<R>(_ phase: String, _ body: () throws -> R) rethrows -> R {
        guard enabled else { return try body() }
        let t0 = now()
        defer { add(phase, since: t0) }
        return try body()
    }

    public static func reset() { seconds = [:]; order = [] }

    /// Phases in first-seen order with their summed seconds.
    public static var report: [(String, Double)] { order.map { ($0, seconds[$0] ?? 0) } }
}
