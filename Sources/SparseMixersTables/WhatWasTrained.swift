import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersReports
import SparseMixersTraining

/// Builds a report's "What was trained" rows (`TrainedRow`) from what the runner trains: the scaled variant
/// (`ScaleSettings.scaled`, whose config is `scaledConfig`) and its pre-training plan (`VariantAccuracy.plan`,
/// which `VariantAccuracy.run` follows), so the rows cannot claim another configuration than the one that ran.
public enum WhatWasTrained {
    /// One row per run variant of a scaled table. `outcomes` (in `variants` order) say which produced nothing.
    public static func rows(spec: TableSpec, scaled: TableSpec, variants: [VariantSpec], outcomes: [AccuracyOutcome],
                            settings: ScaleSettings, fineTune: Bool, workDirectory: URL) -> [TrainedRow] {
        zip(variants, outcomes).map { v, o in
            let paper = spec.runVariants.first { $0.name == v.name } ?? v
            var row = row(variant: v, paper: paper, table: scaled, paperTable: spec, settings: settings,
                          fineTune: fineTune, workDirectory: workDirectory)
            if o.metrics.isEmpty && o.seedRuns.isEmpty && o.fineTune.isEmpty {
                row.notRun = o.skipped.isEmpty ? "no run produced a value"
                    : o.skipped.map { "\($0.item): \($0.reason)" }.joined(separator: "; ")
            }
            return row
        }
    }

    /// The row of one scaled variant (`variant`) standing for `paper` (the same row at paper size).
    public static func row(variant v: VariantSpec, paper: VariantSpec, table: TableSpec, paperTable: TableSpec,
                           settings: ScaleSettings, fineTune: Bool, workDirectory: URL) -> TrainedRow {
        let plan = VariantAccuracy.plan(table: table, variant: v, settings: settings, fineTune: fineTune)
        var byBatch: [PretrainingRuns] = []
        for run in plan.pretraining {
            let dir = Pretrainer.directory(for: v.config, options: run.options, under: workDirectory).lastPathComponent
            if let k = byBatch.firstIndex(where: {
                $0.paperBatch == run.paperBatch && $0.batch == run.options.batchSize
            }) {
                byBatch[k].seeds.append(Int(run.options.seed)); byBatch[k].runDirectories.append(dir)
            } else {
                byBatch.append(PretrainingRuns(paperBatch: run.paperBatch, batch: run.options.batchSize,
                                               seqLength: table.pretraining.seqLength, steps: run.options.steps,
                                               seeds: [Int(run.options.seed)], runDirectories: [dir]))
            }
        }
        var ft = plan.grid.map { g in
            FineTuneAsRun(learningRateSet: g.protocolOptions.learningRateSet.rawValue, learningRates: g.learningRates,
                          batchSizes: g.batchSizes, epochs: g.protocolOptions.epochs, minimumSteps: g.minimumSteps,
                          trainCap: g.trainCap, evalCap: g.evalCap,
                          expertDropoutRate: Double(g.protocolOptions.expertDropoutRate),
                          capacityFactor: g.protocolOptions.capacityFactor.map(Double.init),
                          freeze: g.protocolOptions.freeze.rawValue, fromSeed: 0)
        }
        let further = VariantAccuracy.fineTuneSeeds(plan, settings: settings)
        if !further.isEmpty { ft?.furtherSeeds = further }
        return TrainedRow(variant: v.name, model: ModelSummary(v.config), paperModel: ModelSummary(paper.config),
                          pretraining: byBatch, fineTuning: ft,
                          guesses: paper.guesses + tableGuesses(paperTable, settings: settings, fineTuned: ft != nil))
    }

    /// Guesses of the table's protocol that stand behind every row at this scale: the paper-scale step counts,
    /// batch sizes and learning-rate values the paper lost (at other scales those numbers are the scale's own).
    static func tableGuesses(_ t: TableSpec, settings: ScaleSettings, fineTuned: Bool) -> [String] {
        var out: [String] = []
        if t.pretraining.batchSizes.count > 1 {
            out.append("columns " + t.pretraining.batchSizes.map(String.init).joined(separator: "/")
                + " are pre-training batch sizes; stable = did not diverge [GUESS]")
        }
        guard settings.scale == .paper else { return out }
        if t.pretraining.stepsAreGuessed { out.append("pre-training steps \(t.pretraining.steps) [GUESS]") }
        if t.pretraining.regime == .scaling { out.append("batch 64 for the size models [GUESS]") }
        if fineTuned { out.append("fine-tuning learning-rate values [GUESS: lost in extraction]") }
        return out
    }

    /// What a `--speed-only` report says in place of the rows.
    public static let speedOnlyNote = "The accuracy rows were not run (--speed-only): no trained configuration is "
        + "claimed. The speed section times the paper-size models."
}
