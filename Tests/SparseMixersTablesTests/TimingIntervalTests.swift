import Foundation
import XCTest
import SparseMixers
import SparseMixersData
import SparseMixersPaper
import SparseMixersReports
@testable import SparseMixersTables

/// Issue 13, item 1: speed-ups with intervals that a noisy machine cannot fake. Every timing here runs on a fake
/// clock that the fake works advance by their cost times injected noise, so nothing depends on this machine's speed.
final class SpeedupIntervalTests: XCTestCase {
    /// Two rounds, ratios 2 and 4: log-ratios ln2 and 2 ln2, mean 1.5 ln2, standard error ln2 / 2, t(0.975, 1) =
    /// 12.706, so the speed-up is 2^1.5 and the interval 2^(1.5 ± 6.353).
    func testTwoRoundsByHand() throws {
        let i = try XCTUnwrap(SpeedupInterval.paired(reference: [4, 4], variant: [2, 1], target: 0.05))
        XCTAssertEqual(i.speedup, pow(2, 1.5), accuracy: 1e-12)
        XCTAssertEqual(i.low, pow(2, 1.5 - 6.353), accuracy: 1e-12)
        XCTAssertEqual(i.high, pow(2, 1.5 + 6.353), accuracy: 1e-9)
        XCTAssertEqual(i.relativeHalfWidth, pow(2, 6.353) - 1, accuracy: 1e-9)
        XCTAssertEqual(i.rounds, 2)
        XCTAssertTrue(i.unstable)
    }

    /// Three rounds with log-ratios 0.1, 0, -0.1: mean 0, s = 0.1, h = 4.303 * 0.1 / sqrt(3).
    func testThreeRoundsByHand() throws {
        let ref = [exp(0.1) * 3, 3, exp(-0.1) * 3], v = [3.0, 3, 3]
        let i = try XCTUnwrap(SpeedupInterval.paired(reference: ref, variant: v, target: 0.5))
        let h = 4.303 * 0.1 / 3.0.squareRoot()
        XCTAssertEqual(i.speedup, 1, accuracy: 1e-12)
        XCTAssertEqual(i.low, exp(-h), accuracy: 1e-12)
        XCTAssertEqual(i.high, exp(h), accuracy: 1e-12)
        XCTAssertEqual(i.relativeHalfWidth, exp(h) - 1, accuracy: 1e-12)
        XCTAssertFalse(i.unstable, "±28% is within a target of ±50%")
        XCTAssertEqual(i.text, String(format: "1.00 (%.2f–%.2f)", exp(-h), exp(h)))
    }

    /// Equal ratios in every round: a zero-width interval at exactly that ratio.
    func testConstantRatiosGiveAZeroWidthInterval() throws {
        let i = try XCTUnwrap(SpeedupInterval.paired(reference: [10, 20, 40], variant: [5, 10, 20], target: 0.05))
        XCTAssertEqual(i.speedup, 2, accuracy: 1e-12)
        XCTAssertEqual(i.low, 2, accuracy: 1e-12); XCTAssertEqual(i.high, 2, accuracy: 1e-12)
        XCTAssertEqual(i.relativeHalfWidth, 0, accuracy: 1e-12)
        XCTAssertFalse(i.unstable)
    }

    /// The ratio is paired round by round: a slow round for both models (a busy machine) leaves it unchanged,
    /// where a ratio of medians over unpaired rounds would not be paired at all.
    func testPairingCancelsARoundThatSlowsBothModels() throws {
        let i = try XCTUnwrap(SpeedupInterval.paired(reference: [10, 30, 10], variant: [5, 15, 5], target: 0.05))
        XCTAssertEqual(i.speedup, 2, accuracy: 1e-12)
        XCTAssertEqual(i.relativeHalfWidth, 0, accuracy: 1e-12)
    }

