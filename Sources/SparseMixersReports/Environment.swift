import Foundation
import SparseMixers
import SparseMixersPaper
#if canImport(Glibc)
import Glibc
#endif

/// The machine and build a report was produced on.
public struct EnvironmentInfo: Codable, Equatable, Sendable {
    public var cpuModel: String
    /// Logical processors the OS reports, and the ones this process may use.
    public var logicalCores: Int
    public var activeCores: Int
    /// Threads the measurement used (our choice, passed in).
    public var threadsUsed: Int
    public var memoryBytes: UInt64
    /// PRETTY_NAME from /etc/os-release.
    public var os: String
    /// uname: sysname release machine.
    public var kernel: String
    public var swiftCompiler: String
    /// "release" or "debug".
    public var buildConfiguration: String
    public var blasConfiguration: String
    public var blasThreads: Int
    public var fftwVersion: String
    public var gitCommit: String
    /// ISO 8601, UTC.
    public var date: String

    public var isDebugBuild: Bool { buildConfiguration == "debug" }

    /// Reads the machine. `blasConfiguration`/`blasThreads` default to OpenBLAS's own answers; the FFTW version
    /// is passed in (CFFTW is not a dependency of the harness), "unknown" when not given.
    public static func capture(threadsUsed: Int,
                               blasConfiguration: String? = nil,
                               blasThreads: Int? = nil,
                               fftwVersion: String? = nil,
                               gitDirectory: URL? = PackagePaths.packageRoot,
                               date: Date = Date()) -> EnvironmentInfo {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return EnvironmentInfo(
            cpuModel: cpuModel(),
            logicalCores: ProcessInfo.processInfo.processorCount,
            activeCores: ProcessInfo.processInfo.activeProcessorCount,
            threadsUsed: threadsUsed,
            memoryBytes: ProcessInfo.processInfo.physicalMemory,
            os: osName(),
            kernel: kernel(),
            swiftCompiler: swiftCompilerVersion,
            buildConfiguration: isDebugBuild ? "debug" : "release",
            blasConfiguration: blasConfiguration ?? BLAS.configuration,
            blasThreads: blasThreads ?? BLAS.threads,
            fftwVersion: fftwVersion ?? "unknown",
            gitCommit: gitCommit(in: gitDirectory),
            date: formatter.string(from: date))
    }

    /// True when this binary was compiled without optimisation; timing must refuse to run then.
    public static var isDebugBuild: Bool { Benchmark.isDebugBuild }

    /// The compiler that built this binary, to the minor version (from `#if compiler`).
    public static var swiftCompilerVersion: String {
        #if compiler(>=7.0)
        return "Swift >= 7.0"
        #elseif compiler(>=6.3)
        return "Swift 6.3"
        #elseif compiler(>=6.2)
        return "Swift 6.2"
        #elseif compiler(>=6.1)
        return "Swift 6.1"
        #elseif compiler(>=6.0)
        return "Swift 6.0"
        #else
        return "Swift < 6.0"
        #endif
    }

    /// Human-readable one-liner list for reports.
    public var summaryLines: [String] {
        [
            "CPU: \(cpuModel) (\(logicalCores) logical, \(activeCores) available; \(threadsUsed) thread(s) used)",
            "Memory: \(String(format: "%.1f", Double(memoryBytes) / 1_073_741_824)) GiB",
            "OS: \(os); kernel \(kernel)",
            "Compiler: \(swiftCompiler), \(buildConfiguration) build",
            "OpenBLAS: \(blasConfiguration); \(blasThreads) thread(s)",
            "FFTW: \(fftwVersion)",
            "Git commit: \(gitCommit)",
            "Date: \(date)",
        ]
    }

    // MARK: Readers

    static func cpuModel(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String {
        guard let text = cpuinfo else { return "unknown" }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "model name" {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown"
    }

    static func osName(osRelease: String? = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) -> String {
        guard let text = osRelease else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return line.dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
        }
        return "unknown"
    }

    static func kernel() -> String {
        #if canImport(Glibc)
        var u = utsname()
        guard uname(&u) == 0 else { return "unknown" }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
        return "\(field(u.sysname)) \(field(u.release)) \(field(u.machine))"
        #else
        return ProcessInfo.processInfo.operatingSystemVersionString
        #endif
    }

    /// `git rev-parse --short HEAD` in `directory` (or the current directory); "unknown" outside git.
    static func gitCommit(in directory: URL?) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "rev-parse", "--short", "HEAD"]
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "unknown" }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return "unknown" }
        let s = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? "unknown" : s
    }
}
