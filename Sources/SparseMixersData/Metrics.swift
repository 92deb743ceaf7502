import Foundation

/// Evaluation metrics, both as the paper's code computed them (SPEC §5.5, `run_classifier.py`
/// `_create_eval_metrics_fn`) and as the official GLUE/SuperGLUE scorers define them.
///
/// The primitive functions return fractions (correlations in [-1, 1]); `TaskScores` reports
/// percentages, as the paper's tables do.
public enum Metrics {
    // MARK: Classification primitives

    public static func accuracy(_ predictions: [Int], _ labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "accuracy: length mismatch")
        guard !labels.isEmpty else { return 0 }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// F1 of one class (sklearn `f1_score(average="binary")`): 2TP / (2TP + FP + FN); 0 when the
    /// class never occurs in labels or predictions (sklearn's zero_division default).
    public static func f1(_ predictions: [Int], _ labels: [Int], positive: Int = 1) -> Double {
        precondition(predictions.count == labels.count, "f1: length mismatch")
        var tp = 0, fp = 0, fn = 0
        for (p, l) in zip(predictions, labels) {
            if p == positive && l == positive {
                tp += 1
            } else if p == positive {
                fp += 1
            } else if l == positive {
                fn += 1
            }
        }
        let d = 2 * tp + fp + fn
        return d == 0 ? 0 : Double(2 * tp) / Double(d)
    }

    /// Macro F1 (sklearn `average="macro"`): the mean per-class F1 over the classes present in labels
    /// or predictions (or over `classes` when given).
    public static func macroF1(_ predictions: [Int], _ labels: [Int], classes: [Int]? = nil) -> Double {
        let cs = classes ?? Array(Set(predictions).union(labels)).sorted()
        guard !cs.isEmpty else { return 0 }
        return cs.map { f1(predictions, labels, positive: $0) }.reduce(0, +) / Double(cs.count)
    }

    /// Matthews correlation coefficient for binary labels (the official CoLA metric); 0 when a
    /// marginal is empty (sklearn's convention).
    public static func matthewsCorrelation(_ predictions: [Int], _ labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "mcc: length mismatch")
        var tp = 0.0, tn = 0.0, fp = 0.0, fn = 0.0
        for (p, l) in zip(predictions, labels) {
            switch (p == 1, l == 1) {
            case (true, true): tp += 1
            case (false, false): tn += 1
            case (true, false): fp += 1
            case (false, true): fn += 1
            }
        }
        let d = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)).squareRoot()
        return d == 0 ? 0 : (tp * tn - fp * fn) / d
    }

    // MARK: Correlations

    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        precondition(x.count == y.count && x.count > 1, "pearson: need two equal-length series")
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
        let d = (sxx * syy).squareRoot()
        return d == 0 ? .nan : sxy / d
    }

    /// Ranks starting at 1; tied values get the average of their ranks (scipy `rankdata`).
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    /// Spearman rank correlation: Pearson on average ranks (scipy `spearmanr`).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double { pearson(ranks(x), ranks(y)) }

    // MARK: Grouped tasks

    /// Rows grouped by id in order of first appearance (as the reference's dict of idx).
    static func grouped(_ groups: [Int]) -> [[Int]] {
        var order: [Int] = [], rows: [Int: [Int]] = [:]
        for (i, g) in groups.enumerated() {
            if rows[g] == nil { order.append(g) }
            rows[g, default: []].append(i)
        }
        return order.map { rows[$0]! }
    }

    /// For each group, the row with the highest score (first on ties, as `np.argmax`).
    public static func argmaxPerGroup(scores: [Double], groups: [Int]) -> [Int] {
        grouped(groups).map { rows in rows.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }! }
    }

    /// Fraction of groups whose top-scored row is a correct one (label > 0.5). COPA accuracy and
    /// the paper's ReCoRD EM.
    public static func groupTopAccuracy(scores: [Double], labels: [Double], groups: [Int]) -> Double {
        let top = argmaxPerGroup(scores: scores, groups: groups)
        guard !top.isEmpty else { return 0 }
        return Double(top.filter { labels[$0] > 0.5 }.count) / Double(top.count)
    }

    /// Fraction of groups whose every row is predicted correctly (MultiRC EM).
    public static func groupExactMatch(_ predictions: [Int], _ labels: [Int], groups: [Int]) -> Double {
        let g = grouped(groups)
        guard !g.isEmpty else { return 0 }
        return Double(g.filter { rows in rows.allSatisfy { predictions[$0] == labels[$0] } }.count) / Double(g.count)
    }

    // MARK: SQuAD-style text metrics (official ReCoRD)

    /// Lower-case, drop ASCII punctuation (Python's `string.punctuation`), drop the articles
    /// a/an/the, collapse whitespace: the official ReCoRD / SQuAD `normalize_answer`.
    public static func normalizeAnswer(_ s: String) -> String {
        let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
        let noPunct = String(s.lowercased().filter { !punctuation.contains($0) })
        let words = noPunct.split(whereSeparator: { $0.isWhitespace }).filter { $0 != "a" && $0 != "an" && $0 != "the" }
        return words.joined(separator: " ")
    }

    /// Token-level F1 between a prediction and one gold answer after normalisation.
    public static func tokenF1(prediction: String, gold: String) -> Double {
        let p = normalizeAnswer(prediction).split(separator: " ").map(String.init)
        let g = normalizeAnswer(gold).split(separator: " ").map(String.init)
        var counts: [String: Int] = [:]
        for t in g { counts[t, default: 0] += 1 }
        var common = 0
        for t in p where (counts[t] ?? 0) > 0 { counts[t]! -= 1; common += 1 }
        if common == 0 { return 0 }
        let precision = Double(common) / Double(p.count), recall = Double(common) / Double(g.count)
        return 2 * precision * recall / (precision + recall)
    }

    /// Official ReCoRD: per query, max over gold answers of exact match / token F1 of the predicted
    /// entity; averaged over queries. Returns (f1, em) as fractions.
    public static func recordOfficial(predictions: [String], answers: [[String]]) -> (f1: Double, em: Double) {
        precondition(predictions.count == answers.count)
        guard !predictions.isEmpty else { return (0, 0) }
        var f1Sum = 0.0, emSum = 0.0
        for (p, golds) in zip(predictions, answers) {
            emSum += golds.contains { normalizeAnswer($0) == normalizeAnswer(p) } ? 1 : 0
            f1Sum += golds.map { tokenF1(prediction: p, gold: $0) }.max() ?? 0
        }
        return (f1Sum / Double(predictions.count), emSum / Double(predictions.count))
    }
}

