import SparseMixersCore
import Foundation

/// Knobs of pre-training example construction (SPEC §4.2-4.3). Paper values: 512 / 80.
public struct PretrainingConfig: Codable, Equatable, Sendable {
    /// L, the fixed sequence length (paper 512; CPU scales use e.g. 64 or 128).
    public var seqLen: Int
    /// P, masked-LM slots per example (paper 80).
    public var maxPredictions: Int
    public var maskingRate: Double = 0.15
    public var maskTokenProportion: Double = 0.8
    public var randomTokenProportion: Double = 0.1
    /// Slots of the random-replacement shuffle buffer of `_c4_data_unbatched`.
    public var shuffleBufferSize: Int = 1024

    public init(seqLen: Int = 512, maxPredictions: Int = 80) {
        self.seqLen = seqLen; self.maxPredictions = maxPredictions
    }
    public static let paper = PretrainingConfig(seqLen: 512, maxPredictions: 80)
}

/// The ids the example builder needs. `Tokenizer` provides them; tests may build them by hand.
public struct SpecialTokens: Sendable, Equatable {
    public var pad: Int32, cls: Int32, sep: Int32, mask: Int32
    /// Random-replacement candidates (vocabulary minus mask, cls, sep, bos, eos, pad).
    public var normalTokenIDs: [Int32]
    public init(pad: Int32, cls: Int32, sep: Int32, mask: Int32, normalTokenIDs: [Int32]) {
        self.pad = pad; self.cls = cls; self.sep = sep; self.mask = mask; self.normalTokenIDs = normalTokenIDs
    }
    public init(_ t: Tokenizer) {
        self.init(pad: t.padID, cls: t.clsID, sep: t.sepID, mask: t.maskID, normalTokenIDs: t.normalTokenIDs)
    }
}

/// One pre-training example.
public struct PretrainingExample: Equatable, Sendable {
    public var inputIDs: [Int32]        // [L]
    public var typeIDs: [Int32]         // [L]
    public var maskedPositions: [Int32] // [P]
    public var maskedIDs: [Int32]       // [P]
    public var maskedWeights: [Float]   // [P]
    /// 1 = segments in order, 0 = swapped (sentence-order prediction, SPEC §4.2 / §7.12).
    public var nspLabel: Int32
}

/// A batch, row-major, ready for the model.
public struct PretrainingBatch: Equatable, Sendable {
    public var batchSize: Int, seqLen: Int, maxPredictions: Int
    public var inputIDs: [Int32]        // [B, L]
    public var typeIDs: [Int32]         // [B, L]
    public var maskedPositions: [Int32] // [B, P]
    public var maskedIDs: [Int32]       // [B, P]
    public var maskedWeights: [Float]   // [B, P]
    public var nspLabels: [Int32]       // [B]

    public init(examples: [PretrainingExample], seqLen: Int, maxPredictions: Int) {
        batchSize = examples.count; self.seqLen = seqLen; self.maxPredictions = maxPredictions
        inputIDs = examples.flatMap(\.inputIDs); typeIDs = examples.flatMap(\.typeIDs)
        maskedPositions = examples.flatMap(\.maskedPositions); maskedIDs = examples.flatMap(\.maskedIDs)
        maskedWeights = examples.flatMap(\.maskedWeights); nspLabels = examples.map(\.nspLabel)
    }
    public func example(_ b: Int) -> PretrainingExample {
        let l = b * seqLen, p = b * maxPredictions
        return PretrainingExample(inputIDs: Array(inputIDs[l..<l + seqLen]), typeIDs: Array(typeIDs[l..<l + seqLen]),
                                  maskedPositions: Array(maskedPositions[p..<p + maxPredictions]),
                                  maskedIDs: Array(maskedIDs[p..<p + maxPredictions]),
                                  maskedWeights: Array(maskedWeights[p..<p + maxPredictions]),
                                  nspLabel: nspLabels[b])
    }
}

