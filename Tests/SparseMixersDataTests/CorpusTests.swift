import XCTest
import SparseMixersTestSupport
@testable import SparseMixersData

/// Gutenberg cleaning, sentence splitting, the SentencePiece tokenizer trained on a slice of the
/// real corpus, the prepared-corpus cache, and data-root resolution.
final class CorpusTests: XCTestCase {
    func testHeaderFooterStrippingVariants() {
        let modern = "Title: X\r\nLanguage: English\r\n\r\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n\r\n"
                     + "It was a dark night. The wind blew.\r\n\r\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\n"
                     + "licence text\r\n"
        let d = GutenbergCorpus.clean(bytes: Array(modern.utf8), name: "m")
        XCTAssertEqual(d.markers, .modern)
        XCTAssertEqual(d.sentences, ["It was a dark night.", "The wind blew."])
        let tight = "header\n***START OF THIS PROJECT GUTENBERG EBOOK Y***\nOne.\n"
                    + "***END OF THIS PROJECT GUTENBERG EBOOK Y***\n"
        XCTAssertEqual(GutenbergCorpus.clean(bytes: Array(tight.utf8), name: "t").sentences, ["One."])
        let legacy = "small print\n*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\n\n"
                     + "Body text here.\n\nEnd of the Project Gutenberg Etext of Y\nmore\n"
        let l = GutenbergCorpus.clean(bytes: Array(legacy.utf8), name: "l")
        XCTAssertEqual(l.markers, .legacy); XCTAssertEqual(l.sentences, ["Body text here."])
        let none = "Just a text.\nWith no markers at all.\n"
        let n = GutenbergCorpus.clean(bytes: Array(none.utf8), name: "n")
        XCTAssertEqual(n.markers, GutenbergMarkers.none)
        XCTAssertEqual(n.sentences, ["Just a text.", "With no markers at all."])
    }

    func testParagraphUnwrappingAndSentenceSplitting() {
        let text = """
        *** START OF X ***
        "Mr. Holmes," said he, "I am
        ruined!"  He sat down. J. R. Smith
        arrived at 5 p.m. to see him.

        She whispered: "Where?" and left.
        Chapter 2. It ended... Then
        nothing.
        *** END OF X ***
        """
        let d = GutenbergCorpus.clean(bytes: Array(text.utf8), name: "x")
        XCTAssertEqual(d.sentences, [
            "\"Mr. Holmes,\" said he, \"I am ruined!\"",
            "He sat down.",
            "J. R. Smith arrived at 5 p.m. to see him.",
            "She whispered: \"Where?\" and left.",
            "Chapter 2.",
            "It ended...",
            "Then nothing.",
        ])
    }

