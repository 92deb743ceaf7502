import Foundation
import XCTest
import SparseMixersCore
@testable import SparseMixers
@testable import SparseMixersData
@testable import SparseMixersTraining
import SparseMixersTestSupport

enum TinyRun {
    /// A 2-layer hybrid with one attention layer and one Experts-Choose MoE layer, dropout on.
    static func config(vocab: Int = 40, moe: Bool = true) -> ModelConfig {
        var c = ModelConfig()
        c.modelArch = .linear; c.vocabSize = vocab; c.maxSeqLength = 16; c.maxPredictionsPerSeq = 3
        c.dEmb = 8; c.dModel = 8; c.dFF = 16; c.numHeads = 2; c.numLayers = 2
        c.numAttentionLayers = 1; c.attentionLayout = .top
        c.numMoELayers = moe ? 1 : 0; c.moeLayout = .middle; c.numExperts = moe ? 4 : 0; c.expertDFF = 8
        c.maxGroupSize = 32; c.minExpertCapacity = 1
        return c
    }

    /// Random documents of short lines over ids 5..<vocab (0-4 are the specials).
    static func corpus(documents: Int, vocab: Int = 40, seed: UInt64) -> TokenizedCorpus {
        var r = RNG(seed: seed)
        let docs: [[[Int32]]] = (0..<documents).map { _ in
            (0..<(4 + r.int(5))).map { _ in (0..<(2 + r.int(5))).map { _ in Int32(5 + r.int(vocab - 5)) } }
        }
        return TokenizedCorpus(documents: docs)
    }

    static let specials = SpecialTokens(pad: 0, cls: 2, sep: 3, mask: 4, normalTokenIDs: (5..<40).map(Int32.init))

    /// The pre-training options the resume and checkpoint tests share.
    static let options = PretrainOptions(steps: 12, batchSize: 4, learningRate: 3e-3, warmupSteps: 3, evalEvery: 6,
                                         evalBatches: 2, checkpointEvery: 4, logEvery: 2, seed: 11)

    /// The parameters stored in a checkpoint.
    static func params(_ url: URL) throws -> [Float] {
        let meta = try Checkpoint.metadata(at: url)
        let m = try Model(config: meta.config, head: meta.head)
        try Checkpoint.load(url, into: m)
        return Array(UnsafeBufferPointer(start: m.params.base, count: m.params.count))
    }

    static func trainer(_ dir: URL, _ options: PretrainOptions, config: ModelConfig = config()) throws -> Pretrainer {
        let t = try Pretrainer(config: config, options: options, directory: dir, train: corpus(documents: 40, seed: 1),
                               heldOut: corpus(documents: 6, seed: 2), specials: specials)
        t.progress = nil
        return t
    }
}

final class PretrainerTests: XCTestCase {
    let options = TinyRun.options

    func params(_ url: URL) throws -> [Float] { try TinyRun.params(url) }

    /// Every run is scored on one held-out set, whatever its seed or batch: the floors and counts agree, and the
    /// evaluation records its counts and tokens for intervals and learning curves.
    func testHeldOutSetIsSharedAcrossSeeds() throws {
        let root = try makeTempDir(self)
        var o2 = options; o2.seed = 12; o2.batchSize = 2; o2.steps = 6
        var o1 = options; o1.steps = 6
        let r1 = try TinyRun.trainer(root.appendingPathComponent("s11"), o1).run(resume: false)
        let r2 = try TinyRun.trainer(root.appendingPathComponent("s12"), o2).run(resume: false)
        XCTAssertNotNil(r1.floors)
        XCTAssertEqual(r1.floors, r2.floors)
        let e = try XCTUnwrap(r1.finalEval)
        XCTAssertEqual(e.mlmCount, r1.floors?.mlmCount)
        XCTAssertEqual(e.nspCount, options.evalBatches * options.evalBatchSize)
        XCTAssertEqual(e.tokens, Double(6 * o1.batchSize * TinyRun.config().maxSeqLength))
        XCTAssertGreaterThan(e.trainSeconds ?? 0, 0)
        XCTAssertEqual(r2.finalEval?.nspCount, options.evalBatches * options.evalBatchSize,
                       "the eval batch follows evalBatchSize, not the training batch")
    }

