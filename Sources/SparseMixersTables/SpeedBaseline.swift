import Foundation
import SparseMixersPaper
import SparseMixersReports

/// A measured speed-up of one variant against the reference, with the shapes it was measured at.
public struct MeasuredSpeedup: Codable, Equatable, Sendable {
    public var variant: String
    /// Reference time / variant time, same run.
    public var speedup: Double
    /// Shapes of the timed step, e.g. "B=8 L=64 D=32 scale=ci"; must match the baseline's to be compared.
    public var shape: String
    /// The 95% interval over rounds and whether it reached the asked half-width (nil: not measured with one).
    public var interval: SpeedupInterval?
    public init(variant: String, speedup: Double, shape: String, interval: SpeedupInterval? = nil) {
        self.variant = variant; self.speedup = speedup; self.shape = shape; self.interval = interval
    }
}

/// A checked-in file of expected speed-ups for CI: variant → speed-up vs the reference, its shapes and an
/// optional per-variant tolerance. Times vary across machines; ratios measured in one run mostly do not.
public struct SpeedBaseline: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var speedup: Double
        public var shape: String
        /// Relative tolerance for this variant; nil uses the file's.
        public var tolerance: Double?
        public init(speedup: Double, shape: String, tolerance: Double? = nil) {
            self.speedup = speedup; self.shape = shape; self.tolerance = tolerance
        }
    }

    public static let currentVersion = 1

    public var version: Int = SpeedBaseline.currentVersion
    /// Which table / benchmark the baseline is for, e.g. "Table8".
    public var name: String
    public var referenceVariant: String
    public var scale: Scale
    /// Default relative tolerance: |measured − expected| / expected.
    public var tolerance: Double
    public var entries: [String: Entry]
    /// Where the numbers came from (commit, machine), free text.
    public var provenance: String

    public init(name: String, referenceVariant: String, scale: Scale, tolerance: Double,
                entries: [String: Entry] = [:], provenance: String = "") {
        self.name = name; self.referenceVariant = referenceVariant; self.scale = scale; self.tolerance = tolerance
        self.entries = entries; self.provenance = provenance
    }

    /// A baseline made of fresh measurements.
    public init(name: String, referenceVariant: String, scale: Scale, tolerance: Double,
                measured: [MeasuredSpeedup], provenance: String = "") {
        self.init(name: name, referenceVariant: referenceVariant, scale: scale, tolerance: tolerance,
                  entries: Dictionary(measured.map { ($0.variant, Entry(speedup: $0.speedup, shape: $0.shape)) },
                                      uniquingKeysWith: { _, last in last }),
                  provenance: provenance)
    }

    // MARK: Comparison

    public enum FailureKind: String, Codable, Sendable {
        /// Slower relative to the reference than the baseline allows.
        case slower
        /// Faster than the baseline allows (often a skipped computation; refresh the baseline if intended).
        case faster
        /// In the baseline, not measured.
        case missing
        /// Measured at other shapes than the baseline's.
        case shapeMismatch
        /// A non-finite or non-positive measurement.
        case invalid
    }

    public struct Failure: Codable, Equatable, Sendable, CustomStringConvertible {
        public var variant: String
        public var kind: FailureKind
        public var expected: Double?
        public var measured: Double?
        /// (measured − expected) / expected.
        public var relativeDifference: Double?
        public var tolerance: Double
        public var detail: String

        public var description: String {
            let e = expected.map { String(format: "%.3f", $0) } ?? "–"
            let m = measured.map { String(format: "%.3f", $0) } ?? "–"
            let d = relativeDifference.map { String(format: "%+.1f%%", $0 * 100) } ?? ""
            return "\(variant): \(kind.rawValue) (baseline \(e), measured \(m) \(d), tolerance "
                + "\(String(format: "%.1f%%", tolerance * 100)))\(detail.isEmpty ? "" : ": \(detail)")"
        }
    }

    /// Compares fresh speed-ups with the baseline. A variant fails when its relative difference exceeds its
    /// tolerance (slower, and also faster unless `regressionsOnly`), when it is missing, measured at other
    /// shapes, or not a positive finite number. Variants measured but absent from the baseline are ignored
    /// (see `unbaselined`). Returns an empty array when everything is within tolerance.
    public func compare(_ measured: [MeasuredSpeedup], regressionsOnly: Bool = false) -> [Failure] {
        let byName = Dictionary(measured.map { ($0.variant, $0) }, uniquingKeysWith: { _, last in last })
        var failures: [Failure] = []
        for name in entries.keys.sorted() {
            let e = entries[name]!
            let tol = e.tolerance ?? tolerance
            guard let m = byName[name] else {
                failures.append(Failure(variant: name, kind: .missing, expected: e.speedup, measured: nil,
                                        relativeDifference: nil, tolerance: tol, detail: "not measured"))
                continue
            }
            guard m.speedup.isFinite, m.speedup > 0 else {
                failures.append(Failure(variant: name, kind: .invalid, expected: e.speedup, measured: m.speedup,
                                        relativeDifference: nil, tolerance: tol, detail: "not a positive number"))
                continue
            }
            guard m.shape == e.shape else {
                failures.append(Failure(variant: name, kind: .shapeMismatch, expected: e.speedup, measured: m.speedup,
                                        relativeDifference: nil, tolerance: tol,
                                        detail: "baseline shape '\(e.shape)', measured '\(m.shape)'"))
                continue
            }
            let rel = (m.speedup - e.speedup) / e.speedup
            if rel < -tol {
                failures.append(Failure(variant: name, kind: .slower, expected: e.speedup, measured: m.speedup,
                                        relativeDifference: rel, tolerance: tol, detail: ""))
            } else if rel > tol && !regressionsOnly {
                failures.append(Failure(variant: name, kind: .faster, expected: e.speedup, measured: m.speedup,
                                        relativeDifference: rel, tolerance: tol,
                                        detail: "refresh the baseline if the speed-up is intended"))
            }
        }
        return failures
    }

    /// Measured variants the baseline does not know.
    public func unbaselined(_ measured: [MeasuredSpeedup]) -> [String] {
        measured.map(\.variant).filter { entries[$0] == nil }
    }

    // MARK: File

    public static func load(from url: URL) throws -> SpeedBaseline {
        try JSONDecoder().decode(SpeedBaseline.self, from: Data(contentsOf: url))
    }

    /// Writes the baseline atomically as sorted, pretty JSON (stable diffs).
    public func write(to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try enc.encode(self)
        data.append(0x0A)
        try AtomicFile.write(data, to: url)
    }

    /// Writes a fresh baseline from `measured`, keeping per-variant tolerances of an existing file at `url`
    /// for variants measured at the same shapes. Returns the baseline written.
    @discardableResult
    public static func refresh(at url: URL, name: String, referenceVariant: String, scale: Scale,
                               tolerance: Double, measured: [MeasuredSpeedup],
                               provenance: String) throws -> SpeedBaseline {
        var fresh = SpeedBaseline(name: name, referenceVariant: referenceVariant, scale: scale, tolerance: tolerance,
                                  measured: measured, provenance: provenance)
        if let old = try? load(from: url) {
            for (k, e) in old.entries where fresh.entries[k]?.shape == e.shape {
                fresh.entries[k]?.tolerance = e.tolerance
            }
        }
        try fresh.write(to: url)
        return fresh
    }
}
