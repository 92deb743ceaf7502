import Foundation

/// An exclusive advisory lock (`flock`) on a lock file, held while a closure runs. Threads of one process and
/// separate processes asking for the same cached work (a pre-training run, a fine-tuning run, the prepared
/// corpus) take turns: the second finds the first's finished result instead of writing the same files at once.
public enum FileLock {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `body` while holding the lock of `path` (created if missing, left in place afterwards).
    public static func withLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(description: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw Failure(description: "cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
