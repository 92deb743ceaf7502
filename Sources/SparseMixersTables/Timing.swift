import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersReports

// Interleaved timing: every model of a group (the reference first) is built and warmed up, then each repeat
// ("round") times one training step and one inference forward of every model in turn, starting one model later
// each round. Drift of a shared machine (another job starting, thermal limits) then lands on all models alike,
// and no model always runs right after the same neighbour.

/// One thing to time: a training step and an inference forward, as closures (a real model, or a fake in tests).
public struct TimedWork {
    public var name: String
    /// One training step (forward + backward + optimizer update). `step` counts from 0 over warm-up and repeats.
    public var train: (_ step: Int) throws -> Void
    /// One inference forward.
    public var infer: () throws -> Void

    public init(name: String, train: @escaping (_ step: Int) throws -> Void, infer: @escaping () throws -> Void) {
        self.name = name; self.train = train; self.infer = infer
    }
}

/// Raw samples of one `TimedWork`, in milliseconds, in the order they were taken.
public struct TimedSamples: Equatable, Sendable {
    public var name: String
    public var trainMs: [Double] = []
    public var inferenceMs: [Double] = []
}

public enum Interleaving {
    /// The order of round `round` over `count` models: 0..<count rotated left by `round`
    /// (round 0: 0,1,2; round 1: 1,2,0; round 2: 2,0,1; ...).
    public static func order(count: Int, round: Int) -> [Int] {
        guard count > 0 else { return [] }
        let s = round % count
        return Array(s..<count) + Array(0..<s)
    }

    /// Every round's order.
    public static func schedule(count: Int, repeats: Int) -> [[Int]] {
        (0..<repeats).map { order(count: count, round: $0) }
    }

    /// Monotonic nanoseconds.
    public static func uptimeNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Warms every work up `warmup` times (train then infer, untimed, in list order), then times exactly
    /// `repeats` rounds in the rotated order of `order(count:round:)`. `clock` is injectable for tests.
    public static func run(_ works: [TimedWork], repeats: Int, warmup: Int,
                           clock: () -> UInt64 = Interleaving.uptimeNanoseconds,
                           progress: ((String) -> Void)? = nil) throws -> [TimedSamples] {
        try run(works, rule: .fixed(repeats), warmup: warmup, clock: clock, progress: progress).samples
    }

    /// Warms every work up `warmup` times (train then infer, untimed, in list order), then times rounds in the
    /// rotated order of `order(count:round:)` until `rule` stops them: within a round each work runs its training
    /// step and then its inference forward. After each round from `rule.minRounds` on, the speed-up of every work
    /// after the first (the reference) gets its paired interval (`SpeedupInterval.paired`, training and
    /// inference); the rounds stop when every one is within `rule.halfWidth`, else at `rule.maxRounds` or once
    /// the timed rounds have taken `rule.timeLimitSeconds` of `clock`. `clock` is injectable for tests;
    /// `onRound` sees every finished round.
    public static func run(_ works: [TimedWork], rule: StoppingRule, warmup: Int,
                           clock: () -> UInt64 = Interleaving.uptimeNanoseconds,
                           progress: ((String) -> Void)? = nil,
                           onRound: ((RoundStatus) -> Void)? = nil) throws -> TimedRun {
        var out = works.map { TimedSamples(name: $0.name) }
        for w in 0..<warmup {
            for work in works {
                progress?("warm-up \(w + 1)/\(warmup): \(work.name)")
                try work.train(w); try work.infer()
            }
        }
        let start = clock()
        var r = 0
        while true {
            for i in order(count: works.count, round: r) {
                let t0 = clock()
                try works[i].train(warmup + r)
                let t1 = clock()
                try works[i].infer()
                let t2 = clock()
                out[i].trainMs.append(Double(t1 &- t0) * 1e-6)
                out[i].inferenceMs.append(Double(t2 &- t1) * 1e-6)
            }
            r += 1
            let seconds = Double(clock() &- start) * 1e-9
            let widest = widestHalfWidth(out)
            let stop: StopReason? = r < rule.minRounds ? nil
                : rule.halfWidth.isFinite && widest.map({ $0 <= rule.halfWidth }) == true ? .halfWidthReached
                : r >= rule.maxRounds ? .maxRounds
                : seconds >= rule.timeLimitSeconds ? .timeLimit : nil
            onRound?(RoundStatus(round: r, rule: rule, widest: widest, seconds: seconds, stop: stop))
            if let stop { return TimedRun(samples: out, rounds: r, stop: stop, seconds: seconds) }
        }
    }

