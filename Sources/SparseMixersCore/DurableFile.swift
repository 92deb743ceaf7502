import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file writes that survive a kill or a power cut: the bytes go to `.<name>.<pid>.tmp` beside the
/// destination, are fsynced, renamed over it, and the directory is fsynced so the rename itself is on disk.
/// A reader sees the old file or the new one, never a mix. A process killed mid-write leaves its `.tmp` file
/// behind; `removeTemporaries(in:)` deletes them (the pre-training driver does so when it takes its run
/// directory's lock, so no writer of that directory can be alive).
public enum DurableFile {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The temporary file a write to `url` goes through.
    public static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    }

    /// Whether a file name is one of `temporaryURL`'s (`.<name>.<digits>.tmp`, any pid).
    public static func isTemporary(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        guard name.hasPrefix("."), parts.count >= 4, parts.last == "tmp" else { return false }
        let pid = parts[parts.count - 2]
        return !pid.isEmpty && pid.allSatisfy(\.isASCII) && pid.allSatisfy(\.isNumber)
    }

    /// Writes to `url` durably what `body` writes through the handle of the temporary file.
    public static func write(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = temporaryURL(for: url)
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil),
              let h = FileHandle(forWritingAtPath: tmp.path) else {
            throw Failure(description: "cannot create \(tmp.path): \(String(cString: strerror(errno)))")
        }
        do {
            try body(h)
            try h.synchronize()
            try h.close()
        } catch {
            try? h.close(); try? FileManager.default.removeItem(at: tmp)
            throw Failure(description: "cannot write \(url.path): \(error)")
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw Failure(description: "cannot rename \(tmp.path) to \(url.path): \(reason)")
        }
        try syncDirectory(dir)
    }

    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try $0.write(contentsOf: data) }
    }

    /// fsync(2) on a directory, so the entries created or renamed in it are on disk.
    public static func syncDirectory(_ dir: URL) throws {
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw Failure(description: "cannot open directory \(dir.path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {  // EINVAL: a file system without directory fsync
            throw Failure(description: "cannot fsync directory \(dir.path): \(String(cString: strerror(errno)))")
        }
    }

    /// Deletes the temporary files of interrupted writes in `dir`; returns their names.
    @discardableResult
    public static func removeTemporaries(in dir: URL) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        var removed: [String] = []
        for n in names.sorted() where isTemporary(n) {
            try FileManager.default.removeItem(at: dir.appendingPathComponent(n))
            removed.append(n)
        }
        return removed
    }
}
