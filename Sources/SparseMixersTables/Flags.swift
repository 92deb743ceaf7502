import ArgumentParser
import Foundation
import SparseMixersPaper

/// Bounds of the command-line flags, checked in `validate()` before any work: every error names the flag, its
/// allowed range and the value given. The upper bounds are sanity limits (far above any paper setting); what
/// fits in memory is checked separately, from an estimate, by `MemoryBudget` before a run allocates.
public enum Flags {
    public static let maxThreads = 1_024
    public static let maxBatch = 1 << 20
    public static let maxSeq = 1 << 16
    public static let maxSteps = 1_000_000_000

    public static func int(_ value: Int, _ flag: String, _ range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw ValidationError("--\(flag) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }

    public static func int(_ value: Int?, _ flag: String, _ range: ClosedRange<Int>) throws {
        if let v = value { try int(v, flag, range) }
    }

    /// A finite number in `range` (NaN fails every comparison, so it is tested for explicitly).
    public static func double(_ value: Double, _ flag: String, _ range: ClosedRange<Double>, openLower: Bool = false,
                              openUpper: Bool = false) throws {
        let ok = value.isFinite && (openLower ? value > range.lowerBound : value >= range.lowerBound)
            && (openUpper ? value < range.upperBound : value <= range.upperBound)
        guard ok else {
            let l = openLower ? "(" : "[", u = openUpper ? ")" : "]"
            throw ValidationError("--\(flag) must be a finite number in \(l)\(range.lowerBound), "
                                  + "\(range.upperBound)\(u), got \(value)")
        }
    }

    public static func threads(_ value: Int, _ flag: String = "threads") throws { try int(value, flag, 1...maxThreads) }

    public static let maxRounds = 10_000
    public static let maxTimeLimit = 1e7

    /// The speed phase's stopping flags: `--min-rounds` in 2...10000 (an interval needs two rounds),
    /// `--max-rounds` in min-rounds...10000, `--half-width` a percent in (0, 100), `--time-limit` seconds in
    /// (0, 1e7].
    public static func rounds(minRounds: Int, maxRounds: Int?, halfWidth: Double?, timeLimit: Double?) throws {
        try int(minRounds, "min-rounds", 2...Self.maxRounds)
        try int(maxRounds, "max-rounds", minRounds...Self.maxRounds)
        if let h = halfWidth { try double(h, "half-width", 0...100, openLower: true, openUpper: true) }
        if let t = timeLimit { try double(t, "time-limit", 0...maxTimeLimit, openLower: true) }
    }

    /// The stopping rule of those flags, the scale's defaults where a flag is not given (a `--min-rounds` above
    /// the default maximum raises the maximum to it).
    public static func rule(_ scale: Scale, minRounds: Int?, maxRounds: Int?, halfWidth: Double?,
                            timeLimit: Double?) -> StoppingRule {
        let d = StoppingRule.defaults(scale)
        let minRounds = minRounds ?? d.minRounds
        return StoppingRule(minRounds: minRounds, maxRounds: maxRounds ?? max(d.maxRounds, minRounds),
                            halfWidth: halfWidth.map { $0 / 100 } ?? d.halfWidth,
                            timeLimitSeconds: timeLimit ?? d.timeLimitSeconds)
    }

    /// Creates the directory (with its parents) and checks that a file can be written in it, so a bad path fails
    /// at once rather than after hours of work.
    public static func writableDirectory(_ path: String, _ flag: String, given: String? = nil) throws {
        let shown = given ?? path
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("--\(flag) \(shown): \(path) exists and is not a directory")
        }
        // mkdir(2) component by component, so the error names the component and errno's reason.
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if fm.fileExists(atPath: prefix, isDirectory: &isDir) {
                if !isDir.boolValue { throw ValidationError("--\(flag) \(shown): \(prefix) is not a directory") }
                continue
            }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw ValidationError("--\(flag) \(shown): cannot create directory \(prefix) "
                                      + "(\(String(cString: strerror(errno))))")
            }
        }
        let probe = (path as NSString).appendingPathComponent(".write-probe-\(getpid())")
        guard fm.createFile(atPath: probe, contents: Data()) else {
            throw ValidationError("--\(flag) \(shown): cannot write in the directory \(path) "
                                  + "(\(String(cString: strerror(errno))))")
        }
        try? fm.removeItem(atPath: probe)
    }

    /// The directory a file is to be written in exists and is writable.
    public static func writableFile(_ path: String, _ flag: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try writableDirectory(dir.isEmpty ? "." : dir, flag, given: path)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError("--\(flag) \(path): is a directory")
        }
    }
}
