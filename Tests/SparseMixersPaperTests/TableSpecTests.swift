import Foundation
import SparseMixers
import XCTest
@testable import SparseMixersPaper
import SparseMixersTraining

final class TableSpecTests: XCTestCase {
    func testEveryTableIsPresentAndEveryVariantValidates() throws {
        XCTAssertEqual(TableSpec.all.map(\.id), TableID.allCases)
        for t in TableSpec.all {
            XCTAssertFalse(t.variants.isEmpty, "\(t.id)")
            XCTAssertEqual(Set(t.variants.map(\.name)).count, t.variants.count, "duplicate names in \(t.id)")
            for v in t.runVariants {
                XCTAssertNoThrow(try v.config.validate(), "\(t.id) \(v.name)")
                if let p = v.pairedConfig { XCTAssertNoThrow(try p.validate(), "\(t.id) \(v.name) paired") }
                XCTAssertNoThrow(try v.fineTuning.apply(to: v.config).validate(), "\(t.id) \(v.name) fine-tuning")
            }
        }
    }

    /// The grids cover published_numbers.csv exactly: every published (variant, metric) is in a spec, and every
    /// spec (variant, metric) not marked unpublished has a published value.
    func testGridsMatchPublishedNumbersExactly() throws {
        let p = try PublishedNumbers.load()
        for t in TableSpec.all {
            guard let table = t.id.csvTable else { continue }
            let published = Set(p.rows(table: table).map { "\($0.variant)|\($0.metric)" })
            var ours = Set<String>()
            for v in t.variants { for m in v.publishedMetrics(in: t) { ours.insert("\(v.name)|\(m)") } }
            XCTAssertEqual(ours.subtracting(published), [], "table \(table): in spec, not published")
            XCTAssertEqual(published.subtracting(ours), [], "table \(table): published, not in spec")
            XCTAssertEqual(p.variants(table: table), t.variants.map(\.name), "table \(table) variant order")
        }
    }

    func testSpeedReferenceIsBERTBase() {
        for t in TableSpec.all where t.hasSpeed {
            guard let ref = t.speedReference else { return XCTFail("\(t.id) has speeds but no reference") }
            XCTAssertTrue(ref.isReference)
            XCTAssertEqual(ref.config, .bertBase, "\(t.id)")
            XCTAssertEqual(t.runVariants.filter(\.isReference).count, 1, "\(t.id)")
        }
        XCTAssertEqual(TableSpec.spec(.t8).speedReference?.name, "BERT")
        XCTAssertEqual(TableSpec.spec(.t1).runVariants.last?.name, "BERT Base (speed-up reference)")
        XCTAssertEqual(TableSpec.spec(.t1).runVariants.count, 6)
        XCTAssertEqual(TableSpec.spec(.t9).runVariants.count, 5)
    }

