import CSentencePiece
import Foundation

/// SentencePiece model type.
public enum VocabularyModelType: String, Codable, Sendable, CaseIterable {
    case unigram, bpe
}

/// Options of the vocabulary trainer (SPEC §4.1: a SentencePiece model with `[CLS]`, `[SEP]`, `[MASK]`
/// pieces and a pad id; 32,000 pieces at paper scale).
public struct VocabularyOptions: Codable, Equatable, Sendable {
    /// Number of pieces, specials included. The paper's C4 model has 32,000.
    public var vocabSize: Int = 32_000
    public var modelType: VocabularyModelType = .unigram
    /// Fraction of characters the model must cover; the rest map to `<unk>`.
    public var characterCoverage: Double = 0.9995
    /// Sentences sampled (uniformly, with `seed`) from the training documents to train the model.
    /// SentencePiece's unigram trainer is super-linear in its input; 600k sentences (~40% of the
    /// corpus, ~60 MB) keep training to a few minutes on 2 cores. `sentences(forVocabSize:)` is the rule the
    /// tables use.
    public var inputSentenceSize: Int = VocabularyOptions.maximumSentences
    public var seed: UInt64 = 1234
    public var numThreads: Int = 2
    /// Sentences longer than this (bytes) are skipped by the trainer (SentencePiece's default 4192).
    public var maxSentenceLength: Int = 4192

    public init(vocabSize: Int = 32_000, modelType: VocabularyModelType = .unigram,
                characterCoverage: Double = 0.9995, inputSentenceSize: Int = VocabularyOptions.maximumSentences,
                seed: UInt64 = 1234, numThreads: Int = 2) {
        self.vocabSize = vocabSize; self.modelType = modelType
        self.characterCoverage = characterCoverage; self.inputSentenceSize = inputSentenceSize
        self.seed = seed; self.numThreads = numThreads
    }

    /// Sentences sampled to train a vocabulary of `pieces`: 100 per piece, at most `maximumSentences`. The 8,000 and
    /// 32,000-piece vocabularies of `small` and `paper` keep the 600k sample; `ci`'s 2,000 pieces are trained on
    /// 200k sentences: 26 s instead of 61 s on 2 cores in a fresh first look
    /// (Results/ci/first-look-2026-12-04-quiet.md).
    public static func sentences(forVocabSize pieces: Int) -> Int {
        min(maximumSentences, sentencesPerPiece * max(pieces, 1))
    }
    public static let sentencesPerPiece = 100
    public static let maximumSentences = 600_000
}

/// A SentencePiece tokenizer with the special pieces of SPEC §4.1.
///
/// Layout of a model trained by `Tokenizer.train`: id 0 = `<pad>`, 1 = `<unk>`, 2 = `[CLS]`,
/// 3 = `[SEP]`, 4 = `[MASK]`, no BOS/EOS. A loaded foreign model may differ; every id is read from
/// the model, never assumed.
public final class Tokenizer: @unchecked Sendable {
    /// The pieces the pipeline adds as user-defined symbols (never split by the encoder).
    public static let userDefinedSymbols = ["[CLS]", "[SEP]", "[MASK]"]

    private let model: OpaquePointer
    public let path: String
    public let vocabSize: Int
    public let padID: Int32
    public let unkID: Int32
    /// -1 when the model has no BOS / EOS pieces (ours have none).
    public let bosID: Int32
    public let eosID: Int32
    public let clsID: Int32
    public let sepID: Int32
    public let maskID: Int32
    /// Ids eligible as random MLM replacements: the vocabulary minus mask, cls, sep, bos, eos and pad
    /// (SPEC §4.3, as `normal_tokens` in the reference; `<unk>` stays in, as there).
    public let normalTokenIDs: [Int32]

    /// Loads a `.model` file.
    public init(modelPath: String) throws {
        var err = [CChar](repeating: 0, count: 1024)
        guard let m = spm_load(modelPath, &err, err.count) else {
            throw DataPipelineError("cannot load SentencePiece model \(modelPath): \(String(cString: err))")
        }
        model = m
        path = modelPath
        vocabSize = Int(spm_vocab_size(m))
        padID = spm_special_id(m, 0)
        unkID = spm_special_id(m, 1)
        bosID = spm_special_id(m, 2)
        eosID = spm_special_id(m, 3)
        func lookup(_ piece: String) -> Int32 { spm_piece_to_id(m, piece) }
        clsID = lookup("[CLS]"); sepID = lookup("[SEP]"); maskID = lookup("[MASK]")
        for (name, id) in [("[CLS]", clsID), ("[SEP]", sepID), ("[MASK]", maskID)] where id == unkID {
            spm_free(m)
            throw DataPipelineError("SentencePiece model \(modelPath) has no \(name) piece")
        }
        if padID < 0 {
            spm_free(m)
            throw DataPipelineError("SentencePiece model \(modelPath) has no pad id")
        }
        let special: Set<Int32> = [maskID, clsID, sepID, bosID, eosID, padID]
        normalTokenIDs = (0..<Int32(vocabSize)).filter { !special.contains($0) }
    }

    deinit { spm_free(model) }

