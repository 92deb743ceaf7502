import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersReports

/// The flags every `TableN` executable takes.
public struct TableOptions: ParsableArguments {
    @Option(help: ArgumentHelp("ci (quick look: tiny accuracy models, speed at 2 x 128), small (seeds, 5.7M tokens per "
                               + "run), long (8x small's tokens), paper."))
    public var scale: String = "ci"
    @Flag(help: "Measure speed (and analytic cost) only; no pre-training or fine-tuning.")
    public var speedOnly = false
    @Flag(help: "Pre-train and fine-tune only; no speed measurement (the reports name it as not run).")
    public var accuracyOnly = false
    @Flag(help: "Pre-train only: skip fine-tuning (the reports name it as not run).")
    public var noFinetune = false
    @Option(help: ArgumentHelp("Pre-train and fine-tune only these rows (comma-separated names as in the report) and "
                               + "the table's first, the reference of the differences; the others keep the paper's "
                               + "numbers, named as not run."))
    public var rows: String?
    @Option(help: "Data root (default: Data/, then ../shared/data).")
    public var data: String?
    @Option(help: "Sequences per timed batch (default 8; 2 at --scale ci).")
    public var batch: Int?
    @Option(help: "Tokens per timed sequence (default 512; 128 at --scale ci).")
    public var seq: Int?
    @Option(help: "Timed rounds always made per speed group (at least 2; default 4 at ci, 5 otherwise).")
    public var minRounds: Int?
    @Option(help: "Timed rounds at most per speed group (default 20).")
    public var maxRounds: Int?
    @Option(help: ArgumentHelp("Percent: rounds stop once every speed-up's 95% interval is within this half-width "
                               + "(default 15 at ci, 5 otherwise)."))
    public var halfWidth: Double?
    @Option(help: ArgumentHelp("Seconds of timed rounds per speed group after which the ratios still wider than "
                               + "--half-width are marked unstable (default 30 at ci, 1800 otherwise)."))
    public var timeLimit: Double?
    @Option(help: "Untimed warm-up steps per model.")
    public var warmup: Int = 1
    @Option(help: "Threads for OpenBLAS, FFTW and the element-wise loops.")
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Report directory.")
    public var output: String = "Reports"
    @Option(help: ArgumentHelp("Variants pre-trained and fine-tuned side by side, one thread each (default: --threads "
                               + "at ci and small, 1 at paper)."))
    public var jobs: Int?
    @Option(name: .customLong("memory-budget-gb"),
            help: ArgumentHelp("Memory the timed models of one group may use together (default: 75% of RAM, at most "
                               + "85% of what is free)."))
    public var memoryBudgetGB: Double?

    public init() {}

    public mutating func validate() throws {
        guard Scale(rawValue: scale) != nil else { throw ValidationError("--scale must be ci, small, long or paper") }
        try Flags.int(batch, "batch", 1...Flags.maxBatch)
        try Flags.int(seq, "seq", 2...Flags.maxSeq)
        try Flags.rounds(minRounds: minRounds ?? StoppingRule.defaults(Scale(rawValue: scale) ?? .ci).minRounds,
                         maxRounds: maxRounds, halfWidth: halfWidth, timeLimit: timeLimit)
        try Flags.int(warmup, "warmup", 0...10_000)
        try Flags.threads(threads)
        if let m = memoryBudgetGB { try Flags.double(m, "memory-budget-gb", 0...1e6, openLower: true) }
        try Flags.int(jobs, "jobs", 1...Flags.maxThreads)
        if speedOnly && accuracyOnly { throw ValidationError("--speed-only and --accuracy-only exclude each other") }
        if let rows { _ = try Self.rowNames(rows) }
        // The report folder is created and checked now, not after hours of work.
        try Flags.writableDirectory(output, "output")
    }

    /// The names of `--rows`, each checked against the rows of `table` (a table target) or, with nil (`plan`,
    /// which takes several tables), of any table; an unknown name is refused with the list.
    public static func rowNames(_ text: String, table: TableID? = nil) throws -> Set<String> {
        let specs = table.map { [TableSpec.spec($0)] } ?? TableSpec.all
        let valid = specs.flatMap { $0.accuracyVariants.map(\.name) }
        let within = table.map { " of \($0.fileStem)" } ?? ""
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names.isEmpty { throw ValidationError("--rows: no row named") }
        for n in names where !valid.contains(n) {
            throw ValidationError("--rows: no row '\(n)'\(within)"
                                  + (table == nil ? "" : "; its rows: " + valid.joined(separator: ", ")))
        }
        return Set(names)
    }

    public var settings: TableRunSettings {
        let sc = Scale(rawValue: scale) ?? .ci
        let d = SpeedShape.defaults(sc)
        var s = TableRunSettings(scale: sc, shape: SpeedShape(batch: batch ?? d.batch, seq: seq ?? d.seq),
                                 rule: Flags.rule(sc, minRounds: minRounds, maxRounds: maxRounds,
                                                  halfWidth: halfWidth, timeLimit: timeLimit),
                                 threads: threads,
                                 output: URL(fileURLWithPath: output, isDirectory: true),
                                 memoryBudget: memoryBudgetGB.map { $0 * 1e9 })
        s.speedOnly = speedOnly
        s.fineTune = !noFinetune
        s.accuracyOnly = accuracyOnly
        s.dataDirectory = data
        s.rows = rows.flatMap { try? Self.rowNames($0) }
        s.warmup = warmup
        if let j = jobs { s.accuracyLanes = j }
        s.timingCache = TimingCache.fromEnvironment()
        return s
    }
}

/// The body of every `Tables/<Name>/main.swift`: `TableMain.run(.t5)`.
public enum TableMain {
    nonisolated(unsafe) static var current: TableID = .t1

    public static func run(_ id: TableID) {
        BLASKernel.ensureFastKernel()
        current = id
        TableCommand.main()
    }
}

struct TableCommand: ParsableCommand {
    static var configuration: CommandConfiguration {
        let spec = TableSpec.spec(TableMain.current)
        let also = spec.alsoWrites.isEmpty ? ""
            : " Also writes " + spec.alsoWrites.map(\.fileStem).joined(separator: " and ") + " from the same run."
        return CommandConfiguration(commandName: TableMain.current.fileStem,
                                    abstract: "\(TableMain.current.fileStem): \(spec.title).",
                                    discussion: "Writes <output>/\(TableMain.current.fileStem).{csv,md,json}.\(also)")
    }

    @OptionGroup var options: TableOptions

    func run() throws {
        let start = Date()
        if let rows = options.rows { _ = try TableOptions.rowNames(rows, table: TableMain.current) }
        if let m = options.memoryBudgetGB { MemoryBudget.limit = m * 1e9 }
        let reports = try TableRunner(settings: options.settings).runAndWrite(TableMain.current)
        for r in reports {
            let ran = r.rows.filter { $0.ours != nil }.count
            print("\(r.tableID.fileStem): \(ran) value(s), \(r.speedRows.count) speed row(s), "
                  + "\(r.skipped.count) not run")
            for h in r.headlines { print("  \(h)") }
        }
        print(String(format: "%@ done in %.0f s", TableMain.current.fileStem, Date().timeIntervalSince(start)))
    }
}
