import XCTest
@testable import SparseMixersData

/// Metrics on hand-computed cases (SPEC §5.5).
final class MetricsTests: XCTestCase {
    func testAccuracyAndBinaryF1() {
        // labels 1 1 0 0 1, predictions 1 0 0 1 1 → TP 2, FP 1, FN 1, TN 1.
        let y = [1, 1, 0, 0, 1], p = [1, 0, 0, 1, 1]
        XCTAssertEqual(Metrics.accuracy(p, y), 3.0 / 5.0, accuracy: 1e-12)
        XCTAssertEqual(Metrics.f1(p, y), 4.0 / 6.0, accuracy: 1e-12)   // 2TP/(2TP+FP+FN)
        XCTAssertEqual(Metrics.f1([0, 0], [0, 0]), 0)                   // no positives anywhere → 0
    }

    func testMatthewsCorrelation() {
        let y = [1, 1, 0, 0, 1], p = [1, 0, 0, 1, 1]
        // (TP·TN − FP·FN)/sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2−1)/sqrt(3·3·2·2) = 1/6
        XCTAssertEqual(Metrics.matthewsCorrelation(p, y), 1.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(Metrics.matthewsCorrelation([1, 1, 1], [1, 0, 1]), 0)  // constant prediction
        XCTAssertEqual(Metrics.matthewsCorrelation([0, 1, 0, 1], [0, 1, 0, 1]), 1, accuracy: 1e-12)
    }

    func testMacroF1() {
        // 3 classes. labels 0 0 1 2 2 2, preds 0 1 1 2 2 0.
        // class 0: TP1 FP1 FN1 → 2/4 = .5; class 1: TP1 FP1 FN0 → 2/3; class 2: TP2 FP0 FN1 → 4/5.
        let y = [0, 0, 1, 2, 2, 2], p = [0, 1, 1, 2, 2, 0]
        XCTAssertEqual(Metrics.macroF1(p, y), (0.5 + 2.0 / 3.0 + 0.8) / 3, accuracy: 1e-12)
        // sklearn's default averages over classes present; official CB scoring uses all 3.
        XCTAssertEqual(Metrics.macroF1([0, 0], [0, 1]), (2.0 / 3.0 + 0) / 2, accuracy: 1e-12)
        XCTAssertEqual(Metrics.macroF1([0, 0], [0, 1], classes: [0, 1, 2]), (2.0 / 3.0) / 3, accuracy: 1e-12)
    }

    func testRanksAverageTies() {
        XCTAssertEqual(Metrics.ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
        XCTAssertEqual(Metrics.ranks([3, 1, 3, 3]), [3, 1, 3, 3])
    }

    func testPearsonAndSpearmanWithTies() {
        XCTAssertEqual(Metrics.pearson([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
        XCTAssertEqual(Metrics.pearson([1, 2, 3], [3, 2, 1]), -1, accuracy: 1e-12)
        // x = 1 2 3 4, y = 1 2 2 3 → ranks y = 1 2.5 2.5 4; Pearson(1..4, ranks) = 4.5/sqrt(5·4.5).
        XCTAssertEqual(Metrics.spearman([1, 2, 3, 4], [1, 2, 2, 3]), 4.5 / (5 * 4.5).squareRoot(), accuracy: 1e-12)
        // Monotone but non-linear: Spearman 1, Pearson below 1.
        XCTAssertEqual(Metrics.spearman([1, 2, 3, 4], [1, 4, 9, 100]), 1, accuracy: 1e-12)
        XCTAssertLessThan(Metrics.pearson([1, 2, 3, 4], [1, 4, 9, 100]), 0.95)
    }

    func testMultiRCPaperAndOfficial() throws {
        // Two questions: q7 has answers (1,0,1), q9 has (0,0). Predictions (1,1,1) and (0,0).
        func row(_ g: Int, _ l: Int) -> TaskExample {
            TaskExample(segments: ["q", "a", "p"], label: .category(l), group: g, line: 1)
        }
        let ex = [row(7, 1), row(7, 0), row(7, 1), row(9, 0), row(9, 0)]
        let preds = TaskPredictions.classes([1, 1, 1, 0, 0])
        let paper = try TaskScores.paper(task: .multirc, examples: ex, predictions: preds)
        // paper f1a = micro F1 = answer accuracy = 4/5; EM = 1/2 (q9 only).
        XCTAssertEqual(paper, [Score("f1a", 80), Score("em", 50)])
        let official = try TaskScores.official(task: .multirc, examples: ex, predictions: preds)
        // official f1a = positive-class F1: TP 2, FP 1, FN 0 → 4/5.
        XCTAssertEqual(official[0].value, 80, accuracy: 1e-9)
        XCTAssertEqual(official[1].value, 50, accuracy: 1e-9)
        // A case where the two differ: predict all 0 → accuracy 3/5 (paper), positive F1 0 (official).
        let zero = TaskPredictions.classes([0, 0, 0, 0, 0])
        XCTAssertEqual(try TaskScores.paper(task: .multirc, examples: ex, predictions: zero)[0].value, 60,
                       accuracy: 1e-9)
        XCTAssertEqual(try TaskScores.official(task: .multirc, examples: ex, predictions: zero)[0].value, 0,
                       accuracy: 1e-9)
    }

    func testCOPAAccuracyPerExampleArgmax() throws {
        // Example 0: choice 2 correct, scores favour 2 → right. Example 1: choice 1 correct, tie → first (choice 1)
        // → right. Example 2: choice 1 correct, scores favour 2 → wrong.
        func row(_ g: Int, _ t: Double) -> TaskExample {
            TaskExample(segments: ["p", "cause", "c"], label: .score(t), group: g, line: 1)
        }
        let ex = [row(0, 0), row(0, 1), row(1, 1), row(1, 0), row(2, 1), row(2, 0)]
        let s = try TaskScores.paper(task: .copa, examples: ex, predictions: .scores([0.1, 0.9, 0.5, 0.5, 0.2, 0.3]))
        XCTAssertEqual(s[0].value, 200.0 / 3.0, accuracy: 1e-9)
    }

    func testReCoRDPaperAndOfficial() throws {
        // Query 1: candidates "Obama", "the White House", gold ["Barack Obama"] (not a candidate string,
        // so both rows have target 0 except where equal). Query 2: gold "Paris".
        func row(_ g: Int, _ e: String, _ gold: [String]) -> TaskExample {
            TaskExample(segments: [e, "q", "p"], label: .score(gold.contains(e) ? 1 : 0), group: g, line: 1,
                        candidate: e, answers: gold)
        }
        let ex = [row(1, "Obama", ["Barack Obama"]), row(1, "the White House", ["Barack Obama"]),
                  row(2, "London", ["Paris"]), row(2, "Paris", ["Paris"])]
        let scores = TaskPredictions.scores([0.9, 0.1, 0.2, 0.8])
        let paper = try TaskScores.paper(task: .record, examples: ex, predictions: scores)
        // EM = 1/2 (query 2); F1 = 2EM/(1+EM) = 2/3.
        XCTAssertEqual(paper[1].value, 50, accuracy: 1e-9)
        XCTAssertEqual(paper[0].value, 200.0 / 3.0, accuracy: 1e-9)
        let official = try TaskScores.official(task: .record, examples: ex, predictions: scores)
        // Query 1 token F1("Obama", "Barack Obama") = 2·1·0.5/1.5 = 2/3, EM 0; query 2: F1 1, EM 1.
        XCTAssertEqual(official[0].value, 100 * (2.0 / 3.0 + 1) / 2, accuracy: 1e-9)
        XCTAssertEqual(official[1].value, 50, accuracy: 1e-9)
    }

    func testSQuADNormalisation() {
        XCTAssertEqual(Metrics.normalizeAnswer("The  Eiffel-Tower!"), "eiffeltower")
        XCTAssertEqual(Metrics.normalizeAnswer("an apple a day"), "apple day")
        XCTAssertEqual(Metrics.tokenF1(prediction: "the cat sat", gold: "cat sat down"), 0.8, accuracy: 1e-12)
    }

    func testTaskScoresPaperVersusOfficialCoLAAndSTSB() throws {
        func cls(_ l: Int) -> TaskExample { TaskExample(segments: ["s"], label: .category(l), group: 0, line: 1) }
        let cola = [cls(1), cls(1), cls(0), cls(0), cls(1)]
        let p = TaskPredictions.classes([1, 0, 0, 1, 1])
        XCTAssertEqual(try TaskScores.paper(task: .cola, examples: cola, predictions: p), [Score("accuracy", 60)])
        XCTAssertEqual(try TaskScores.official(task: .cola, examples: cola, predictions: p)[0].value, 100.0 / 6.0,
                       accuracy: 1e-9)
        func reg(_ s: Double) -> TaskExample { TaskExample(segments: ["a", "b"], label: .score(s), group: 0, line: 1) }
        let stsb = [reg(1), reg(2), reg(2), reg(3)]
        let paper = try TaskScores.paper(task: .stsb, examples: stsb, predictions: .scores([1, 2, 3, 4]))
        XCTAssertEqual(paper.map(\.name), ["spearman"])
        XCTAssertEqual(paper[0].value, 100 * 4.5 / (5 * 4.5).squareRoot(), accuracy: 1e-9)
        let official = try TaskScores.official(task: .stsb, examples: stsb, predictions: .scores([1, 2, 3, 4]))
        XCTAssertEqual(official.map(\.name), ["pearson", "spearman"])
        // Wrong kind of prediction is an error, not a crash.
        XCTAssertThrowsError(try TaskScores.paper(task: .stsb, examples: stsb, predictions: .classes([0, 0, 0, 0])))
    }

    func testMRPCAndCBPairs() throws {
        func cls(_ l: Int) -> TaskExample { TaskExample(segments: ["a", "b"], label: .category(l), group: 0, line: 1) }
        let mrpc = [1, 1, 0, 0, 1].map(cls)
        let s = try TaskScores.paper(task: .mrpc, examples: mrpc, predictions: .classes([1, 0, 0, 1, 1]))
        XCTAssertEqual(s.map(\.name), ["f1", "accuracy"])
        XCTAssertEqual(s[0].value, 400.0 / 6.0, accuracy: 1e-9)
        let cb = [0, 0, 1, 2, 2, 2].map(cls)
        let c = try TaskScores.paper(task: .cb, examples: cb, predictions: .classes([0, 1, 1, 2, 2, 0]))
        XCTAssertEqual(c[0].value, 100 * (0.5 + 2.0 / 3.0 + 0.8) / 3, accuracy: 1e-9)
        XCTAssertEqual(c[1].value, 100 * 4.0 / 6.0, accuracy: 1e-9)
    }

    func testBenchmarkAverages() {
        // SM row of Table 6-style numbers: average of 11 numbers.
        let g = TaskScores.glueAverage(mnliMatched: 80, mnliMismatched: 81, qqpF1: 85, qqpAccuracy: 89, qnli: 88,
                                       sst2: 92, cola: 80, stsb: 86, mrpcF1: 88, mrpcAccuracy: 84, rte: 66)
        let glueNumbers: [Double] = [80, 81, 85, 89, 88, 92, 80, 86, 88, 84, 66]
        XCTAssertEqual(g, glueNumbers.reduce(0, +) / 11, accuracy: 1e-12)
        let sg = TaskScores.superglueAverage(boolq: 75, cbF1: 80, cbAccuracy: 85, copa: 60, multircF1a: 70,
                                             multircEM: 20, recordF1: 66.7, recordEM: 50, rte: 66, wic: 65)
        let sgNumbers: [Double] = [75, 80, 85, 60, 70, 20, 66.7, 50, 66, 65]
        XCTAssertEqual(sg, sgNumbers.reduce(0, +) / 10, accuracy: 1e-12)
    }
}