    /// The special ids (pad, cls, sep, mask, and bos/eos when present). Never masked or used as
    /// random replacements.
    public var specialIDs: Set<Int32> {
        Set([padID, clsID, sepID, maskID, bosID, eosID].filter { $0 >= 0 })
    }

    /// Encodes UTF-8 text to piece ids (no specials added).
    public func encode(_ text: String) -> [Int32] {
        var s = text
        return s.withUTF8 { encode(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Encodes raw UTF-8 bytes. Thread-safe (SentencePiece's encoder is const).
    public func encode(bytes: UnsafeRawBufferPointer) -> [Int32] {
        guard bytes.count > 0 else { return [] }
        let base = bytes.baseAddress!.assumingMemoryBound(to: CChar.self)
        var capacity = max(16, bytes.count / 2 + 8)
        while true {
            var out = [Int32](repeating: 0, count: capacity)
            let n = Int(spm_encode(model, base, bytes.count, &out, capacity))
            if n < 0 { return [] }
            if n <= capacity { out.removeLast(capacity - n); return out }
            capacity = n
        }
    }

    /// Decodes ids back to text (specials other than user-defined ones decode to nothing).
    public func decode(_ ids: [Int32]) -> String {
        var capacity = ids.count * 8 + 16
        while true {
            var buf = [UInt8](repeating: 0, count: capacity)
            let n = buf.withUnsafeMutableBufferPointer { b in
                Int(b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: capacity) {
                    spm_decode(model, ids, ids.count, $0, capacity)
                })
            }
            if n < 0 { return "" }
            if n <= capacity { return String(decoding: buf[0..<n], as: UTF8.self) }
            capacity = n
        }
    }

    /// The piece text for an id ("" when out of range).
    public func piece(for id: Int32) -> String {
        let n = spm_id_to_piece(model, id, nil, 0)
        var buf = [UInt8](repeating: 0, count: n)
        buf.withUnsafeMutableBufferPointer { b in
            _ = b.baseAddress.map { p in
                p.withMemoryRebound(to: CChar.self, capacity: n) { spm_id_to_piece(model, id, $0, n) }
            }
        }
        return String(decoding: buf, as: UTF8.self)
    }

    /// The id of a piece (the unknown id when absent).
    public func id(for piece: String) -> Int32 { spm_piece_to_id(model, piece) }

    /// Trains a model from in-memory sentences and writes `<prefix>.model` and `<prefix>.vocab`.
    /// Ids: pad 0, unk 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4, no BOS/EOS.
    public static func train<S: Collection>(sentences: S, modelPrefix: String, options: VocabularyOptions,
                                            hardVocabLimit: Bool = true) throws where S.Element == [UInt8] {
        let count = sentences.count
        // Keep every sentence's bytes alive and contiguous while the trainer reads them.
        var storage = [UInt8]()
        var offsets = [Int](); offsets.reserveCapacity(count + 1)
        var lengths = [Int](); lengths.reserveCapacity(count)
        for s in sentences { offsets.append(storage.count); lengths.append(s.count); storage.append(contentsOf: s) }
        storage.append(0)
        var err = [CChar](repeating: 0, count: 2048)
        let rc: Int32 = storage.withUnsafeBufferPointer { sb in
            sb.baseAddress!.withMemoryRebound(to: CChar.self, capacity: sb.count) { base in
                var pointers: [UnsafePointer<CChar>?] = offsets.map { UnsafePointer(base + $0) }
                return Self.withOptions(options, hardVocabLimit: hardVocabLimit) { opts in
                    spm_train_from_sentences(&pointers, lengths, count, modelPrefix, opts, &err, err.count)
                }
            }
        }
        if rc != 0 { throw DataPipelineError("SentencePiece training failed: \(String(cString: err))") }
    }

    /// Trains a model from a text file with one sentence per line.
    public static func train(inputFile: String, modelPrefix: String, options: VocabularyOptions,
                             hardVocabLimit: Bool = true) throws {
        var err = [CChar](repeating: 0, count: 2048)
        let rc = withOptions(options, hardVocabLimit: hardVocabLimit) { opts in
            spm_train_from_file(inputFile, modelPrefix, opts, &err, err.count)
        }
        if rc != 0 { throw DataPipelineError("SentencePiece training failed: \(String(cString: err))") }
    }

    private static func withOptions<R>(_ o: VocabularyOptions, hardVocabLimit: Bool,
                                       _ body: (UnsafePointer<spm_train_options>) -> R) -> R {
        userDefinedSymbols.joined(separator: ",").withCString { symbols in
            var opts = spm_train_options(
                vocab_size: Int32(o.vocabSize),
                model_type: o.modelType == .bpe ? Int32(SPM_MODEL_BPE) : Int32(SPM_MODEL_UNIGRAM),
                user_defined_symbols: symbols,
                pad_id: 0, unk_id: 1, bos_id: -1, eos_id: -1,
                character_coverage: o.characterCoverage,
                input_sentence_size: Int64(o.inputSentenceSize),
                seed: UInt32(truncatingIfNeeded: o.seed),
                num_threads: Int32(o.numThreads),
                max_sentence_length: Int32(o.maxSentenceLength),
                hard_vocab_limit: hardVocabLimit ? 1 : 0)
            return body(&opts)
        }
    }
}
