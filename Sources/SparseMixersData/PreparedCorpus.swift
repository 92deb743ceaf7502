import SparseMixersCore
import CSentencePiece
import Dispatch
import Foundation

/// The two pre-training splits: a fixed held-out set of books is kept for evaluation.
public enum CorpusSplit: String, Codable, Sendable, CaseIterable {
    case train, heldOut = "heldout"
}

/// Options of `PreparedCorpus.prepare`.
public struct CorpusPrepareOptions: Codable, Equatable, Sendable {
    public var vocabulary = VocabularyOptions()
    /// About one book in `heldOutEvery` (by a stable hash of its name) is held out for evaluation.
    public var heldOutEvery = 40
    /// Worker threads for reading, cleaning and encoding.
    public var workers = 2
    /// Training documents per shard file.
    public var documentsPerShard = 32
    public init(vocabulary: VocabularyOptions = VocabularyOptions(), heldOutEvery: Int = 40, workers: Int = 2) {
        self.vocabulary = vocabulary; self.heldOutEvery = heldOutEvery; self.workers = workers
    }
}

/// What a prepared corpus directory holds (`manifest.json`, written last: its presence means the
/// shards are complete).
public struct CorpusManifest: Codable, Sendable {
    public struct Document: Codable, Sendable {
        public var name: String
        public var split: CorpusSplit
        public var markers: GutenbergMarkers
        public var sentences: Int
        public var tokens: Int
        public var bytes: Int
    }
    public struct ShardFile: Codable, Sendable {
        public var file: String
        public var split: CorpusSplit
        public var documents: Int
        public var lines: Int
        public var tokens: Int
    }
    public var key: String
    public var vocabularyKey: String
    public var vocabularyPath: String
    public var vocabSize: Int
    public var options: CorpusPrepareOptions
    public var cleaningVersion: Int
    public var sourceDirectory: String
    public var documents: [Document]
    public var shards: [ShardFile]
    /// Sentences given to the SentencePiece trainer (0 when the vocabulary came from the cache).
    public var vocabularyTrainingSentences: Int
    public var secondsReading: Double
    public var secondsVocabulary: Double
    public var secondsEncoding: Double

    public func documents(in split: CorpusSplit) -> [Document] { documents.filter { $0.split == split } }
}

/// The pre-training corpus after vocabulary training and tokenization: a tokenizer plus binary
/// shards in a cache directory keyed by the corpus files and options (brief items 1 and 4).
public final class PreparedCorpus {
    public let tokenizer: Tokenizer
    public let manifest: CorpusManifest
    public let directory: URL

    /// What the pieces a model was trained on depend on, independent of file times and paths: the vocabulary's
    /// pieces and scores (`spm.vocab`), and every document's name, split and token count and every shard's
    /// token and line count. Two preparations with this key equal give a model the same token ids (the cache key
    /// changes with file modification times too, so a re-staged but identical corpus keeps its runs). Nil when
    /// `spm.vocab` cannot be read.
    public var contentKey: String? {
        let vocab = URL(fileURLWithPath: manifest.vocabularyPath).deletingPathExtension()
            .appendingPathExtension("vocab")
        guard let bytes = FileManager.default.contents(atPath: vocab.path) else { return nil }
        var h = FNV1a()
        h.combine(String(decoding: bytes, as: UTF8.self))
        for d in manifest.documents { h.combine("\(d.name)\u{1}\(d.split.rawValue)\u{1}\(d.tokens)") }
        for f in manifest.shards { h.combine("\(f.split.rawValue)\u{1}\(f.tokens)\u{1}\(f.lines)") }
        return h.hex
    }

    init(tokenizer: Tokenizer, manifest: CorpusManifest, directory: URL) {
        self.tokenizer = tokenizer; self.manifest = manifest; self.directory = directory
    }

