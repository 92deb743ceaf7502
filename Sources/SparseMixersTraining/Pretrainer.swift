import Foundation
import SparseMixers
import SparseMixersCore
import SparseMixersData

/// Pre-training settings (SPEC §3.2, §4.4–4.5). The model shape (sequence length, masked predictions, vocabulary)
/// comes from the `ModelConfig`; everything about the run is here.
public struct PretrainOptions: Codable, Equatable, Sendable {
    public var steps: Int
    public var batchSize: Int
    /// Base learning rate of the linear warm-up / linear decay schedule.
    public var learningRate: Double
    public var warmupSteps: Int
    /// Held-out evaluation every this many steps, and always at the last step.
    public var evalEvery: Int
    /// Held-out batches per evaluation (fixed, deterministic batches of held-out books).
    public var evalBatches: Int
    /// Sequences per held-out batch; `evalBatches` x `evalBatchSize` sequences are scored, the same ones for every
    /// run (the eval set does not depend on the run's seed or training batch).
    public var evalBatchSize: Int
    /// Checkpoint every this many steps, and always at the last step.
    public var checkpointEvery: Int
    /// A JSONL training record every this many steps.
    public var logEvery: Int
    /// Seeds the initial parameters, the data order and masking, and every dropout mask.
    public var seed: UInt64
    public var divergence: DivergenceRule

    public init(steps: Int, batchSize: Int, learningRate: Double = 1e-4, warmupSteps: Int = 10_000,
                evalEvery: Int = 2_000, evalBatches: Int = 1_000, checkpointEvery: Int = 20_000, logEvery: Int = 100,
                seed: UInt64 = 0, divergence: DivergenceRule? = nil, evalBatchSize: Int? = nil) {
        self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate; self.warmupSteps = warmupSteps
        self.evalEvery = evalEvery; self.evalBatches = evalBatches; self.evalBatchSize = evalBatchSize ?? batchSize
        self.checkpointEvery = checkpointEvery
        self.logEvery = logEvery; self.seed = seed
        self.divergence = divergence ?? DivergenceRule(minimumStep: max(warmupSteps, 100))
    }

    public func validate() throws {
        func positive(_ v: Int, _ name: String) throws {
            if v < 1 { throw TrainingError("invalid pre-training option: \(name) must be at least 1, got \(v)") }
        }
        try positive(steps, "steps"); try positive(batchSize, "batchSize"); try positive(evalEvery, "evalEvery")
        try positive(evalBatches, "evalBatches"); try positive(evalBatchSize, "evalBatchSize")
        try positive(checkpointEvery, "checkpointEvery")
        try positive(logEvery, "logEvery"); try positive(divergence.window, "divergence.window")
        if warmupSteps < 0 {
            throw TrainingError("invalid pre-training option: warmupSteps must be >= 0, got \(warmupSteps)")
        }
        if !(learningRate > 0) || !learningRate.isFinite {
            throw TrainingError("invalid pre-training option: learningRate must be positive, got \(learningRate)")
        }
    }
}

/// One held-out evaluation. Accuracies in percent.
public struct PretrainEval: Codable, Equatable, Sendable {
    public var step: Int
    public var mlmAccuracy: Double
    public var nspAccuracy: Double
    public var mlmLoss: Double
    public var nspLoss: Double
    public var auxLoss: Double
    public var zLoss: Double
    /// Counts behind the accuracies (masked predictions scored, NSP pairs scored), for binomial intervals.
    public var mlmCount: Int? = nil
    public var nspCount: Int? = nil
    /// Training tokens seen and seconds spent inside training steps when this evaluation ran (learning curves).
    public var tokens: Double? = nil
    public var trainSeconds: Double? = nil

    public init(step: Int, mlmAccuracy: Double, nspAccuracy: Double, mlmLoss: Double, nspLoss: Double,
                auxLoss: Double, zLoss: Double, mlmCount: Int? = nil, nspCount: Int? = nil, tokens: Double? = nil,
                trainSeconds: Double? = nil) {
        self.step = step; self.mlmAccuracy = mlmAccuracy; self.nspAccuracy = nspAccuracy; self.mlmLoss = mlmLoss
        self.nspLoss = nspLoss; self.auxLoss = auxLoss; self.zLoss = zLoss; self.mlmCount = mlmCount
        self.nspCount = nspCount; self.tokens = tokens; self.trainSeconds = trainSeconds
    }
}