    func testNoIntervalWithoutTwoPositiveRounds() {
        XCTAssertNil(SpeedupInterval.paired(reference: [1], variant: [1], target: 0.05))
        XCTAssertNil(SpeedupInterval.paired(reference: [1, 2], variant: [1], target: 0.05))
        XCTAssertNil(SpeedupInterval.paired(reference: [1, 0], variant: [1, 1], target: 0.05))
        XCTAssertNil(SpeedupInterval.paired(reference: [1, .nan], variant: [1, 1], target: 0.05))
    }
}

final class StoppingRuleTests: XCTestCase {
    /// A deterministic generator for the injected noise (SplitMix64).
    struct Noise {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        /// A factor exp(u), u uniform in [-spread, spread].
        mutating func factor(_ spread: Double) -> Double { exp(spread * (2 * next() - 1)) }
    }

    /// A reference and two variants whose every step advances `now` by its cost times a noise factor.
    final class FakeMachine {
        var now: UInt64 = 0
        var noise: Noise
        let spread: Double
        init(seed: UInt64, spread: Double) { noise = Noise(state: seed); self.spread = spread }

        func works() -> [TimedWork] {
            [("BERT", 40.0, 12.0), ("fast", 20.0, 6.0), ("slow", 80.0, 30.0)].map { name, train, infer in
                TimedWork(name: name, train: { _ in self.advance(train) }, infer: { self.advance(infer) })
            }
        }

        func advance(_ ms: Double) { now += UInt64(ms * 1e6 * noise.factor(spread)) }
    }

    let rule = StoppingRule(minRounds: 5, maxRounds: 12, halfWidth: 0.05, timeLimitSeconds: 1e6)

    /// A quiet machine (±0.5% noise per step): every interval is within ±5% at the minimum rounds, so the rounds
    /// stop there, and no ratio is unstable.
    func testAQuietStreamStopsAtTheMinimumRounds() throws {
        let m = FakeMachine(seed: 1, spread: 0.005)
        var seen: [RoundStatus] = []
        let run = try Interleaving.run(m.works(), rule: rule, warmup: 1, clock: { m.now }, onRound: { seen.append($0) })
        XCTAssertEqual(run.rounds, 5)
        XCTAssertEqual(run.stop, .halfWidthReached)
        XCTAssertEqual(seen.map(\.round), [1, 2, 3, 4, 5])
        XCTAssertNil(seen[0].widest, "no interval from one round")
        XCTAssertEqual(seen.compactMap(\.stop), [.halfWidthReached])
        let pairs = PairedTiming.split(run, timedIn: "test")
        XCTAssertEqual(pairs.map(\.variant), ["fast", "slow"])
        for p in pairs {
            for i in [p.trainInterval(target: 0.05), p.inferenceInterval(target: 0.05)] {
                let i = try XCTUnwrap(i)
                XCTAssertFalse(i.unstable)
                XCTAssertEqual(i.rounds, 5)
                XCTAssertLessThanOrEqual(i.relativeHalfWidth, 0.05)
            }
        }
        XCTAssertEqual(try XCTUnwrap(pairs[0].trainInterval(target: 0.05)).speedup, 2, accuracy: 0.02)
        XCTAssertEqual(try XCTUnwrap(pairs[1].inferenceInterval(target: 0.05)).speedup, 0.4, accuracy: 0.004)
    }

    /// A noisy machine (up to ±40% per step): the intervals stay wider than ±5%, the rounds run to the maximum,
    /// and the ratios are marked unstable.
    func testANoisyStreamRunsToTheLimitAndIsMarkedUnstable() throws {
        let m = FakeMachine(seed: 7, spread: 0.4)
        let run = try Interleaving.run(m.works(), rule: rule, warmup: 1, clock: { m.now })
        XCTAssertEqual(run.rounds, 12)
        XCTAssertEqual(run.stop, .maxRounds)
        let intervals = PairedTiming.split(run, timedIn: "test").flatMap {
            [$0.trainInterval(target: 0.05), $0.inferenceInterval(target: 0.05)]
        }
        XCTAssertEqual(intervals.count, 4)
        XCTAssertTrue(intervals.allSatisfy { $0!.unstable }, "\(intervals.map { $0!.widthText })")
        XCTAssertTrue(intervals.allSatisfy { $0!.widthText.hasSuffix("wider than ±5%: unstable") })
        // Every round's ratio is paired with the reference of the same round.
        XCTAssertEqual(run.samples.map(\.trainMs.count), [12, 12, 12])
    }

