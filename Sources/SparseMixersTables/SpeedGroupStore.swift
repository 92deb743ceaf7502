import Foundation
import SparseMixersPaper
import SparseMixersReports

/// The samples of one speed group (its reference and variants, timed together in the same rounds), kept as a
/// file so that the group can be timed by one job (on a whole node: `sparse-mixers job speed`) and the table's
/// report assembled by another (`sparse-mixers job report`). A file is used only when everything that
/// determines the group's timing matches: table, group, the models' names in order, shape, warm-up, the rounds'
/// stopping rule and threads. It keeps how the rounds stopped, so the report marks unstable ratios as a local
/// run would.
public struct SpeedGroupStore {
    public var directory: URL
    /// True: a group without a file is an error (a report job must not time on a shared node); false: it is timed.
    public var required: Bool

    public init(directory: URL, required: Bool) { self.directory = directory; self.required = required }

    public struct Entry: Codable, Equatable {
        public var table: String
        public var group: Int
        public var names: [String]
        public var shape: SpeedShape
        public var warmup: Int
        /// The stopping rule: minimum and maximum rounds, half-width, time limit (seconds).
        public var minRounds: Int
        public var maxRounds: Int
        public var halfWidth: Double
        public var timeLimitSeconds: Double
        public var threads: Int
        public var trainMs: [[Double]]
        public var inferenceMs: [[Double]]
        /// Rounds timed, why they stopped and their seconds (not part of the match).
        public var rounds: Int
        public var stop: StopReason?
        public var seconds: Double
        /// Host the group was timed on (the report's environment is the report job's).
        public var host: String
        public var date: String
    }

    /// `<directory>/<Table>-group<g>-<shape>.json`.
    public func url(_ table: TableID, group: Int, shape: SpeedShape) -> URL {
        directory.appendingPathComponent("\(table.fileStem)-group\(group + 1)-\(shape.batch)x\(shape.seq).json")
    }

    func key(_ table: TableID, _ group: Int, _ names: [String], _ s: TableRunSettings) -> Entry {
        Entry(table: table.fileStem, group: group, names: names, shape: s.shape, warmup: s.warmup,
              minRounds: s.rule.minRounds, maxRounds: s.rule.maxRounds, halfWidth: s.rule.halfWidth,
              timeLimitSeconds: s.rule.timeLimitSeconds, threads: s.threads, trainMs: [], inferenceMs: [],
              rounds: 0, stop: nil, seconds: 0, host: "", date: "")
    }

    /// The stored samples of the group, if a matching file exists.
    public func load(_ table: TableID, group: Int, names: [String], settings: TableRunSettings) throws -> TimedRun? {
        let u = url(table, group: group, shape: settings.shape)
        guard let d = FileManager.default.contents(atPath: u.path) else {
            if required {
                throw TableRunError("speed group \(group + 1) of \(table.fileStem) has no timing in \(u.path): "
                                    + "its speed job (`sparse-mixers job speed`) has not run")
            }
            return nil
        }
        let e = try JSONDecoder().decode(Entry.self, from: d)
        var k = e; k.trainMs = []; k.inferenceMs = []; k.host = ""; k.date = ""; k.rounds = 0; k.stop = nil
        k.seconds = 0
        guard k == key(table, group, names, settings), e.trainMs.count == names.count,
              e.inferenceMs.count == names.count, let stop = e.stop
        else {
            if required {
                throw TableRunError("\(u.path) was timed for another group, shape, warm-up, rounds or thread count")
            }
            return nil
        }
        return TimedRun(samples: names.indices.map { TimedSamples(name: names[$0], trainMs: e.trainMs[$0],
                                                                   inferenceMs: e.inferenceMs[$0]) },
                        rounds: e.rounds, stop: stop, seconds: e.seconds)
    }

    public func store(_ run: TimedRun, table: TableID, group: Int, settings: TableRunSettings) throws {
        var e = key(table, group, run.samples.map(\.name), settings)
        e.trainMs = run.samples.map(\.trainMs)
        e.inferenceMs = run.samples.map(\.inferenceMs)
        e.rounds = run.rounds; e.stop = run.stop; e.seconds = run.seconds
        e.host = ProcessInfo.processInfo.hostName
        e.date = ISO8601DateFormatter().string(from: Date())
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try enc.encode(e), to: url(table, group: group, shape: settings.shape))
    }
}