    func testLayerPlacementsOfSPEC() {
        func moe(_ id: TableID, _ name: String) -> [Int] { TableSpec.spec(id).variant(named: name)!.config.moeLayers }
        func attn(_ id: TableID, _ name: String) -> [Int] {
            TableSpec.spec(id).variant(named: name)!.config.attentionLayers
        }
        // Sparse Mixer Base.
        XCTAssertEqual(attn(.t8, "Sparse Mixer"), [10, 11, 12, 13])
        XCTAssertEqual(moe(.t8, "Sparse Mixer"), [5, 6, 7, 8])
        XCTAssertEqual(attn(.t8, "BERT"), Array(0..<12))
        XCTAssertEqual(moe(.t8, "BERT"), [])
        // Table 5.
        XCTAssertEqual(moe(.t5, "2-MIXED"), [0, 6])
        XCTAssertEqual(moe(.t5, "4-MIXED"), [0, 3, 6, 9])
        XCTAssertEqual(moe(.t5, "6-MIXED"), [0, 2, 4, 6, 8, 10])
        XCTAssertEqual(moe(.t5, "12-MIXED"), Array(0..<12))
        XCTAssertEqual(moe(.t5, "6-BOTTOM"), Array(0...5))
        XCTAssertEqual(moe(.t5, "6-MIDDLE"), Array(3...8))
        XCTAssertEqual(moe(.t5, "6-TOP"), Array(6...11))
        XCTAssertEqual(moe(.t5, "6-MIXED-odd"), [1, 3, 5, 7, 9, 11])
        for v in TableSpec.spec(.t5).variants { XCTAssertEqual(v.config.attentionLayers, [8, 9, 10, 11]) }
        // Table 11.
        XCTAssertEqual(attn(.t11, "BOTTOM"), [0, 1, 2, 3])
        XCTAssertEqual(attn(.t11, "MIDDLE"), [4, 5, 6, 7])
        XCTAssertEqual(attn(.t11, "MIXED"), [0, 3, 6, 9])
        XCTAssertEqual(attn(.t11, "TOP"), [8, 9, 10, 11])
        // Table 2 / Table 1.
        XCTAssertEqual(attn(.t2, "Linear-4"), [8, 9, 10, 11])
        XCTAssertEqual(attn(.t2, "Hartley-1"), [11])
        XCTAssertEqual(attn(.t2, "Hartley-0"), [])
        XCTAssertEqual(TableSpec.spec(.t1).variants.map(\.config.modelArch), [.fNet, .hNet, .cNet, .tNet, .linear])
        for v in TableSpec.spec(.t1).variants { XCTAssertEqual(v.config.attentionLayers + v.config.moeLayers, []) }
        // Table 13: 4 TOP attention at every depth.
        XCTAssertEqual(attn(.t13, "6 layers"), [2, 3, 4, 5])
        XCTAssertEqual(attn(.t13, "18 layers"), [14, 15, 16, 17])
        // Table 10 sparse BERTs.
        XCTAssertEqual(moe(.t10, "BERT-4 (sparse BERT)"), [4, 5, 6, 7])
        XCTAssertEqual(moe(.t10, "BERT-12 (sparse BERT)"), Array(0..<12))
        XCTAssertEqual(attn(.t10, "BERT-12 (sparse BERT)"), Array(0..<12))
        XCTAssertEqual(TableSpec.spec(.t10).variant(named: "BERT-4 (sparse BERT)")!.config.numExperts, 16)
        // MoE-ablation base of Tables 4, 14, 15, 19.
        for id in [TableID.t4, .t14, .t15, .t19] {
            for v in TableSpec.spec(id).variants {
                XCTAssertEqual(v.config.moeLayers, [0, 2, 4, 6, 8, 10], "\(id) \(v.name)")
                XCTAssertEqual(v.config.attentionLayers, [8, 9, 10, 11], "\(id) \(v.name)")
            }
        }
        // A5 size 1: every layer is attention + MoE.
        let a5 = TableSpec.spec(.a5).variants[0].config
        XCTAssertEqual(a5.attentionLayers, [0, 1]); XCTAssertEqual(a5.moeLayers, [0, 1])
    }

    func testShapesOfGuessedVariants() {
        let t3 = TableSpec.spec(.t3)
        for (name, d, h) in [("d_model=768", 768, 12), ("d_model=512", 512, 8), ("d_model=256", 256, 4),
                             ("d_model=128", 128, 2)] {
            let c = t3.variant(named: name)!.config
            XCTAssertEqual([c.dModel, c.dEmb, c.dFF, c.numHeads, c.headDim], [d, d, 3072, h, 64])
        }
        XCTAssertEqual(TableSpec.spec(.t4).variant(named: "Tokens Choose (TC)")!.config.dispatchAlgorithm,
                       .maskTokensChoose)
        let t9 = TableSpec.spec(.t9)
        XCTAssertEqual(t9.variant(named: "Fast Sparse Mixer (c=0.5)")!.config.evalCapacityFactor, 0.5)
        let a = t9.variant(named: "SM variant A (guess c=0.75)")!.config
        XCTAssertEqual([a.trainCapacityFactor, a.evalCapacityFactor], [0.75, 0.75])
        let c = t9.variant(named: "SM variant C (c=0.75 + unknown 2nd change)")!
        XCTAssertEqual(c.config.trainCapacityFactor, 0.75)
        XCTAssertEqual(c.config.maxGroupSize, 2048)
        XCTAssertFalse(c.guesses.isEmpty)
        XCTAssertEqual(TableSpec.spec(.t14).variants.map(\.config.numExperts), [8, 16, 32, 64])
        XCTAssertEqual(TableSpec.spec(.t15).variants.map(\.config.expertDFF), [1536, 3072, 6144, 12288])
        XCTAssertEqual(TableSpec.spec(.t12).variants.map(\.config.dFF), [3072, 2560, 2048, 1024, 768])
    }