/// A named score in percent, e.g. ("f1", 88.2).
public struct Score: Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: Double
    public init(_ name: String, _ value: Double) { self.name = name; self.value = value }
    public var description: String { String(format: "%@ %.2f", name, value) }
}

/// Model outputs for one encoded split: a class per row (classification) or a score per row
/// (regression: STS-B, COPA, ReCoRD).
public enum TaskPredictions: Sendable {
    case classes([Int])
    case scores([Double])
}

/// Per-task scores in percent, as the paper printed them and as the official scorers define them.
public enum TaskScores {
    /// SPEC §5.5: CoLA accuracy; STS-B Spearman×100; MRPC/QQP F1 and accuracy; CB macro-F1 and
    /// accuracy; COPA top-choice accuracy; MultiRC "f1a" (= micro-F1 over answers = answer accuracy)
    /// and EM per question; ReCoRD EM and F1 = 2EM/(1+EM); others accuracy.
    public static func paper(task: Task, examples: [TaskExample], predictions: TaskPredictions) throws -> [Score] {
        let labels = try classLabels(examples, task)
        switch (task, predictions) {
        case (.stsb, .scores(let s)):
            return [Score("spearman", 100 * Metrics.spearman(s, try scoreLabels(examples, task)))]
        case (.copa, .scores(let s)):
            return [Score("accuracy", 100 * Metrics.groupTopAccuracy(scores: s, labels: try scoreLabels(examples, task),
                                                                      groups: examples.map(\.group)))]
        case (.record, .scores(let s)):
            let em = Metrics.groupTopAccuracy(scores: s, labels: try scoreLabels(examples, task),
                                              groups: examples.map(\.group))
            return [Score("f1", 100 * 2 * em / (1 + em)), Score("em", 100 * em)]
        case (.multirc, .classes(let p)):
            return [Score("f1a", 100 * Metrics.accuracy(p, labels)),
                    Score("em", 100 * Metrics.groupExactMatch(p, labels, groups: examples.map(\.group)))]
        case (.mrpc, .classes(let p)), (.qqp, .classes(let p)):
            return [Score("f1", 100 * Metrics.f1(p, labels)), Score("accuracy", 100 * Metrics.accuracy(p, labels))]
        case (.cb, .classes(let p)):
            return [Score("f1", 100 * Metrics.macroF1(p, labels)), Score("accuracy", 100 * Metrics.accuracy(p, labels))]
        case (_, .classes(let p)) where !task.isRegression:
            return [Score("accuracy", 100 * Metrics.accuracy(p, labels))]
        default:
            throw DataPipelineError("\(task.displayName): predictions of the wrong kind")
        }
    }

