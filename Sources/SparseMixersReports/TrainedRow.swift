import Foundation
import SparseMixers

// "What was trained" (issue 13, item 4): every accuracy row of a report names the model and schedule that produced
// it, at the size actually trained (a scale's width-shrunk config, not the paper's), beside the paper size, with
// the seeds and every [GUESS] behind the row. Built by the table runner from the same scaled config and
// pre-training plan it trains (`WhatWasTrained` in SparseMixersTables), so the two cannot drift apart.

/// The sizes of one model configuration that a reader needs to know what was run.
public struct ModelSummary: Codable, Equatable, Sendable {
    /// ModelConfig.modelArch ("BERT", "LINEAR", "F_NET", ...).
    public var architecture: String
    public var dModel: Int
    public var dEmb: Int
    public var dFF: Int
    public var numHeads: Int
    public var headDim: Int
    public var numLayers: Int
    /// Layers whose mixing sublayer is attention, and those whose FFN is a MoE (0-based).
    public var attentionLayers: [Int]
    public var moeLayers: [Int]
    /// Experts, expert d_ff, router and capacity factors: meaningful only when `moeLayers` is not empty.
    public var numExperts: Int
    public var expertDFF: Int
    /// "EC" (Experts Choose) or "TC top-k" (Tokens Choose).
    public var router: String
    public var trainCapacityFactor: Double
    public var evalCapacityFactor: Double
    /// Tokens per routing group.
    public var maxGroupSize: Int
    public var vocabSize: Int
    public var seqLength: Int

    public init(_ c: ModelConfig) {
        architecture = c.modelArch.rawValue
        dModel = c.dModel; dEmb = c.dEmb; dFF = c.dFF; numHeads = c.numHeads; headDim = c.headDim
        numLayers = c.numLayers; attentionLayers = c.attentionLayers; moeLayers = c.moeLayers
        numExperts = c.numExperts; expertDFF = c.expertDFF
        router = c.dispatchAlgorithm.isExpertsChoose ? "EC" : "TC top-\(c.numSelectedExperts)"
        trainCapacityFactor = Double(c.trainCapacityFactor); evalCapacityFactor = Double(c.evalCapacityFactor)
        maxGroupSize = c.maxGroupSize; vocabSize = c.vocabSize; seqLength = c.maxSeqLength
    }

    public var isSparse: Bool { !moeLayers.isEmpty }

    /// One line: "BERT; d_model 48 (paper 768), d_emb 48 (768), ...": each field with the paper's value in
    /// parentheses where it differs (`paper` nil: this config alone).
    public func text(paper: ModelSummary? = nil) -> String {
        func f(_ name: String, _ x: Int, _ p: Int?) -> String {
            name + " \(x)" + (p.map { $0 == x ? "" : " (\($0))" } ?? "")
        }
        func g(_ x: Double) -> String { String(format: "%g", x) }
        var parts = [architecture,
                     f("d_model", dModel, paper?.dModel), f("d_emb", dEmb, paper?.dEmb), f("d_ff", dFF, paper?.dFF)]
        if !attentionLayers.isEmpty || (paper.map { !$0.attentionLayers.isEmpty } ?? false) {
            let heads = "\(numHeads) head\(numHeads == 1 ? "" : "s") x \(headDim)"
            let paperHeads = paper.map { "\($0.numHeads) x \($0.headDim)" }
            parts.append(heads + (paperHeads.map { $0 == "\(numHeads) x \(headDim)" ? "" : " (\($0))" } ?? ""))
        }
        parts.append("\(numLayers) layers" + (paper.map { $0.numLayers == numLayers ? "" : " (\($0.numLayers))" } ?? "")
            + ": \(attentionLayers.count) attention, \(moeLayers.count) MoE")
        if isSparse {
            parts.append("\(numExperts) experts, " + f("expert d_ff", expertDFF, paper?.expertDFF) + ", \(router), "
                + "c \(g(trainCapacityFactor))/\(g(evalCapacityFactor)) (train/eval), "
                + f("group", maxGroupSize, paper?.maxGroupSize) + " tokens")
        }
        parts.append(f("vocab", vocabSize, paper?.vocabSize))
        parts.append(f("seq", seqLength, paper?.seqLength))
        return parts.joined(separator: ", ")
    }
}

/// The pre-training runs of a row at one batch size: one run per seed.
public struct PretrainingRuns: Codable, Equatable, Sendable {
    /// The paper's batch this stands for (Table 10: 64 or 256).
    public var paperBatch: Int
    public var batch: Int
    public var seqLength: Int
    public var steps: Int
    /// batch x seqLength x steps.
    public var tokensPerRun: Int
    public var seeds: [Int]
    /// Run directories under the report's `runs/` (named by config and options), one per seed.
    public var runDirectories: [String]

    public init(paperBatch: Int, batch: Int, seqLength: Int, steps: Int, seeds: [Int], runDirectories: [String]) {
        self.paperBatch = paperBatch; self.batch = batch; self.seqLength = seqLength; self.steps = steps
        self.tokensPerRun = batch * seqLength * steps; self.seeds = seeds; self.runDirectories = runDirectories
    }