public enum PretrainingExamples {
    /// SPEC §4.2 steps 1-2: greedy packing of one document's lines, as `_c4_data_unbatched`.
    ///
    /// Walk j over the lines: if lines j and j+1 together exceed `budget` (= L - 3) tokens, skip
    /// line j; otherwise take lines j...k while the cumulative length stays ≤ budget and continue
    /// at k+1. Every passage therefore has at least two lines. Returns line-index ranges.
    public static func packLines(lengths: [Int], budget: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var j = 0
        while j < lengths.count - 1 {
            if lengths[j] + lengths[j + 1] > budget { j += 1; continue }
            var cum = 0
            var k = j
            while k < lengths.count {
                cum += lengths[k]
                if cum > budget { break }
                k += 1
            }
            out.append(j..<k)  // lines j..<k, k ≥ j + 2
            j = k
        }
        return out
    }

    /// SPEC §4.2 steps 3-4: random pivot p ∈ [1, n-1]; with probability 0.5 `[CLS] A [SEP] B [SEP]`
    /// (label 1), else `[CLS] B [SEP] A [SEP]` (label 0). Type ids 0 for [CLS] + first segment + its
    /// [SEP], 1 for the second segment + its [SEP], 0 for padding; padded with the pad id to L.
    public static func nspExample<C: Collection>(lines: C, seqLen: Int, specials: SpecialTokens,
                                                 rng: inout RNG) -> (ids: [Int32], types: [Int32], label: Int32)
    where C.Element: Collection, C.Element.Element == Int32, C.Index == Int {
        precondition(lines.count >= 2, "an NSP passage needs at least two lines")
        let lineArray = Array(lines)
        let pivot = 1 + rng.int(lineArray.count - 1)
        let inOrder = rng.uniformDouble() < 0.5
        let a = lineArray[0..<pivot], b = lineArray[pivot...]
        let (first, second) = inOrder ? (a, b) : (b, a)
        var ids: [Int32] = [specials.cls]
        ids.reserveCapacity(seqLen)
        for l in first { ids.append(contentsOf: l) }
        ids.append(specials.sep)
        let firstLength = ids.count
        for l in second { ids.append(contentsOf: l) }
        ids.append(specials.sep)
        if ids.count > seqLen { ids.removeLast(ids.count - seqLen) }  // cannot happen after packing
        var types = [Int32](repeating: 0, count: seqLen)
        for i in firstLength..<ids.count { types[i] = 1 }
        ids.append(contentsOf: repeatElement(specials.pad, count: seqLen - ids.count))
        return (ids, types, inOrder ? 1 : 0)
    }

    /// SPEC §4.3 masking, in place on `ids`.
    ///
    /// K = min(P, max(1, ⌊rate · #non-pad⌋)) positions, uniformly without replacement among tokens
    /// that are not [CLS]/[SEP]/pad, sorted. Each: u < 0.8 → [MASK]; u < 0.9 → a uniform normal
    /// token; else unchanged. Labels are the original ids, weights 1; padded to P with position 0,
    /// id 0, weight 0. (If fewer candidates than K exist, K is reduced to the candidate count; the
    /// reference would raise there. Our sentence lines are never empty, so this does not occur.)
    public static func mask(_ ids: inout [Int32], config: PretrainingConfig, specials: SpecialTokens,
                            rng: inout RNG) -> (positions: [Int32], labels: [Int32], weights: [Float]) {
        let numTokens = ids.reduce(0) { $0 + ($1 != specials.pad ? 1 : 0) }
        var candidates: [Int32] = []
        candidates.reserveCapacity(ids.count)
        for (i, t) in ids.enumerated() where t != specials.cls && t != specials.sep && t != specials.pad {
            candidates.append(Int32(i))
        }
        var k = min(config.maxPredictions, max(1, Int((Double(numTokens) * config.maskingRate).rounded(.down))))
        k = min(k, candidates.count)
        // Partial Fisher-Yates: the first k entries become a uniform sample without replacement.
        for i in 0..<k { candidates.swapAt(i, i + rng.int(candidates.count - i)) }
        var positions = Array(candidates[0..<k]).sorted()
        var labels = positions.map { ids[Int($0)] }
        var weights = [Float](repeating: 1, count: k)
        for p in positions {
            let u = rng.uniformDouble()
            if u < config.maskTokenProportion {
                ids[Int(p)] = specials.mask
            } else if u < config.maskTokenProportion + config.randomTokenProportion {
                ids[Int(p)] = specials.normalTokenIDs[rng.int(specials.normalTokenIDs.count)]
            }
        }
        let pad = config.maxPredictions - k
        positions += repeatElement(0, count: pad)
        labels += repeatElement(0, count: pad)
        weights += repeatElement(0, count: pad)
        return (positions, labels, weights)
    }

