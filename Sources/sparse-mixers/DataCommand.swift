import ArgumentParser
import Foundation
import SparseMixersData

/// `sparse-mixers data ...`: data preparation and inspection (brief items 4 and 8).
public struct DataCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare and inspect the pre-training corpus and the GLUE/SuperGLUE data.",
        subcommands: [Summary.self, Prepare.self])
    public init() {}

    /// Options shared by the subcommands.
    struct DataOptions: ParsableArguments {
        @Option(name: .long, help: "Data root (default: $SPARSE_MIXERS_DATA, else Data/, else ../shared/data).")
        var data: String?
        @Option(name: .long, help: "Vocabulary size (pieces, specials included).")
        var vocabSize: Int = 32_000
        @Option(name: .long, help: "SentencePiece model type: unigram or bpe.")
        var modelType: String = "unigram"
        @Option(name: .long, help: "Sentences sampled to train the vocabulary.")
        var vocabSentences: Int = 600_000
        @Option(name: .long, help: "Worker threads.")
        var workers: Int = 2

        func root() -> DataRoot { DataRoot.resolve(explicit: data) }

        func prepareOptions() throws -> CorpusPrepareOptions {
            guard let type = VocabularyModelType(rawValue: modelType) else {
                throw ValidationError("--model-type must be unigram or bpe")
            }
            var o = CorpusPrepareOptions(workers: workers)
            o.vocabulary.vocabSize = vocabSize
            o.vocabulary.modelType = type
            o.vocabulary.inputSentenceSize = vocabSentences
            o.vocabulary.numThreads = workers
            return o
        }
    }

    static func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train (or reuse) the SentencePiece vocabulary and write the tokenized corpus shards.")
        @OptionGroup var options: DataOptions

        func run() throws {
            let root = options.root()
            let start = Date()
            let prepared = try PreparedCorpus.prepare(root: root, options: try options.prepareOptions(), log: DataCommand.log)
            let m = prepared.manifest
            for split in CorpusSplit.allCases {
                let docs = m.documents(in: split)
                print("\(split.rawValue): \(docs.count) documents, \(docs.reduce(0) { $0 + $1.sentences }) sentences, \(docs.reduce(0) { $0 + $1.tokens }) tokens")
            }
            print("vocabulary: \(prepared.tokenizer.vocabSize) pieces at \(prepared.tokenizer.path)")
            print("shards: \(prepared.directory.path)")
            print(String(format: "wall time: %.1f s", Date().timeIntervalSince(start)))
        }
    }

    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts per task, split and corpus.")
        @OptionGroup var options: DataOptions
        func run() throws {}
    }
}
