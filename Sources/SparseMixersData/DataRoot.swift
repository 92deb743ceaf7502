import Foundation

/// Where the datasets live and where caches go (brief item 7; layout in Data/README.md).
///
/// Resolution: an explicit `--data DIR`, else `$SPARSE_MIXERS_DATA`, else `<package>/Data`. When
/// that default holds no dataset (no `glue/`, `superglue/` or `corpus/` folder), the shared staging
/// folder `../shared/data` is tried, relative to the package root and then to the current directory.
/// Caches go to `$SPARSE_MIXERS_CACHE`, else `<package>/Data/cache` (git-ignored); the data root
/// itself may be read-only.
public struct DataRoot: Sendable, Equatable {
    public var url: URL
    public var cacheURL: URL
    /// How the root was chosen ("--data", "SPARSE_MIXERS_DATA", "package Data/", "../shared/data").
    public var source: String

    public init(url: URL, cacheURL: URL, source: String = "explicit") {
        self.url = url; self.cacheURL = cacheURL; self.source = source
    }

    public var path: String { url.path }

    public static func resolve(explicit: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               currentDirectory: String = FileManager.default.currentDirectoryPath) -> DataRoot {
        let packageRoot = findPackageRoot(from: currentDirectory)
        let cache: URL
        if let c = environment["SPARSE_MIXERS_CACHE"], !c.isEmpty {
            cache = URL(fileURLWithPath: c)
        } else {
            cache = (packageRoot ?? URL(fileURLWithPath: currentDirectory)).appendingPathComponent("Data/cache")
        }
        if let e = explicit, !e.isEmpty {
            return DataRoot(url: URL(fileURLWithPath: e).standardizedFileURL, cacheURL: cache, source: "--data")
        }
        if let e = environment["SPARSE_MIXERS_DATA"], !e.isEmpty {
            return DataRoot(url: URL(fileURLWithPath: e).standardizedFileURL, cacheURL: cache,
                            source: "SPARSE_MIXERS_DATA")
        }
        let base = packageRoot ?? URL(fileURLWithPath: currentDirectory)
        let local = base.appendingPathComponent("Data")
        if holdsDatasets(local) { return DataRoot(url: local, cacheURL: cache, source: "package Data/") }
        var candidates = [base.appendingPathComponent("../shared/data")]
        candidates.append(URL(fileURLWithPath: currentDirectory).appendingPathComponent("../shared/data"))
        // A git worktree of the package may sit next to the main checkout (e.g. /work/wt-x beside
        // /work/main); its parent's shared folder is the same one.
        candidates.append(base.appendingPathComponent("../../shared/data"))
        for c in candidates where holdsDatasets(c) {
            return DataRoot(url: c.standardizedFileURL, cacheURL: cache, source: "../shared/data")
        }
        return DataRoot(url: local, cacheURL: cache, source: "package Data/ (empty)")
    }

    /// True when `dir` has a `glue`, `superglue` or `corpus` sub-folder.
    public static func holdsDatasets(_ dir: URL) -> Bool {
        let fm = FileManager.default
        return ["glue", "superglue", "corpus"].contains { sub in
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: dir.appendingPathComponent(sub).path, isDirectory: &isDir) && isDir.boolValue
        }
    }

    /// The nearest ancestor of `start` holding a `Package.swift`, else the package this file was
    /// compiled from (so tests run from any directory find it).
    public static func findPackageRoot(from start: String) -> URL? {
        var dir = URL(fileURLWithPath: start).standardizedFileURL
        let fm = FileManager.default
        while true {
            if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) { return dir }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { break }
            dir = parent
        }
        let compiled = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return fm.fileExists(atPath: compiled.appendingPathComponent("Package.swift").path) ? compiled : nil
    }

    public var corpusDirectory: String { url.appendingPathComponent("corpus/gutenberg").path }
}