    /// The widest relative half-width (`SpeedupInterval.relativeHalfWidth`) over the training and inference
    /// speed-ups of every sample set after the first against the first; 0 when there is nothing to compare, nil
    /// while some interval cannot be formed (fewer than two rounds, or a zero time).
    public static func widestHalfWidth(_ samples: [TimedSamples]) -> Double? {
        guard let ref = samples.first else { return 0 }
        var widest = 0.0
        for s in samples.dropFirst() {
            for (a, b) in [(ref.trainMs, s.trainMs), (ref.inferenceMs, s.inferenceMs)] {
                guard let i = SpeedupInterval.paired(reference: a, variant: b, target: 0) else { return nil }
                widest = max(widest, i.relativeHalfWidth)
            }
        }
        return widest
    }
}

/// When interleaved rounds stop (`Interleaving.run(_:rule:warmup:)`).
public struct StoppingRule: Equatable, Sendable {
    /// Rounds always timed (at least 2: an interval needs two paired ratios).
    public var minRounds: Int
    /// Rounds at most.
    public var maxRounds: Int
    /// Relative half-width every speed-up's 95% interval must reach (0.05: ±5%).
    public var halfWidth: Double
    /// Seconds of timed rounds (warm-up excluded) after which no new round starts once `minRounds` are done.
    public var timeLimitSeconds: Double

    public init(minRounds: Int, maxRounds: Int, halfWidth: Double, timeLimitSeconds: Double) {
        self.minRounds = minRounds; self.maxRounds = maxRounds; self.halfWidth = halfWidth
        self.timeLimitSeconds = timeLimitSeconds
    }

    /// Exactly `rounds` rounds, whatever the intervals (the half-width and time limit are infinite, so this rule
    /// is not for JSON).
    public static func fixed(_ rounds: Int) -> StoppingRule {
        StoppingRule(minRounds: rounds, maxRounds: rounds, halfWidth: .infinity, timeLimitSeconds: .infinity)
    }

    public static let defaultMinRounds = 5
    public static let defaultHalfWidth = 0.05

    /// Defaults per scale. `ci`, the first look at 2 x 128 (a round of a group takes 3-12 s): at least 4 rounds,
    /// then until every interval is within ±15%, at most 20 rounds or 30 s of rounds per group. Measured on a quiet
    /// machine, ±10% and 60 s spent 1,089 s in the rounds of 24 groups (18 of `run_all.sh`'s 40 minutes), and 30 of
    /// the 116 speed-ups still ended unstable: one slow round in ten (a page-fault storm, another VM's burst) holds
    /// a 5-10 round t interval above ±10%. With ±15%, 30 s and 5 rounds a fresh first look took 28 minutes, 558 s
    /// of them in rounds, 13 of 116 unstable; replayed on that run's samples, 4 rounds spend 511 s and leave 15
    /// unstable, 3 rounds 469 s and 27; run with 4 rounds (and 100 pre-training steps), a fresh first look took
    /// 24.6 minutes, 494 s in rounds, 5 of 116 unstable (Results/ci/first-look-2026-12-04-quiet.md).
    /// `small` and `paper` (8 x 512: a BERT training step alone takes 13-19 s): ±5%, at least 5 rounds, at most 20
    /// rounds or 30 minutes per group. `speed-check` has its own rule (`SpeedCheck.defaultRule`).
    public static func defaults(_ scale: Scale) -> StoppingRule {
        scale == .ci ? StoppingRule(minRounds: 4, maxRounds: 20, halfWidth: 0.15, timeLimitSeconds: 30)
            : StoppingRule(minRounds: defaultMinRounds, maxRounds: 20, halfWidth: defaultHalfWidth,
                           timeLimitSeconds: 1800)
    }

    /// Sentence for reports.
    public var text: String {
        if halfWidth.isInfinite { return "\(minRounds) rounds" }
        return String(format: "at least %d rounds, then until every speed-up's 95%% interval is within ±%.1f%% "
            + "(--half-width), at most %d rounds (--max-rounds) or %.0f s of rounds per group (--time-limit)",
            minRounds, 100 * halfWidth, maxRounds, timeLimitSeconds)
    }
}

public enum StopReason: String, Codable, Sendable {
    case halfWidthReached = "every interval within the half-width"
    case maxRounds = "maximum rounds reached"
    case timeLimit = "time limit reached"
}

/// One finished round, for progress lines.
public struct RoundStatus: Sendable {
    public var round: Int
    public var rule: StoppingRule
    /// Widest relative half-width so far (nil before two rounds).
    public var widest: Double?
    /// Seconds of timed rounds so far.
    public var seconds: Double
    /// Set on the last round.
    public var stop: StopReason?

