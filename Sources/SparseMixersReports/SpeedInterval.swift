import Foundation

/// A speed-up with its 95% interval over interleaved rounds.
///
/// Round r times the reference and the variant once each, so its ratio `reference_r / variant_r` is a same-round
/// ratio: drift of a shared machine that lasts longer than a round lands on both times and cancels. The speed-up is
/// the geometric mean of the per-round ratios, `exp(mean_r d_r)` with `d_r = ln reference_r − ln variant_r`, and
/// the interval is Student's t interval on the log-ratios, mapped back:
///
///     [exp(m − h), exp(m + h)],   m = mean d_r,   h = t_{0.975, n−1} · s_d / √n
///
/// (logs, because a ratio's noise is multiplicative and its interval is then symmetric in log space; no
/// bootstrap). Its relative half-width is `exp(h) − 1`, the distance of the upper end from the speed-up in percent
/// of it (the lower end is nearer: `1 − exp(−h)`). Needs at least two rounds.
public struct SpeedupInterval: Codable, Equatable, Sendable {
    /// Geometric mean of the paired per-round ratios reference / variant.
    public var speedup: Double
    public var low: Double
    public var high: Double
    /// Rounds (paired ratios) behind it.
    public var rounds: Int
    /// exp(h) − 1.
    public var relativeHalfWidth: Double
    /// The half-width the stopping rule asked for (relative, e.g. 0.05).
    public var target: Double

    /// The rounds ended (time limit or maximum rounds) before the interval was as narrow as asked.
    public var unstable: Bool { !(relativeHalfWidth <= target) }

    public init(speedup: Double, low: Double, high: Double, rounds: Int, relativeHalfWidth: Double, target: Double) {
        self.speedup = speedup; self.low = low; self.high = high; self.rounds = rounds
        self.relativeHalfWidth = relativeHalfWidth; self.target = target
    }

    /// The interval of the paired ratios `reference[r] / variant[r]`; nil with fewer than two rounds, unequal
    /// counts, or a time that is not a positive finite number.
    public static func paired(reference: [Double], variant: [Double], target: Double) -> SpeedupInterval? {
        guard reference.count == variant.count, reference.count >= 2,
              (reference + variant).allSatisfy({ $0.isFinite && $0 > 0 }) else { return nil }
        let d = zip(reference, variant).map { log($0) - log($1) }
        let (m, h) = SeedStatistics.meanInterval(d)
        guard let h, h.isFinite else { return nil }
        return SpeedupInterval(speedup: exp(m), low: exp(m - h), high: exp(m + h), rounds: d.count,
                               relativeHalfWidth: exp(h) - 1, target: target)
    }

    /// "1.23 (1.18–1.29)" or, when unstable, "1.23 (1.05–1.44) unstable".
    public var text: String {
        String(format: "%.2f (%.2f–%.2f)", speedup, low, high) + (unstable ? " unstable" : "")
    }

    /// "±4.1% over 7 rounds" / "±12.0% over 30 rounds, wider than ±5%: unstable".
    public var widthText: String {
        String(format: "±%.1f%% over %d rounds", 100 * relativeHalfWidth, rounds)
            + (unstable ? String(format: ", wider than ±%.0f%%: unstable", 100 * target) : "")
    }
}

/// What else the machine was doing while a speed phase ran: the 1-minute load average and a short sgemm peak
/// before and after, and the share of all CPUs' time that other processes used in between.
///
/// Rule for the warning (`warnings`): other processes' busy time during the phase is the machine's busy time from
/// /proc/stat (user, nice, system, irq, softirq, steal over all CPUs) minus this process's own CPU time from
/// /proc/self/stat (utime + stime, all threads), both in clock ticks; its share of the capacity (all CPUs' ticks
/// in between) above `othersShareLimit` (5%: a tenth of a core on two cores, more than the system's own
/// housekeeping) gets a warning, as does an sgemm peak that moved by more than `peakChangeLimit` (20%). The load
/// average is recorded but not judged: it counts our own threads, and for a minute after it the previous table's.
public struct SpeedConditions: Codable, Equatable, Sendable {
    public var loadBefore: Double?
    public var loadAfter: Double?
    /// sgemm GFLOP/s with the run's threads.
    public var peakBefore: Double?
    public var peakAfter: Double?
    /// Fraction of all CPUs' time used by other processes during the speed phase (models built, warmed up and
    /// timed); nil where /proc is unreadable.
    public var othersShare: Double?
    public var logicalCores: Int
    public var threads: Int
    public var seconds: Double
    public var warnings: [String]

    public static let othersShareLimit = 0.05
    public static let peakChangeLimit = 0.20