/// The floors of a held-out set: the accuracy of the best constant predictor on it (always the most frequent
/// masked piece; always the more frequent NSP label). A model that learned only token frequencies ends at
/// `mlmMajorityAccuracy`.
public struct HeldOutFloors: Codable, Equatable, Sendable {
    public var mlmMajorityAccuracy: Double
    public var mlmMajorityPiece: Int
    public var nspMajorityAccuracy: Double
    public var mlmCount: Int
    public var nspCount: Int

    public init(_ batches: [PretrainingBatch]) {
        var counts: [Int32: Double] = [:], total = 0.0, nsp = [0, 0]
        for b in batches {
            for (id, w) in zip(b.maskedIDs, b.maskedWeights) where w > 0 {
                counts[id, default: 0] += Double(w)
                total += Double(w)
            }
            for l in b.nspLabels { nsp[Int(l) == 0 ? 0 : 1] += 1 }
        }
        let top = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }
        mlmMajorityPiece = Int(top?.key ?? 0)
        mlmMajorityAccuracy = total > 0 ? 100 * (top?.value ?? 0) / total : 0
        mlmCount = Int(total.rounded())
        nspCount = nsp[0] + nsp[1]
        nspMajorityAccuracy = nspCount > 0 ? 100 * Double(nsp.max()!) / Double(nspCount) : 0
    }
}

/// What a pre-training run produced; written to `result.json` in the run directory.
public struct PretrainResult: Codable, Equatable, Sendable {
    public var config: ModelConfig
    public var options: PretrainOptions
    public var stepsCompleted: Int
    /// True once every step ran (false for a run stopped early or diverged).
    public var complete: Bool
    public var diverged: Bool
    public var divergence: String?
    public var evals: [PretrainEval]
    public var finalEval: PretrainEval? { evals.last }
    /// The floors of the held-out set every evaluation used.
    public var floors: HeldOutFloors? = nil
    /// Seconds inside training steps (forward, backward, AdamW), excluding evaluation and checkpoints.
    public var stepSeconds: Double
    public var tokensPerSecond: Double
    /// Gemm FLOPs of one training step (counted) and the throughput they imply.
    public var stepFlops: Double
    public var gflopsPerSecond: Double
    /// Mean seconds to build one batch (on the prefetch thread, overlapped with the step) and mean seconds a
    /// step waited for its batch (the stall the pipeline caused).
    public var dataSecondsPerStep: Double
    public var stallSecondsPerStep: Double
    public var checkpoint: String
}

/// The resumable state saved inside every checkpoint.
struct PretrainState: Codable {
    var step: Int
    var stream: PretrainingStreamPosition
    var tracker: DivergenceTracker
    var evals: [PretrainEval]
    var stepSeconds: Double
    var dataSeconds: Double
    var stallSeconds: Double
    var stepFlops: Double
    /// The run this state belongs to; a resume refuses a checkpoint of another run (nil in checkpoints written
    /// before it was recorded, which are refused too).
    var identity: RunIdentity? = nil
}

/// What identifies a run; a resume must match it.
struct RunIdentity: Codable, Equatable {
    var config: ModelConfig
    var options: PretrainOptions
    /// `ParameterLayout.initializationVersion`: runs saved before it was recorded decode as nil and differ.
    var initialization: String? = ParameterLayout.initializationVersion
    /// The threads the steps ran on (`Parallel.effectiveThreads`): the OpenBLAS and loop partitions change the
    /// rounding, so a resume on another thread count would not be bit-exact and is refused. Nil in the identity
    /// that names a run directory (`Pretrainer.directory(for:options:under:)`), so a run's directory does not
    /// depend on the machine's core count; a finished run is reused at any thread count.
    var threads: Int? = nil
    /// `PreparedCorpus.contentKey` of the corpus the run trains on: a run is never resumed or reused on other
    /// token ids. Nil in the directory-naming identity (like `threads`) and for runs made before it was recorded.
    var corpus: String? = nil