    /// Killed after step 6 (last checkpoint at 4), resumed: same parameters, Adam state, losses and evals, bit for bit.
    func testInterruptedThenResumedRunEqualsUninterruptedRun() throws {
        let root = try makeTempDir(self)
        let a = try TinyRun.trainer(root.appendingPathComponent("a"), options)
        let ra = try a.run(resume: false)
        XCTAssertTrue(ra.complete)
        XCTAssertEqual(ra.stepsCompleted, 12)
        XCTAssertEqual(ra.evals.map(\.step), [6, 12])

        let bDir = root.appendingPathComponent("b")
        let partial = try TinyRun.trainer(bDir, options).run(resume: false, stopAfter: 6)
        XCTAssertFalse(partial.complete)
        XCTAssertFalse(FileManager.default.fileExists(atPath: bDir.appendingPathComponent("result.json").path))
        let rb = try TinyRun.trainer(bDir, options).run(resume: true)
        XCTAssertTrue(rb.complete)

        XCTAssertEqual(try params(a.checkpointURL), try params(bDir.appendingPathComponent("checkpoint.bin")))
        // Scores equal bit for bit; trainSeconds is wall-clock time and is not.
        func scores(_ r: PretrainResult) -> [PretrainEval] {
            r.evals.map { var e = $0; e.trainSeconds = nil; return e }
        }
        XCTAssertEqual(scores(ra), scores(rb))
        let la = JSONLLog(unchecked: a.logURL).records(TrainRecordView.self).map { [$0.step: $0.loss] }
        let lb = JSONLLog(unchecked: bDir.appendingPathComponent("log.jsonl")).records(TrainRecordView.self).map {
            [$0.step: $0.loss]
        }
        XCTAssertEqual(la.count, 6)
        XCTAssertEqual(la, lb, "the resumed log must read like the uninterrupted one (steps 5-6 replayed once)")
        // Training moved the parameters and the model learned something on held-out text.
        XCTAssertNotEqual(try params(a.checkpointURL), try Model(config: TinyRun.config(), seed: 11).paramsArray)
    }

    func testResumeRefusesADifferentRunAndFreshStartRefusesAnExistingRun() throws {
        let dir = try makeTempDir(self).appendingPathComponent("run")
        var o = options; o.steps = 4; o.checkpointEvery = 2
        _ = try TinyRun.trainer(dir, o).run(resume: false)
        XCTAssertThrowsError(try TinyRun.trainer(dir, o).run(resume: false)) { e in
            XCTAssert("\(e)".contains("--resume"), "\(e)")
        }
        var other = o; other.learningRate = 1e-2
        XCTAssertThrowsError(try TinyRun.trainer(dir, other).run(resume: true)) { e in
            XCTAssert("\(e)".contains("options.learningRate"), "\(e)")
        }
        var c = TinyRun.config(); c.dFF = 12
        XCTAssertThrowsError(try TinyRun.trainer(dir, o, config: c).run(resume: true)) { e in
            XCTAssert("\(e)".contains("config.dFF"), "\(e)")
        }
    }

    // MARK: Issue 14: resume verifies the checkpoint and the run

    /// Rewrites a checkpoint with an edited header and a valid checksum (what a careless edit or a foreign tool
    /// could produce).
    func rewrite(_ url: URL, _ change: (inout Checkpoint.Metadata, inout PretrainState) throws -> Void) throws {
        let (meta, data, offset) = try Checkpoint.read(url)
        var m = meta
        var state = try JSONDecoder().decode(PretrainState.self, from: meta.userState)
        try change(&m, &state)
        m.userState = try JSONEncoder().encode(state)
        var d = try Checkpoint.header(m) + data.subdata(in: offset..<(data.count - 4))
        var crc = CRC32C.checksum(d).littleEndian
        d.append(Data(bytes: &crc, count: 4))
        try d.write(to: url)
    }

    /// A run stopped after 2 steps (checkpoint at 2), and a copy of its directory per case.
    func stoppedRun(_ root: URL, _ o: PretrainOptions, config: ModelConfig = TinyRun.config()) throws -> URL {
        let dir = root.appendingPathComponent("stopped")
        _ = try TinyRun.trainer(dir, o, config: config).run(resume: false, stopAfter: 2)
        return dir
    }

    func copy(_ dir: URL, _ name: String) throws -> URL {
        let to = dir.deletingLastPathComponent().appendingPathComponent(name)
        try FileManager.default.copyItem(at: dir, to: to)
        return to
    }

    /// The issue's reproduction: a seed-4 checkpoint resumed a seed-3 run, a fourier checkpoint a hartley run
    /// (run.json of the target directory matched, the checkpoint was not compared).
    func testResumeRefusesACheckpointOfAnotherRun() throws {
        let root = try makeTempDir(self)
        var o = options; o.steps = 4; o.checkpointEvery = 2
        let target = try stoppedRun(root, o)
        var o4 = o; o4.seed = 4
        let foreign = root.appendingPathComponent("seed4")
        _ = try TinyRun.trainer(foreign, o4).run(resume: false, stopAfter: 2)
        let a = try copy(target, "a")
        try FileManager.default.removeItem(at: a.appendingPathComponent("checkpoint.bin"))
        try FileManager.default.copyItem(at: foreign.appendingPathComponent("checkpoint.bin"),
                                         to: a.appendingPathComponent("checkpoint.bin"))
        XCTAssertThrowsError(try TinyRun.trainer(a, o).run(resume: true)) { e in
            XCTAssert("\(e)".contains("belongs to another run: options.seed (checkpointed 4, now 11)"), "\(e)")
        }
        // Same parameter layout, another mixing: the checkpoint loads into the model but is refused.
        var fourier = TinyRun.config(); fourier.modelArch = .fNet
        var hartley = TinyRun.config(); hartley.modelArch = .hNet
        let h = root.appendingPathComponent("hartley"), f = root.appendingPathComponent("fourier")
        _ = try TinyRun.trainer(h, o, config: hartley).run(resume: false, stopAfter: 2)
        _ = try TinyRun.trainer(f, o, config: fourier).run(resume: false, stopAfter: 2)
        try FileManager.default.removeItem(at: h.appendingPathComponent("checkpoint.bin"))
        try FileManager.default.copyItem(at: f.appendingPathComponent("checkpoint.bin"),
                                         to: h.appendingPathComponent("checkpoint.bin"))
        XCTAssertThrowsError(try TinyRun.trainer(h, o, config: hartley).run(resume: true)) { e in
            XCTAssert("\(e)".contains("config.modelArch (checkpointed \"F_NET\", now \"H_NET\")"), "\(e)")
        }
        // The untouched copy resumes.
        XCTAssertTrue(try TinyRun.trainer(target, o).run(resume: true).complete)
    }

