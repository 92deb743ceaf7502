import ArgumentParser
import Foundation
import SparseMixersData
import SparseMixersTables
import SparseMixersPaper

/// `sparse-mixers data ...`: data preparation and inspection (brief items 4 and 8).
public struct DataCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare and inspect the pre-training corpus and the GLUE/SuperGLUE data.",
        subcommands: [Summary.self, Prepare.self, Show.self])
    public init() {}

    /// Options shared by the subcommands.
    struct DataOptions: ParsableArguments {
        @Option(name: .long, help: "Data root (default: $SPARSE_MIXERS_DATA, else Data/, else ../shared/data).")
        var data: String?
        @Option(name: .long, help: "Vocabulary size (pieces, specials included).")
        var vocabSize: Int = 32_000
        @Option(name: .long, help: "SentencePiece model type: unigram or bpe.")
        var modelType: String = "unigram"
        @Option(name: .long, help: ArgumentHelp("Sentences sampled to train the vocabulary (default: 100 per piece, at "
                                                + "most 600,000, as the tables use)."))
        var vocabSentences: Int?
        @Option(name: .long, help: "Worker threads.")
        var workers: Int = 2

        func root() -> DataRoot { DataRoot.resolve(explicit: data) }

        func validate() throws {
            try Flags.int(vocabSize, "vocab-size", 16...1_048_576)
            if let vocabSentences { try Flags.int(vocabSentences, "vocab-sentences", 1...100_000_000) }
            try Flags.int(workers, "workers", 1...Flags.maxThreads)
            guard VocabularyModelType(rawValue: modelType) != nil else {
                throw ValidationError("--model-type must be unigram or bpe, got \(modelType)")
            }
        }

        func prepareOptions() throws -> CorpusPrepareOptions {
            guard let type = VocabularyModelType(rawValue: modelType) else {
                throw ValidationError("--model-type must be unigram or bpe")
            }
            var o = CorpusPrepareOptions(workers: workers)
            o.vocabulary.vocabSize = vocabSize
            o.vocabulary.modelType = type
            o.vocabulary.inputSentenceSize = vocabSentences ?? VocabularyOptions.sentences(forVocabSize: vocabSize)
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
            let prepared = try PreparedCorpus.prepare(root: root, options: try options.prepareOptions(),
                                                      log: DataCommand.log)
            let m = prepared.manifest
            for split in CorpusSplit.allCases {
                let docs = m.documents(in: split)
                print("\(split.rawValue): \(docs.count) documents, \(docs.reduce(0) { $0 + $1.sentences }) sentences, "
                      + "\(docs.reduce(0) { $0 + $1.tokens }) tokens")
            }
            print("vocabulary: \(prepared.tokenizer.vocabSize) pieces at \(prepared.tokenizer.path)")
            print("shards: \(prepared.directory.path)")
            print(String(format: "wall time: %.1f s", Date().timeIntervalSince(start)))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print decoded pre-training examples (and, with --task, encoded task rows) for inspection.")
        @OptionGroup var options: DataOptions
        @Option(name: .long, help: "Sequence length L.") var seqLen: Int = 128
        @Option(name: .long, help: "Masked-LM slots P.") var maxPredictions: Int = 20
        @Option(name: .long, help: "Examples to print.") var count: Int = 3
        @Option(name: .long, help: "Stream seed.") var seed: UInt64 = 0
        @Option(name: .long, help: "Also show rows of this task (e.g. cola, copa, multirc).") var task: String?
        @Option(name: .long, help: "Time this many batches of 64 (building, then skipping for a resume).")
        var benchBatches: Int = 0

        func validate() throws {
            try Flags.int(seqLen, "seq-len", 5...Flags.maxSeq)
            try Flags.int(maxPredictions, "max-predictions", 0...seqLen)
            try Flags.int(count, "count", 0...1_000_000)
            try Flags.int(benchBatches, "bench-batches", 0...1_000_000)
            if let name = task, Task(rawValue: name) == nil {
                throw ValidationError("--task: unknown task \(name) "
                                      + "(\(Task.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }

        func run() throws {
            let prepared = try PreparedCorpus.prepare(root: options.root(), options: try options.prepareOptions(),
                                                      log: DataCommand.log)
            let t = prepared.tokenizer
            let corpus = try prepared.load(.train)
            let stream = try PretrainingStream.checked(corpus: corpus,
                                                       config: PretrainingConfig(seqLen: seqLen,
                                                                                 maxPredictions: maxPredictions),
                                                       specials: SpecialTokens(t), seed: seed)
            print("passages per epoch at L=\(seqLen): \(stream.passagesPerEpoch)")
            for i in 0..<count {
                let e = stream.nextExample()
                let pieces = e.inputIDs.filter { $0 != t.padID }.map { t.piece(for: $0) }.joined(separator: " ")
                print("-- example \(i): nsp \(e.nspLabel), non-pad \(e.inputIDs.filter { $0 != t.padID }.count)")
                print(pieces)
                let k = e.maskedWeights.filter { $0 > 0 }.count
                print("masked: " + (0..<k).map { "\(e.maskedPositions[$0]):\(t.piece(for: e.maskedIDs[$0]))" }
                    .joined(separator: " "))
            }
            if benchBatches > 0 {
                var clock = Date()
                let s2 = PretrainingStream(corpus: corpus, config: stream.config, specials: stream.specials, seed: seed)
                for _ in 0..<benchBatches { _ = s2.nextBatch(batchSize: 64) }
                let build = Date().timeIntervalSince(clock)
                clock = Date()
                _ = PretrainingStream(corpus: corpus, config: stream.config, specials: stream.specials, seed: seed,
                                      resumeAtStep: benchBatches, batchSize: 64)
                let skip = Date().timeIntervalSince(clock)
                print(String(format: "%d batches of 64 x %d: %.2f s to build (%.0f examples/s); resume at "
                                     + "step %d: %.2f s",
                             benchBatches, seqLen, build, Double(benchBatches * 64) / build, benchBatches, skip))
            }
            if let name = task {
                guard let task = Task(rawValue: name) else { throw ValidationError("unknown task \(name)") }
                let split = task.evaluationSplits[0]
                let d = try TaskLoader.load(task, split, root: options.root())
                let enc = EncodedTaskData(TaskDataset(task: task, split: split, path: d.path,
                                                      examples: Array(d.examples.prefix(count))), tokenizer: t,
                                          seqLen: seqLen)
                for r in 0..<enc.count {
                    let ids = enc.inputIDs[r * seqLen..<(r + 1) * seqLen].filter { $0 != t.padID }
                    print("-- \(task.rawValue) row \(r) label \(d.examples[r].label.map { "\($0)" } ?? "-") group "
                          + "\(enc.groups[r])")
                    print(ids.map { t.piece(for: $0) }.joined(separator: " "))
                }
            }
        }
    }

    struct Summary: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Examples and label distribution per task and split; documents, sentences and "
                      + "tokens of the corpus.")
        @OptionGroup var options: DataOptions
        @Flag(name: .long, help: "Skip token counts (they need the vocabulary and shards; built if absent).")
        var noTokens = false
        @Option(name: .long, help: "Also write the task table as CSV to this file.")
        var csv: String?

        func validate() throws {
            if let c = csv { try Flags.writableFile(c, "csv") }
        }

        func run() throws {
            let root = options.root()
            print("data root: \(root.path) (\(root.source))")
            print("cache: \(root.cacheURL.path)")
            var csvRows: [[String]] = [["task", "split", "rows", "groups", "blank_lines_skipped", "labels"]]
            print("")
            print(pad("task", 22) + pad("split", 22) + lpad("rows", 8) + lpad("groups", 8) + "  labels")
            for task in Task.allCases {
                for split in task.splits {
                    guard TaskLoader.isAvailable(task, split, root: root) else {
                        print(pad(task.displayName, 22) + pad(split.rawValue, 22) + lpad("-", 8) + lpad("-", 8)
                              + "  missing")
                        csvRows.append([task.rawValue, split.rawValue, "", "", "", "missing"])
                        continue
                    }
                    do {
                        let d = try TaskLoader.load(task, split, root: root)
                        let labels = d.labelDistribution.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                            .joined(separator: " ")
                        print(pad(task.displayName, 22) + pad(split.rawValue, 22) + lpad("\(d.count)", 8)
                              + lpad("\(d.groupCount)", 8) + "  " + labels)
                        csvRows.append([task.rawValue, split.rawValue, "\(d.count)", "\(d.groupCount)",
                                        "\(d.skippedBlankLines)", labels])
                    } catch {
                        print(pad(task.displayName, 22) + pad(split.rawValue, 22) + "  ERROR \(error)")
                        csvRows.append([task.rawValue, split.rawValue, "", "", "", "error: \(error)"])
                    }
                }
            }
            if let path = csv { try CSVWriter.write(rows: csvRows, to: path) }

            print("")
            let files = try GutenbergCorpus.listFiles(in: root.corpusDirectory)
            if noTokens {
                let docs = try PreparedCorpus.readDocuments(files, workers: options.workers)
                var markers: [GutenbergMarkers: Int] = [:]
                for d in docs { markers[d.markers, default: 0] += 1 }
                print("corpus \(root.corpusDirectory)")
                print("  documents \(docs.count), sentences \(docs.reduce(0) { $0 + $1.sentenceCount }), "
                      + "text bytes \(docs.reduce(0) { $0 + $1.bytes.count })")
                print("  Gutenberg markers: modern \(markers[.modern] ?? 0), legacy \(markers[.legacy] ?? 0), "
                      + "none (used whole) \(markers[.none] ?? 0)")
            } else {
                let prepared = try PreparedCorpus.prepare(root: root, options: try options.prepareOptions(),
                                                          log: DataCommand.log)
                let m = prepared.manifest
                print("corpus \(root.corpusDirectory) (vocabulary \(m.vocabSize) pieces, \(prepared.tokenizer.path))")
                for split in CorpusSplit.allCases {
                    let docs = m.documents(in: split)
                    print("  \(pad(split.rawValue, 8)) documents \(docs.count), sentences "
                          + "\(docs.reduce(0) { $0 + $1.sentences }), tokens \(docs.reduce(0) { $0 + $1.tokens })")
                }
                var markers: [GutenbergMarkers: Int] = [:]
                for d in m.documents { markers[d.markers, default: 0] += 1 }
                print("  Gutenberg markers: modern \(markers[.modern] ?? 0), legacy \(markers[.legacy] ?? 0), "
                      + "none (used whole) \(markers[.none] ?? 0)")
            }
        }

        func pad(_ s: String, _ n: Int) -> String {
            s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
        }
        func lpad(_ s: String, _ n: Int) -> String {
            s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s
        }
    }
}
