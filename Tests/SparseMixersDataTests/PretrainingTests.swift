import SparseMixersCore
import XCTest
import SparseMixersTestSupport
@testable import SparseMixersData

/// SPEC §4.2-4.3 example construction, the stream, and shards, on synthetic token ids.
final class PretrainingTests: XCTestCase {
    // pad 0, unk 1, [CLS] 2, [SEP] 3, [MASK] 4; normal pieces 1 and 5..<100.
    let specials = SpecialTokens(pad: 0, cls: 2, sep: 3, mask: 4, normalTokenIDs: [1] + Array(5..<100))

    func testPackLinesGreedyWithSkips() {
        // budget 10: (12,1) → skip line 0; then 1+3+4 = 8 ≤ 10, +5 = 13 > 10 → lines 1...3; then
        // lines 4 (5) + 5 (6) = 11 > 10 → skip 4; line 5 is last → no passage.
        XCTAssertEqual(PretrainingExamples.packLines(lengths: [12, 1, 3, 4, 5, 6], budget: 10), [1..<4])
        XCTAssertEqual(PretrainingExamples.packLines(lengths: [2, 2, 2, 2, 2, 2], budget: 10), [0..<5])
        XCTAssertEqual(PretrainingExamples.packLines(lengths: [5, 5, 5, 5], budget: 10), [0..<2, 2..<4])
        XCTAssertEqual(PretrainingExamples.packLines(lengths: [3], budget: 10), [])
        XCTAssertEqual(PretrainingExamples.packLines(lengths: [], budget: 10), [])
        // Every passage has ≥ 2 lines and fits the budget.
        var rng = RNG(seed: 5)
        for _ in 0..<200 {
            let lengths = (0..<rng.int(30)).map { _ in rng.int(20) }
            for r in PretrainingExamples.packLines(lengths: lengths, budget: 29) {
                XCTAssertGreaterThanOrEqual(r.count, 2)
                XCTAssertLessThanOrEqual(lengths[r].reduce(0, +), 29)
            }
        }
    }

    func testNSPExampleLayoutBothOrders() {
        let lines: [[Int32]] = [[10, 11], [12], [13, 14, 15]]
        var seen = Set<Int32>()
        var rng = RNG(seed: 1)
        for _ in 0..<200 {
            let (ids, types, label) = PretrainingExamples.nspExample(lines: lines, seqLen: 12, specials: specials,
                                                                     rng: &rng)
            seen.insert(label)
            XCTAssertEqual(ids.count, 12); XCTAssertEqual(types.count, 12)
            XCTAssertEqual(ids[0], 2)
            let seps = ids.indices.filter { ids[$0] == 3 }
            XCTAssertEqual(seps.count, 2)
            let a = Array(ids[1..<seps[0]]), b = Array(ids[(seps[0] + 1)..<seps[1]])
            // Types: 0 through the first [SEP], 1 through the second, 0 on padding.
            XCTAssert(types[0...seps[0]].allSatisfy { $0 == 0 })
            XCTAssert(types[(seps[0] + 1)...seps[1]].allSatisfy { $0 == 1 })
            XCTAssert(types[(seps[1] + 1)...].allSatisfy { $0 == 0 })
            XCTAssert(ids[(seps[1] + 1)...].allSatisfy { $0 == 0 })
            let inOrder = a + b == [10, 11, 12, 13, 14, 15]
            let swapped = b + a == [10, 11, 12, 13, 14, 15]
            XCTAssert(!a.isEmpty && !b.isEmpty)
            XCTAssertEqual(label, inOrder ? 1 : 0)
            XCTAssert(inOrder || swapped)
            // Segments split at a line boundary.
            XCTAssert([[10, 11], [10, 11, 12]].contains(label == 1 ? a : b))
        }
        XCTAssertEqual(seen, [0, 1])
    }

    func makeIDs(_ n: Int, seqLen: Int, rng: inout RNG) -> [Int32] {
        var ids: [Int32] = [2] + (0..<(n - 3)).map { _ in Int32(5 + rng.int(95)) } + [3]
        ids.insert(3, at: 1 + rng.int(n - 3))
        return ids + [Int32](repeating: 0, count: seqLen - n)
    }