    /// A run is tied to the content of its corpus: another vocabulary or other shards (other token ids) is
    /// neither resumed nor reused, while a run recorded before the key existed is still reused.
    func testARunOnAnotherCorpusIsNeitherResumedNorReused() throws {
        let root = try makeTempDir(self)
        var o = options; o.steps = 4; o.checkpointEvery = 2
        let dir = root.appendingPathComponent("run")
        let first = try TinyRun.trainer(dir, o); first.corpusKey = "aaaa"
        _ = try first.run(resume: false, stopAfter: 2)
        let other = try TinyRun.trainer(dir, o); other.corpusKey = "bbbb"
        XCTAssertThrowsError(try other.run(resume: true)) { e in
            XCTAssert("\(e)".contains("corpus (checkpointed content key aaaa, now bbbb"), "\(e)")
        }
        let same = try TinyRun.trainer(dir, o); same.corpusKey = "aaaa"
        XCTAssertTrue(try same.runOrReuse().complete)
        let reuse = try TinyRun.trainer(dir, o); reuse.corpusKey = "bbbb"
        XCTAssertThrowsError(try reuse.runOrReuse()) { e in
            XCTAssert("\(e)".contains("was trained on another corpus (content key aaaa, now bbbb)"), "\(e)")
        }
        // No key recorded (a run made before corpus keys): reused.
        let legacy = root.appendingPathComponent("legacy")
        _ = try TinyRun.trainer(legacy, o).run(resume: false)
        let now = try TinyRun.trainer(legacy, o); now.corpusKey = "cccc"
        XCTAssertTrue(try now.runOrReuse().complete)
    }