    /// Builds one complete example from a passage with its own generator.
    public static func example<C: Collection>(lines: C, config: PretrainingConfig, specials: SpecialTokens,
                                              rng: inout RNG) -> PretrainingExample
    where C.Element: Collection, C.Element.Element == Int32, C.Index == Int {
        var (ids, types, label) = nspExample(lines: lines, seqLen: config.seqLen, specials: specials, rng: &rng)
        let m = mask(&ids, config: config, specials: specials, rng: &rng)
        return PretrainingExample(inputIDs: ids, typeIDs: types, maskedPositions: m.positions,
                                  maskedIDs: m.labels, maskedWeights: m.weights, nspLabel: label)
    }
}

/// Where a `PretrainingStream` is. Codable, so a training checkpoint can store it; a stream can
/// also be rebuilt from a step number alone (`PretrainingStream.init(..., resumeAtStep:)`).
public struct PretrainingStreamPosition: Codable, Equatable, Sendable {
    public var epoch: Int = 0
    /// Index into the epoch's shuffled document order.
    public var docCursor: Int = 0
    /// Index into the current document's passages.
    public var passageCursor: Int = 0
    /// Passages inserted into the buffer so far; also each passage's serial number.
    public var inserted: Int = 0
    /// Examples emitted so far.
    public var emitted: Int = 0
    /// Buffer slots: passage index and serial, or -1 when empty.
    public var slotPassage: [Int32]
    public var slotSerial: [Int64]
    public var slotRNG: RNG
}

/// An endless, deterministic stream of pre-training examples over a tokenized corpus.
///
/// Order: every epoch visits the documents in a fresh seeded permutation (the reference reads C4
/// as a repeated, shuffled stream); each document's passages (SPEC §4.2 packing) go in order into
/// a 1024-slot random-replacement buffer exactly like `_c4_data_unbatched`: a passage picks a
/// random slot, the slot's previous occupant (if any) is emitted, the new passage takes the slot.
/// Pivot, swap and masking of a passage come from a generator keyed by (seed, its serial number),
/// so the stream can be fast-forwarded without building examples: resuming at step s replays only
/// the buffer bookkeeping (~10 ns per example).
public final class PretrainingStream {
    public let corpus: TokenizedCorpus
    public let config: PretrainingConfig
    public let specials: SpecialTokens
    public let seed: UInt64
    /// Passages as global line ranges, and each document's slice of them.
    public let passageLines: [Range<Int32>]
    public let docPassages: [Range<Int>]
    public private(set) var position: PretrainingStreamPosition
    private var docOrder: [Int]

    public init(corpus: TokenizedCorpus, config: PretrainingConfig, specials: SpecialTokens, seed: UInt64) {
        self.corpus = corpus; self.config = config; self.specials = specials; self.seed = seed
        var lines: [Range<Int32>] = []
        var docs: [Range<Int>] = []
        for d in 0..<corpus.documentCount {
            let range = corpus.lineRange(ofDocument: d)
            let lengths = range.map { corpus.lineLength($0) }
            let start = lines.count
            for r in PretrainingExamples.packLines(lengths: lengths, budget: config.seqLen - 3) {
                lines.append(Int32(range.lowerBound + r.lowerBound)..<Int32(range.lowerBound + r.upperBound))
            }
            docs.append(start..<lines.count)
        }
        passageLines = lines; docPassages = docs
        position = PretrainingStreamPosition(
            slotPassage: .init(repeating: -1, count: config.shuffleBufferSize),
            slotSerial: .init(repeating: -1, count: config.shuffleBufferSize),
            slotRNG: RNG(keys: seed, 0x5107))
        docOrder = []
        docOrder = Self.order(epoch: 0, documents: corpus.documentCount, seed: seed)
        precondition(!passageLines.isEmpty, "the corpus yields no passage of ≤ \(config.seqLen - 3) tokens")
    }