    /// "round 6 (5-30): widest ±7.2%, target ±5% | 42 s, at most 1:18 left".
    public var text: String {
        let w = widest.map { String(format: "widest ±%.1f%%", 100 * $0) } ?? "no interval yet"
        let target = rule.halfWidth.isFinite ? String(format: ", target ±%.0f%%", 100 * rule.halfWidth) : ""
        let perRound = seconds / Double(max(round, 1))
        let bound = min(Double(rule.maxRounds - round) * perRound,
                        max(rule.timeLimitSeconds - seconds, Double(max(rule.minRounds - round, 0)) * perRound))
        let left = stop.map { ": stopped, \($0.rawValue)" } ?? ", at most \(Self.clock(max(0, bound))) left"
        let elapsed = String(format: "%.0f", seconds)
        return "round \(round) (\(rule.minRounds)-\(rule.maxRounds)): \(w)\(target) | \(elapsed) s\(left)"
    }

    static func clock(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return String(format: "%d:%02d", t / 60, t % 60)
    }
}

/// Samples of interleaved rounds and why they stopped.
public struct TimedRun: Sendable {
    public var samples: [TimedSamples]
    public var rounds: Int
    public var stop: StopReason
    /// Seconds of timed rounds.
    public var seconds: Double
}

/// One variant's times and the reference's from the same rounds: everything its speed-ups and intervals are
/// computed from, so it can be shared by tables that list the same model (`TimingCache`).
public struct PairedTiming: Codable, Equatable, Sendable {
    public var variant: String
    public var trainMs: [Double]
    public var inferenceMs: [Double]
    public var referenceTrainMs: [Double]
    public var referenceInferenceMs: [Double]
    public var stop: StopReason
    /// "Table3, group 1 of 2".
    public var timedIn: String

    public init(variant: String, trainMs: [Double], inferenceMs: [Double], referenceTrainMs: [Double],
                referenceInferenceMs: [Double], stop: StopReason, timedIn: String) {
        self.variant = variant; self.trainMs = trainMs; self.inferenceMs = inferenceMs
        self.referenceTrainMs = referenceTrainMs; self.referenceInferenceMs = referenceInferenceMs
        self.stop = stop; self.timedIn = timedIn
    }

    /// Every work after the first of `run`, paired with the first.
    public static func split(_ run: TimedRun, timedIn: String) -> [PairedTiming] {
        guard let ref = run.samples.first else { return [] }
        return run.samples.dropFirst().map {
            PairedTiming(variant: $0.name, trainMs: $0.trainMs, inferenceMs: $0.inferenceMs,
                         referenceTrainMs: ref.trainMs, referenceInferenceMs: ref.inferenceMs, stop: run.stop,
                         timedIn: timedIn)
        }
    }

    public func trainInterval(target: Double) -> SpeedupInterval? {
        SpeedupInterval.paired(reference: referenceTrainMs, variant: trainMs, target: target)
    }

    public func inferenceInterval(target: Double) -> SpeedupInterval? {
        SpeedupInterval.paired(reference: referenceInferenceMs, variant: inferenceMs, target: target)
    }
}

// MARK: - Speed shapes and real models

/// The shapes speed is measured at, and the rule that adapts a paper-size config to them.
public struct SpeedShape: Codable, Equatable, Sendable {
    public var batch: Int
    public var seq: Int

    public init(batch: Int, seq: Int) { self.batch = batch; self.seq = seq }

    /// Defaults per scale: the paper's per-device batch (8 x 512, MoE groups of 4096 tokens as in the paper) at
    /// `small` and `paper`; 2 x 128 at `ci` so the default run is a quick first look.
    public static func defaults(_ scale: Scale) -> SpeedShape {
        scale == .ci ? SpeedShape(batch: 2, seq: 128) : SpeedShape(batch: 8, seq: 512)
    }

    public var label: String { "B=\(batch) L=\(seq)" }

    /// A paper-size config at this shape: `ModelConfig.atSequenceLength(seq)` (widths, layers and experts
    /// unchanged; masked predictions, 80 of 512, and the routing group, 4096 of 512, scaled with the sequence).
    public func config(_ c: ModelConfig) -> ModelConfig { c.atSequenceLength(seq) }