    func testMaskingInvariants() {
        let config = PretrainingConfig(seqLen: 64, maxPredictions: 8)
        var rng = RNG(seed: 7)
        for n in [5, 6, 7, 13, 20, 40, 53, 64] {
            let original = makeIDs(n, seqLen: 64, rng: &rng)
            var ids = original
            let m = PretrainingExamples.mask(&ids, config: config, specials: specials, rng: &rng)
            let k = min(8, max(1, Int(Double(n) * 0.15)))  // num non-pad includes [CLS]/[SEP]
            XCTAssertEqual(m.weights.filter { $0 == 1 }.count, k, "n=\(n)")
            XCTAssertEqual(m.positions.count, 8); XCTAssertEqual(m.labels.count, 8); XCTAssertEqual(m.weights.count, 8)
            let chosen = Array(m.positions[0..<k])
            XCTAssertEqual(chosen, chosen.sorted()); XCTAssertEqual(Set(chosen).count, k)
            for (i, p) in chosen.enumerated() {
                XCTAssertFalse([0, 2, 3].contains(original[Int(p)]), "special or pad position chosen")
                XCTAssertEqual(m.labels[i], original[Int(p)])  // labels = original ids
            }
            XCTAssert(m.positions[k...].allSatisfy { $0 == 0 }); XCTAssert(m.labels[k...].allSatisfy { $0 == 0 })
            XCTAssert(m.weights[k...].allSatisfy { $0 == 0 })
            // Only chosen positions change; specials and padding never change.
            for i in 0..<64 where !chosen.contains(Int32(i)) { XCTAssertEqual(ids[i], original[i]) }
        }
    }

    func testMaskingProportionsStatistically() {
        let config = PretrainingConfig(seqLen: 128, maxPredictions: 20)
        var rng = RNG(seed: 11)
        var masked = 0, random = 0, kept = 0, total = 0
        var replacementSeen = Set<Int32>()
        for _ in 0..<3000 {
            let original = makeIDs(128, seqLen: 128, rng: &rng)
            var ids = original
            let m = PretrainingExamples.mask(&ids, config: config, specials: specials, rng: &rng)
            for i in 0..<20 where m.weights[i] == 1 {
                let p = Int(m.positions[i])
                total += 1
                if ids[p] == 4 { masked += 1 } else if ids[p] == original[p] { kept += 1 } else {
                    random += 1; replacementSeen.insert(ids[p])
                    XCTAssert(specials.normalTokenIDs.contains(ids[p]))
                }
            }
        }
        // 60,000 draws: 3-sigma bands are about ±0.5% (a random token equal to the original counts as kept: +0.1%).
        XCTAssertEqual(total, 3000 * 19)  // K = min(20, floor(0.15·128) = 19)
        XCTAssertEqual(Double(masked) / Double(total), 0.8, accuracy: 0.01)
        XCTAssertEqual(Double(random) / Double(total), 0.1 * (1 - 1.0 / 96), accuracy: 0.008)
        XCTAssertEqual(Double(kept) / Double(total), 0.1 + 0.1 / 96, accuracy: 0.008)
        XCTAssertFalse(replacementSeen.contains(where: { [0, 2, 3, 4].contains($0) }))
    }

    func testMaskingDeterministicForSeed() {
        let config = PretrainingConfig(seqLen: 32, maxPredictions: 5)
        var r0 = RNG(seed: 3)
        let original = makeIDs(30, seqLen: 32, rng: &r0)
        var a = original, b = original, c = original
        var ra = RNG(seed: 42), rb = RNG(seed: 42), rc = RNG(seed: 43)
        let ma = PretrainingExamples.mask(&a, config: config, specials: specials, rng: &ra)
        let mb = PretrainingExamples.mask(&b, config: config, specials: specials, rng: &rb)
        let mc = PretrainingExamples.mask(&c, config: config, specials: specials, rng: &rc)
        XCTAssertEqual(a, b); XCTAssertEqual(ma.positions, mb.positions)
        XCTAssertNotEqual(ma.positions + a, mc.positions + c)
    }

    /// A synthetic corpus: 30 documents of 5-40 lines of 1-12 tokens.
    func syntheticCorpus(seed: UInt64 = 1) -> TokenizedCorpus {
        var rng = RNG(seed: seed)
        let docs: [[[Int32]]] = (0..<30).map { _ in
            (0..<(5 + rng.int(36))).map { _ in (0..<(1 + rng.int(12))).map { _ in Int32(5 + rng.int(95)) } }
        }
        return TokenizedCorpus(documents: docs)
    }