    /// "8 x 64 x 100 steps = 51,200 tokens, seeds 0".
    public var text: String {
        "\(batch) x \(seqLength) x \(steps) steps = \(Self.grouped(tokensPerRun)) tokens per run"
    }

    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }
}

/// The fine-tuning protocol as a row was run at its scale: the grid searched, caps and epochs (the protocol itself is
/// `FineTuneProtocol`; the chosen learning rate per task is in the fine-tuning section).
public struct FineTuneAsRun: Codable, Equatable, Sendable {
    public var learningRateSet: String
    /// The grid searched per task.
    public var learningRates: [Double]
    public var batchSizes: [Int]
    public var epochs: Int
    public var minimumSteps: Int
    public var trainCap: Int?
    public var evalCap: Int?
    public var expertDropoutRate: Double
    /// Train and eval capacity factor while fine-tuning, when the protocol overrides the model's.
    public var capacityFactor: Double?
    public var freeze: String
    /// The pre-training seed whose checkpoint is fine-tuned.
    public var fromSeed: Int
    /// Further pre-training seeds fine-tuned once each at the learning rate the grid chose (nil or empty: none).
    public var furtherSeeds: [Int]? = nil

    public init(learningRateSet: String, learningRates: [Double], batchSizes: [Int], epochs: Int, minimumSteps: Int,
                trainCap: Int?, evalCap: Int?, expertDropoutRate: Double, capacityFactor: Double?, freeze: String,
                fromSeed: Int) {
        self.learningRateSet = learningRateSet; self.learningRates = learningRates; self.batchSizes = batchSizes
        self.epochs = epochs; self.minimumSteps = minimumSteps; self.trainCap = trainCap; self.evalCap = evalCap
        self.expertDropoutRate = expertDropoutRate; self.capacityFactor = capacityFactor; self.freeze = freeze
        self.fromSeed = fromSeed
    }

    public var text: String {
        func g(_ x: Double) -> String { String(format: "%g", x) }
        return "LR set \(learningRateSet) {\(learningRates.map(g).joined(separator: ", "))}, batch "
            + batchSizes.map(String.init).joined(separator: "/") + ", \(epochs) epoch(s)"
            + (minimumSteps > 0 ? " (at least \(minimumSteps) steps)" : "")
            + ", train cap \(trainCap.map(String.init) ?? "all"), expert dropout \(g(expertDropoutRate))"
            + (capacityFactor.map { ", c \(g($0)) (train and eval)" } ?? "")
            + (freeze == "none" ? "" : ", freeze \(freeze)") + "; from seed \(fromSeed)'s checkpoint"
            + ((furtherSeeds ?? []).isEmpty ? "" : ", then seed" + (furtherSeeds!.count > 1 ? "s " : " ")
               + furtherSeeds!.map(String.init).joined(separator: ", ") + "'s at the chosen learning rate")
    }
}

/// What one variant row was trained as.
public struct TrainedRow: Codable, Equatable, Sendable {
    public var variant: String
    /// Nil: trained (or reused from the run cache). Otherwise why no run produced this row's accuracies; the
    /// configuration is then the one the scale would train.
    public var notRun: String?
    /// Where the row was trained when the report re-tabulates another table: "Table 9 'Sparse Mixer'".
    public var trainedIn: String?
    /// The model trained (the scale's `scaledConfig`) and the paper-size model it stands for.
    public var model: ModelSummary
    public var paperModel: ModelSummary
    /// One entry per pre-training batch size (two in Table 10).
    public var pretraining: [PretrainingRuns]
    /// Nil: not fine-tuned (--no-finetune, or the table fine-tunes nothing).
    public var fineTuning: FineTuneAsRun?
    /// Every [GUESS] behind the row: the catalog's for this variant, then the table's and the scale's.
    public var guesses: [String]

    public init(variant: String, notRun: String? = nil, trainedIn: String? = nil, model: ModelSummary,
                paperModel: ModelSummary, pretraining: [PretrainingRuns], fineTuning: FineTuneAsRun?,
                guesses: [String]) {
        self.variant = variant; self.notRun = notRun; self.trainedIn = trainedIn; self.model = model
        self.paperModel = paperModel; self.pretraining = pretraining; self.fineTuning = fineTuning
        self.guesses = guesses
    }

    /// The seeds of every pre-training run, in order, without repeats.
    public var seeds: [Int] {
        var out: [Int] = []
        for s in pretraining.flatMap(\.seeds) where !out.contains(s) { out.append(s) }
        return out
    }
}