    /// Official metrics: CoLA MCC; STS-B Pearson and Spearman; MRPC/QQP F1 and accuracy; CB
    /// macro-F1 (over the 3 classes) and accuracy; MultiRC F1a = positive-class F1 over all answers
    /// and EM; ReCoRD token-level F1 and EM (SQuAD normalisation) of the top entity; others accuracy.
    public static func official(task: Task, examples: [TaskExample], predictions: TaskPredictions) throws -> [Score] {
        let labels = try classLabels(examples, task)
        switch (task, predictions) {
        case (.cola, .classes(let p)):
            return [Score("mcc", 100 * Metrics.matthewsCorrelation(p, labels))]
        case (.stsb, .scores(let s)):
            let y = try scoreLabels(examples, task)
            return [Score("pearson", 100 * Metrics.pearson(s, y)), Score("spearman", 100 * Metrics.spearman(s, y))]
        case (.cb, .classes(let p)):
            return [Score("f1", 100 * Metrics.macroF1(p, labels, classes: [0, 1, 2])),
                    Score("accuracy", 100 * Metrics.accuracy(p, labels))]
        case (.multirc, .classes(let p)):
            return [Score("f1a", 100 * Metrics.f1(p, labels)),
                    Score("em", 100 * Metrics.groupExactMatch(p, labels, groups: examples.map(\.group)))]
        case (.record, .scores(let s)):
            let top = Metrics.argmaxPerGroup(scores: s, groups: examples.map(\.group))
            guard top.allSatisfy({ examples[$0].candidate != nil && examples[$0].answers != nil }) else {
                throw DataPipelineError("ReCoRD official metrics need candidate entities and gold answers")
            }
            let r = Metrics.recordOfficial(predictions: top.map { examples[$0].candidate! },
                                           answers: top.map { examples[$0].answers! })
            return [Score("f1", 100 * r.f1), Score("em", 100 * r.em)]
        default:
            return try paper(task: task, examples: examples, predictions: predictions)
        }
    }

    static func classLabels(_ examples: [TaskExample], _ task: Task) throws -> [Int] {
        if task.isRegression { return [] }
        return try examples.map {
            guard case .category(let c)? = $0.label else {
                throw DataPipelineError("\(task.displayName): unlabelled row at line \($0.line)")
            }
            return c
        }
    }

    static func scoreLabels(_ examples: [TaskExample], _ task: Task) throws -> [Double] {
        try examples.map {
            guard case .score(let s)? = $0.label else {
                throw DataPipelineError("\(task.displayName): unlabelled row at line \($0.line)")
            }
            return s
        }
    }

    /// The paper's GLUE average: unweighted mean of 11 numbers (MNLI-m, MNLI-mm, QQP-F1, QQP-acc,
    /// QNLI, SST-2, CoLA-acc, STS-B, MRPC-F1, MRPC-acc, RTE).
    public static func glueAverage(mnliMatched: Double, mnliMismatched: Double, qqpF1: Double, qqpAccuracy: Double,
                                   qnli: Double, sst2: Double, cola: Double, stsb: Double, mrpcF1: Double,
                                   mrpcAccuracy: Double, rte: Double) -> Double {
        [mnliMatched, mnliMismatched, qqpF1, qqpAccuracy, qnli, sst2, cola, stsb, mrpcF1, mrpcAccuracy, rte]
            .reduce(0, +) / 11
    }

    /// The paper's SuperGLUE average: mean of 10 numbers (BoolQ, CB-F1, CB-acc, COPA, MultiRC-F1a,
    /// MultiRC-EM, ReCoRD-F1, ReCoRD-EM, RTE, WiC).
    public static func superglueAverage(boolq: Double, cbF1: Double, cbAccuracy: Double, copa: Double,
                                        multircF1a: Double, multircEM: Double, recordF1: Double, recordEM: Double,
                                        rte: Double, wic: Double) -> Double {
        [boolq, cbF1, cbAccuracy, copa, multircF1a, multircEM, recordF1, recordEM, rte, wic].reduce(0, +) / 10
    }
}