    func testTable19FineTuningOptions() {
        let t = TableSpec.spec(.t19)
        for v in t.variants { XCTAssertEqual(v.config, .moeAblationBase) }
        func ft(_ n: String) -> FineTuneProtocol { t.variant(named: n)!.fineTuning }
        XCTAssertEqual((0...4).map { ft(String(format: "%.1f expert dropout", Double($0) / 10)).expertDropoutRate },
                       [0, 0.1, 0.2, 0.3, 0.4])
        XCTAssertEqual(ft("Default LR").learningRateSet, .standard)
        XCTAssertEqual(ft("Large LR").learningRateSet, .large)
        XCTAssertEqual(ft("c=2.0").capacityFactor, 2)
        let applied = ft("c=2.0").apply(to: .moeAblationBase)
        XCTAssertEqual([applied.trainCapacityFactor, applied.evalCapacityFactor], [2, 2])
        XCTAssertEqual(ft("Fine-tune All").freeze, FreezePolicy.none)
        XCTAssertEqual(ft("Freeze MoE").freeze, .moe)
        XCTAssertEqual(ft("Dense MLP (meaning unclear)").freeze, .denseMLP)
        XCTAssertFalse(t.variant(named: "Dense MLP (meaning unclear)")!.guesses.isEmpty)
        // The baseline rows are the same protocol.
        XCTAssertEqual(ft("0.2 expert dropout"), ft("Default LR"))
        XCTAssertEqual(ft("Default LR"), ft("Fine-tune All"))
        XCTAssertEqual(ft("c=1.0").apply(to: .moeAblationBase), ft("Default LR").apply(to: .moeAblationBase))
        // Coordinate-descent MoE tables use the large LR set, dense ones the default set.
        XCTAssertEqual(TableSpec.spec(.t4).variants[0].fineTuning.learningRateSet, .large)
        XCTAssertEqual(TableSpec.spec(.t1).variants[0].fineTuning.learningRateSet, .standard)
    }