    init(config: ModelConfig, options: PretrainOptions, threads: Int? = nil, corpus: String? = nil) {
        self.config = config; self.options = options; self.threads = threads; self.corpus = corpus
    }
}

/// Records of `log.jsonl`.
struct TrainRecord: Codable {
    var kind = "train"
    var step: Int
    var loss: Double, mlmLoss: Double, nspLoss: Double, auxLoss: Double, zLoss: Double
    var learningRate: Double
    var tokensPerSecond: Double
    var stepSeconds: Double
    var stallSeconds: Double
}
struct EvalRecord: Codable {
    var kind = "eval"
    var step: Int
    var eval: PretrainEval
}
struct EventRecord: Codable {
    var kind: String
    var step: Int
    var message: String
}

/// Builds batch s+1 on a background thread while step s runs. The stream is only touched by that thread.
final class BatchPrefetcher: @unchecked Sendable {
    let stream: PretrainingStream
    let batchSize: Int
    private let queue = DispatchQueue(label: "sparse-mixers.prefetch")
    private let ready = DispatchSemaphore(value: 0)
    private var pending: (batch: PretrainingBatch, position: PretrainingStreamPosition, seconds: Double)?

    init(stream: PretrainingStream, batchSize: Int) { self.stream = stream; self.batchSize = batchSize }

    func request() {
        queue.async { [self] in
            let t0 = DispatchTime.now().uptimeNanoseconds
            let b = stream.nextBatch(batchSize: batchSize)
            pending = (b, stream.position, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            ready.signal()
        }
    }

    /// The requested batch, the stream position just after it, and the seconds it took to build.
    func take() -> (batch: PretrainingBatch, position: PretrainingStreamPosition, seconds: Double) {
        ready.wait()
        let p = pending!
        pending = nil
        return p
    }

    /// Waits for an outstanding request to finish (before the process may exit or the stream be dropped).
    func drain() { queue.sync {} }
}

extension Batch {
    /// A pre-training batch for the model.
    public init(_ b: PretrainingBatch) {
        self.init(batchSize: b.batchSize, seqLength: b.seqLen, inputIds: b.inputIDs, typeIds: b.typeIDs,
                  maskedLMPositions: b.maskedPositions, maskedLMIds: b.maskedIDs, maskedLMWeights: b.maskedWeights,
                  nextSentenceLabels: b.nspLabels)
    }
}

/// MLM + sentence-order NSP pre-training with the MoE auxiliary losses (SPEC §4.4), AdamW with linear warm-up
/// and decay (§4.5), periodic held-out evaluation, atomic checkpoints and exact resume.
///
/// Run directory: `checkpoint.bin` (parameters, Adam moments, step, data position, divergence state and the run's
/// identity, under a CRC-32C), `log.jsonl` (every `logEvery` steps and every evaluation), `run.json` (config,
/// options and thread count; a resume must match), `result.json` (written at the end, or when the run diverges),
/// `run.lock` (held while a process trains in the directory; a second one is refused).
///
/// Exactness: the data stream position is saved with each checkpoint, and the dropout masks of step s come from
/// (seed, s) alone, so a run interrupted at any point and resumed from its last checkpoint ends with the same
/// parameters and losses, bit for bit, as one that was never interrupted. The thread count is part of the run's
/// identity, so a resume on another one is refused rather than silently inexact.
///
/// Resume checks, each an error naming the field: `run.json` and the identity inside the checkpoint equal this
/// run's; the checkpoint's checksum and sizes (`Checkpoint`); its step in 0...steps and equal to the optimizer's;
/// its stream position inside this corpus's ranges.
public final class Pretrainer {
    public let config: ModelConfig
    public let options: PretrainOptions
    public let directory: URL
    let train: TokenizedCorpus
    let heldOut: TokenizedCorpus
    let specials: SpecialTokens
    /// Progress display (stderr); nil for silence.
    public var progress: ProgressLine? = ProgressLine()
    /// Polled after every step: true ends the run with a checkpoint of that step (`StopRequest`; tests pass
    /// their own).
    public var shouldStop: () -> Bool = { StopRequest.isRequested }

