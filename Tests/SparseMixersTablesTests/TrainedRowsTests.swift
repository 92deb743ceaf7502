import Foundation
import XCTest
import SparseMixers
@testable import SparseMixersPaper
@testable import SparseMixersReports
@testable import SparseMixersTraining
@testable import SparseMixersTables

/// "What was trained" (issue 13, item 4): each accuracy row of a report names the scaled configuration the runner
/// trained, its pre-training tokens and seeds, its fine-tuning protocol and every guess behind it.
final class TrainedRowsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("trained-rows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func settings(_ scale: Scale = .ci) -> TableRunSettings {
        var s = TableRunSettings(scale: scale, shape: SpeedShape(batch: 2, seq: 8), threads: 1, output: dir,
                                 memoryBudget: 1e12)
        s.allowDebugTiming = true
        s.log = { _ in }
        s.progress = nil
        s.readPeak = nil
        return s
    }

    /// Table 9 with stand-in accuracies (no speed phase): every variant's trained width, heads and tokens, its
    /// guesses (variants A and C), its seeds and fine-tuning protocol, in the Markdown, the CSV and the JSON.
    func testAReportFromAFakeRunSaysWhatEachRowTrained() throws {
        var spec = TableSpec.spec(.t9)
        spec.speedReference = nil
        let notRun = "SM variant C (c=0.75 + unknown 2nd change)"
        let r = try TableRunner(settings: settings(), published: nil, accuracy: { req in
            req.variant.name == notRun
                ? AccuracyOutcome(skipped: [SkippedItem(item: "pre-training", reason: "stand-in: no corpus")])
                : AccuracyOutcome(metrics: ["glue_avg": 50])
        }, control: nil).report(for: spec)
        let ci = Scale.ci.settings
        let trained = try XCTUnwrap(r.trained)
        XCTAssertEqual(trained.map(\.variant), spec.variants.map(\.name))
        for (t, v) in zip(trained, spec.variants) {
            XCTAssertEqual(t.model, ModelSummary(ci.scaledConfig(v.config)), "the config the runner trains")
            XCTAssertEqual(t.paperModel, ModelSummary(v.config))
            XCTAssertEqual(t.model.dModel, ci.width(v.config.dModel))
            XCTAssertNotEqual(t.model.dModel, v.config.dModel)
            XCTAssertEqual(t.model.numHeads, ScaleSettings.heads(paperHeads: v.config.numHeads, dModel: t.model.dModel))
            XCTAssertEqual(t.model.seqLength, ci.seqLength)
            XCTAssertEqual(t.pretraining.count, 1)
            XCTAssertEqual(t.pretraining[0].batch, ci.pretrainBatch)
            XCTAssertEqual(t.pretraining[0].steps, ci.fullSteps, "Table 9 pre-trains on the full schedule")
            XCTAssertEqual(t.pretraining[0].tokensPerRun, ci.pretrainBatch * ci.seqLength * ci.fullSteps)
            XCTAssertEqual(t.seeds, [0])
            XCTAssertEqual(t.pretraining[0].runDirectories.count, 1)
            XCTAssertEqual(t.fineTuning?.learningRateSet, "wide")
            XCTAssertEqual(t.fineTuning?.learningRates, ci.learningRates(.wide))
            XCTAssertEqual(t.fineTuning?.batchSizes, [16, 32, 64].map(ci.fineTuneBatch))
            XCTAssertEqual(t.guesses, v.guesses, "at ci the table's protocol guesses are the scale's own numbers")
            XCTAssertEqual(t.notRun == nil, v.name != notRun)
        }
        let a = trained[3], c = trained[4]
        XCTAssertEqual(a.model.trainCapacityFactor, 0.75)
        XCTAssertTrue(a.guesses.contains { $0.contains("c_train = c_eval = 0.75 [GUESS") })
        XCTAssertTrue(c.guesses.contains { $0.contains("max_group_size 2048 [GUESS") })
        XCTAssertEqual(c.model.maxGroupSize, 2048 * ci.seqLength / 512)
        XCTAssertTrue(c.notRun?.contains("stand-in: no corpus") ?? false)

        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("## What was trained"))
        XCTAssertTrue(md.contains("| Sparse Mixer | LINEAR, d_model 32 (512), d_emb 32 (512), d_ff 128 (2048), "
                                  + "1 head x 32 (8 x 64), 14 layers: 4 attention, 4 MoE, 16 experts"), md)
        XCTAssertTrue(md.contains("| BERT | BERT, d_model 48 (768), d_emb 48 (768), d_ff 192 (3072), 1 "
                                  + "head x 48 (12 x 64)"), md)
        XCTAssertTrue(md.contains("8 x 64 x 100 steps = 51,200 tokens per run"), md)
        XCTAssertTrue(md.contains("c_train = c_eval = 0.75 [GUESS"))
        XCTAssertTrue(md.contains("**not run**: pre-training: stand-in: no corpus"))
        XCTAssertTrue(md.contains("LR set wide {0.001}, batch 4/8/16"), md)

        let csv = ReportWriter.csv(r)
        XCTAssertTrue(csv.contains("9,trained,Sparse Mixer,d_model,32.0,512.0,"), csv)
        XCTAssertTrue(csv.contains("9,trained,Sparse Mixer,heads,1.0,8.0,"))
        XCTAssertTrue(csv.contains("9,trained,Sparse Mixer,pretrain_tokens_per_run,51200.0,"))
        XCTAssertTrue(csv.contains("c_train = c_eval = 0.75 [GUESS"))

        let back = try ReportWriter.decode(ReportWriter.json(r))
        XCTAssertEqual(back.trained, r.trained)
    }

    /// Table 10: two pre-training batch sizes per row, the sparse BERTs' guesses and the batch-column guess.
    func testStabilityRowsListBothBatchSizesAndTheirGuesses() throws {
        var spec = TableSpec.spec(.t10)
        spec.speedReference = nil
        var s = settings(); s.fineTune = false
        let r = try TableRunner(settings: s, published: nil, accuracy: { _ in
            AccuracyOutcome(metrics: ["stable_64": 1, "stable_256": 1])
        }, control: nil).report(for: spec)
        let ci = Scale.ci.settings
        let bert12 = try XCTUnwrap(r.trained?.first { $0.variant == "BERT-12 (sparse BERT)" })
        XCTAssertEqual(bert12.pretraining.map(\.paperBatch), [64, 256])
        XCTAssertEqual(bert12.pretraining.map(\.batch), [ci.pretrainBatch, 4 * ci.pretrainBatch])
        XCTAssertEqual(bert12.model.moeLayers.count, 12)
        XCTAssertEqual(bert12.model.expertDFF, ci.width(3072))
        XCTAssertNil(bert12.fineTuning, "--no-finetune")
        XCTAssertTrue(bert12.guesses.contains { $0.contains("16 experts, EC routing") })
        XCTAssertTrue(bert12.guesses.contains { $0.contains("columns 64/256 are pre-training batch sizes") })
        let md = ReportWriter.markdown(r)
        XCTAssertTrue(md.contains("Behind every row: columns 64/256 are pre-training batch sizes"), "printed once")
        XCTAssertTrue(md.contains("paper batch 256: 32 x 64 x 100 steps = 204,800 tokens per run"), md)
    }

    func testSpeedOnlyClaimsNoTrainedConfiguration() throws {
        var s = settings(); s.speedOnly = true
        let r = try TableRunner(settings: s, published: nil).report(for: TableSpec.spec(.t19))
        XCTAssertNil(r.trained)
        XCTAssertEqual(r.trainedNote, WhatWasTrained.speedOnlyNote)
        XCTAssertTrue(ReportWriter.markdown(r).contains("not run (--speed-only): no trained configuration is claimed"))
    }

    /// A derived table carries its source rows' trained configuration under its own row names.
    func testDerivedTableCarriesTheSourceRowsTrainedConfiguration() throws {
        var spec = TableSpec.spec(.t9)
        spec.speedReference = nil
        let t9 = try TableRunner(settings: settings(), published: nil, accuracy: { _ in
            AccuracyOutcome(metrics: ["glue_avg": 50, "rte_acc": 55])
        }, control: nil).report(for: spec)
        try ReportWriter(directory: dir).write(t9)
        let t6 = try TableRunner(settings: settings(), published: nil).report(for: TableSpec.spec(.t6))
        let sm = try XCTUnwrap(t6.trained?.first { $0.variant == "Sparse Mixer" })
        XCTAssertEqual(sm.trainedIn, "Table 9 'Sparse Mixer'")
        XCTAssertEqual(sm.model, t9.trained?.first { $0.variant == "Sparse Mixer" }?.model)
    }

    /// Table A5 at ci: ours are the sizes trained for the figures, beside the paper's; at paper scale they agree.
    func testTableA5ShowsTrainedSizesBesideThePapersAtCI() throws {
        let published = try PublishedNumbers.load()
        let r = try TableRunner(settings: settings(), published: published).report(for: TableSpec.spec(.a5))
        let ci = Scale.ci.settings
        func row(_ m: String) throws -> ReportRow {
            try XCTUnwrap(r.rows.first { $0.variant == "Base" && $0.metric == m })
        }
        XCTAssertEqual(try row("sm_d_model").ours, Double(ci.width(512)))
        XCTAssertEqual(try row("sm_d_model").published, 512)
        XCTAssertEqual(try row("bert_d_model").ours, Double(ci.width(768)))
        XCTAssertEqual(try row("bert_d_model").published, 768)
        XCTAssertEqual(try row("sm_layers").ours, try row("sm_layers").published, "layers are kept")
        XCTAssertNotEqual(try row("bert_d_ff").ours, try row("bert_d_ff").published)
        XCTAssertEqual(try row("sm_heads").ours, 1)
        XCTAssertTrue(try row("sm_heads").notes.contains("paper-size config: 8"))
        XCTAssertTrue(try row("sm_d_model").notes.hasPrefix("trained at ci"))
        XCTAssertTrue(try row("sm_params_m").notes.contains("paper size"))
        let paper = try TableRunner(settings: settings(.paper), published: published).report(for: TableSpec.spec(.a5))
        for x in paper.rows where x.published != nil { XCTAssertEqual(x.ours, x.published, "\(x.variant) \(x.metric)") }
    }
}