    func testStreamDeterministicAndExactResume() throws {
        let corpus = syntheticCorpus()
        var config = PretrainingConfig(seqLen: 32, maxPredictions: 5)
        config.shuffleBufferSize = 16
        let a = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 9)
        let batchesA = (0..<60).map { _ in a.nextBatch(batchSize: 4) }
        let b = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 9)
        XCTAssertEqual((0..<60).map { _ in b.nextBatch(batchSize: 4) }, batchesA)
        // Different seed → different stream.
        let c = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 10)
        XCTAssertNotEqual(c.nextBatch(batchSize: 4), batchesA[0])
        // Resume from a step count (runs across an epoch boundary: 240 examples > passages per epoch).
        XCTAssertLessThan(a.passagesPerEpoch, 220)
        for step in [0, 1, 17, 33, 58] {
            let r = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 9, resumeAtStep: step,
                                      batchSize: 4)
            XCTAssertEqual(r.nextBatch(batchSize: 4), batchesA[step], "step \(step)")
        }
        // Resume from a saved position (Codable round trip).
        let d = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 9)
        for _ in 0..<25 { _ = d.nextBatch(batchSize: 4) }
        let saved = try JSONDecoder().decode(PretrainingStreamPosition.self, from: JSONEncoder().encode(d.position))
        let e = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 9, position: saved)
        XCTAssertEqual(e.nextBatch(batchSize: 4), batchesA[25])
        // Batch layout and labels.
        let batch = batchesA[0]
        XCTAssertEqual(batch.inputIDs.count, 4 * 32); XCTAssertEqual(batch.maskedIDs.count, 4 * 5)
        XCTAssertEqual(batch.example(2).inputIDs, Array(batch.inputIDs[64..<96]))
        let labels = batchesA.flatMap(\.nspLabels)
        XCTAssertEqual(Double(labels.filter { $0 == 1 }.count) / Double(labels.count), 0.5, accuracy: 0.12)
    }

    func testStreamVisitsEveryPassageOncePerEpochModuloBuffer() {
        let corpus = syntheticCorpus(seed: 4)
        var config = PretrainingConfig(seqLen: 24, maxPredictions: 4)
        config.shuffleBufferSize = 8
        let s = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 1)
        let n = s.passagesPerEpoch
        // After 3 epochs' worth of insertions, every passage has been emitted 2-3 times.
        s.skip(examples: 3 * n - 8)
        XCTAssertEqual(s.position.emitted, 3 * n - 8)
        XCTAssertEqual(s.position.inserted, 3 * n)
        XCTAssertEqual(s.position.epoch, 2)
    }

    func testShardRoundTripAndCorruption() throws {
        let dir = try makeTempDir(self)
        let corpus = syntheticCorpus()
        let small = dir.appendingPathComponent("a.bin").path, wide = dir.appendingPathComponent("b.bin").path
        try Shard.write(corpus, to: small, vocabSize: 32_000)   // 2-byte tokens
        try Shard.write(corpus, to: wide, vocabSize: 100_000)   // 4-byte tokens
        for path in [small, wide] {
            let r = try Shard.read(path: path)
            XCTAssertEqual(r.documentNames, corpus.documentNames)
            XCTAssertEqual(r.documentLineStarts, corpus.documentLineStarts)
            XCTAssertEqual(r.lineTokenStarts, corpus.lineTokenStarts)
            XCTAssertEqual(r.tokens, corpus.tokens)
        }
        XCTAssertLessThan(try Data(contentsOf: URL(fileURLWithPath: small)).count,
                          try Data(contentsOf: URL(fileURLWithPath: wide)).count)
        // Concatenating shards keeps documents intact.
        let joined = TokenizedCorpus(concatenating: [corpus, corpus])
        XCTAssertEqual(joined.documentCount, 60)
        XCTAssertEqual(joined.document(31), corpus.document(1))
        // Truncated and foreign files are errors.
        let data = try Data(contentsOf: URL(fileURLWithPath: small))
        let cut = dir.appendingPathComponent("cut.bin")
        try data.prefix(data.count - 7).write(to: cut)
        XCTAssertThrowsError(try Shard.read(path: cut.path)) { XCTAssert($0 is DataFileError) }
        try Data("not a shard at all".utf8).write(to: cut)
        XCTAssertThrowsError(try Shard.read(path: cut.path)) { XCTAssert("\($0)".contains("bad magic")) }
    }

    func testHeldOutBatchesDeterministic() {
        let corpus = syntheticCorpus(seed: 8)
        let config = PretrainingConfig(seqLen: 32, maxPredictions: 5)
        let a = heldOutBatches(corpus: corpus, config: config, specials: specials, seed: 2, batches: 3, batchSize: 4)
        let b = heldOutBatches(corpus: corpus, config: config, specials: specials, seed: 2, batches: 3, batchSize: 4)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 3)
    }

    /// The eval set spans every held-out book from its first sequences on (round-robin over books), and does not
    /// depend on anything but its seed.
    func testHeldOutBatchesSpanEveryDocument() {
        var rng = RNG(seed: 3)
        // Document d writes only pieces 10 + 3d ... 12 + 3d, so a sequence's most common piece names its document.
        let docs: [[[Int32]]] = (0..<12).map { d in
            (0..<(20 + rng.int(20))).map { _ in (0..<(3 + rng.int(6))).map { _ in Int32(10 + 3 * d + rng.int(3)) } }
        }
        let corpus = TokenizedCorpus(documents: docs)
        let config = PretrainingConfig(seqLen: 32, maxPredictions: 5)
        let batches = heldOutBatches(corpus: corpus, config: config, specials: specials, seed: 0xE7A1_0000,
                                     batches: 3, batchSize: 4)
        var documents: [Int] = []
        for b in batches {
            for e in 0..<b.batchSize {
                let row = b.inputIDs[(e * b.seqLen)..<((e + 1) * b.seqLen)].filter { $0 >= 10 && $0 < 46 }
                var counts: [Int: Int] = [:]
                for t in row { counts[Int(t - 10) / 3, default: 0] += 1 }
                documents.append(counts.max { $0.value < $1.value }!.key)
            }
        }
        XCTAssertEqual(documents, Array(0..<12), "the first 12 sequences come from the 12 documents in turn")
    }

    func testRNGUniformAndKeyed() {
        var r = RNG(seed: 1)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[r.int(10)] += 1 }
        XCTAssert(counts.allSatisfy { abs($0 - 10_000) < 500 })
        XCTAssertNotEqual(RNG(keys: 1, 2), RNG(keys: 2, 1))
        XCTAssertEqual(RNG(keys: 1, 2), RNG(keys: 1, 2))
    }

    /// `data show --seq-len 1` trapped in the stream's precondition; `checked` names the reason instead, and a
    /// position from a damaged checkpoint is refused by `restore` before the prefetch thread indexes with it.
    func testCheckedStreamAndRestoreRefuseWhatWouldTrap() throws {
        var docs: [[[Int32]]] = []
        for d in 0..<3 {
            var lines: [[Int32]] = []
            for l in 0..<6 {
                let n = 3 + (d + l) % 3
                lines.append((0..<n).map { i -> Int32 in Int32(5 + (i + l) % 90) })
            }
            docs.append(lines)
        }
        let corpus = TokenizedCorpus(documents: docs)
        for L in [-1, 0, 1, 4] {
            XCTAssertThrowsError(try PretrainingStream.checked(corpus: corpus,
                                                               config: PretrainingConfig(seqLen: L, maxPredictions: 0),
                                                               specials: specials, seed: 1)) {
                XCTAssert("\($0)".contains("below 5"), "\($0)")
            }
        }
        XCTAssertThrowsError(try PretrainingStream.checked(corpus: corpus,
                                                           config: PretrainingConfig(seqLen: 8, maxPredictions: 9),
                                                           specials: specials, seed: 1)) {
            XCTAssert("\($0)".contains("masked-LM slots 9"), "\($0)")
        }
        XCTAssertThrowsError(try PretrainingStream.checked(corpus: corpus,
                                                           config: PretrainingConfig(seqLen: 8, maxPredictions: 2),
                                                           specials: specials, seed: 1)) {
            XCTAssert("\($0)".contains("no passage"), "\($0)")
        }
        let config = PretrainingConfig(seqLen: 32, maxPredictions: 4)
        let a = try PretrainingStream.checked(corpus: corpus, config: config, specials: specials, seed: 1)
        let b = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 1)
        XCTAssertEqual(a.nextBatch(batchSize: 3), b.nextBatch(batchSize: 3))
        // A saved position restores exactly; out-of-range fields are refused, naming the field.
        let saved = a.position
        let next = a.nextBatch(batchSize: 2)
        let c = PretrainingStream(corpus: corpus, config: config, specials: specials, seed: 1)
        try c.restore(saved)
        XCTAssertEqual(c.nextBatch(batchSize: 2), next)
        var bad = saved; bad.slotPassage[3] = Int32(c.passagesPerEpoch)
        XCTAssertThrowsError(try c.restore(bad)) { XCTAssert("\($0)".contains("slotPassage[3]"), "\($0)") }
        bad = saved; bad.epoch = -1
        XCTAssertThrowsError(try c.restore(bad)) { XCTAssert("\($0)".contains("field epoch is -1"), "\($0)") }
        bad = saved; bad.passageCursor = 1_000
        XCTAssertThrowsError(try c.restore(bad)) { XCTAssert("\($0)".contains("field passageCursor is 1000"), "\($0)") }
    }
}