    /// The time limit (on the same fake clock) ends a noisy stream before the maximum rounds, never before the
    /// minimum.
    func testTheTimeLimitStopsTheRounds() throws {
        // A round costs about 40+12+20+6+80+30 = 188 ms of fake time.
        let limited = StoppingRule(minRounds: 3, maxRounds: 1000, halfWidth: 0.05, timeLimitSeconds: 1.5)
        let m = FakeMachine(seed: 3, spread: 0.4)
        let run = try Interleaving.run(m.works(), rule: limited, warmup: 0, clock: { m.now })
        XCTAssertEqual(run.stop, .timeLimit)
        XCTAssertGreaterThanOrEqual(run.seconds, 1.5)
        XCTAssertLessThan(run.seconds, 1.5 + 0.4, "stops at the first round end past the limit")
        XCTAssertGreaterThan(run.rounds, 3)
        let short = StoppingRule(minRounds: 4, maxRounds: 1000, halfWidth: 0.05, timeLimitSeconds: 0.001)
        let m2 = FakeMachine(seed: 3, spread: 0.4)
        XCTAssertEqual(try Interleaving.run(m2.works(), rule: short, warmup: 0, clock: { m2.now }).rounds, 4,
                       "the minimum rounds are always made")
    }

    /// A fixed rule makes exactly its rounds (the old `repeats` API).
    func testFixedRoundsIgnoreTheIntervals() throws {
        let m = FakeMachine(seed: 1, spread: 0)
        let run = try Interleaving.run(m.works(), rule: .fixed(3), warmup: 0, clock: { m.now })
        XCTAssertEqual(run.rounds, 3)
        XCTAssertEqual(run.stop, .maxRounds)
    }

    func testProgressTextBoundsWhatIsLeft() {
        var s = RoundStatus(round: 6, rule: StoppingRule(minRounds: 5, maxRounds: 30, halfWidth: 0.05,
                                                         timeLimitSeconds: 120),
                            widest: 0.072, seconds: 60, stop: nil)
        // 10 s a round: 24 rounds could remain (240 s), but the time limit leaves 60 s.
        XCTAssertEqual(s.text, "round 6 (5-30): widest ±7.2%, target ±5% | 60 s, at most 1:00 left")
        s.stop = .halfWidthReached
        XCTAssertTrue(s.text.hasSuffix("stopped, every interval within the half-width"))
    }
}

final class SpeedCheckDecisionTests: XCTestCase {
    /// speed-check builds all its models before the first round: what cannot fit is refused with the total, before
    /// anything is allocated (at 8 x 512 an unchecked run was killed by the OOM killer).
    func testModelsThatDoNotFitAreRefusedBeforeTheyAreBuilt() {
        MemoryBudget.limit = 1e9
        defer { MemoryBudget.limit = nil }
        XCTAssertThrowsError(try SpeedCheck.measure(shape: SpeedShape(batch: 8, seq: 512), readPeak: nil)) { error in
            guard let e = error as? MemoryBudget.Exceeded else { return XCTFail("\(error)") }
            XCTAssertGreaterThan(e.estimate, 1e10)
            XCTAssertTrue(e.what.contains("B=8 L=512"), e.what)
        }
    }

    func interval(_ x: Double, _ h: Double) -> SpeedupInterval {
        SpeedupInterval(speedup: x, low: x / (1 + h), high: x * (1 + h), rounds: 5, relativeHalfWidth: h, target: 0.05)
    }

    func baseline() -> SpeedBaseline {
        SpeedBaseline(name: "speed-check", referenceVariant: "BERT Base", scale: .ci, tolerance: 0.25,
                      measured: [MeasuredSpeedup(variant: "train: SM", speedup: 2.0, shape: "s")])
    }

