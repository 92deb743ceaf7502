import SparseMixersCore
import Foundation

/// SPEC §5.1 encoding: `[CLS] seg0 [SEP] seg1 [SEP] ...`, type id i for segment i (and its [SEP];
/// [CLS] gets 0), truncated at the tail to `seqLen` (which can cut the final [SEP]), then padded
/// with the pad id (type 0). As `process_classification` of the reference.
public func encodeSegments(_ segments: [String], tokenizer: Tokenizer, seqLen: Int) -> (ids: [Int32], types: [Int32]) {
    encodeSegments(segments.map { tokenizer.encode($0) }, cls: tokenizer.clsID, sep: tokenizer.sepID,
                   pad: tokenizer.padID, seqLen: seqLen)
}

/// The same on already tokenized segments.
public func encodeSegments(_ segments: [[Int32]], cls: Int32, sep: Int32, pad: Int32,
                           seqLen: Int) -> (ids: [Int32], types: [Int32]) {
    var ids: [Int32] = [cls], types: [Int32] = [0]
    for (i, s) in segments.enumerated() {
        ids += s; ids.append(sep)
        types += repeatElement(Int32(i), count: s.count + 1)
        if ids.count >= seqLen { break }
    }
    if ids.count > seqLen { ids.removeLast(ids.count - seqLen); types.removeLast(types.count - seqLen) }
    let padding = seqLen - ids.count
    return (ids + repeatElement(pad, count: padding), types + repeatElement(0, count: padding))
}

/// A task split encoded for the model: fixed-length rows plus targets and groups.
public struct EncodedTaskData: Sendable {
    public var task: Task
    public var split: Split
    public var seqLen: Int
    public var count: Int
    public var inputIDs: [Int32]   // [N, L]
    public var typeIDs: [Int32]    // [N, L]
    /// Class index per row (-1 for regression tasks or unlabelled rows).
    public var labels: [Int32]     // [N]
    /// Regression target per row (STS-B score, COPA/ReCoRD 1.0/0.0); 0 for classification tasks.
    public var targets: [Float]    // [N]
    /// Group id per row (see `TaskExample.group`).
    public var groups: [Int]       // [N]
    public var examples: [TaskExample]

    public init(_ dataset: TaskDataset, tokenizer: Tokenizer, seqLen: Int) {
        task = dataset.task; split = dataset.split; self.seqLen = seqLen; count = dataset.count
        examples = dataset.examples
        inputIDs = []; typeIDs = []
        inputIDs.reserveCapacity(count * seqLen); typeIDs.reserveCapacity(count * seqLen)
        labels = []; targets = []; groups = []
        // Rows of one record share segments (MultiRC's paragraph for every answer, ReCoRD's passage for every
        // entity, COPA's premise): a segment equal to the previous row's is not tokenized again. The ids are
        // the same as tokenizing every row; a long passage is tokenized once instead of once per answer.
        var previous: [String] = [], previousTokens: [[Int32]] = []
        for e in dataset.examples {
            var tokens: [[Int32]] = []
            tokens.reserveCapacity(e.segments.count)
            for (i, s) in e.segments.enumerated() {
                tokens.append(i < previous.count && previous[i] == s ? previousTokens[i] : tokenizer.encode(s))
            }
            previous = e.segments; previousTokens = tokens
            let (ids, types) = encodeSegments(tokens, cls: tokenizer.clsID, sep: tokenizer.sepID,
                                              pad: tokenizer.padID, seqLen: seqLen)
            inputIDs += ids; typeIDs += types
            switch e.label {
            case .category(let c)?: labels.append(Int32(c)); targets.append(0)
            case .score(let s)?: labels.append(-1); targets.append(Float(s))
            case nil: labels.append(-1); targets.append(0)
            }
            groups.append(e.group)
        }
    }

    /// Row indices of one fine-tuning epoch: a seeded permutation (the reference shuffles with a
    /// 1024-example buffer and a 128-batch buffer; a full permutation is the same in distribution
    /// for our dataset sizes and is replayable from (seed, epoch)).
    public func epochOrder(seed: UInt64, epoch: Int) -> [Int] {
        var rng = RNG(keys: seed, 0xF17E, UInt64(epoch))
        var o = Array(0..<count)
        rng.shuffle(&o)
        return o
    }

    /// Gathers rows into a batch: ids and types [B, L], labels, targets, groups [B].
    public func batch(_ rows: [Int]) -> (inputIDs: [Int32], typeIDs: [Int32], labels: [Int32], targets: [Float],
                                         groups: [Int]) {
        var ids: [Int32] = [], types: [Int32] = []
        ids.reserveCapacity(rows.count * seqLen); types.reserveCapacity(rows.count * seqLen)
        for r in rows {
            ids += inputIDs[r * seqLen..<(r + 1) * seqLen]
            types += typeIDs[r * seqLen..<(r + 1) * seqLen]
        }
        return (ids, types, rows.map { labels[$0] }, rows.map { targets[$0] }, rows.map { groups[$0] })
    }
}
