import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct AtomicWriteError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "cannot write \(path): \(message)" }
}

/// Writes a whole file or nothing: the bytes go to a temporary file in the same directory (same file system),
/// are flushed, then rename(2) replaces the destination and the directory is fsynced (so the rename survives a
/// power cut). A reader never sees a half-written report.
public enum AtomicFile {
    /// Prefix of temporary files, so a crashed writer's leftovers are recognisable.
    public static let temporaryPrefix = ".tmp-"

    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(
            "\(temporaryPrefix)\(url.lastPathComponent)-\(getpid())-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw AtomicWriteError(path: tmp.path, message: "cannot create temporary file")
        }
        do {
            let handle = try FileHandle(forWritingTo: tmp)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw AtomicWriteError(path: url.path, message: "\(error)")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw AtomicWriteError(path: url.path, message: "rename failed: \(reason)")
        }
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw AtomicWriteError(path: dir.path, message: "cannot open the directory to fsync it") }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw AtomicWriteError(path: dir.path,
                                   message: "directory fsync failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the temporary files in `dir` that a killed writer left behind: `.tmp-<name>-<pid>-<uuid>` whose
    /// process no longer exists (a live writer's file, this process's included, is kept). Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaries(in dir: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        var removed: [String] = []
        for n in names.sorted() where n.hasPrefix(temporaryPrefix) {
            // The pid is the second-to-last dash-separated field before the 5-part UUID.
            let parts = n.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count >= 7, let pid = Int32(parts[parts.count - 6]), pid > 0 else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }   // alive (or someone else's live process)
            if (try? FileManager.default.removeItem(at: dir.appendingPathComponent(n))) != nil { removed.append(n) }
        }
        return removed
    }

    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }
}