    /// Reads every shard of a split into one in-memory corpus.
    public func load(_ split: CorpusSplit) throws -> TokenizedCorpus {
        let parts = try manifest.shards.filter { $0.split == split }.map {
            try Shard.read(path: directory.appendingPathComponent($0.file).path)
        }
        return TokenizedCorpus(concatenating: parts)
    }

    /// Cache key of the vocabulary: corpus file list with sizes and mtimes, trainer options, the
    /// cleaning version and the held-out rule (the vocabulary sees training books only).
    public static func vocabularyKey(files: [CorpusFile], options: CorpusPrepareOptions) -> String {
        var h = FNV1a()
        h.combine("vocab"); h.combine(Int(spm_shim_version())); h.combine(GutenbergCorpus.cleaningVersion)
        let v = options.vocabulary
        h.combine(v.vocabSize); h.combine(v.modelType.rawValue); h.combine("\(v.characterCoverage)")
        h.combine(v.inputSentenceSize); h.combine(Int(truncatingIfNeeded: v.seed)); h.combine(v.maxSentenceLength)
        h.combine(options.heldOutEvery)
        for f in files { h.combine(f.name); h.combine(f.size); h.combine("\(f.modified)") }
        return h.hex
    }

    public static func corpusKey(vocabularyKey: String, options: CorpusPrepareOptions) -> String {
        var h = FNV1a()
        h.combine("shards-v1"); h.combine(vocabularyKey); h.combine(options.heldOutEvery)
        h.combine(options.documentsPerShard)
        return h.hex
    }

    /// Returns the cached prepared corpus if complete, else builds what is missing. Progress goes to
    /// `log` (the CLI prints it on stderr). Holds `<cache>/prepare.lock` meanwhile, so concurrent callers (table
    /// variants trained side by side, two commands at once) build the vocabulary and shards once.
    public static func prepare(root: DataRoot, options: CorpusPrepareOptions = CorpusPrepareOptions(),
                               log: (String) -> Void = { _ in }) throws -> PreparedCorpus {
        try FileLock.withLock(root.cacheURL.appendingPathComponent("prepare.lock").path) {
            try prepareLocked(root: root, options: options, log: log)
        }
    }