    /// Sentence for reports.
    public var ruleText: String {
        "Speed is measured on the paper-size models (not the width-shrunk accuracy models) at batch \(batch) x "
            + "\(seq) tokens; masked predictions and the MoE routing group scale with the sequence (80 and 4096 "
            + "tokens at 512)" + (batch == 8 && seq == 512 ? "." :
            "; the paper's per-device batch is 8 x 512 (use --batch 8 --seq 512). At this small batch the AdamW "
            + "update, whose cost grows with the parameter count and not with the batch, weighs far more in a "
            + "training step than at 8 x 512, so models with many expert parameters look slower in training here "
            + "than they would at the paper's shape; inference speed-ups carry no optimizer cost.")
    }
}

/// A paper-size model with its optimizer and a random batch, ready to time.
public final class TimedModel {
    public let name: String
    public let config: ModelConfig
    public let batch: Batch
    let model: Model
    let optimizer: AdamW

    public init(name: String, config: ModelConfig, batchSize: Int, seed: UInt64 = 0) throws {
        self.name = name
        self.config = config
        model = try Model(config: config, head: .pretraining, seed: seed)
        optimizer = AdamW(parameterCount: model.params.count)
        batch = Benchmark.randomBatch(config, batch: batchSize, seed: seed &+ 1)
    }

    public var parameterCount: Int { model.parameterCount }

    /// Training step = forward (dropout on) + backward + AdamW, as `Benchmark.run` times it.
    public func trainStep(_ step: Int) throws {
        _ = try model.forward(batch, training: true, dropoutSeed: UInt64(step))
        model.backwardAndUpdate(optimizer, learningRate: 1e-5)
    }

    public func inference() throws { _ = try model.forward(batch, training: false) }

    /// The closures hold the model strongly (they are not stored in it, so no cycle): a caller's array of models
    /// may be released as soon as it has made the works.
    public var work: TimedWork {
        TimedWork(name: name, train: { try self.trainStep($0) }, infer: { try self.inference() })
    }
}

/// Splits timed models into groups that fit a memory budget. Each group is timed together with its own copy of
/// the reference, so every speed-up is a ratio of times taken in the same rounds.
public enum SpeedGroups {
    /// A table's timed models at a shape: the reference, the other run variants, and their memory groups.
    /// What `TableRunner` times and `Workload` counts.
    public struct TablePlan {
        public var reference: VariantSpec
        public var referenceConfig: ModelConfig
        public var members: [VariantSpec]
        /// The members' paper-size configs at the shape.
        public var configs: [ModelConfig]
        /// Memory of a training step of the reference and of each member at the shape
        /// (`MemoryBudget.trainingBytes`); a config the model would refuse counts as never fitting.
        public var referenceBytes: Double
        public var memberBytes: [Double]
        public var groups: Plan

        public init?(_ spec: TableSpec, shape: SpeedShape, budget: Double) {
            guard let ref = spec.speedReference else { return nil }
            func bytes(_ c: ModelConfig) -> Double {
                (try? MemoryBudget.trainingBytes(c, batch: shape.batch)) ?? .infinity
            }
            reference = ref
            referenceConfig = shape.config(ref.config)
            members = spec.runVariants.filter { $0.name != ref.name }
            configs = members.map { shape.config($0.config) }
            referenceBytes = bytes(referenceConfig)
            memberBytes = configs.map(bytes)
            groups = SpeedGroups.plan(referenceBytes: referenceBytes, memberBytes: memberBytes, budget: budget)
        }
    }

    public struct Plan: Equatable {
        /// Indices of the members of each group (the reference is not among them).
        public var groups: [[Int]]
        /// Members that do not fit next to the reference, with their estimated bytes.
        public var tooLarge: [(index: Int, bytes: Double)]
        public static func == (a: Plan, b: Plan) -> Bool {
            a.groups == b.groups && a.tooLarge.map(\.index) == b.tooLarge.map(\.index)
        }
    }

    /// Greedy in list order: a group is the reference plus as many following members as fit in `budget`.
    public static func plan(referenceBytes: Double, memberBytes: [Double], budget: Double,
                            maxGroupSize: Int = .max) -> Plan {
        var groups: [[Int]] = [], tooLarge: [(Int, Double)] = []
        var current: [Int] = [], used = referenceBytes
        for (i, b) in memberBytes.enumerated() {
            if referenceBytes + b > budget { tooLarge.append((i, b)); continue }
            if used + b > budget || current.count >= maxGroupSize {
                groups.append(current); current = []; used = referenceBytes
            }
            current.append(i); used += b
        }
        if !current.isEmpty { groups.append(current) }
        return Plan(groups: groups, tooLarge: tooLarge)
    }
}