    func testAppendixTablesPointAtTheirSources() {
        for id in [TableID.t6, .t7, .t16, .t17, .t18] {
            let t = TableSpec.spec(id)
            XCTAssertTrue(t.isDerived, "\(id)")
            for v in t.variants {
                guard let s = v.source else {
                    XCTAssertTrue(v.name.hasPrefix("SM variant B"), "\(id) \(v.name) has no source")
                    continue
                }
                XCTAssertTrue(t.derivedFrom.contains(s.table), "\(id) \(v.name)")
                guard let src = TableSpec.spec(s.table).variant(named: s.variant) else {
                    return XCTFail("\(id) \(v.name): source \(s) not found")
                }
                XCTAssertEqual(src.config, v.config, "\(id) \(v.name)")
            }
        }
        // The tables that run models are not derived; a derived table reads exactly the tables it names.
        for t in TableSpec.all where !t.isDerived {
            XCTAssertTrue(t.variants.allSatisfy { $0.source == nil }, "\(t.id) runs its models but names sources")
        }
        for t in TableSpec.all where t.isDerived {
            XCTAssertEqual(Set(t.variants.compactMap { $0.source?.table }), Set(t.derivedFrom), "\(t.id)")
            XCTAssertTrue(t.derivedFrom.allSatisfy { !TableSpec.spec($0).isDerived }, "\(t.id) reads a derived table")
        }
        // Tables 6 and 7 are the best-batch rows of 17 and 18 (SPEC §8: BERT bs16 / SM bs64 for GLUE), which are
        // Table 9's runs: they read Table 9's best-batch values; 17 and 18 read one batch size per row.
        XCTAssertEqual(TableSpec.spec(.t6).derivedFrom, [.t9])
        XCTAssertEqual(TableSpec.spec(.t6).variant(named: "Sparse Mixer")?.source, VariantSource(.t9, "Sparse Mixer"))
        XCTAssertEqual(TableSpec.spec(.t6).variant(named: "BERT")?.source?.sourceMetric("cola_acc"), "cola_acc")
        XCTAssertEqual(TableSpec.spec(.t17).variant(named: "BERT bs16")?.source?.sourceMetric("cola_acc"),
                       "cola_acc@bs16")
        XCTAssertEqual(TableSpec.spec(.t18).variant(named: "SM bs64")?.source,
                       VariantSource(.t9, "Sparse Mixer", batchSize: 64))
        let t17 = TableSpec.spec(.t17)
        XCTAssertEqual(t17.variant(named: "SM bs32")!.fineTuning.batchSizes, [32])
        XCTAssertEqual(t17.variant(named: "BERT-12 (sparse BERT) bs16")!.source,
                       VariantSource(.t10, "BERT-12 (sparse BERT)", batchSize: 16))
        XCTAssertEqual(TableSpec.spec(.t16).variant(named: "T4:Tokens Choose")!.source,
                       VariantSource(.t4, "Tokens Choose (TC)"))
    }

    func testA5AndFigures() throws {
        let p = try PublishedNumbers.load()
        let a5 = TableSpec.spec(.a5)
        for v in a5.variants {
            let sm = v.config, bert = v.pairedConfig!
            let ours: [String: Int] = [
                "bert_layers": bert.numLayers, "bert_d_model": bert.dModel, "bert_d_ff": bert.dFF,
                "sm_layers": sm.numLayers, "sm_d_model": sm.dModel, "sm_d_ff": sm.dFF,
                "sm_attention_layers": sm.attentionLayers.count, "sm_moe_layers": sm.moeLayers.count,
                "sm_num_experts": sm.numExperts,
            ]
            for (m, value) in ours {
                XCTAssertEqual(p.value(table: "A5", variant: v.name, metric: m), Double(value), "\(v.name) \(m)")
            }
        }
        let f2 = TableSpec.spec(.figure2)
        XCTAssertEqual(f2.variants.count, 12)
        XCTAssertEqual(f2.speedReference?.config, .bertBase)
        XCTAssertEqual(Set(f2.variants.compactMap(\.series)), ["BERT", "Sparse Mixer"])
        XCTAssertEqual(TableSpec.spec(.figure4).metrics.first, "nsp_acc")
        // One run of the A.5 models writes Figure 2, Figure 4 and Table A5; the command for any of them runs Figure2.
        XCTAssertEqual(TableSpec.spec(.figure2).alsoWrites, [.figure4, .a5])
        XCTAssertEqual(TableCatalog.target(of: .a5), .figure2)
        XCTAssertEqual(TableCatalog.target(of: .figure4), .figure2)
        XCTAssertEqual(TableCatalog.target(of: .t6), .t6)
        XCTAssertEqual(TableCatalog.command(.figure4, scale: .ci), "swift run -c release Figure2 --scale ci")
    }

    func testTableIDParsing() {
        XCTAssertEqual(TableID(parsing: "1"), .t1)
        XCTAssertEqual(TableID(parsing: "Table19"), .t19)
        XCTAssertEqual(TableID(parsing: "table A5"), .a5)
        XCTAssertEqual(TableID(parsing: "Figure2"), .figure2)
        XCTAssertNil(TableID(parsing: "20"))
        XCTAssertEqual(TableID.a5.fileStem, "TableA5")
        XCTAssertEqual(TableID.figure4.fileStem, "Figure4")
    }
}