    private static func prepareLocked(root: DataRoot, options: CorpusPrepareOptions,
                                      log: (String) -> Void) throws -> PreparedCorpus {
        let files = try GutenbergCorpus.listFiles(in: root.corpusDirectory)
        guard !files.isEmpty else { throw MissingDataError(dataset: "corpus/gutenberg", path: root.corpusDirectory) }
        let vKey = vocabularyKey(files: files, options: options)
        let cKey = corpusKey(vocabularyKey: vKey, options: options)
        let fm = FileManager.default
        let vocabDir = root.cacheURL.appendingPathComponent("vocab-\(vKey)")
        let corpusDir = root.cacheURL.appendingPathComponent("corpus-\(cKey)")
        let modelPath = vocabDir.appendingPathComponent("spm.model").path
        let manifestURL = corpusDir.appendingPathComponent("manifest.json")
        // Under the lock no other preparation is alive: temporary files here are leftovers of a killed one
        // (DurableFile's `.<name>.<pid>.tmp`, SentencePiece's `tmp-<pid>.*`).
        try DurableFile.removeTemporaries(in: corpusDir)
        for n in (try? fm.contentsOfDirectory(atPath: vocabDir.path)) ?? [] where n.hasPrefix("tmp-") {
            try fm.removeItem(at: vocabDir.appendingPathComponent(n))
        }

        if fm.fileExists(atPath: modelPath), fm.fileExists(atPath: manifestURL.path),
           let data = try? Data(contentsOf: manifestURL),
           let manifest = try? JSONDecoder().decode(CorpusManifest.self, from: data) {
            log("[data] using cached vocabulary and shards in \(corpusDir.path)")
            return PreparedCorpus(tokenizer: try Tokenizer(modelPath: modelPath), manifest: manifest,
                                  directory: corpusDir)
        }

        try fm.createDirectory(at: vocabDir, withIntermediateDirectories: true)
        try fm.createDirectory(at: corpusDir, withIntermediateDirectories: true)

        // 1. Read and clean every book.
        var clock = Date()
        log("[data] reading \(files.count) books from \(root.corpusDirectory)")
        let documents = try readDocuments(files, workers: options.workers, log: log)
        let secondsReading = Date().timeIntervalSince(clock)
        let isHeld = documents.map { GutenbergCorpus.isHeldOut($0.name, every: options.heldOutEvery) }
        let totalSentences = documents.reduce(0) { $0 + $1.sentenceCount }
        log(String(format: "[data] %d books, %d sentences, %.1f MB of text in %.1f s",
                   documents.count, totalSentences, Double(documents.reduce(0) { $0 + $1.bytes.count }) / 1e6,
                   secondsReading))

        // 2. Vocabulary.
        clock = Date()
        var trainedOn = 0
        if !fm.fileExists(atPath: modelPath) {
            var refs: [(Int, Int)] = []
            for (d, doc) in documents.enumerated() where !isHeld[d] {
                for i in 0..<doc.sentenceCount where doc.sentenceStarts[i + 1] > doc.sentenceStarts[i] {
                    refs.append((d, i))
                }
            }
            let n = min(options.vocabulary.inputSentenceSize, refs.count)
            var rng = RNG(keys: options.vocabulary.seed, 0x5A3F)
            for i in 0..<n { refs.swapAt(i, i + rng.int(refs.count - i)) }
            let sample = refs[0..<n].sorted { $0 < $1 }.map { Array(documents[$0.0].sentence($0.1)) }
            trainedOn = sample.count
            log("[data] training SentencePiece (\(options.vocabulary.modelType.rawValue), "
                + "\(options.vocabulary.vocabSize) pieces) on \(n) of \(refs.count) training sentences")
            let prefix = vocabDir.appendingPathComponent("tmp-\(ProcessInfo.processInfo.processIdentifier)").path
            try Tokenizer.train(sentences: sample, modelPrefix: prefix, options: options.vocabulary)
            _ = try? fm.removeItem(atPath: vocabDir.appendingPathComponent("spm.vocab").path)
            try? fm.moveItem(atPath: prefix + ".vocab", toPath: vocabDir.appendingPathComponent("spm.vocab").path)
            if fm.fileExists(atPath: modelPath) { try fm.removeItem(atPath: modelPath) }
            try fm.moveItem(atPath: prefix + ".model", toPath: modelPath)  // rename: atomic
        }
        let tokenizer = try Tokenizer(modelPath: modelPath)
        let secondsVocabulary = Date().timeIntervalSince(clock)
        log(String(format: "[data] vocabulary: %d pieces (%@) in %.1f s", tokenizer.vocabSize,
                   trainedOn > 0 ? "trained" : "cached", secondsVocabulary))

        // 3. Encode every sentence and write the shards.
        clock = Date()
        let encoded = encode(documents, tokenizer: tokenizer, workers: options.workers, log: log)
        var shards: [CorpusManifest.ShardFile] = []
        var docInfo: [CorpusManifest.Document] = []
        for split in CorpusSplit.allCases {
            let indices = documents.indices.filter { (isHeld[$0] ? CorpusSplit.heldOut : .train) == split }
            let chunk = split == .train ? max(1, options.documentsPerShard) : max(1, indices.count)
            for (s, start) in stride(from: 0, to: indices.count, by: chunk).enumerated() {
                let ids = Array(indices[start..<min(start + chunk, indices.count)])
                let part = TokenizedCorpus(documents: ids.map { encoded[$0] }, names: ids.map { documents[$0].name })
                let file = "\(split.rawValue)-\(String(s).leftPadded(to: 5)).bin"
                try Shard.write(part, to: corpusDir.appendingPathComponent(file).path, vocabSize: tokenizer.vocabSize)
                shards.append(.init(file: file, split: split, documents: part.documentCount, lines: part.lineCount,
                                    tokens: part.tokenCount))
            }
        }
        for (d, doc) in documents.enumerated() {
            docInfo.append(.init(name: doc.name, split: isHeld[d] ? .heldOut : .train, markers: doc.markers,
                                 sentences: doc.sentenceCount, tokens: encoded[d].reduce(0) { $0 + $1.count },
                                 bytes: doc.bytes.count))
        }
        let secondsEncoding = Date().timeIntervalSince(clock)
        let manifest = CorpusManifest(
            key: cKey, vocabularyKey: vKey, vocabularyPath: modelPath, vocabSize: tokenizer.vocabSize,
            options: options, cleaningVersion: GutenbergCorpus.cleaningVersion, sourceDirectory: root.corpusDirectory,
            documents: docInfo, shards: shards, vocabularyTrainingSentences: trainedOn,
            secondsReading: secondsReading, secondsVocabulary: secondsVocabulary, secondsEncoding: secondsEncoding)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write(try enc.encode(manifest), to: manifestURL)
        log(String(format: "[data] encoded %d tokens into %d shards in %.1f s", docInfo.reduce(0) { $0 + $1.tokens },
                   shards.count, secondsEncoding))
        return PreparedCorpus(tokenizer: tokenizer, manifest: manifest, directory: corpusDir)
    }