    public var checkpointURL: URL { directory.appendingPathComponent("checkpoint.bin") }
    public var resultURL: URL { directory.appendingPathComponent("result.json") }
    public var logURL: URL { directory.appendingPathComponent("log.jsonl") }
    var identityURL: URL { directory.appendingPathComponent("run.json") }

    public init(config: ModelConfig, options: PretrainOptions, directory: URL, train: TokenizedCorpus,
                heldOut: TokenizedCorpus, specials: SpecialTokens) throws {
        try config.validate()
        try options.validate()
        self.config = config; self.options = options; self.directory = directory
        self.train = train; self.heldOut = heldOut; self.specials = specials
    }

    /// Convenience: the train and held-out splits of a prepared corpus (its vocabulary must match the config).
    public convenience init(config: ModelConfig, options: PretrainOptions, directory: URL,
                            corpus: PreparedCorpus) throws {
        guard corpus.tokenizer.vocabSize == config.vocabSize else {
            throw TrainingError("config field vocabSize is \(config.vocabSize) but the prepared vocabulary "
                                + "\(corpus.manifest.vocabularyPath) has \(corpus.tokenizer.vocabSize) pieces")
        }
        try self.init(config: config, options: options, directory: directory, train: try corpus.load(.train),
                      heldOut: try corpus.load(.heldOut), specials: SpecialTokens(corpus.tokenizer))
        corpusKey = corpus.contentKey
    }

    /// `PreparedCorpus.contentKey` of the corpus (set by the prepared-corpus initialiser; nil for in-memory corpora).
    public var corpusKey: String? = nil

    /// Refuses a finished or checkpointed run recorded on another corpus (other token ids).
    func checkCorpus(_ saved: RunIdentity?) throws {
        guard let now = corpusKey, let before = saved?.corpus, before != now else { return }
        throw TrainingError("\(directory.path) was trained on another corpus (content key \(before), now \(now)): "
                            + "its token ids differ from this corpus's; remove the directory or use another --output")
    }

    var pretrainingConfig: PretrainingConfig {
        PretrainingConfig(seqLen: config.maxSeqLength, maxPredictions: config.maxPredictionsPerSeq)
    }

    /// The seed of the held-out set: one for every run, so all variants and seeds are scored on the same examples.
    public static let evalSeed: UInt64 = 0xE7A1_0000

    /// The dropout seed of step `s` (0-based): a function of the run seed and the step only.
    func dropoutSeed(_ s: Int) -> UInt64 { var r = RNG(keys: options.seed, 0xD409, UInt64(s)); return r.next() }