    /// An unstable speed-up is neither judged nor written as a baseline, with its own exit code.
    func testUnstableRatiosAreRefusedWithTheirOwnExitCode() {
        XCTAssertNotEqual(SpeedCheck.exitUnstable, SpeedCheck.exitRegression)
        XCTAssertNotEqual(SpeedCheck.exitUnstable, 0)
        XCTAssertNotEqual(SpeedCheck.exitUnstable, 64, "ArgumentParser's exit code for a bad command line")
        // 1.4 would be a regression, but its interval is ±12%: the check refuses to say so.
        let noisy = [MeasuredSpeedup(variant: "train: SM", speedup: 1.4, shape: "s", interval: interval(1.4, 0.12))]
        for refresh in [false, true] {
            let d = SpeedCheck.decide(baseline(), measured: noisy, refresh: refresh)
            XCTAssertEqual(d.exitCode, SpeedCheck.exitUnstable)
            guard case .refuse(let message) = d else { return XCTFail("\(d)") }
            XCTAssertTrue(message.contains(refresh ? "refusing to write a baseline" : "refusing to judge"), message)
            XCTAssertTrue(message.contains("train: SM (±12.0% over 5 rounds, wider than ±5%: unstable)"), message)
            XCTAssertTrue(message.contains("Exit code 3"), message)
        }
        // Without an interval (a single round) there is nothing to judge either.
        let single = [MeasuredSpeedup(variant: "train: SM", speedup: 2, shape: "s")]
        XCTAssertEqual(SpeedCheck.decide(baseline(), measured: single, refresh: false).exitCode,
                       SpeedCheck.exitUnstable)
    }

    /// An unstable ratio whose whole interval lies on one side of the baseline's threshold (2.0 x (1 - 0.25) =
    /// 1.5) still decides the comparison; it is never written as a baseline.
    func testAnUnstableIntervalClearOfTheThresholdIsJudged() {
        let fast = [MeasuredSpeedup(variant: "train: SM", speedup: 1.9, shape: "s", interval: interval(1.9, 0.2))]
        XCTAssertTrue(fast[0].interval!.unstable)
        guard case .judge(let v) = SpeedCheck.decide(baseline(), measured: fast, refresh: false) else {
            return XCTFail()
        }
        XCTAssertTrue(v.passed)
        let slow = [MeasuredSpeedup(variant: "train: SM", speedup: 1.0, shape: "s", interval: interval(1.0, 0.2))]
        let d = SpeedCheck.decide(baseline(), measured: slow, refresh: false)
        XCTAssertEqual(d.exitCode, SpeedCheck.exitRegression)
        guard case .judge(let w) = d else { return XCTFail("\(d)") }
        XCTAssertEqual(w.failures.map(\.kind), [.slower])
        XCTAssertEqual(SpeedCheck.decide(baseline(), measured: fast, refresh: true).exitCode, SpeedCheck.exitUnstable)
        // Not in the baseline: reported by the comparison, never blocking it.
        let other = [MeasuredSpeedup(variant: "train: X", speedup: 1.9, shape: "s", interval: interval(1.9, 0.2))]
        XCTAssertEqual(SpeedCheck.undecided(other, baseline: baseline()).count, 0)
    }

    func testStableRatiosAreJudgedAndWritten() {
        let slow = [MeasuredSpeedup(variant: "train: SM", speedup: 1.4, shape: "s", interval: interval(1.4, 0.03))]
        let d = SpeedCheck.decide(baseline(), measured: slow, refresh: false)
        XCTAssertEqual(d.exitCode, SpeedCheck.exitRegression)
        guard case .judge(let v) = d else { return XCTFail("\(d)") }
        XCTAssertEqual(v.failures.map(\.kind), [.slower])
        let ok = [MeasuredSpeedup(variant: "train: SM", speedup: 1.9, shape: "s", interval: interval(1.9, 0.03))]
        XCTAssertEqual(SpeedCheck.decide(baseline(), measured: ok, refresh: false).exitCode, 0)
        guard case .writeBaseline = SpeedCheck.decide(nil, measured: ok, refresh: true) else { return XCTFail() }
        XCTAssertEqual(SpeedCheck.decide(nil, measured: ok, refresh: false).exitCode, SpeedCheck.exitRegression)
    }