    /// Reads and cleans books on `workers` threads, in file order.
    public static func readDocuments(_ files: [CorpusFile], workers: Int,
                                     log: (String) -> Void = { _ in }) throws -> [CorpusDocument] {
        var results = [Result<CorpusDocument, Error>?](repeating: nil, count: files.count)
        let lock = NSLock()
        var next = 0, done = 0
        var lastReport = Date()
        DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
            while true {
                lock.lock(); let i = next; next += 1; lock.unlock()
                if i >= files.count { return }
                let r = Result { try GutenbergCorpus.load(files[i]) }
                lock.lock()
                results[i] = r; done += 1
                if Date().timeIntervalSince(lastReport) > 5 {
                    lastReport = Date()
                    progress("[data] read \(done)/\(files.count) books")
                }
                lock.unlock()
            }
        }
        return try results.map { try $0!.get() }
    }

    /// Encodes every sentence of every document on `workers` threads.
    static func encode(_ documents: [CorpusDocument], tokenizer: Tokenizer, workers: Int,
                       log: (String) -> Void) -> [[[Int32]]] {
        var out = [[[Int32]]](repeating: [], count: documents.count)
        let lock = NSLock()
        var next = 0, done = 0, tokens = 0
        let start = Date()
        var lastReport = Date()
        DispatchQueue.concurrentPerform(iterations: max(1, workers)) { _ in
            while true {
                lock.lock(); let d = next; next += 1; lock.unlock()
                if d >= documents.count { return }
                let doc = documents[d]
                var lines: [[Int32]] = []
                lines.reserveCapacity(doc.sentenceCount)
                doc.bytes.withUnsafeBytes { raw in
                    for i in 0..<doc.sentenceCount {
                        let a = doc.sentenceStarts[i], b = doc.sentenceStarts[i + 1]
                        lines.append(tokenizer.encode(bytes: UnsafeRawBufferPointer(rebasing: raw[a..<b])))
                    }
                }
                lock.lock()
                out[d] = lines; done += 1; tokens += lines.reduce(0) { $0 + $1.count }
                if Date().timeIntervalSince(lastReport) > 5 {
                    lastReport = Date()
                    progress(String(format: "[data] encoded %d/%d books, %.1fM tokens, %.0f s",
                        done, documents.count, Double(tokens) / 1e6, Date().timeIntervalSince(start)))
                }
                lock.unlock()
            }
        }
        return out
    }
}

/// Progress from worker threads goes straight to stderr (the caller's `log` closure is not
/// required to be thread-safe).
func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