    /// The stream, or an error naming the reason when the corpus yields no passage at this sequence length
    /// (the plain initialiser's precondition would trap: `data show --seq-len 1` did).
    public static func checked(corpus: TokenizedCorpus, config: PretrainingConfig, specials: SpecialTokens,
                               seed: UInt64) throws -> PretrainingStream {
        guard config.seqLen >= 5 else {
            throw DataPipelineError("sequence length \(config.seqLen) is below 5, the length of [CLS] A [SEP] B [SEP]")
        }
        guard config.maxPredictions >= 0, config.maxPredictions <= config.seqLen else {
            throw DataPipelineError("masked-LM slots \(config.maxPredictions) outside 0...\(config.seqLen) (the "
                                    + "sequence length)")
        }
        let found = (0..<corpus.documentCount).contains { d in
            let range = corpus.lineRange(ofDocument: d)
            return !PretrainingExamples.packLines(lengths: range.map { corpus.lineLength($0) },
                                                  budget: config.seqLen - 3).isEmpty
        }
        guard found else {
            throw DataPipelineError("the corpus yields no passage of two or more lines within "
                                    + "\(config.seqLen - 3) tokens; use a longer sequence length")
        }
        return PretrainingStream(corpus: corpus, config: config, specials: specials, seed: seed)
    }

    /// A stream positioned after `step` batches of `batchSize` (exact resume from a step count).
    public convenience init(corpus: TokenizedCorpus, config: PretrainingConfig, specials: SpecialTokens,
                            seed: UInt64, resumeAtStep step: Int, batchSize: Int) {
        self.init(corpus: corpus, config: config, specials: specials, seed: seed)
        skip(examples: step * batchSize)
    }

    /// A stream restored from a saved position.
    public convenience init(corpus: TokenizedCorpus, config: PretrainingConfig, specials: SpecialTokens,
                            seed: UInt64, position: PretrainingStreamPosition) {
        self.init(corpus: corpus, config: config, specials: specials, seed: seed)
        precondition(position.slotPassage.count == config.shuffleBufferSize, "position from another buffer size")
        self.position = position
        docOrder = Self.order(epoch: position.epoch, documents: corpus.documentCount, seed: seed)
    }

    /// Moves the stream to a saved position after checking that it can belong to this stream (a position read
    /// from a damaged or foreign checkpoint would otherwise index out of range on the prefetch thread). The error
    /// names the first field out of range.
    public func restore(_ p: PretrainingStreamPosition) throws {
        func bad(_ field: String, _ value: Any, _ range: String) -> DataPipelineError {
            DataPipelineError("stream position field \(field) is \(value), outside \(range)")
        }
        let n = config.shuffleBufferSize
        guard p.epoch >= 0 else { throw bad("epoch", p.epoch, "0...") }
        guard p.docCursor >= 0, p.docCursor <= corpus.documentCount else {
            throw bad("docCursor", p.docCursor, "0...\(corpus.documentCount)")
        }
        let order = Self.order(epoch: p.epoch, documents: corpus.documentCount, seed: seed)
        let passages = p.docCursor < order.count ? docPassages[order[p.docCursor]].count : 0
        guard p.passageCursor >= 0, p.passageCursor <= passages else {
            throw bad("passageCursor", p.passageCursor, "0...\(passages)")
        }
        guard p.inserted >= 0 else { throw bad("inserted", p.inserted, "0...") }
        guard p.emitted >= 0, p.emitted <= p.inserted else { throw bad("emitted", p.emitted, "0...\(p.inserted)") }
        guard p.slotPassage.count == n else { throw bad("slotPassage.count", p.slotPassage.count, "\(n)...\(n)") }
        guard p.slotSerial.count == n else { throw bad("slotSerial.count", p.slotSerial.count, "\(n)...\(n)") }
        for i in 0..<n {
            guard p.slotPassage[i] >= -1, Int(p.slotPassage[i]) < passageLines.count else {
                throw bad("slotPassage[\(i)]", p.slotPassage[i], "-1..<\(passageLines.count)")
            }
            guard p.slotSerial[i] >= -1, p.slotSerial[i] < Int64(p.inserted) else {
                throw bad("slotSerial[\(i)]", p.slotSerial[i], "-1..<\(p.inserted)")
            }
        }
        position = p
        docOrder = order
    }

    /// Passages per epoch.
    public var passagesPerEpoch: Int { passageLines.count }

