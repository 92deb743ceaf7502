import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData

/// Pre-training runs cached by identity: a run's directory is named by what determines it, so a variant shared by
/// several tables, or asked for again after an interruption, is trained once.
extension Pretrainer {
    /// A run directory named by what determines the run (config and options), under `root`.
    public static func directory(for config: ModelConfig, options: PretrainOptions, under root: URL) -> URL {
        var h = FNV1a()
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        h.combine(String(decoding: (try? enc.encode(RunIdentity(config: config, options: options))) ?? Data(),
                         as: UTF8.self))
        return root.appendingPathComponent("pretrain-\(h.hex)")
    }

    /// The finished result if this exact run already completed (or diverged); otherwise runs it, resuming from
    /// its last checkpoint if an earlier attempt was interrupted. Holds `<run directory>.lock` meanwhile, so a
    /// second thread or process asking for the same run waits and then reuses it.
    public func runOrReuse() throws -> PretrainResult {
        try FileLock.withLock(directory.path + ".lock") {
            if let r = try? RunFiles.readJSON(PretrainResult.self, from: resultURL), r.config == config,
               r.options == options, r.complete || r.diverged {
                try checkCorpus(try? RunFiles.readJSON(RunIdentity.self, from: identityURL))
                return r
            }
            return try run(resume: true)
        }
    }
}