extension ReportWriter {
    /// The "What was trained" section: one line per row (trained config beside the paper size, tokens per
    /// pre-training run, seeds, fine-tuning protocol, guesses); guesses shared by every row are printed once.
    static func trainedSection(_ r: Report) -> [String] {
        guard r.trained != nil || r.trainedNote != nil else { return [] }
        var md = ["## What was trained", ""]
        if let n = r.trainedNote { md.append(n); md.append("") }
        let rows = r.trained ?? []
        guard !rows.isEmpty else { return md }
        md.append("The configuration each accuracy row was trained with at scale "
            + "`\(r.scale.rawValue)`: the scale's config (paper-size values in parentheses where they differ), the "
            + "pre-training runs (batch x sequence x steps, tokens per run, one run per seed) and the fine-tuning "
            + "protocol, or \"not fine-tuned\" (the learning rate chosen per task is in the fine-tuning section). "
            + "Guesses: every [GUESS] of the configuration behind the row.")
        md.append("")
        let shared = rows.count > 1 ? rows[0].guesses.filter { g in rows.allSatisfy { $0.guesses.contains(g) } } : []
        if !shared.isEmpty {
            md.append("Behind every row: " + shared.joined(separator: "; ") + ".")
            md.append("")
        }
        md.append("| variant | trained config (paper) | pre-training | seeds | fine-tuning | guesses |")
        md.append("|---|---|---|---|---|---|")
        for t in rows {
            let pt = t.pretraining.map { (t.pretraining.count > 1 ? "paper batch \($0.paperBatch): " : "") + $0.text }
                .joined(separator: "; ")
            let own = t.guesses.filter { !shared.contains($0) }
            let status = (t.notRun.map { "**not run**: \($0); " } ?? "")
                + (t.trainedIn.map { "trained in \($0); " } ?? "")
            md.append("| \(Format.cell(t.variant)) | \(Format.cell(status + t.model.text(paper: t.paperModel))) | "
                + "\(pt.isEmpty ? "–" : pt) | "
                + "\(t.seeds.isEmpty ? "–" : t.seeds.map(String.init).joined(separator: ", ")) | "
                + "\(Format.cell(t.fineTuning?.text ?? "not fine-tuned")) | "
                + "\(own.isEmpty ? "–" : Format.cell(own.joined(separator: "; "))) |")
        }
        md.append("")
        return md
    }

    /// CSV rows of section "trained": one per field, ours = the trained value, published = the paper-size
    /// config's value; lists, the fine-tuning protocol and each guess in the notes column.
    static func trainedCSVRows(_ r: Report) -> [[String]] {
        let t = r.tableID.rawValue
        var rows: [[String]] = []
        if let n = r.trainedNote { rows.append([t, "trained", "", "note", "", "", "", n]) }
        for x in r.trained ?? [] {
            let v = x.variant, m = x.model, p = x.paperModel
            func add(_ metric: String, _ ours: Double?, _ paper: Double?, _ notes: String = "") {
                rows.append([t, "trained", v, metric, Format.raw(ours), Format.raw(paper), "", notes])
            }
            if let n = x.notRun { rows.append([t, "trained", v, "not_run", "", "", "", n]) }
            if let s = x.trainedIn { rows.append([t, "trained", v, "trained_in", "", "", "", s]) }
            rows.append([t, "trained", v, "architecture", "", "", "", m.architecture])
            let ints: [(String, KeyPath<ModelSummary, Int>)] = [
                ("d_model", \.dModel), ("d_emb", \.dEmb), ("d_ff", \.dFF), ("heads", \.numHeads),
                ("head_dim", \.headDim), ("layers", \.numLayers), ("experts", \.numExperts),
                ("expert_d_ff", \.expertDFF), ("max_group_size", \.maxGroupSize), ("vocab_size", \.vocabSize),
                ("seq_length", \.seqLength)]
            for (name, k) in ints { add(name, Double(m[keyPath: k]), Double(p[keyPath: k])) }
            add("attention_layers", Double(m.attentionLayers.count), Double(p.attentionLayers.count),
                m.attentionLayers.map(String.init).joined(separator: " "))
            add("moe_layers", Double(m.moeLayers.count), Double(p.moeLayers.count),
                m.moeLayers.map(String.init).joined(separator: " ") + (m.isSparse ? "; router \(m.router)" : ""))
            add("train_capacity_factor", m.trainCapacityFactor, p.trainCapacityFactor)
            add("eval_capacity_factor", m.evalCapacityFactor, p.evalCapacityFactor)
            for s in x.pretraining {
                let suffix = x.pretraining.count > 1 ? "@bs\(s.paperBatch)" : ""
                add("pretrain_batch" + suffix, Double(s.batch), nil)
                add("pretrain_steps" + suffix, Double(s.steps), nil)
                add("pretrain_tokens_per_run" + suffix, Double(s.tokensPerRun), nil,
                    "\(s.batch) x \(s.seqLength) x \(s.steps) steps")
                rows.append([t, "trained", v, "seeds" + suffix, "", "", "",
                             s.seeds.map(String.init).joined(separator: " ") + "; runs: "
                                + s.runDirectories.joined(separator: " ")])
            }
            if let f = x.fineTuning { rows.append([t, "trained", v, "fine_tuning", "", "", "", f.text]) }
            for g in x.guesses { rows.append([t, "trained", v, "guess", "", "", "", g]) }
        }
        return rows
    }
}