    public init(loadBefore: Double?, loadAfter: Double?, peakBefore: Double?, peakAfter: Double?,
                othersShare: Double?, logicalCores: Int, threads: Int, seconds: Double) {
        self.loadBefore = loadBefore; self.loadAfter = loadAfter; self.peakBefore = peakBefore
        self.peakAfter = peakAfter; self.othersShare = othersShare; self.logicalCores = logicalCores
        self.threads = threads; self.seconds = seconds
        warnings = Self.warnings(othersShare: othersShare, logicalCores: logicalCores, peakBefore: peakBefore,
                                 peakAfter: peakAfter)
    }

    public static func warnings(othersShare: Double?, logicalCores: Int, peakBefore: Double?,
                                peakAfter: Double?) -> [String] {
        var out: [String] = []
        if let s = othersShare, s > othersShareLimit {
            out.append(String(format: "other processes used %.0f%% of the machine's CPU time during the speed phase "
                + "(%.2f of %d cores on average; the warning is above %.0f%%): same-round ratios cancel slow drift, "
                + "but the intervals are wider and a ratio can be off where the load came and went within rounds",
                100 * s, s * Double(logicalCores), logicalCores, 100 * othersShareLimit))
        }
        if let a = peakBefore, let b = peakAfter, a > 0, b > 0, abs(b - a) / a > peakChangeLimit {
            out.append(String(format: "the sgemm peak moved from %.1f to %.1f GFLOP/s (%+.0f%%) during the speed "
                + "phase: the machine's speed changed", a, b, 100 * (b - a) / a))
        }
        return out
    }

    /// One line for the report.
    public var summary: String {
        func f(_ x: Double?, _ fmt: String) -> String { x.map { String(format: fmt, $0) } ?? "unreadable" }
        return "Machine during the speed phase (\(String(format: "%.0f", seconds)) s): 1-minute load average "
            + "\(f(loadBefore, "%.2f")) before, \(f(loadAfter, "%.2f")) after (\(logicalCores) logical cores, "
            + "\(threads) thread(s) ours); sgemm peak \(f(peakBefore, "%.1f")) before, \(f(peakAfter, "%.1f")) "
            + "GFLOP/s after; other processes' share of the CPU time during the phase: "
            + (othersShare.map { String(format: "%.1f%%", 100 * $0) } ?? "unreadable") + "."
    }
}

/// Clock-tick counters of /proc/stat and /proc/self/stat at one moment.
public struct CPUTicks: Equatable, Sendable {
    /// All CPUs: user + nice + system + irq + softirq + steal.
    public var busy: UInt64
    /// All CPUs: busy + idle + iowait.
    public var total: UInt64
    /// This process: utime + stime over all its threads.
    public var own: UInt64

    public init(busy: UInt64, total: UInt64, own: UInt64) { self.busy = busy; self.total = total; self.own = own }

    /// From the text of /proc/stat (its first "cpu " line) and /proc/self/stat; nil when either does not parse.
    public static func parse(stat: String, selfStat: String) -> CPUTicks? {
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return nil }
        let f = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard f.count >= 5 else { return nil }
        func at(_ i: Int) -> UInt64 { i < f.count ? f[i] : 0 }
        // user nice system idle iowait irq softirq steal (guest time is already inside user).
        let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7)
        let total = busy + at(3) + at(4)
        // The command name in parentheses may hold spaces: fields are counted after the last ')'.
        guard let close = selfStat.lastIndex(of: ")") else { return nil }
        let rest = selfStat[selfStat.index(after: close)...].split(separator: " ")
        // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
        guard rest.count > 12, let ut = UInt64(rest[11]), let st = UInt64(rest[12]) else { return nil }
        return CPUTicks(busy: busy, total: total, own: ut + st)
    }

    public static func read() -> CPUTicks? {
        guard let s = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let p = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        return parse(stat: s, selfStat: p)
    }

    /// Other processes' share of all CPUs' time from `before` to `after` (clamped to 0...1; nil without time).
    public static func othersShare(_ before: CPUTicks, _ after: CPUTicks) -> Double? {
        guard after.total > before.total, after.busy >= before.busy, after.own >= before.own else { return nil }
        let busy = Double(after.busy - before.busy), own = Double(after.own - before.own)
        return min(1, max(0, (busy - own) / Double(after.total - before.total)))
    }

    /// The 1-minute load average from the text of /proc/loadavg.
    public static func loadAverage(_ text: String? = try? String(contentsOfFile: "/proc/loadavg",
                                                                 encoding: .utf8)) -> Double? {
        text?.split(separator: " ").first.flatMap { Double($0) }
    }
}