    /// Three real books, truncated so the debug build stays fast.
    func realSlice() throws -> (DataRoot, [CorpusFile]) {
        guard let real = realDataRoot(), let all = try? GutenbergCorpus.listFiles(in: real.corpusDirectory),
              all.count >= 3 else {
            throw XCTSkip("real corpus not available")
        }
        let dir = try makeTempDir(self)
        for (i, f) in [all[0], all[all.count / 2], all[all.count - 1]].enumerated() {
            let data = try Data(contentsOf: URL(fileURLWithPath: f.path)).prefix(120_000)
            let name = URL(fileURLWithPath: f.path).lastPathComponent
            let url = dir.appendingPathComponent("corpus/gutenberg/Author \(i)/\(name)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try data.write(to: url)
        }
        let root = DataRoot(url: dir, cacheURL: dir.appendingPathComponent("cache"))
        return (root, try GutenbergCorpus.listFiles(in: root.corpusDirectory))
    }

    func testTokenizerOnRealSliceRoundTripsAndKeepsSpecialsAtomic() throws {
        let (root, files) = try realSlice()
        let docs = try files.map(GutenbergCorpus.load)
        XCTAssert(docs.allSatisfy { $0.markers == .modern || $0.markers == .legacy })
        let sentences = docs.flatMap { d in (0..<d.sentenceCount).map { Array(d.sentence($0)) } }
        XCTAssertGreaterThan(sentences.count, 1000)
        var options = VocabularyOptions(vocabSize: 1000, inputSentenceSize: 20_000)
        options.numThreads = 2
        let prefix = root.cacheURL.appendingPathComponent("spm").path
        try FileManager.default.createDirectory(at: root.cacheURL, withIntermediateDirectories: true)
        try Tokenizer.train(sentences: sentences, modelPrefix: prefix, options: options)
        let t = try Tokenizer(modelPath: prefix + ".model")
        XCTAssertEqual(t.vocabSize, 1000)
        XCTAssertEqual([t.padID, t.unkID, t.clsID, t.sepID, t.maskID], [0, 1, 2, 3, 4])
        XCTAssertEqual([t.bosID, t.eosID], [-1, -1])
        XCTAssertEqual(t.piece(for: t.clsID), "[CLS]")
        XCTAssertEqual(t.id(for: "[MASK]"), 4)
        XCTAssertEqual(t.normalTokenIDs.count, 1000 - 4)  // minus pad, [CLS], [SEP], [MASK]; <unk> stays
        XCTAssertFalse(t.normalTokenIDs.contains { [0, 2, 3, 4].contains($0) })
        // Round trip on real sentences (NFKC-normalised text of these books is unchanged).
        for i in stride(from: 0, to: sentences.count, by: max(1, sentences.count / 50)) {
            let s = String(decoding: sentences[i], as: UTF8.self)
            let ids = t.encode(s)
            XCTAssertFalse(ids.isEmpty)
            if !s.unicodeScalars.contains(where: { $0.value > 127 }) { XCTAssertEqual(t.decode(ids), s) }
        }
        // Specials are single pieces even glued to text.
        let ids = t.encode("Hello [MASK] world[SEP]again [CLS]")
        XCTAssert(ids.contains(t.maskID) && ids.contains(t.sepID) && ids.contains(t.clsID))
        XCTAssertEqual(ids.filter { $0 == t.maskID }.count, 1)
        XCTAssertEqual(t.encode(""), [])
        // Encoding a GLUE-style pair.
        let (e, types) = encodeSegments(["A question?", "An answer."], tokenizer: t, seqLen: 16)
        XCTAssertEqual(e[0], t.clsID); XCTAssertEqual(e.count, 16); XCTAssertEqual(types.count, 16)
        XCTAssertEqual(e.filter { $0 == t.sepID }.count, 2)
    }

    func testVocabularyTrainingIsDeterministic() throws {
        let (root, files) = try realSlice()
        let doc = try GutenbergCorpus.load(files[1])
        let sentences = (0..<doc.sentenceCount).map { Array(doc.sentence($0)) }
        try FileManager.default.createDirectory(at: root.cacheURL, withIntermediateDirectories: true)
        let options = VocabularyOptions(vocabSize: 600, inputSentenceSize: 100_000)  // 2 threads
        var models: [Data] = []
        // The model file embeds the trainer spec (model_prefix included), so train under one prefix.
        let prefix = root.cacheURL.appendingPathComponent("det").path
        for _ in 0..<2 {
            try Tokenizer.train(sentences: sentences, modelPrefix: prefix, options: options)
            models.append(try Data(contentsOf: URL(fileURLWithPath: prefix + ".model")))
            try FileManager.default.removeItem(atPath: prefix + ".model")
        }
        XCTAssertEqual(models[0], models[1], "same sentences and seed must give the same model")
    }

    func testPreparedCorpusCacheReuseAndInvalidation() throws {
        let (root, files) = try realSlice()
        var options = CorpusPrepareOptions(heldOutEvery: 3)
        options.vocabulary = VocabularyOptions(vocabSize: 800, inputSentenceSize: 3000)
        var log: [String] = []
        let first = try PreparedCorpus.prepare(root: root, options: options) { log.append($0) }
        XCTAssertEqual(first.manifest.documents.count, 3)
        XCTAssertEqual(first.manifest.vocabSize, 800)
        let trainSentences = first.manifest.documents(in: .train).reduce(0) { $0 + $1.sentences }
        // Held-out books excluded.
        XCTAssertEqual(first.manifest.vocabularyTrainingSentences, min(3000, trainSentences))
        let train = try first.load(.train), held = try first.load(.heldOut)
        XCTAssertEqual(train.documentCount + held.documentCount, 3)
        XCTAssertEqual(train.documentCount, first.manifest.documents(in: .train).count)
        // Shards hold exactly the tokenization of the cleaned text.
        let d0 = try GutenbergCorpus.load(files.first { $0.name == train.documentNames[0] }!)
        XCTAssertEqual(train.document(0).count, d0.sentenceCount)
        XCTAssertEqual(Array(train.line(3)), first.tokenizer.encode(d0.sentenceString(3)))
        XCTAssertFalse(log.contains { $0.contains("using cached") })

        // A rerun reuses the cache, and removes what a killed preparation left behind.
        let vocabDir = URL(fileURLWithPath: first.tokenizer.path).deletingLastPathComponent()
        let stale = [first.directory.appendingPathComponent(".train-00000.bin.4242.tmp"),
                     first.directory.appendingPathComponent(".manifest.json.4242.tmp"),
                     vocabDir.appendingPathComponent("tmp-4242.model")]
        for u in stale { FileManager.default.createFile(atPath: u.path, contents: Data(count: 64)) }
        log = []
        let again = try PreparedCorpus.prepare(root: root, options: options) { log.append($0) }
        XCTAssert(log.contains { $0.contains("using cached") })
        XCTAssertEqual(again.directory.path, first.directory.path)
        for u in stale { XCTAssertFalse(FileManager.default.fileExists(atPath: u.path), u.lastPathComponent) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: first.tokenizer.path))

        // A changed vocabulary size or a changed corpus file rebuilds under a new key.
        var bigger = options; bigger.vocabulary.vocabSize = 900
        let other = try PreparedCorpus.prepare(root: root, options: bigger)
        XCTAssertNotEqual(other.directory.path, first.directory.path)
        XCTAssertEqual(other.tokenizer.vocabSize, 900)
        XCTAssertNotNil(first.contentKey)
        XCTAssertEqual(again.contentKey, first.contentKey)
        XCTAssertNotEqual(other.contentKey, first.contentKey, "another vocabulary, other token ids")
        // A re-staged file (new modification time, same bytes) is prepared again under a new cache key, but
        // its content key, which runs are tied to, is the same.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -86_400)],
                                              ofItemAtPath: files[0].path)
        let touched = try PreparedCorpus.prepare(root: root, options: options)
        XCTAssertNotEqual(touched.directory.path, first.directory.path)
        XCTAssertEqual(touched.contentKey, first.contentKey)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: files[0].path))
        h.seekToEndOfFile(); h.write(Data("\n\nOne more sentence here. And another one.\n".utf8)); h.closeFile()
        log = []
        let changed = try PreparedCorpus.prepare(root: root, options: options) { log.append($0) }
        XCTAssertNotEqual(changed.directory.path, first.directory.path)
        XCTAssertNotEqual(changed.manifest.vocabularyKey, first.manifest.vocabularyKey)
        XCTAssertFalse(log.contains { $0.contains("using cached") })
        XCTAssertNotEqual(changed.contentKey, first.contentKey)

        // The stream runs on the prepared shards with the tokenizer's specials.
        let config = PretrainingConfig(seqLen: 64, maxPredictions: 10)
        let stream = PretrainingStream(corpus: train, config: config, specials: SpecialTokens(changed.tokenizer),
                                       seed: 1)
        let batch = stream.nextBatch(batchSize: 2)
        XCTAssertEqual(batch.inputIDs.count, 128)
        XCTAssertEqual(batch.inputIDs[0], changed.tokenizer.clsID)
    }

    func testDataRootResolution() throws {
        let dir = try makeTempDir(self)
        let pkg = dir.appendingPathComponent("pkg")
        try write("// swift-tools-version:6.0\n", to: pkg.appendingPathComponent("Package.swift"))
        try write("# readme\n", to: pkg.appendingPathComponent("Data/README.md"))
        // Empty Data/ and no shared folder: stays on Data/.
        var r = DataRoot.resolve(environment: [:], currentDirectory: pkg.path)
        XCTAssertEqual(r.url.standardizedFileURL.path, pkg.appendingPathComponent("Data").standardizedFileURL.path)
        XCTAssertEqual(r.cacheURL.path, pkg.appendingPathComponent("Data/cache").path)
        // ../shared/data beside the package is found.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("shared/data/glue"),
                                                withIntermediateDirectories: true)
        r = DataRoot.resolve(environment: [:], currentDirectory: pkg.appendingPathComponent("Data").path)
        XCTAssertEqual(r.url.path, dir.appendingPathComponent("shared/data").standardizedFileURL.path)
        XCTAssertEqual(r.source, "../shared/data")
        // Env var, then --data, take precedence; SPARSE_MIXERS_CACHE moves the cache.
        r = DataRoot.resolve(environment: ["SPARSE_MIXERS_DATA": "/tmp/x", "SPARSE_MIXERS_CACHE": "/tmp/c"],
                             currentDirectory: pkg.path)
        XCTAssertEqual(r.url.path, "/tmp/x"); XCTAssertEqual(r.cacheURL.path, "/tmp/c")
        r = DataRoot.resolve(explicit: "/tmp/y", environment: ["SPARSE_MIXERS_DATA": "/tmp/x"],
                             currentDirectory: pkg.path)
        XCTAssertEqual(r.url.path, "/tmp/y"); XCTAssertEqual(r.source, "--data")
        // A populated Data/ wins over the shared folder.
        try FileManager.default.createDirectory(at: pkg.appendingPathComponent("Data/superglue"),
                                                withIntermediateDirectories: true)
        r = DataRoot.resolve(environment: [:], currentDirectory: pkg.path)
        XCTAssertEqual(r.source, "package Data/")
    }

    func testHeldOutRuleIsStable() {
        let names = (0..<400).map { "Author \($0 % 7)/Book \($0).txt" }
        let held = names.filter { GutenbergCorpus.isHeldOut($0, every: 40) }
        XCTAssert(held.count > 2 && held.count < 25, "\(held.count)")
        XCTAssertEqual(held, names.filter { GutenbergCorpus.isHeldOut($0, every: 40) })
    }
}
