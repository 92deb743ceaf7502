import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersReports
import SparseMixersTables

/// `sparse-mixers speed-check`: the CI regression check on speed ratios (SpeedCheck), or `--refresh` to rewrite
/// the committed baseline from a fresh measurement.
struct SpeedCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speed-check",
        abstract: "Time BERT Base, SM, FSM, Fourier-12 and Linear-4 interleaved at 2 x 128 and compare the speed-ups "
                  + "with Tables/speed-baseline.json.",
        discussion: "Rounds continue until every speed-up's 95% interval is within --half-width (or --max-rounds / "
            + "--time-limit). Exit codes: 0 passed (or baseline written); 1 a speed-up more than the tolerance below "
            + "the baseline, missing, or at other shapes (also any other runtime error); 3 unstable: with --refresh, "
            + "some interval stayed wider than --half-width (no baseline written); when comparing, some unstable "
            + "interval contains the baseline's threshold, expected x (1 - tolerance) (an unstable interval wholly "
            + "above it passes, wholly below fails); 64 a bad command line. "
            + "Refresh after an intended change: swift run -c release sparse-mixers speed-check --refresh")

    @Option(help: "Baseline file.") var baseline: String = SpeedCheck.defaultBaselineURL.path
    @Flag(help: "Rewrite the baseline from this measurement instead of comparing.") var refresh = false
    @Option(help: "Relative tolerance of training speed-ups written by --refresh (inference: max of this and 0.35).")
    var tolerance: Double = SpeedCheck.defaultTolerance
    @Option(help: "Timed rounds always made (at least 2).") var minRounds: Int = SpeedCheck.defaultRule.minRounds
    @Option(help: "Timed rounds at most.") var maxRounds: Int = SpeedCheck.defaultRule.maxRounds
    @Option(help: "Percent: stop once every speed-up's 95% interval is within this half-width.")
    var halfWidth: Double = 100 * SpeedCheck.defaultRule.halfWidth
    @Option(help: "Seconds of timed rounds after which no new round starts; wider intervals are then unstable.")
    var timeLimit: Double = SpeedCheck.defaultRule.timeLimitSeconds
    @Option(help: "Threads (part of the baseline's shape).") var threads: Int = SpeedCheck.defaultThreads
    @Option(help: "Sequences per batch.") var batch: Int = SpeedCheck.defaultShape.batch
    @Option(help: "Tokens per sequence.") var seq: Int = SpeedCheck.defaultShape.seq

    var rule: StoppingRule {
        StoppingRule(minRounds: minRounds, maxRounds: maxRounds, halfWidth: halfWidth / 100,
                     timeLimitSeconds: timeLimit)
    }

    func validate() throws {
        try Flags.rounds(minRounds: minRounds, maxRounds: maxRounds, halfWidth: halfWidth, timeLimit: timeLimit)
        try Flags.threads(threads)
        try Flags.int(batch, "batch", 1...Flags.maxBatch)
        try Flags.int(seq, "seq", 2...Flags.maxSeq)
        try Flags.double(tolerance, "tolerance", 0...1, openLower: true, openUpper: true)
    }

    func run() throws {
        if Benchmark.isDebugBuild {
            throw ValidationError("refusing to time a debug build: use "
                                  + "`swift run -c release sparse-mixers speed-check`")
        }
        let start = Date()
        let url = URL(fileURLWithPath: baseline)
        let old = try? SpeedBaseline.load(from: url)
        if old == nil && !refresh {
            throw ValidationError("no baseline at \(url.path); create one with `sparse-mixers speed-check --refresh`")
        }
        let progress = StepProgress(every: 5)
        let shape = SpeedShape(batch: batch, seq: seq)
        let (measured, timed, conditions) = try SpeedCheck.measure(
            shape: shape, rule: rule, threads: threads, log: { FileHandle.standardError.write(Data("  \($0)\n".utf8)) },
            onRound: { progress.show($0.round, "  speed-check: \($0.text)", final: $0.stop != nil) })
        print("speed-up vs \(SpeedCheck.referenceName) (\(SpeedCheck.shapeLabel(shape, threads: threads)), "
              + "geometric mean of \(timed.rounds) interleaved rounds with its 95% interval; \(timed.stop.rawValue)):")
        for l in SpeedCheck.summary(old, measured: measured) { print("  " + l) }
        print("speed-check: " + conditions.summary)
        for w in conditions.warnings { print("speed-check: warning: busy machine: \(w)") }
        let elapsed = String(format: "%.0f s", Date().timeIntervalSince(start))
        let decision = SpeedCheck.decide(old, measured: measured, refresh: refresh, rule: rule)
        switch decision {
        case .refuse(let message):
            print(message)
        case .noBaseline:
            print("speed-check: no baseline at \(url.path)")
        case .writeBaseline:
            let env = EnvironmentInfo.capture(threadsUsed: threads, fftwVersion: SpectralPlan.version)
            try SpeedCheck.baseline(measured, tolerance: tolerance,
                                    provenance: "commit \(env.gitCommit), \(env.date), \(env.cpuModel), "
                                        + "\(threads) threads, \(timed.rounds) rounds; refresh: swift run -c release "
                                        + "sparse-mixers speed-check --refresh").write(to: url)
            print("speed-check: baseline written to \(url.path) (\(elapsed))")
        case .judge(let v):
            let base = old!
            for w in v.warnings { print("speed-check: note: \(w)") }
            for n in v.unbaselined { print("speed-check: note: \(n) is not in the baseline") }
            for f in v.failures { print("speed-check: FAIL: \(f)") }
            print("speed-check: \(v.passed ? "passed" : "FAILED") (\(measured.count - v.failures.count) of "
                  + "\(measured.count) within tolerance of the baseline: "
                  + String(format: "%.0f%%", base.tolerance * 100) + " training, "
                  + String(format: "%.0f%%", SpeedCheck.inferenceTolerance * 100) + " inference; \(elapsed))")
        }
        if decision.exitCode != 0 { throw ExitCode(decision.exitCode) }
    }
}

/// `sparse-mixers index`: Reports/README.md from every report JSON in the directory.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index",
        abstract: "Write <output>/README.md: every report's headline comparisons, the figures, and run notes.")
    @Option(help: "Report directory.") var output: String = "Reports"
    @Option(help: "A line about this run (repeatable), e.g. its duration.") var note: [String] = []

    func run() throws {
        let url = try ReportIndex.write(directory: URL(fileURLWithPath: output, isDirectory: true), runInfo: note)
        print("wrote \(url.path)")
    }
}
