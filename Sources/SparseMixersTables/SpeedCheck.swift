import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

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
    /// Rounds stop once every speed-up's 95% interval is within ±5%, after at least 5 and at most 30 rounds or
    /// 600 s of rounds (a round of the five models takes about 20 s at 2 x 128 here).
    public static let defaultRule = StoppingRule(minRounds: 5, maxRounds: 30, halfWidth: 0.05, timeLimitSeconds: 600)
    /// Exit codes of `sparse-mixers speed-check`: 0 passed (or baseline written), 1 a regression (a speed-up
    /// below its band, missing, or at other shapes; ArgumentParser also exits 1 on other runtime errors), 3 the
    /// measurement was unstable, so nothing was judged and no baseline was written; 64 a bad command line.
    public static let exitRegression: Int32 = 1
    public static let exitUnstable: Int32 = 3
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

    /// Times the models interleaved until `rule` stops the rounds and returns training and inference speed-ups
    /// against the reference, each with its 95% interval (`speedups(_:shape:target:)`).
    public static func measure(shape: SpeedShape = defaultShape, rule: StoppingRule = defaultRule, warmup: Int = 1,
                               threads: Int = defaultThreads, log: @escaping (String) -> Void = { _ in },
                               onRound: ((RoundStatus) -> Void)? = nil,
                               readPeak: (() -> Double)? = { Benchmark.sgemmPeak(n: 2048, repeats: 3) })
        throws -> (measured: [MeasuredSpeedup], run: TimedRun, conditions: SpeedConditions) {
        Runtime.setThreads(threads)
        // Every model is built before the rounds start: refuse, naming the total, what cannot fit (at 8 x 512 the
        // five models need about 20 GB; an unchecked run was killed by the kernel's OOM killer here).
        let bytes = try models.reduce(0.0) {
            try $0 + MemoryBudget.trainingBytes(shape.config($1.config), batch: shape.batch)
        }
        try MemoryBudget.check(bytes,
                               what: "speed-check's \(models.count) models at \(shapeLabel(shape, threads: threads))")
        let timed = try models.map {
            try TimedModel(name: $0.name, config: shape.config($0.config), batchSize: shape.batch)
        }
        let watch = MachineWatch(readPeak: readPeak)
        let run = try Interleaving.run(timed.map(\.work), rule: rule, warmup: warmup, progress: log, onRound: onRound)
        return (speedups(run.samples, shape: shapeLabel(shape, threads: threads), target: rule.halfWidth), run,
                watch.finish(threads: threads))
    }

    /// Speed-ups of every sample set against the first (the reference), paired round by round: the geometric
    /// mean of reference / variant over rounds, with its interval (`SpeedupInterval.paired`); with a single
    /// round, the ratio of the two times and no interval.
    public static func speedups(_ samples: [TimedSamples], shape: String,
                                target: Double = defaultRule.halfWidth) -> [MeasuredSpeedup] {
        guard let ref = samples.first else { return [] }
        func one(_ phase: String, _ name: String, _ r: [Double], _ v: [Double]) -> MeasuredSpeedup {
            let i = SpeedupInterval.paired(reference: r, variant: v, target: target)
            return MeasuredSpeedup(variant: key(phase, name),
                                   speedup: i?.speedup
                                   ?? TimingSummary(samples: r).median / TimingSummary(samples: v).median,
                                   shape: shape, interval: i)
        }
        return samples.dropFirst().flatMap { s in
            [one("train", s.name, ref.trainMs, s.trainMs), one("inference", s.name, ref.inferenceMs, s.inferenceMs)]
        }
    }

    /// Speed-ups that cannot be judged: no interval, or one wider than asked when the rounds stopped.
    public static func unstable(_ measured: [MeasuredSpeedup]) -> [MeasuredSpeedup] {
        measured.filter { $0.interval?.unstable ?? true }
    }

    /// What `speed-check` does with a measurement: refuse it (unstable: exit `exitUnstable`, no baseline
    /// written), write it as the baseline (`--refresh`), or judge it against the baseline.
    public enum Decision {
        case refuse(message: String)
        case writeBaseline
        case judge(Verdict)
        /// Nothing to compare with (and no --refresh).
        case noBaseline

        public var exitCode: Int32 {
            switch self {
            case .refuse: return SpeedCheck.exitUnstable
            case .writeBaseline: return 0
            case .judge(let v): return v.passed ? 0 : SpeedCheck.exitRegression
            case .noBaseline: return SpeedCheck.exitRegression
            }
        }
    }

    /// The unstable speed-ups that leave the check undecided. An interval wider than asked still decides a
    /// comparison when all of it lies on one side of the baseline's threshold, expected x (1 - tolerance): above,
    /// the variant cannot have regressed; below, it has (its point estimate is then below too, and `evaluate`
    /// fails it). Only a ratio whose interval contains the threshold, or that has no interval, is undecided. A
    /// ratio the baseline does not list, or lists at another shape, is not judged by its interval (`evaluate`
    /// reports it), so it never blocks.
    public static func undecided(_ bad: [MeasuredSpeedup], baseline: SpeedBaseline) -> [MeasuredSpeedup] {
        bad.filter { m in
            guard let e = baseline.entries[m.variant], e.shape == m.shape else { return false }
            guard let i = m.interval else { return true }
            let threshold = e.speedup * (1 - (e.tolerance ?? baseline.tolerance))
            return i.low < threshold && i.high >= threshold
        }
    }

    public static func decide(_ baseline: SpeedBaseline?, measured: [MeasuredSpeedup], refresh: Bool,
                              rule: StoppingRule = defaultRule) -> Decision {
        // A baseline is written only from ratios within the half-width; a comparison needs only intervals that
        // do not straddle the baseline's threshold (`undecided`).
        let bad = refresh || baseline == nil ? unstable(measured) : undecided(unstable(measured), baseline: baseline!)
        if !bad.isEmpty {
            let list = bad.map { m in m.variant + (m.interval.map { " (" + $0.widthText + ")" } ?? " (no interval)") }
            return .refuse(message: "speed-check: UNSTABLE: refusing to "
                + (refresh ? "write a baseline" : "judge the speed-ups")
                + String(format: ": %d of %d speed-ups did not reach a 95%% interval within ±%.1f%% before the rounds "
                    + "stopped (%d-%d rounds, %.0f s limit): ", bad.count, measured.count, 100 * rule.halfWidth,
                    rule.minRounds, rule.maxRounds, rule.timeLimitSeconds)
                + list.joined(separator: "; ")
                + (refresh ? "" : "; each interval contains the baseline's threshold, so it can be neither passed nor "
                    + "failed")
                + ". The machine is too noisy to tell: rerun when it is quieter, or allow more rounds (--max-rounds, "
                + "--time-limit). Exit code \(exitUnstable) (a regression exits \(exitRegression)).")
        }
        if refresh { return .writeBaseline }
        guard let baseline else { return .noBaseline }
        return .judge(evaluate(baseline, measured: measured))
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

    /// A table of baseline vs measured for the log, each speed-up with its interval.
    public static func summary(_ baseline: SpeedBaseline?, measured: [MeasuredSpeedup]) -> [String] {
        measured.map { m in
            let e = baseline?.entries[m.variant]
            let rel = e.map { String(format: "%+6.1f%%", 100 * (m.speedup - $0.speedup) / $0.speedup) } ?? "   new"
            let name = m.variant.padding(toLength: max(32, m.variant.count), withPad: " ", startingAt: 0)
            let interval = m.interval.map { String(format: " [%.3f–%.3f ±%4.1f%%]", $0.low, $0.high,
                                                   100 * $0.relativeHalfWidth)
                + ($0.unstable ? " UNSTABLE" : "") } ?? " [no interval]"
            return name + String(format: " %6.3f", m.speedup) + interval + "  baseline "
                + (e.map { String(format: "%6.3f", $0.speedup) } ?? "     –") + "  " + rel
        }
    }
}