    /// Runs (or resumes) the run. `stopAfter` ends the run after that many steps as if it had been killed there
    /// (no checkpoint is written for the stop itself): tests use it to check exact resume.
    @discardableResult
    public func run(resume: Bool, stopAfter: Int? = nil) throws -> PretrainResult {
        try MemoryBudget.check(try memoryEstimate(),
                               what: "pre-training at batch \(options.batchSize) x \(config.maxSeqLength)")
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let lockPath = directory.appendingPathComponent("run.lock").path
        guard let lock = try FileLock.tryLock(lockPath) else {
            let who = FileLock.holder(of: lockPath).map { "process \($0)" } ?? "another process"
            throw TrainingError("\(directory.path) is in use: \(who) holds run.lock (two runs must not "
                                + "write one directory)")
        }
        defer { lock.release() }
        // No writer of this directory is alive now: temporary files are leftovers of a killed write.
        try DurableFile.removeTemporaries(in: directory)
        let identity = RunIdentity(config: config, options: options, threads: Parallel.effectiveThreads,
                                   corpus: corpusKey)
        let hasCheckpoint = fm.fileExists(atPath: checkpointURL.path)
        if hasCheckpoint && !resume {
            throw TrainingError("\(directory.path) already holds a run (checkpoint.bin): pass --resume to continue it "
                                + "or choose another output directory")
        }
        if hasCheckpoint {
            let saved = try RunFiles.readJSON(RunIdentity.self, from: identityURL)
            if let field = Self.firstDifference(saved, identity) {
                throw TrainingError("cannot resume \(directory.path): \(field) differs from the checkpointed run")
            }
        } else {
            try RunFiles.writeJSON(identity, to: identityURL)
        }

        let model = try Model(config: config, head: .pretraining, seed: options.seed)
        let adam = AdamW(parameterCount: model.params.count)
        let schedule = LearningRateSchedule(base: Float(options.learningRate), warmupSteps: options.warmupSteps,
                                            totalSteps: options.steps)
        let log = try JSONLLog(url: logURL)
        var state: PretrainState
        let stream: PretrainingStream
        if hasCheckpoint {
            let meta = try Checkpoint.load(checkpointURL, into: model, optimizer: adam)
            state = try resumeState(meta, identity: identity)
            stream = try PretrainingStream.checked(corpus: train, config: pretrainingConfig, specials: specials,
                                                   seed: options.seed)
            do { try stream.restore(state.stream) } catch {
                throw TrainingError("cannot resume from \(checkpointURL.path): \(error)")
            }
            try log.truncate(after: state.step)
            try log.append(EventRecord(kind: "resume", step: state.step, message: "resumed from \(checkpointURL.path)"))
        } else {
            stream = try PretrainingStream.checked(corpus: train, config: pretrainingConfig, specials: specials,
                                                   seed: options.seed)
            state = PretrainState(step: 0, stream: stream.position,
                                  tracker: DivergenceTracker(rule: options.divergence), evals: [], stepSeconds: 0,
                                  dataSeconds: 0, stallSeconds: 0, stepFlops: 0)
            try log.truncate(after: -1)
        }
        let heldOutSet = heldOutBatches(corpus: heldOut, config: pretrainingConfig, specials: specials,
                                        seed: Self.evalSeed, batches: options.evalBatches,
                                        batchSize: options.evalBatchSize)
        let floors = HeldOutFloors(heldOutSet)
        let evalBatches = heldOutSet.map(Batch.init)

        let prefetch = BatchPrefetcher(stream: stream, batchSize: options.batchSize)
        defer { prefetch.drain() }
        let tokensPerStep = Double(options.batchSize * config.maxSeqLength)
        let end = min(options.steps, stopAfter ?? options.steps)
        var diverged: String? = nil
        let startStep = state.step
        let wallStart = Date()
        if state.step < end { prefetch.request() }
        while state.step < end {
            let s = state.step
            let w0 = DispatchTime.now().uptimeNanoseconds
            let (pb, position, dataSeconds) = prefetch.take()
            let stall = Double(DispatchTime.now().uptimeNanoseconds - w0) * 1e-9
            if s + 1 < end { prefetch.request() }
            let batch = Batch(pb)
            // The first step's gemm FLOPs (this run's own, also when another run trains beside it).
            let tally = state.stepFlops == 0 ? FlopTally() : nil
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try BLAS.counting(into: tally) {
                try model.forward(batch, training: true, dropoutSeed: dropoutSeed(s))
            }
            if !r.totalLoss.isFinite {
                diverged = "loss is \(r.totalLoss) at step \(s + 1)"
                break
            }
            let lr = schedule(s)
            BLAS.counting(into: tally) { model.backwardAndUpdate(adam, learningRate: lr) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if let tally { state.stepFlops = tally.flops }
            state.step = s + 1
            state.stream = position
            state.stepSeconds += seconds; state.dataSeconds += dataSeconds; state.stallSeconds += stall
            if let why = state.tracker.observe(loss: r.totalLoss, step: state.step) { diverged = why; break }

            if state.step % options.logEvery == 0 || state.step == options.steps {
                try log.append(TrainRecord(step: state.step, loss: r.totalLoss, mlmLoss: r.mlmLoss, nspLoss: r.nspLoss,
                                           auxLoss: r.auxLoss, zLoss: r.zLoss, learningRate: Double(lr),
                                           tokensPerSecond: tokensPerStep / seconds, stepSeconds: seconds,
                                           stallSeconds: stall))
            }
            if state.step % options.evalEvery == 0 || state.step == options.steps {
                var e = try evaluate(model, evalBatches, step: state.step)
                e.tokens = Double(state.step) * tokensPerStep
                e.trainSeconds = state.stepSeconds
                state.evals.append(e)
                try log.append(EvalRecord(step: state.step, eval: e))
            }
            let checkpointed = state.step % options.checkpointEvery == 0 || state.step == options.steps
            if checkpointed {
                state.identity = identity
                try Checkpoint.save(model, optimizer: adam, userState: try JSONEncoder().encode(state),
                                    to: checkpointURL)
            }
            // A stop request (a Slurm job near its time limit or preempted: `StopRequest`) checkpoints this step,
            // whatever the cadence, and ends the run; a resume continues from it exactly.
            if state.step < options.steps && diverged == nil && shouldStop() {
                if !checkpointed {
                    state.identity = identity
                    try Checkpoint.save(model, optimizer: adam, userState: try JSONEncoder().encode(state),
                                        to: checkpointURL)
                }
                let signal = StopRequest.signal != 0 ? " (signal \(StopRequest.signal))" : ""
                try log.append(EventRecord(kind: "stopped", step: state.step,
                                           message: "stop requested\(signal); checkpoint written"))
                progress?.show("stopped at step \(state.step) on request; checkpoint written", final: true)
                throw StoppedOnRequest("\(directory.lastPathComponent): stopped at step \(state.step) of "
                                       + "\(options.steps) on request; the checkpoint of that step is written, and a "
                                       + "resume continues from it")
            }
            if let p = progress, p.isTerminal || state.step % options.logEvery == 0 || state.step == end {
                let done = Double(state.step - startStep)
                let eta = Date().timeIntervalSince(wallStart) / max(done, 1) * Double(end - state.step)
                let ev = state.evals.last.map { String(format: " | eval@%d mlm %.1f%% nsp %.1f%%", $0.step,
                                                       $0.mlmAccuracy, $0.nspAccuracy) } ?? ""
                p.show(String(format: "step %d/%d loss %.4f (mlm %.3f nsp %.3f) lr %.2e | %.0f tok/s | ETA %@",
                              state.step, options.steps, r.totalLoss, r.mlmLoss, r.nspLoss, Double(lr),
                              tokensPerStep / seconds, clock(eta)) + ev, final: state.step == end)
            }
        }
        if let why = diverged {
            try log.append(EventRecord(kind: "diverged", step: state.step + 1, message: why))
            progress?.show("diverged: \(why)", final: true)
        }
        let steps = Double(max(state.step, 1))
        let tokensPerSecond: Double = state.stepSeconds > 0 ? Double(state.step) * tokensPerStep / state.stepSeconds : 0
        let gflops: Double = state.stepSeconds > 0 ? state.stepFlops * Double(state.step) / state.stepSeconds / 1e9 : 0
        var result = PretrainResult(
            config: config, options: options, stepsCompleted: state.step,
            complete: diverged == nil && state.step == options.steps, diverged: diverged != nil, divergence: diverged,
            evals: state.evals, stepSeconds: state.stepSeconds,
            tokensPerSecond: tokensPerSecond, stepFlops: state.stepFlops, gflopsPerSecond: gflops,
            dataSecondsPerStep: state.dataSeconds / steps, stallSecondsPerStep: state.stallSeconds / steps,
            checkpoint: checkpointURL.path)
        result.floors = floors
        if diverged != nil || state.step == options.steps { try RunFiles.writeJSON(result, to: resultURL) }
        return result
    }

    /// Bytes the run will allocate: the model at the larger of the training and evaluation batch
    /// (`MemoryBudget.trainingBytes`) plus the held-out batches, kept as examples and as model batches
    /// (ids, types, masked positions, ids and weights, NSP label).
    public func memoryEstimate() throws -> Double { try Self.memoryEstimate(config: config, options: options) }

    public static func memoryEstimate(config: ModelConfig, options: PretrainOptions) throws -> Double {
        let L = Double(config.maxSeqLength), P = Double(config.maxPredictionsPerSeq)
        let heldOut = Double(options.evalBatches) * Double(options.evalBatchSize) * (2 * L + 3 * P + 1) * 4 * 2
        return try MemoryBudget.trainingBytes(config, batch: max(options.batchSize, options.evalBatchSize)) + heldOut
    }

    /// The saved state of a checkpoint, after checking that it belongs to this run and is in range.
    func resumeState(_ meta: Checkpoint.Metadata, identity: RunIdentity) throws -> PretrainState {
        let path = checkpointURL.path
        func refuse(_ why: String) -> TrainingError { TrainingError("cannot resume from \(path): \(why)") }
        let state: PretrainState
        do { state = try JSONDecoder().decode(PretrainState.self, from: meta.userState) } catch {
            throw refuse("its training state cannot be decoded (\(error))")
        }
        guard let saved = state.identity else {
            throw refuse("it records no run identity (written before checkpoints carried one); start the run afresh")
        }
        if let field = Self.firstDifference(saved, identity) {
            throw refuse("it belongs to another run: \(field) differs")
        }
        guard meta.hasOptimizer else { throw refuse("it holds no optimizer moments") }
        guard state.step >= 0, state.step <= options.steps else {
            throw refuse("field step is \(state.step), outside 0...\(options.steps)")
        }
        guard meta.optimizerStep == state.step else {
            throw refuse("field optimizerStep is \(meta.optimizerStep), but step is \(state.step)")
        }
        return state
    }

    /// MLM and NSP accuracy and losses over the fixed held-out batches (eval mode: no dropout, eval capacity).
    func evaluate(_ model: Model, _ batches: [Batch], step: Int) throws -> PretrainEval {
        var correct = 0.0, weight = 0.0, mlmLoss = 0.0, nspCorrect = 0, nspLoss = 0.0, n = 0, aux = 0.0, z = 0.0
        for b in batches {
            let r = try model.forward(b, training: false)
            correct += r.mlmCorrect; weight += r.mlmWeightSum; mlmLoss += r.mlmLoss * r.mlmWeightSum
            nspCorrect += r.nspCorrect; nspLoss += r.nspLoss * Double(b.batchSize); n += b.batchSize
            aux += r.auxLoss; z += r.zLoss
        }
        let k = Double(max(batches.count, 1))
        return PretrainEval(step: step, mlmAccuracy: weight > 0 ? 100 * correct / weight : 0,
                            nspAccuracy: n > 0 ? 100 * Double(nspCorrect) / Double(n) : 0,
                            mlmLoss: weight > 0 ? mlmLoss / weight : 0, nspLoss: n > 0 ? nspLoss / Double(n) : 0,
                            auxLoss: aux / k, zLoss: z / k, mlmCount: Int(weight.rounded()), nspCount: n)
    }

    /// The first top-level field (as `config.x` / `options.y`) in which two identities differ.
    static func firstDifference(_ a: RunIdentity, _ b: RunIdentity) -> String? {
        // A run recorded before corpus keys existed (nil) is compared on everything else.
        var a = a, b = b
        if a.corpus == nil || b.corpus == nil { a.corpus = nil; b.corpus = nil }
        guard a != b else { return nil }
        func dict<T: Encodable>(_ v: T) -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(v))) as? [String: Any] ?? [:]
        }
        for (label, x, y) in [("config", dict(a.config), dict(b.config)), ("options", dict(a.options),
                                                                           dict(b.options))] {
            // Values as canonical JSON (sorted keys), so nested objects compare by content, not print order.
            func text(_ v: Any?) -> String? {
                v.flatMap { try? JSONSerialization.data(withJSONObject: [$0], options: [.sortedKeys]) }
                    .map { String(decoding: $0, as: UTF8.self).dropFirst().dropLast().description }
            }
            for key in Set(x.keys).union(y.keys).sorted() {
                let u = text(x[key]), v = text(y[key])
                if u != v { return "\(label).\(key) (checkpointed \(u ?? "none"), now \(v ?? "none"))" }
            }
        }
        if a.initialization != b.initialization {
            return "initialization (checkpointed \(a.initialization ?? "none"), now \(b.initialization ?? "none"))"
        }
        if a.corpus != b.corpus, let before = a.corpus, let now = b.corpus {
            return "corpus (checkpointed content key \(before), now \(now): other token ids)"
        }
        if a.threads != b.threads {
            let now = b.threads.map(String.init) ?? "none"
            guard let before = a.threads else {
                return "threads (checkpointed none, now \(now): the run predates thread-count checks; start it afresh)"
            }
            return "threads (checkpointed \(before), now \(now); resume on \(before) thread(s) for a "
                + "bit-exact continuation: --threads \(before), or for a table run the --threads and "
                + "--jobs it ran with)"
        }
        return "the run identity"
    }
}