    /// speed-check's measurement path: samples of a fake noisy run become speed-ups with unstable intervals.
    func testSpeedupsCarryTheirIntervals() {
        let samples = [TimedSamples(name: "ref", trainMs: [10, 10, 10], inferenceMs: [4, 4, 4]),
                       TimedSamples(name: "a", trainMs: [5, 5, 5], inferenceMs: [1, 2, 4])]
        let m = SpeedCheck.speedups(samples, shape: "s", target: 0.05)
        XCTAssertEqual(m.map(\.variant), ["train: a", "inference: a"])
        XCTAssertEqual(m[0].speedup, 2, accuracy: 1e-12)
        XCTAssertEqual(m[0].interval?.unstable, false)
        XCTAssertEqual(m[1].speedup, 2, accuracy: 1e-12)   // geometric mean of 4, 2, 1
        XCTAssertEqual(m[1].interval?.unstable, true)
        XCTAssertEqual(SpeedCheck.unstable(m).map(\.variant), ["inference: a"])
    }
}

final class SpeedConditionsTests: XCTestCase {
    /// /proc/stat's first line and /proc/self/stat with a command name holding a space and a parenthesis.
    func testTicksParseAndOthersShare() throws {
        let stat = "cpu  100 5 50 800 10 3 2 0 0 0\ncpu0 50 2 25 400 5 1 1 0 0 0\n"
        let me = "1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 70 30 0 0 20 0 3 0 100 0 0"
        let a = try XCTUnwrap(CPUTicks.parse(stat: stat, selfStat: me))
        XCTAssertEqual(a, CPUTicks(busy: 160, total: 970, own: 100))
        // 400 more busy ticks of 1000, 100 of them ours: others held 30% of the CPU time.
        let b = CPUTicks(busy: 560, total: 1970, own: 200)
        XCTAssertEqual(try XCTUnwrap(CPUTicks.othersShare(a, b)), 0.3, accuracy: 1e-12)
        XCTAssertNil(CPUTicks.othersShare(a, a), "no time passed")
        XCTAssertNil(CPUTicks.parse(stat: "intr 1 2", selfStat: me))
        XCTAssertNil(CPUTicks.parse(stat: stat, selfStat: "1234 (x) S 1"))
        XCTAssertEqual(CPUTicks.loadAverage("1.48 0.76 0.31 3/128 11247\n"), 1.48)
        XCTAssertNil(CPUTicks.loadAverage("x"))
        if FileManager.default.fileExists(atPath: "/proc/stat") { XCTAssertNotNil(CPUTicks.read()) }
    }

    func testWarningsFollowTheDocumentedRule() {
        XCTAssertTrue(SpeedConditions.warnings(othersShare: 0.04, logicalCores: 2, peakBefore: 150,
                                               peakAfter: 130).isEmpty,
                      "4% of the CPU time and a 13% peak change are within the limits")
        let busy = SpeedConditions.warnings(othersShare: 0.3, logicalCores: 2, peakBefore: 150, peakAfter: 100)
        XCTAssertEqual(busy.count, 2)
        XCTAssertTrue(busy[0].hasPrefix("other processes used 30% of the machine's CPU time"), busy[0])
        XCTAssertTrue(busy[0].contains("0.60 of 2 cores"), busy[0])
        XCTAssertTrue(busy[1].contains("from 150.0 to 100.0 GFLOP/s (-33%)"), busy[1])
        XCTAssertTrue(SpeedConditions.warnings(othersShare: nil, logicalCores: 2, peakBefore: nil,
                                               peakAfter: nil).isEmpty)
    }
}

