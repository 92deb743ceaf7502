import Foundation
import SparseMixers
import SparseMixersHarness

/// The CI speed-ratio check: a fixed set of paper-size models timed interleaved at small shapes, each speed-up
/// against BERT Base compared with the baseline committed in Tables/speed-baseline.json.
public enum SpeedCheck {
    public static let referenceName = "BERT Base"
    /// The reference first. Chosen to cover every kind of layer: attention (BERT), Linear mixing + attention + EC MoE
    /// (SM, FSM at c = 0.5), FFTW Fourier mixing, and a dense hybrid (Linear-4).
    public static var models: [(name: String, config: ModelConfig)] {
        [(referenceName, .bertBase), ("Sparse Mixer", .sparseMixerBase), ("Fast Sparse Mixer", .fastSparseMixerBase),
         ("Fourier (12 layers)", .allMixing(.fNet)), ("Linear-4", .linear4)]
    }
    public static let defaultShape = SpeedShape(batch: 2, seq: 128)
    public static let defaultThreads = 2
    public static let defaultRepeats = 5
    /// Relative tolerance on each training speed-up. Measured here (shared 2-core machine, other jobs running):
    /// three runs of 5 rounds put the training ratios within 12% of each other; 25% leaves room for that and still
    /// fails when one kind of layer (MoE dispatch, FFT mixing, attention) becomes markedly slower than the rest.
    public static let defaultTolerance = 0.25
    /// Inference forwards of a 2 x 128 batch last a few hundred ms and swung by up to 21% between those runs, so
    /// their ratios get a wider band.
    public static let inferenceTolerance = 0.35

    /// A fresh baseline: the file's tolerance for training entries, `inferenceTolerance` for inference entries.
    public static func baseline(_ measured: [MeasuredSpeedup], tolerance: Double = defaultTolerance,
                                provenance: String) -> SpeedBaseline {
        var b = SpeedBaseline(name: "speed-check", referenceVariant: referenceName, scale: .ci, tolerance: tolerance,
                              measured: measured, provenance: provenance)
        for k in b.entries.keys where k.hasPrefix("inference: ") {
            b.entries[k]?.tolerance = max(tolerance, inferenceTolerance)
        }
        return b
    }

    public static var defaultBaselineURL: URL {
        (PackagePaths.packageRoot ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .appendingPathComponent("Tables/speed-baseline.json")
    }

    /// "train: Sparse Mixer" / "inference: Sparse Mixer".
    public static func key(_ phase: String, _ name: String) -> String { "\(phase): \(name)" }

    /// The shape string every entry carries; a baseline only compares at equal shapes and threads.
    public static func shapeLabel(_ shape: SpeedShape, threads: Int) -> String { "\(shape.label) threads=\(threads)" }

    /// Times the models interleaved and returns training and inference speed-ups against the reference.
    public static func measure(shape: SpeedShape = defaultShape, repeats: Int = defaultRepeats, warmup: Int = 1,
                               threads: Int = defaultThreads,
                               log: @escaping (String) -> Void = { _ in }) throws -> [MeasuredSpeedup] {
        Runtime.setThreads(threads)
        let timed = try models.map { try TimedModel(name: $0.name, config: shape.config($0.config), batchSize: shape.batch) }
        let samples = try Interleaving.run(timed.map(\.work), repeats: repeats, warmup: warmup, progress: log)
        return speedups(samples, shape: shapeLabel(shape, threads: threads))
    }

    /// Speed-ups of every sample set against the first (the reference): reference median / median.
    public static func speedups(_ samples: [TimedSamples], shape: String) -> [MeasuredSpeedup] {
        guard let ref = samples.first else { return [] }
        let rt = TimingSummary(samples: ref.trainMs).median, ri = TimingSummary(samples: ref.inferenceMs).median
        return samples.dropFirst().flatMap { s in
            [MeasuredSpeedup(variant: key("train", s.name), speedup: rt / TimingSummary(samples: s.trainMs).median, shape: shape),
             MeasuredSpeedup(variant: key("inference", s.name), speedup: ri / TimingSummary(samples: s.inferenceMs).median,
                             shape: shape)]
        }
    }

    public struct Verdict {
        /// Slower than allowed, missing, invalid or measured at other shapes: the check fails.
        public var failures: [SpeedBaseline.Failure]
        /// Faster than the tolerance: reported, not failed (an optimisation lands often; refresh the baseline).
        public var warnings: [SpeedBaseline.Failure]
        public var unbaselined: [String]
        public var passed: Bool { failures.isEmpty }
    }

    public static func evaluate(_ baseline: SpeedBaseline, measured: [MeasuredSpeedup]) -> Verdict {
        let all = baseline.compare(measured)
        return Verdict(failures: all.filter { $0.kind != .faster }, warnings: all.filter { $0.kind == .faster },
                       unbaselined: baseline.unbaselined(measured))
    }

    /// A table of baseline vs measured for the log.
    public static func summary(_ baseline: SpeedBaseline?, measured: [MeasuredSpeedup]) -> [String] {
        measured.map { m in
            let e = baseline?.entries[m.variant]
            let rel = e.map { String(format: "%+6.1f%%", 100 * (m.speedup - $0.speedup) / $0.speedup) } ?? "   new"
            let name = m.variant.padding(toLength: max(32, m.variant.count), withPad: " ", startingAt: 0)
            return name + String(format: " %6.3f", m.speedup) + "  baseline "
                + (e.map { String(format: "%6.3f", $0.speedup) } ?? "     –") + "  " + rel
        }
    }
}