    /// Edited or damaged fields behind a valid checksum: step 10^6 used to print a result path and write nothing,
    /// a negative step trapped, a bad stream position crashed the prefetch thread.
    func testResumeRefusesOutOfRangeStateFields() throws {
        let root = try makeTempDir(self)
        var o = options; o.steps = 4; o.checkpointEvery = 2
        let base = try stoppedRun(root, o)
        let cases: [(String, (inout Checkpoint.Metadata, inout PretrainState) -> Void, String)] = [
            ("step-huge", { m, s in s.step = 1_000_000; m.optimizerStep = 1_000_000 },
             "field step is 1000000, outside 0...4"),
            ("step-negative", { m, s in s.step = -1; m.optimizerStep = 0 }, "field step is -1, outside 0...4"),
            ("optimizer-step", { m, _ in m.optimizerStep = 3 }, "field optimizerStep is 3, but step is 2"),
            ("no-identity", { _, s in s.identity = nil }, "records no run identity"),
            ("threads", { _, s in s.identity?.threads = 64 }, "threads (checkpointed 64"),
            ("slot", { _, s in s.stream.slotPassage[5] = 1_000_000 },
             "stream position field slotPassage[5] is 1000000"),
            ("serial", { _, s in s.stream.slotSerial[0] = Int64.max }, "stream position field slotSerial[0]"),
            ("slots", { _, s in s.stream.slotPassage.removeLast() }, "stream position field slotPassage.count"),
            ("cursor", { _, s in s.stream.docCursor = -3 }, "stream position field docCursor is -3"),
            ("emitted", { _, s in s.stream.emitted = s.stream.inserted + 1 }, "stream position field emitted"),
        ]
        for (name, change, expected) in cases {
            let dir = try copy(base, name)
            try rewrite(dir.appendingPathComponent("checkpoint.bin"), change)
            XCTAssertThrowsError(try TinyRun.trainer(dir, o).run(resume: true), name) { e in
                XCTAssert("\(e)".contains(expected), "\(name): \(e)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("result.json").path), name)
        }
        // A flipped bit or a cut tail is refused by the checksum before any field is read.
        let flipped = try copy(base, "flipped")
        var d = try Data(contentsOf: flipped.appendingPathComponent("checkpoint.bin"))
        d[d.count / 2] ^= 1
        try d.write(to: flipped.appendingPathComponent("checkpoint.bin"))
        XCTAssertThrowsError(try TinyRun.trainer(flipped, o).run(resume: true)) {
            XCTAssert("\($0)".contains("checksum mismatch"), "\($0)")
        }
        let cut = try copy(base, "cut")
        try d.prefix(d.count - 100).write(to: cut.appendingPathComponent("checkpoint.bin"))
        XCTAssertThrowsError(try TinyRun.trainer(cut, o).run(resume: true)) {
            XCTAssert("\($0)".contains("corrupt"), "\($0)")
        }
        // The rewrite helper keeps a valid checkpoint valid: an unchanged rewrite resumes and completes.
        let same = try copy(base, "same")
        try rewrite(same.appendingPathComponent("checkpoint.bin")) { _, _ in }
        XCTAssertTrue(try TinyRun.trainer(same, o).run(resume: true).complete)
    }

    /// Threads are part of the run identity: a resume on another count is refused naming the field; on the same
    /// count it is exact (testInterruptedThenResumedRunEqualsUninterruptedRun).
    func testResumeOnAnotherThreadCountIsRefused() throws {
        let saved = Parallel.threads
        defer { Runtime.setThreads(saved) }
        let root = try makeTempDir(self)
        var o = options; o.steps = 4; o.checkpointEvery = 2
        Runtime.setThreads(1)
        let dir = try stoppedRun(root, o)
        Runtime.setThreads(2)
        XCTAssertThrowsError(try TinyRun.trainer(dir, o).run(resume: true)) { e in
            XCTAssert("\(e)".contains("threads (checkpointed 1, now 2; resume on 1 thread(s)"), "\(e)")
            XCTAssert("\(e)".contains("--threads 1"), "\(e)")
        }
        // A run.json written before the thread count was recorded cannot vouch for it.
        let legacy = try copy(dir, "legacy")
        var saved1 = try RunFiles.readJSON(RunIdentity.self, from: legacy.appendingPathComponent("run.json"))
        saved1.threads = nil
        try RunFiles.writeJSON(saved1, to: legacy.appendingPathComponent("run.json"))
        XCTAssertThrowsError(try TinyRun.trainer(legacy, o).run(resume: true)) { e in
            XCTAssert("\(e)".contains("threads (checkpointed none, now 2: the run predates thread-count checks"),
                      "\(e)")
        }
        // A finished run is reused at any thread count (reuse reads result.json, it does not resume).
        Runtime.setThreads(1)
        let done = Pretrainer.directory(for: TinyRun.config(), options: o, under: root)
        let first = try TinyRun.trainer(done, o).runOrReuse()
        Runtime.setThreads(2)
        XCTAssertEqual(try TinyRun.trainer(done, o).runOrReuse(), first)
    }

    /// The run directory name does not depend on the thread count (nor changed with it): finished runs of
    /// earlier commits are still found.
    func testRunDirectoryNamesAreUnchanged() throws {
        let root = URL(fileURLWithPath: "/r")
        XCTAssertEqual(Pretrainer.directory(for: TinyRun.config(), options: options, under: root).lastPathComponent,
                       "pretrain-8de00a218390819e")
        XCTAssertEqual(Pretrainer.directory(for: try ModelConfig.preset(named: "sparse-mixer-base"), options: options,
                                            under: root).lastPathComponent, "pretrain-5afe108523907a01")
    }

    /// Two runs into one directory used to interleave their logs; the second is now refused while the first
    /// holds `run.lock`, and can start once it is released.
    func testASecondWriterOfARunDirectoryIsRefused() throws {
        let dir = try makeTempDir(self).appendingPathComponent("run")
        var o = options; o.steps = 2; o.checkpointEvery = 2
        let held = try XCTUnwrap(try FileLock.tryLock(dir.appendingPathComponent("run.lock").path))
        XCTAssertNil(try FileLock.tryLock(dir.appendingPathComponent("run.lock").path))
        XCTAssertThrowsError(try TinyRun.trainer(dir, o).run(resume: false)) { e in
            XCTAssert("\(e)".contains("is in use: process \(getpid()) holds run.lock"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("log.jsonl").path))
        held.release()
        XCTAssertTrue(try TinyRun.trainer(dir, o).run(resume: false).complete)
    }

    /// A kill during a checkpoint write left `.checkpoint.bin.<pid>.tmp` (gigabytes at paper size) for good; the
    /// next start in the directory removes it and any other interrupted write's temporary file.
    func testTemporaryFilesOfAKilledWriteAreRemovedOnTheNextStart() throws {
        let root = try makeTempDir(self)
        var o = options; o.steps = 4; o.checkpointEvery = 2
        let dir = try stoppedRun(root, o)
        let names = [".checkpoint.bin.31337.tmp", ".run.json.31337.tmp", ".log.jsonl.7.tmp"]
        for n in names {
            FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: Data(count: 4096))
        }
        FileManager.default.createFile(atPath: dir.appendingPathComponent("notes.txt").path,
                                       contents: Data("keep".utf8))
        XCTAssertTrue(try TinyRun.trainer(dir, o).run(resume: true).complete)
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        XCTAssertTrue(left.isDisjoint(with: names), "\(left)")
        XCTAssertEqual(left, ["checkpoint.bin", "log.jsonl", "run.json", "result.json", "run.lock", "notes.txt"])
    }

    /// A run that cannot fit is refused from the estimate, before its directory or anything else exists.
    func testAnOversizedRunIsRefusedBeforeItAllocates() throws {
        let dir = try makeTempDir(self).appendingPathComponent("run")
        let t = try TinyRun.trainer(dir, options)
        let estimate = try t.memoryEstimate()
        XCTAssertGreaterThan(estimate, 0)
        defer { MemoryBudget.limit = nil }
        MemoryBudget.limit = estimate / 2
        XCTAssertThrowsError(try t.run(resume: false)) { e in
            XCTAssert("\(e)".contains("pre-training at batch 4 x 16 needs about"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path))
        MemoryBudget.limit = estimate
        XCTAssertTrue(try t.run(resume: false).complete)
        var big = options; big.batchSize = 1 << 20
        XCTAssertGreaterThan(try Pretrainer.memoryEstimate(config: TinyRun.config(), options: big), 1e9)
    }

    func testRunOrReuseReturnsTheFinishedResultWithoutTraining() throws {
        let root = try makeTempDir(self)
        var o = options; o.steps = 4
        let dir = Pretrainer.directory(for: TinyRun.config(), options: o, under: root)
        let first = try TinyRun.trainer(dir, o).runOrReuse()
        let checkpoint = dir.appendingPathComponent("checkpoint.bin").path
        let stamp = try FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as! Date
        let again = try TinyRun.trainer(dir, o).runOrReuse()
        XCTAssertEqual(first, again)
        let stamp2 = try FileManager.default.attributesOfItem(atPath: checkpoint)[.modificationDate] as! Date
        XCTAssertEqual(stamp, stamp2)
        XCTAssertNotEqual(dir, Pretrainer.directory(for: TinyRun.config(), options: options, under: root))
    }

    /// An absurd learning rate blows the loss up: the run ends cleanly, recorded as diverged with its step.
    func testDivergenceEndsTheRunCleanly() throws {
        let dir = try makeTempDir(self).appendingPathComponent("run")
        var o = options; o.learningRate = 1e6; o.warmupSteps = 0; o.steps = 40
        o.divergence = DivergenceRule(window: 2, factor: 2, minimumStep: 3)
        let r = try TinyRun.trainer(dir, o).run(resume: false)
        XCTAssertTrue(r.diverged, "loss never blew up")
        XCTAssertFalse(r.complete)
        XCTAssertLessThan(r.stepsCompleted, 40)
        let saved = try RunFiles.readJSON(PretrainResult.self, from: dir.appendingPathComponent("result.json"))
        XCTAssertEqual(saved.divergence, r.divergence)
        let log = String(decoding: try Data(contentsOf: dir.appendingPathComponent("log.jsonl")), as: UTF8.self)
        XCTAssert(log.contains("\"diverged\""))
    }

    func testDivergenceRule() {
        var t = DivergenceTracker(rule: DivergenceRule(window: 3, factor: 2, minimumStep: 5))
        for (i, l) in [8.0, 7, 6, 5, 4.5, 4.4, 4.6, 4.5].enumerated() { XCTAssertNil(t.observe(loss: l, step: i + 1)) }
        XCTAssertNotNil(t.observe(loss: .nan, step: 9))
        var u = DivergenceTracker(rule: DivergenceRule(window: 2, factor: 2, minimumStep: 2))
        XCTAssertNil(u.observe(loss: 3, step: 1)); XCTAssertNil(u.observe(loss: 3, step: 2))
        XCTAssertNil(u.observe(loss: 5, step: 3))           // mean 4 < 6
        XCTAssertNotNil(u.observe(loss: 10, step: 4))        // mean 7.5 > 2 x 3
        // Codable round trip keeps the infinity of a fresh tracker.
        let fresh = DivergenceTracker(rule: DivergenceRule())
        XCTAssertEqual(try JSONDecoder().decode(DivergenceTracker.self, from: JSONEncoder().encode(fresh)), fresh)
    }

    func testBadOptionsNameTheField() {
        var o = options; o.batchSize = 0
        XCTAssertThrowsError(try o.validate()) { XCTAssert("\($0)".contains("batchSize")) }
        o = options; o.learningRate = .nan
        XCTAssertThrowsError(try o.validate()) { XCTAssert("\($0)".contains("learningRate")) }
    }

    func testJSONLTruncationDropsLaterStepsAndTornLines() throws {
        let url = try makeTempDir(self).appendingPathComponent("log.jsonl")
        let log = try JSONLLog(url: url)
        for s in 1...5 { try log.append(EventRecord(kind: "x", step: s, message: "m")) }
        try Data((String(decoding: try Data(contentsOf: url), as: UTF8.self)
                  + "{\"kind\":\"x\",\"st").utf8).write(to: url)
        try log.truncate(after: 3)
        XCTAssertEqual(log.records(EventRecord.self).map(\.step), [1, 2, 3])
    }
}

/// The fields of a train record the tests compare.
struct TrainRecordView: Decodable { var kind: String; var step: Int; var loss: Double }

extension JSONLLog {
    convenience init(unchecked url: URL) { try! self.init(url: url) }
}

extension Model {
    var paramsArray: [Float] { Array(UnsafeBufferPointer(start: params.base, count: params.count)) }
}

final class FineTunerTests: XCTestCase {
    /// A data root with an RTE whose label is readable from its first word (inside the 16-token window), and a
    /// tokenizer trained on it.
    func makeTask(_ dir: URL) throws -> (DataRoot, Tokenizer) {
        var r = RNG(seed: 5)
        let words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "green", "swift", "table"]
        func sentence() -> String { (0..<(3 + r.int(3))).map { _ in words[r.int(words.count)] }.joined(separator: " ") }
        func file(_ n: Int) -> String {
            var s = "index\tsentence1\tsentence2\tlabel\n"
            for i in 0..<n {
                let yes = r.int(2) == 0
                s += "\(i)\t\(yes ? "yes" : "no") \(sentence())\t\(sentence())\t"
                     + "\(yes ? "entailment" : "not_entailment")\n"
            }
            return s
        }
        let root = DataRoot(url: dir, cacheURL: dir.appendingPathComponent("cache"))
        for (name, n) in [("train.tsv", 200), ("dev.tsv", 60)] {
            let url = dir.appendingPathComponent("glue/RTE/\(name)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                    withIntermediateDirectories: true)
            try Data(file(n).utf8).write(to: url)
        }
        var options = VocabularyOptions(vocabSize: 30, inputSentenceSize: 10_000)
        options.numThreads = 1
        let sentences = (0..<300).map { _ in Array((sentence() + (r.int(2) == 0 ? " yes" : " no")).utf8) }
        try FileManager.default.createDirectory(at: root.cacheURL, withIntermediateDirectories: true)
        let prefix = root.cacheURL.appendingPathComponent("spm").path
        try Tokenizer.train(sentences: sentences, modelPrefix: prefix, options: options)
        return (root, try Tokenizer(modelPath: prefix + ".model"))
    }

    func pretrained(_ dir: URL, vocab: Int) throws -> URL {
        var c = TinyRun.config(vocab: vocab); c.dropoutRate = 0; c.mixingDropoutRate = 0
        let o = PretrainOptions(steps: 2, batchSize: 4, learningRate: 1e-3, warmupSteps: 1, evalEvery: 2,
                                evalBatches: 1, checkpointEvery: 2, logEvery: 1, seed: 3)
        let specials = SpecialTokens(pad: 0, cls: 2, sep: 3, mask: 4, normalTokenIDs: (5..<Int32(vocab)).map { $0 })
        let t = try Pretrainer(config: c, options: o, directory: dir,
                               train: TinyRun.corpus(documents: 20, vocab: vocab, seed: 1),
                               heldOut: TinyRun.corpus(documents: 3, vocab: vocab, seed: 2), specials: specials)
        t.progress = nil
        try t.run(resume: false)
        return t.checkpointURL
    }

    func testFineTuningLearnsAReadableLabelAndTheGridSkipsMissingTasks() throws {
        let dir = try makeTempDir(self)
        let (root, tok) = try makeTask(dir.appendingPathComponent("data"))
        let ckpt = try pretrained(dir.appendingPathComponent("pre"), vocab: tok.vocabSize)
        let settings = FineTuneGrid.Settings(
            learningRates: [3e-2, 1e-4], batchSizes: [8],
            protocolOptions: FineTuneProtocol(expertDropoutRate: 0.2, learningRateSet: .large, batchSizes: [8],
                                              epochs: 8),
            trainCap: 160, evalCap: nil)
        let out = try FineTuneGrid.run(checkpoint: ckpt, tasks: [.rte, .mnli], settings: settings, root: root,
                                       tokenizer: tok, directory: dir.appendingPathComponent("ft"))
        XCTAssertEqual(out.skipped.first?.item, "GLUE/MNLI")
        // The cap (160 of 200 train rows) is a typed note of its own, not a substring to look for in the notes.
        XCTAssertEqual(out.capNotes, ["GLUE/RTE: train capped to 160 of 200 rows"])
        XCTAssertFalse(out.notes.contains { $0.contains("capped") })
        XCTAssert(out.skipped.contains { $0.item == "glue_avg" })
        XCTAssertEqual(out.runs.count, 2)
        let run = try XCTUnwrap(out.runs.first { $0.options.learningRate == 3e-2 })
        XCTAssertEqual(run.steps, 160 * 8 / 8)
        XCTAssertEqual(run.evaluations.count, 8, "one evaluation per epoch")
        XCTAssertEqual(run.trainRows, 160)
        XCTAssertGreaterThanOrEqual(run.best!.primary, run.last!.primary)
        XCTAssertFalse(run.notes.contains { $0.contains("class-prior") },
                       "a model that learned is not flagged: \(run.notes)")
        let chosen = try XCTUnwrap(out.chosen.first)
        XCTAssertEqual(chosen.learningRate, 3e-2, "the learning rate that learned the task wins")
        XCTAssertGreaterThan(out.metrics["rte_acc"] ?? 0, 90, "\(out.metrics)")
        XCTAssertNotNil(out.metrics["glue_avg_available"])
        XCTAssertNil(out.metrics["glue_avg"])
        // The task result: the chosen run, and the majority floor on the same dev rows.
        let t = try XCTUnwrap(out.taskResults.first)
        XCTAssertEqual(t.task, "GLUE/RTE")
        XCTAssertEqual(t.learningRate, 3e-2)
        XCTAssertEqual(t.evalRows, 60)
        XCTAssertEqual(t.best["rte_acc"], out.metrics["rte_acc"])
        let data = try FineTuneData.load(.rte, root: root, tokenizer: tok, seqLen: 16, trainCap: 160, evalCap: nil)
        XCTAssertEqual(t.majority, try FineTuneGrid.majorityFloor(data))
        // Cached: a second call reads the runs instead of training.
        let again = try FineTuneGrid.run(checkpoint: ckpt, tasks: [.rte], settings: settings, root: root,
                                         tokenizer: tok, directory: dir.appendingPathComponent("ft"))
        XCTAssertEqual(again.runs, out.runs.filter { $0.task == .rte })
    }

    /// A further seed's checkpoint is fine-tuned once per task, with its own seed, at the learning rate the grid
    /// chose on seed 0; the task's result and the metrics are the means over the seeds; the run is cached beside
    /// that checkpoint.
    func testFurtherSeedsRunAtTheChosenRateAndTheResultIsTheirMean() throws {
        let dir = try makeTempDir(self)
        let (root, tok) = try makeTask(dir.appendingPathComponent("data"))
        let ckpt = try pretrained(dir.appendingPathComponent("pre"), vocab: tok.vocabSize)
        let other = dir.appendingPathComponent("pre1/checkpoint.bin")
        try FileManager.default.createDirectory(at: other.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: ckpt, to: other)
        let settings = FineTuneGrid.Settings(
            learningRates: [3e-2, 1e-4], batchSizes: [8],
            protocolOptions: FineTuneProtocol(expertDropoutRate: 0.2, learningRateSet: .large, batchSizes: [8],
                                              epochs: 2),
            trainCap: 64, evalCap: nil)
        let seeds = [FineTuneGrid.SeedCheckpoint(seed: 1, checkpoint: other)]
        let out = try FineTuneGrid.run(checkpoint: ckpt, tasks: [.rte], settings: settings, root: root, tokenizer: tok,
                                       directory: dir.appendingPathComponent("ft"), seedCheckpoints: seeds)
        XCTAssertEqual(out.runs.count, 2, "the grid runs on seed 0 only")
        let t = try XCTUnwrap(out.taskResults.first)
        let scores = try XCTUnwrap(t.seeds)
        XCTAssertEqual(scores.map(\.seed), [0, 1])
        let chosen = try XCTUnwrap(out.chosen.first)
        XCTAssertEqual(scores[0].best["rte_acc"], chosen.best?.paper["rte_acc"])
        let files = try FileManager.default.contentsOfDirectory(atPath: other.deletingLastPathComponent()
                                                                   .appendingPathComponent("finetune").path)
            .filter { $0.hasSuffix(".json") }
        XCTAssertEqual(files.count, 1)
        XCTAssertTrue(files[0].contains("-lr\(chosen.learningRate)-") && files[0].hasSuffix("-s1.json"), files[0])
        let seed1 = try RunFiles.readJSON(FineTuneResult.self, from: other.deletingLastPathComponent()
                                              .appendingPathComponent("finetune/\(files[0])"))
        XCTAssertEqual(seed1.options.seed, 1)
        XCTAssertEqual(scores[1].best["rte_acc"], seed1.best?.paper["rte_acc"])
        let mean = (scores[0].best["rte_acc"]! + scores[1].best["rte_acc"]!) / 2
        XCTAssertEqual(try XCTUnwrap(t.best["rte_acc"]), mean, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(out.metrics["rte_acc"]), mean, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(out.metrics["glue_avg_available"]), mean, accuracy: 1e-12)
        // Cached: the same call again reads every run, seed 1's included.
        let again = try FineTuneGrid.run(checkpoint: ckpt, tasks: [.rte], settings: settings, root: root,
                                         tokenizer: tok, directory: dir.appendingPathComponent("ft"),
                                         seedCheckpoints: seeds)
        XCTAssertEqual(again.taskResults, out.taskResults)
    }

    func testFreezingMoEKeepsRouterAndExpertsFixed() throws {
        let dir = try makeTempDir(self)
        let (root, tok) = try makeTask(dir.appendingPathComponent("data"))
        let ckpt = try pretrained(dir.appendingPathComponent("pre"), vocab: tok.vocabSize)
        let data = try FineTuneData.load(.rte, root: root, tokenizer: tok, seqLen: 16, trainCap: 32, evalCap: 16)
        let options = FineTuneOptions(learningRate: 1e-2, batchSize: 8, epochs: 1, freeze: .moe)
        let r = try FineTuner.run(checkpoint: ckpt, data: data, options: options)
        XCTAssertEqual(r.steps, 4)
        // Rebuild what the run started from and check the frozen ranges by name.
        let meta = try Checkpoint.metadata(at: ckpt)
        let m = try Model(config: meta.config, head: .classification(outputs: 2))
        let ranges = FineTuner.frozenRanges(m.layout, .moe)
        XCTAssertFalse(ranges.isEmpty)
        let names = m.layout.tensors.filter { t in ranges.contains { $0.lowerBound == t.offset } }.map(\.name)
        XCTAssert(names.allSatisfy { $0.contains("expert_") || $0.contains("router_weights_") }, "\(names)")
        XCTAssert(FineTuner.frozenRanges(m.layout, .denseMLP).allSatisfy { r in
            m.layout.tensors.first { $0.offset == r.lowerBound }!.name.contains("feed_forward_") })
        // AdamW leaves frozen parameters untouched (even by weight decay).
        let adam = AdamW(parameterCount: m.params.count)
        adam.frozen = ranges
        let before = m.paramsArray
        for i in 0..<m.grads.count { m.grads.base[i] = 1 }
        adam.update(params: m.params, grads: m.grads, learningRate: 0.1)
        let after = m.paramsArray
        for r in ranges { XCTAssertEqual(Array(before[r]), Array(after[r])) }
        XCTAssertNotEqual(before, after)
    }

    /// The majority floor is the score of always predicting the train split's most frequent class, counted here
    /// by hand from the files.
    func testMajorityFloorCountsTheTrainSplitsMostFrequentClass() throws {
        let dir = try makeTempDir(self)
        let (root, tok) = try makeTask(dir.appendingPathComponent("data"))
        let data = try FineTuneData.load(.rte, root: root, tokenizer: tok, seqLen: 16, trainCap: nil, evalCap: nil)
        let trainYes = data.train.labels.filter { $0 == 0 }.count
        let majority: Int32 = trainYes * 2 >= data.train.count ? 0 : 1
        let dev = data.evals[0].labels
        let expected = 100 * Double(dev.filter { $0 == majority }.count) / Double(dev.count)
        let floor = try FineTuneGrid.majorityFloor(data)
        XCTAssertEqual(floor.keys.sorted(), ["rte_acc"])
        XCTAssertEqual(floor["rte_acc"]!, expected, accuracy: 1e-9)
        XCTAssertGreaterThan(expected, 0)
        XCTAssertLessThan(expected, 100)
    }

    /// Small training sets get more epochs so that every task trains at least `minimumSteps` steps.
    func testMinimumStepsRaiseTheEpochsOfSmallSets() {
        let p = FineTuneProtocol(expertDropoutRate: 0.2, learningRateSet: .standard, batchSizes: [16], epochs: 1)
        var s = FineTuneGrid.Settings(learningRates: [1e-4], batchSizes: [16], protocolOptions: p, trainCap: nil,
                                      evalCap: nil, minimumSteps: 300)
        XCTAssertEqual(s.epochs(trainExamples: 10_000, batchSize: 16), 1)   // 625 steps already
        XCTAssertEqual(s.epochs(trainExamples: 2_490, batchSize: 16), 2)    // RTE: 155 -> 311 steps
        XCTAssertEqual(s.epochs(trainExamples: 3_668, batchSize: 16), 2)    // MRPC: 229 -> 458
        XCTAssertEqual(s.epochs(trainExamples: 250, batchSize: 16), 20)     // CB: 20 epochs = 320 steps
        XCTAssertEqual(s.epochs(trainExamples: 4_800, batchSize: 16), 1)    // exactly 300
        XCTAssertEqual(s.epochs(trainExamples: 4_799, batchSize: 16), 2)
        for n in [1, 7, 250, 2_490, 3_668, 5_749, 8_551] {
            let o = FineTuneOptions(p, learningRate: 1e-4, batchSize: 16)
            var e = o; e.epochs = s.epochs(trainExamples: n, batchSize: 16)
            XCTAssertGreaterThanOrEqual(FineTuner.steps(trainExamples: n, e), 300, "N = \(n)")
        }
        s.minimumSteps = 0
        XCTAssertEqual(s.epochs(trainExamples: 250, batchSize: 16), 1, "no minimum: the protocol's epochs")
    }

    func testCappingKeepsWholeGroupsAndIsSeeded() {
        let ex = (0..<30).map { TaskExample(segments: ["x"], label: .category($0 % 2), group: $0 / 3, line: $0 + 1) }
        let a = FineTuneData.cap(ex, to: 10, seed: 1), b = FineTuneData.cap(ex, to: 10, seed: 1)
        XCTAssertEqual(a.map(\.line), b.map(\.line))
        XCTAssertLessThanOrEqual(a.count, 10)
        XCTAssertEqual(a.count % 3, 0, "whole groups of 3")
        XCTAssertEqual(a.map(\.line), a.map(\.line).sorted(), "file order kept")
        XCTAssertEqual(FineTuneData.cap(ex, to: nil, seed: 1).count, 30)
    }
}
