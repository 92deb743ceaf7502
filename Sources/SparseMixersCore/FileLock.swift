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

    /// A lock held until `release()` (or deinit).
    public final class Held {
        private var fd: Int32
        public let path: String
        init(fd: Int32, path: String) { self.fd = fd; self.path = path }
        public func release() {
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN); close(fd); fd = -1
        }
        deinit { release() }
    }

    /// Takes the lock of `path` without waiting, recording this process's id in the file; nil when another
    /// process (or another open of the file in this one) holds it. `holder(of:)` reads the recorded id.
    public static func tryLock(_ path: String) throws -> Held? {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw Failure(description: "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { return nil }
            throw Failure(description: "cannot lock \(path): \(String(cString: strerror(e)))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return Held(fd: fd, path: path)
    }

    /// The process id recorded in a lock file by `tryLock`, if any.
    public static func holder(of path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8)).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .flatMap { $0.isEmpty ? nil : $0 }
    }
}
