import Foundation

/// One batch, padded to [B, L]. Pre-training fills the MLM/NSP fields; fine-tuning fills `labels`.
public struct Batch: Sendable {
    public var batchSize: Int
    public var seqLength: Int
    public var inputIds: [Int32]            // (B, L)
    public var typeIds: [Int32]             // (B, L)
    public var maskedLMPositions: [Int32]   // (B, P)
    public var maskedLMIds: [Int32]         // (B, P)
    public var maskedLMWeights: [Float]     // (B, P)
    public var nextSentenceLabels: [Int32]  // (B)
    /// Class index (as a float) or regression target, (B).
    public var labels: [Float]

    public init(batchSize: Int, seqLength: Int, inputIds: [Int32], typeIds: [Int32],
                maskedLMPositions: [Int32] = [], maskedLMIds: [Int32] = [], maskedLMWeights: [Float] = [],
                nextSentenceLabels: [Int32] = [], labels: [Float] = []) {
        self.batchSize = batchSize; self.seqLength = seqLength; self.inputIds = inputIds; self.typeIds = typeIds
        self.maskedLMPositions = maskedLMPositions; self.maskedLMIds = maskedLMIds
        self.maskedLMWeights = maskedLMWeights
        self.nextSentenceLabels = nextSentenceLabels; self.labels = labels
    }
}

/// Losses and metrics of one forward pass.
public struct ForwardResult: Sendable {
    /// The training objective: mlm + nsp (or task loss) + auxFactor·Σaux + zFactor·Σz.
    public var totalLoss: Double = 0
    public var mlmLoss: Double = 0
    public var mlmWeightSum: Double = 0
    public var mlmCorrect: Double = 0
    public var nspLoss: Double = 0
    public var nspCorrect: Int = 0
    public var taskLoss: Double = 0
    /// Σ over MoE layers of the unscaled load-balancing and z losses.
    public var auxLoss: Double = 0
    public var zLoss: Double = 0
    /// Per MoE layer index.
    public var moe: [Int: MoEStats] = [:]
    /// Classification head outputs, (B, n).
    public var logits: [Float] = []
}

public enum ModelError: Error, CustomStringConvertible {
    case badBatch(String)
    case nonFiniteLoss(String)
    public var description: String {
        switch self {
        case .badBatch(let s): return "bad batch: \(s)"
        case .nonFiniteLoss(let s): return "non-finite loss: \(s)"
        }
    }
}

// The batch a model accepts.
extension Batch {
    /// Throws `ModelError.badBatch` unless the batch fits `config` and `head`: shapes, ids in range, labels valid.
    func check(config: ModelConfig, head: ModelHead) throws {
        let b = self
        let L = config.maxSeqLength, B = b.batchSize, P = config.maxPredictionsPerSeq
        guard b.seqLength == L else { throw ModelError.badBatch("seqLength \(b.seqLength) != maxSeqLength \(L)") }
        guard b.inputIds.count == B * L, b.typeIds.count == B * L else {
            throw ModelError.badBatch("inputIds/typeIds must hold batchSize·seqLength = \(B * L) ids")
        }
        for (i, id) in b.inputIds.enumerated() where id < 0 || Int(id) >= config.vocabSize {
            throw ModelError.badBatch("inputIds[\(i)] = \(id) outside the vocabulary 0..<\(config.vocabSize)")
        }
        for (i, id) in b.typeIds.enumerated() where id < 0 || Int(id) >= config.typeVocabSize {
            throw ModelError.badBatch("typeIds[\(i)] = \(id) outside 0..<\(config.typeVocabSize)")
        }
        switch head {
        case .pretraining:
            guard b.maskedLMPositions.count == B * P, b.maskedLMIds.count == B * P, b.maskedLMWeights.count == B * P,
                  b.nextSentenceLabels.count == B else {
                throw ModelError.badBatch("pre-training needs \(B * P) masked-LM slots and \(B) NSP labels")
            }
            for (i, p) in b.maskedLMPositions.enumerated() where p < 0 || Int(p) >= L {
                throw ModelError.badBatch("maskedLMPositions[\(i)] = \(p) outside 0..<\(L)")
            }
            for (i, id) in b.maskedLMIds.enumerated() where id < 0 || Int(id) >= config.vocabSize {
                throw ModelError.badBatch("maskedLMIds[\(i)] = \(id) outside the vocabulary")
            }
            for (i, y) in b.nextSentenceLabels.enumerated() where y != 0 && y != 1 {
                throw ModelError.badBatch("nextSentenceLabels[\(i)] = \(y) is not 0 or 1")
            }
        case .classification(let n):
            guard b.labels.count == B else { throw ModelError.badBatch("classification needs \(B) labels") }
            if n > 1 {
                for (i, y) in b.labels.enumerated() where y < 0 || Int(y) >= n || y != y.rounded() {
                    throw ModelError.badBatch("labels[\(i)] = \(y) is not a class in 0..<\(n)")
                }
            }
        }
    }
}