/// The report: every speed-up with its interval, its group's own reference median and the machine's state.
final class SpeedReportIntervalTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("timing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func settings(cache: TimingCache? = nil, log: @escaping (String) -> Void = { _ in }) -> TableRunSettings {
        var s = TableRunSettings(scale: .ci, shape: SpeedShape(batch: 2, seq: 8),
                                 rule: StoppingRule(minRounds: 2, maxRounds: 3, halfWidth: 0.05, timeLimitSeconds: 1e6),
                                 threads: 1, output: dir, memoryBudget: 1e12)
        s.warmup = 0
        s.allowDebugTiming = true
        s.speedOnly = true
        s.log = log
        s.progress = nil
        s.readPeak = { 123.0 }
        s.timingCache = cache
        return s
    }

    func tinyTable(_ id: TableID, variants: Int) -> TableSpec {
        var spec = TableSpec.spec(id)
        spec.variants = Array(spec.variants.prefix(variants)).map {
            var v = $0
            v.config = TableRunnerTests.tiny(v.config)
            return v
        }
        spec.speedReference!.config = TableRunnerTests.tiny(.bertBase)
        return spec
    }

    func testEveryRatioHasItsIntervalAndItsGroupsReferenceInTheReport() throws {
        let r = try TableRunner(settings: settings(), published: nil).report(for: tinyTable(.t1, variants: 2))
        let members = r.speedRows.filter { $0.variant != r.referenceVariant }
        XCTAssertEqual(members.count, 4)
        for s in members {
            let i = try XCTUnwrap(s.interval)
            XCTAssertEqual(s.ourSpeedup, i.speedup)
            XCTAssertLessThanOrEqual(i.low, i.speedup); XCTAssertGreaterThanOrEqual(i.high, i.speedup)
            XCTAssertEqual(i.rounds, s.timing.count)
            XCTAssertTrue((2...3).contains(i.rounds))
            XCTAssertNotNil(s.referenceMs)
            XCTAssertEqual(s.timedIn, "Table1, group 1 of 1")
        }
        let c = try XCTUnwrap(r.speedConditions)
        XCTAssertEqual(c.peakBefore, 123); XCTAssertEqual(c.peakAfter, 123)
        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("| reference ms (same rounds) | our speed-up | 95% interval |"), md)
        XCTAssertTrue(md.contains("Machine during the speed phase"), md)
        let fourier = try XCTUnwrap(members.first { $0.variant == "Fourier" })
        let cell = String(format: "%.2f–%.2f (±%.1f%%)", fourier.interval!.low, fourier.interval!.high,
                          100 * fourier.interval!.relativeHalfWidth)
        XCTAssertTrue(md.contains(cell), md)
        let csv = ReportWriter.csv(r)
        XCTAssertTrue(csv.contains("speed,Fourier,speedup_ci95_low,"), csv)
        XCTAssertTrue(csv.contains("speed,Fourier,speedup_ci95_high,"), csv)
        XCTAssertTrue(csv.contains("speed,Fourier,reference_ms_per_batch_median,"), csv)
        let back = try ReportWriter.decode(try ReportWriter.json(r))
        XCTAssertEqual(back, r)
    }

    func testUnstableRatiosAreMarkedInEveryFormat() throws {
        var r = Report(tableID: .t1, title: "t", scale: .ci, referenceVariant: "BERT")
        var row = SpeedRow(variant: "Linear", timing: TimingSummary(samples: [5, 6, 7]), ourSpeedup: 1.1,
                           shape: "B=2 L=8")
        row.interval = SpeedupInterval(speedup: 1.1, low: 0.9, high: 1.35, rounds: 30, relativeHalfWidth: 0.227,
                                       target: 0.05)
        row.referenceMs = 6.5
        r.speedRows = [row]
        r.speedConditions = SpeedConditions(loadBefore: 2.5, loadAfter: 3.1, peakBefore: 150, peakAfter: 149,
                                            othersShare: 0.4, logicalCores: 2, threads: 2, seconds: 100)
        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("0.90–1.35 (±22.7%) **unstable**"), md)
        XCTAssertTrue(md.contains("> **Warning: busy machine.** Other processes used 40%"), md)
        XCTAssertTrue(md.contains("| 6.5 | 1.10 |"), md)
        let csv = ReportWriter.csv(r)
        XCTAssertTrue(csv.contains("±22.7% over 30 rounds, wider than ±5%: unstable"), csv)
        XCTAssertEqual(r.headlines, ["Linear: speedup 1.10 [0.90–1.35] unstable"])
    }

    /// Within one run_all.sh session a model listed by two tables is timed once: the second table takes the first
    /// one's samples with the reference's from the same rounds, so both print the same speed-up and interval.
    func testASharedVariantIsTimedOnceAndKeepsItsSameRoundReference() throws {
        let cache = TimingCache(directory: dir.appendingPathComponent("session"), machine: "test")
        var lines: [String] = []
        let first = try TableRunner(settings: settings(cache: cache, log: { lines.append($0) }), published: nil)
            .report(for: tinyTable(.t1, variants: 2))
        XCTAssertEqual(lines.filter { $0.contains("speed group") }.count, 1)
        lines.removeAll()
        // The same table again (every variant shared), and one more variant that is new.
        let second = try TableRunner(settings: settings(cache: cache, log: { lines.append($0) }), published: nil)
            .report(for: tinyTable(.t1, variants: 3))
        XCTAssertEqual(lines.filter { $0.contains("speed group") }.count, 1, "only the new variant is timed")
        XCTAssertTrue(lines.contains { $0.contains("speed group 1/1: BERT Base (speed-up reference), Circulant") },
                      "\(lines)")
        for name in ["Fourier", "Hartley"] {
            for metric in ["ms_per_batch", "inference_ms_per_ex"] {
                let a = try XCTUnwrap(first.speedRows.first { $0.variant == name && $0.msMetric == metric })
                let b = try XCTUnwrap(second.speedRows.first { $0.variant == name && $0.msMetric == metric })
                XCTAssertEqual(a.interval, b.interval)
                XCTAssertEqual(a.ourSpeedup, b.ourSpeedup)
                XCTAssertEqual(a.referenceMs, b.referenceMs)
                XCTAssertEqual(b.timedIn, "Table1, group 1 of 1", "timed by the first run")
            }
        }
        XCTAssertTrue(second.notes.contains { $0.contains("2 variant(s) shared from an earlier table") },
                      "\(second.notes)")
        // Another rule, shape or machine is another key: nothing is shared.
        let k = cache.key(variant: .linear4, reference: .bertBase, shape: SpeedShape(batch: 2, seq: 8), threads: 1,
                          warmup: 0, rule: .defaults(.ci))
        XCTAssertNotEqual(k, cache.key(variant: .linear4, reference: .bertBase, shape: SpeedShape(batch: 2, seq: 8),
                                       threads: 2, warmup: 0, rule: .defaults(.ci)))
        XCTAssertNotEqual(k, TimingCache(directory: cache.directory, machine: "other")
            .key(variant: .linear4, reference: .bertBase, shape: SpeedShape(batch: 2, seq: 8), threads: 1, warmup: 0,
                 rule: .defaults(.ci)))
        XCTAssertNil(cache.load(k))
        XCTAssertNil(TimingCache.fromEnvironment([:]))
        XCTAssertEqual(TimingCache.fromEnvironment([TimingCache.environmentVariable: "/tmp/x"])?.directory.path,
                       "/tmp/x")
    }

    /// `plan` counts a model listed by several tables once, as run_all.sh times it: Linear-4 is in Tables 2, 3
    /// and 11.
    func testTheWorkloadTimesEachDistinctConfigOnce() throws {
        let s = TableRunSettings(scale: .ci, threads: 2, memoryBudget: 1e12)
        let root = DataRoot.resolve(explicit: dir.path)
        let w = Workload.count([.t2, .t3, .t11], settings: s, root: root)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        let timed = w.speed.flatMap { $0.groups.flatMap { $0.dropFirst() } }.map { String(decoding: try! enc.encode($0),
                                                                                          as: UTF8.self) }
        XCTAssertEqual(timed.count, Set(timed).count, "no config is timed twice")
        let linear4 = String(decoding: try enc.encode(s.shape.config(.linear4)), as: UTF8.self)
        XCTAssertEqual(timed.filter { $0 == linear4 }.count, 1)
        XCTAssertFalse(w.speed.flatMap(\.shared).isEmpty)
    }
}
