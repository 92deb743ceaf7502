import Foundation
import SparseMixers
import SparseMixersData
import SparseMixersReports
import SparseMixersTraining

/// Timings shared by the tables of one `run_all.sh` invocation, so that a model listed by several tables (Linear-4
/// in Tables 2, 3 and 11) is timed once and every table prints the same speed-up for it.
///
/// `run_all.sh` exports `SMX_TIMING_SESSION` (a fresh directory under `Reports/timing/` per invocation); a table
/// target run by hand has none and times everything itself. An entry holds one variant's `PairedTiming`: its
/// samples *and the reference's from the same rounds*, so a shared speed-up is still a same-round ratio. It is
/// keyed by the variant's and the reference's paper-size configs at the timed shape, the batch, threads, warm-up,
/// stopping rule and machine (host name and cores); each file carries that identity in full and is used only when
/// it matches (a hash collision or a stale file is timed again). Files are written atomically (`AtomicFile`).
public struct TimingCache: Sendable {
    public static let environmentVariable = "SMX_TIMING_SESSION"
    public var directory: URL
    /// Host name and cores: part of every key.
    public var machine: String

    public init(directory: URL, machine: String = TimingCache.thisMachine) {
        self.directory = directory; self.machine = machine
    }

    public static var thisMachine: String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(cString: name) : "unknown host"
        return "\(host) \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }

    /// The session of `run_all.sh`, from the environment; nil when not set or empty.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> TimingCache? {
        guard let path = env[environmentVariable], !path.isEmpty else { return nil }
        return TimingCache(directory: URL(fileURLWithPath: path, isDirectory: true))
    }

    /// The full identity of a timing (canonical JSON of the configs, then the settings) and its file name.
    public struct Key: Equatable, Sendable {
        public var identity: String
        public var file: String
    }

    public func key(variant: ModelConfig, reference: ModelConfig, shape: SpeedShape, threads: Int, warmup: Int,
                    rule: StoppingRule) -> Key {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let v = (try? enc.encode(variant)).map { String(decoding: $0, as: UTF8.self) } ?? "\(variant)"
        let r = (try? enc.encode(reference)).map { String(decoding: $0, as: UTF8.self) } ?? "\(reference)"
        let identity = "variant \(v)\nreference \(r)\nshape \(shape.label)\nthreads \(threads)\nwarmup \(warmup)\n"
            + "rule \(rule.minRounds) \(rule.maxRounds) \(rule.halfWidth) \(rule.timeLimitSeconds)\nmachine \(machine)"
        var h = FNV1a()
        h.combine(identity)
        return Key(identity: identity, file: "timing-\(h.hex).json")
    }

    struct Entry: Codable {
        var identity: String
        var timing: PairedTiming
    }

    /// The stored timing of `key`, or nil (none, unreadable, or another identity under the same name).
    public func load(_ key: Key) -> PairedTiming? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(key.file).path),
              let e = try? JSONDecoder().decode(Entry.self, from: data), e.identity == key.identity else { return nil }
        return e.timing
    }

    public func store(_ timing: PairedTiming, key: Key) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(Entry(identity: key.identity, timing: timing)),
                             to: directory.appendingPathComponent(key.file))
    }
}

/// A progress line for a long step, as `pretrain` shows one: on a terminal redrawn at every update; in a log one
/// line at the first update, every `every` updates and at the last.
public struct StepProgress {
    public var line: ProgressLine
    public var every: Int

    public init(_ line: ProgressLine = ProgressLine(), every: Int) {
        self.line = line; self.every = max(1, every)
    }

    public func show(_ index: Int, _ text: String, final: Bool) {
        if line.isTerminal || final || index == 1 || index % every == 0 { line.show(text, final: final) }
    }
}

/// Reads the machine's state at the start of a speed phase and, at `finish`, turns it into `SpeedConditions`:
/// load average, sgemm peak (`readPeak`, nil for none) and the /proc/stat tick counters.
public struct MachineWatch {
    let load: Double?, peak: Double?, ticks: CPUTicks?, start: Date
    let readPeak: (() -> Double)?

    public init(readPeak: (() -> Double)?) {
        self.readPeak = readPeak
        load = CPUTicks.loadAverage()
        peak = readPeak?()
        ticks = CPUTicks.read()
        start = Date()
    }

    public func finish(threads: Int) -> SpeedConditions {
        let after = CPUTicks.read()
        let seconds = Date().timeIntervalSince(start)
        let peakAfter = readPeak?()
        return SpeedConditions(loadBefore: load, loadAfter: CPUTicks.loadAverage(), peakBefore: peak,
                               peakAfter: peakAfter,
                               othersShare: ticks.flatMap { a in after.flatMap { CPUTicks.othersShare(a, $0) } },
                               logicalCores: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                               seconds: seconds)
    }
}