    static func order(epoch: Int, documents: Int, seed: UInt64) -> [Int] {
        var rng = RNG(keys: seed, 0xD0C5, UInt64(epoch))
        var o = Array(0..<documents)
        rng.shuffle(&o)
        return o
    }

    /// The next passage of the epoch walk, and its serial number.
    private func nextPassage() -> (Int, Int64) {
        while true {
            if position.docCursor >= docOrder.count {
                position.epoch += 1; position.docCursor = 0; position.passageCursor = 0
                docOrder = Self.order(epoch: position.epoch, documents: corpus.documentCount, seed: seed)
            }
            let passages = docPassages[docOrder[position.docCursor]]
            if position.passageCursor < passages.count {
                let p = passages.lowerBound + position.passageCursor
                position.passageCursor += 1
                let serial = Int64(position.inserted)
                position.inserted += 1
                return (p, serial)
            }
            position.docCursor += 1; position.passageCursor = 0
        }
    }

    /// Advances the buffer until it emits; returns (passage, serial) of the emitted entry.
    private func nextEmission() -> (Int, Int64) {
        while true {
            let (p, serial) = nextPassage()
            let slot = position.slotRNG.int(config.shuffleBufferSize)
            let old = (Int(position.slotPassage[slot]), position.slotSerial[slot])
            position.slotPassage[slot] = Int32(p); position.slotSerial[slot] = serial
            if old.0 >= 0 { position.emitted += 1; return old }
        }
    }

    /// Builds the example for a passage with the generator of its serial number.
    public func example(passage: Int, serial: Int64) -> PretrainingExample {
        var rng = RNG(keys: seed, 0xE8A3, UInt64(bitPattern: serial))
        let lines = passageLines[passage].map { corpus.line(Int($0)) }
        return PretrainingExamples.example(lines: lines, config: config, specials: specials, rng: &rng)
    }

    public func nextExample() -> PretrainingExample {
        let (p, s) = nextEmission()
        return example(passage: p, serial: s)
    }

    public func nextBatch(batchSize: Int) -> PretrainingBatch {
        PretrainingBatch(examples: (0..<batchSize).map { _ in nextExample() },
                         seqLen: config.seqLen, maxPredictions: config.maxPredictions)
    }

    /// Skips `n` examples without building them.
    public func skip(examples n: Int) {
        for _ in 0..<n { _ = nextEmission() }
    }
}

/// Deterministic evaluation batches from held-out documents (the reference draws eval batches from
/// the C4 train stream; we use a fixed held-out set of books so eval text is never trained on).
/// Passages are taken round-robin across every held-out book (the first passage of each book, then the second
/// of each, ...; cycling if needed), so even a small eval set spans all books, each with a generator keyed by
/// (seed, index). Callers pass one seed for every run they compare, so every variant and seed of a table is
/// scored on the same sequences, masks and NSP pairs.
public func heldOutBatches(corpus: TokenizedCorpus, config: PretrainingConfig, specials: SpecialTokens,
                           seed: UInt64, batches: Int, batchSize: Int) -> [PretrainingBatch] {
    var byDocument: [[[ArraySlice<Int32>]]] = []
    for d in 0..<corpus.documentCount {
        let range = corpus.lineRange(ofDocument: d)
        let lengths = range.map { corpus.lineLength($0) }
        byDocument.append(PretrainingExamples.packLines(lengths: lengths, budget: config.seqLen - 3).map { r in
            r.map { corpus.line(range.lowerBound + $0) }
        })
    }
    var passages: [[ArraySlice<Int32>]] = []
    for k in 0..<(byDocument.map(\.count).max() ?? 0) {
        for doc in byDocument where k < doc.count { passages.append(doc[k]) }
    }
    precondition(!passages.isEmpty, "the held-out corpus yields no passage")
    var out: [PretrainingBatch] = []
    var index = 0
    for _ in 0..<batches {
        var examples: [PretrainingExample] = []
        for _ in 0..<batchSize {
            var rng = RNG(keys: seed, 0xE7A1, UInt64(index))
            examples.append(PretrainingExamples.example(lines: passages[index % passages.count], config: config,
                                                        specials: specials, rng: &rng))
            index += 1
        }
        out.append(PretrainingBatch(examples: examples, seqLen: config.seqLen, maxPredictions: config.maxPredictions))
    }
    return out
}
