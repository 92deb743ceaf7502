import Foundation
import SparseMixersPaper
import SparseMixersTraining

/// The one writer of a table's report: Reports/<Stem>.csv, .md and .json, each written atomically, and the learning
/// curves' SVG text. The index is `ReportIndex`, the figures `Figures`.
public struct ReportWriter: Sendable {
    public var directory: URL

    public init(directory: URL) { self.directory = directory }

    /// `Reports/` under the package root when known, else under the current directory.
    public static var defaultDirectory: URL {
        (PackagePaths.packageRoot ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            .appendingPathComponent("Reports")
    }

    public struct Written: Sendable {
        public var csv: URL
        public var markdown: URL
        public var json: URL
    }

    /// Writes the three files of one report.
    @discardableResult
    public func write(_ report: Report) throws -> Written {
        AtomicFile.removeStaleTemporaries(in: directory)
        let stem = report.tableID.fileStem
        let w = Written(csv: directory.appendingPathComponent(stem + ".csv"),
                        markdown: directory.appendingPathComponent(stem + ".md"),
                        json: directory.appendingPathComponent(stem + ".json"))
        try AtomicFile.write(Self.csv(report), to: w.csv)
        try AtomicFile.write(Self.markdown(report), to: w.markdown)
        try AtomicFile.write(Self.json(report), to: w.json)
        return w
    }

    // MARK: CSV

    public static let csvHeader = ["table", "section", "variant", "metric", "ours", "published", "unit", "notes"]

    /// One flat CSV: section "value" rows (ours vs published), "speed" rows (ms_median, ms_min, ms_max, speed-up,
    /// flop_ratio per timed variant), "not_run" rows (variant column = the item, notes = the reason) and
    /// "trained" rows (what each accuracy row was trained as: `trainedCSVRows`).
    /// Fields are quoted by libcsv where needed.
    public static func csv(_ r: Report) -> String {
        let t = r.tableID.rawValue
        var rows: [[String]] = [csvHeader]
        for v in r.rows {
            rows.append([t, "value", v.variant, v.metric, Format.raw(v.ours), Format.raw(v.published), v.unit, v.notes])
        }
        for s in r.speedRows {
            let n = "n=\(s.timing.count)" + (s.shape.isEmpty ? "" : "; \(s.shape)")
                + (s.notes.isEmpty ? "" : "; \(s.notes)")
            rows.append([t, "speed", s.variant, s.msMetric + "_median", Format.raw(s.timing.median),
                         Format.raw(s.paperMs), "ms", n + "; paper ms are V100 ms, not comparable"])
            rows.append([t, "speed", s.variant, s.msMetric + "_min", Format.raw(s.timing.min), "", "ms", ""])
            rows.append([t, "speed", s.variant, s.msMetric + "_max", Format.raw(s.timing.max), "", "ms", ""])
            rows.append([t, "speed", s.variant, s.speedupMetric, Format.raw(s.ourSpeedup), Format.raw(s.paperSpeedup),
                         "x", "vs \(r.referenceVariant ?? "?") timed in the same rounds"
                            + (s.interval.map { "; 95% interval " + $0.widthText } ?? "")
                            + (s.timedIn.map { "; timed in \($0)" } ?? "")])
            if let i = s.interval {
                rows.append([t, "speed", s.variant, s.speedupMetric + "_ci95_low", Format.raw(i.low), "", "x",
                             "t interval on the per-round log-ratios, \(i.rounds) rounds"
                                + (i.unstable ? "; unstable" : "")])
                rows.append([t, "speed", s.variant, s.speedupMetric + "_ci95_high", Format.raw(i.high), "", "x",
                             i.widthText])
            }
            if let m = s.referenceMs {
                rows.append([t, "speed", s.variant, "reference_" + s.msMetric + "_median", Format.raw(m), "", "ms",
                             "\(r.referenceVariant ?? "?") in the same rounds" + (s.timedIn.map { " (\($0))" } ?? "")])
            }
            rows.append([t, "speed", s.variant, "flop_ratio", Format.raw(s.flopRatio), "", "x",
                         "reference FLOPs / variant FLOPs (analytic)"])
        }
        // Accuracy over seeds: pre-training ("seeds") and fine-tuning ("finetune_seeds"), mean with its 95%
        // half-width and the paired difference to the reference.
        let seedSets = [("seeds", r.comparisons ?? [])] + (r.fineTuning ?? []).map {
            ("finetune_seeds", $0.seedComparisons ?? [])
        }
        for (section, cs) in seedSets {
            for c in cs {
                rows.append([t, section, c.variant, c.metric, Format.raw(c.mean), "", Metric.unit(c.metric),
                             "mean over \(c.seeds) seed(s)"
                                + (c.halfWidth.map { "; 95% half-width \(Format.raw($0))" } ?? "")])
                guard c.variant != c.reference, let d = c.difference else { continue }
                rows.append([t, section, c.variant, c.metric + "_diff_vs_reference", Format.raw(d),
                             Format.raw(c.paperDifference), Metric.unit(c.metric),
                             "\(c.pairedSeeds) paired seed(s) against \(c.reference)"
                                + (c.differenceHalfWidth.map { "; 95% half-width \(Format.raw($0))" } ?? "")
                                + "; verdict: \(c.verdict.rawValue)"])
            }
        }
        for k in r.skipped { rows.append([t, "not_run", k.item, "", "", "", "", k.reason]) }
        rows += trainedCSVRows(r)
        return CSV.document(rows)
    }

    // MARK: Markdown

    public static func markdown(_ r: Report) -> String {
        var md: [String] = []
        md.append("# \(r.tableID.displayName): \(r.title)")
        md.append("")
        md.append("Scale: **\(r.scale.rawValue)**"
            + (r.environment.map { ". Commit \($0.gitCommit), \($0.date), \($0.buildConfiguration) build." } ?? "."))
        md.append("")
        md.append("> " + banner(r.scale))
        md.append("")
        if !r.rows.isEmpty {
            md.append("## Results: ours beside the paper")
            md.append("")
            md.append("| variant | metric | ours | paper | ours − paper | unit | notes |")
            md.append("|---|---|---:|---:|---:|---|---|")
            for v in r.rows {
                md.append("| \(Format.cell(v.variant)) | \(v.metric) | \(Format.value(v.ours, unit: v.unit)) | "
                    + "\(Format.value(v.published, unit: v.unit)) | \(Format.value(v.difference, unit: v.unit)) | "
                    + "\(v.unit) | \(Format.cell(v.notes)) |")
            }
            md.append("")
        }
        if let cs = r.comparisons, !cs.isEmpty { md += seedSection(r, cs) }
        for f in r.fineTuning ?? [] { md += fineTuneSection(f) }
        md += trainedSection(r)
        if !r.speedRows.isEmpty {
            md.append("## Speed (reference: \(r.referenceVariant ?? "none"), timed in the same run)")
            md.append("")
            md.append("Our milliseconds are CPU times and are not comparable to the paper's V100 times; "
                + "compare the speed-up columns. FLOP ratio = reference FLOPs / variant FLOPs.")
            md.append("")
            if r.speedRows.contains(where: { $0.interval != nil }) {
                md.append("Our speed-up is the geometric mean over rounds of the reference's time / the variant's time "
                    + "in the same round, with its 95% t interval on the per-round log-ratios; the reference ms column "
                    + "is the median of the reference timed in the same rounds (its own group). **unstable**: the "
                    + "rounds reached their limit before the interval was as narrow as asked.")
                md.append("")
            }
            if let c = r.speedConditions {
                for w in c.warnings {
                    md.append("> **Warning: busy machine.** \(w.prefix(1).uppercased() + w.dropFirst()).")
                    md.append("")
                }
            }
            md.append("| variant | timed | ms median | ms min | ms max | n | reference ms (same rounds) | "
                + "our speed-up | 95% interval | paper speed-up | FLOP ratio | paper ms | notes |")
            md.append("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|")
            for s in r.speedRows {
                let notes = [s.shape, s.timedIn ?? "", s.notes].filter { !$0.isEmpty }.joined(separator: "; ")
                let interval = s.interval.map {
                    String(format: "%.2f–%.2f (±%.1f%%)", $0.low, $0.high, 100 * $0.relativeHalfWidth)
                        + ($0.unstable ? " **unstable**" : "")
                } ?? "–"
                md.append("| \(Format.cell(s.variant)) | \(s.msMetric) | "
                    + "\(Format.value(s.timing.median, unit: "ms")) | \(Format.value(s.timing.min, unit: "ms")) | "
                    + "\(Format.value(s.timing.max, unit: "ms")) | \(s.timing.count) | "
                    + "\(Format.value(s.referenceMs, unit: "ms")) | \(Format.value(s.ourSpeedup, unit: "x")) "
                    + "| \(interval) | \(Format.value(s.paperSpeedup, unit: "x")) | "
                    + "\(Format.value(s.flopRatio, unit: "x")) | \(Format.value(s.paperMs, unit: "ms")) | "
                    + "\(Format.cell(notes)) |")
            }
            md.append("")
            if let c = r.speedConditions { md.append(c.summary); md.append("") }
        }
        md.append("## Not run")
        md.append("")
        if r.skipped.isEmpty { md.append("Nothing was skipped.") }
        for k in r.skipped { md.append("- **\(Format.cell(k.item))**: \(k.reason)") }
        md.append("")
        if !r.notes.isEmpty {
            md.append("## Notes")
            md.append("")
            for n in r.notes { md.append("- \(n)") }
            md.append("")
        }
        md.append("## Scale rule")
        md.append("")
        md.append(r.scaleRule)
        md.append("")
        md.append("## Environment")
        md.append("")
        if let e = r.environment { for l in e.summaryLines { md.append("- \(l)") } } else { md.append("Not recorded.") }
        if let c = r.speedConditions {
            md.append("- Speed phase: load average \(c.loadBefore.map { String(format: "%.2f", $0) } ?? "–") → "
                + "\(c.loadAfter.map { String(format: "%.2f", $0) } ?? "–"), sgemm peak "
                + "\(c.peakBefore.map { String(format: "%.1f", $0) } ?? "–") → "
                + "\(c.peakAfter.map { String(format: "%.1f", $0) } ?? "–") GFLOP/s, other processes "
                + "\(c.othersShare.map { String(format: "%.1f%%", 100 * $0) } ?? "–") of the CPU time"
                + (c.warnings.isEmpty ? "" : " (**warning**: see the speed section)"))
        }
        md.append("")
        return md.joined(separator: "\n")
    }

    /// What a report's numbers can and cannot show at its scale (printed under the title).
    public static func banner(_ scale: Scale) -> String {
        switch scale {
        case .ci:
            return "**Pipeline check.** At `ci` the accuracy models are 1/16 of the paper's width and train for a few "
                + "hundred steps: their accuracies show that every stage runs, and sit at the floors; they say nothing "
                + "about the paper's accuracy claims. The speed-ups time the paper-size models (at 2 x 128)."
        case .small, .long:
            return "**A small experiment, not the paper's training.** At `\(scale.rawValue)` the accuracy "
                + "models are 1/8 of the paper's width and see a few million tokens (the paper: billions), so every "
                + "accuracy is far below the paper's. What can be compared is the difference between variants "
                + "with its paired interval over seeds, and each variant against the floors (section "
                + "\"Pre-training accuracy over seeds\"). The speed-ups time the paper-size models."
        case .paper:
            return "The paper's settings: values are directly comparable with the published ones."
        }
    }

    /// Accuracy over seeds: mean and 95% t interval per variant, the paired difference to the reference with
    /// its interval beside the paper's difference and a verdict; then the floors and every seed's run.
    static func seedSection(_ r: Report, _ cs: [AccuracyComparison]) -> [String] {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "–" }
        func pm(_ m: Double?, _ h: Double?) -> String { meanInterval(m, h, digits: 2) }
        var md: [String] = []
        md.append("## Pre-training accuracy over seeds (reference: \(Format.cell(r.accuracyReference ?? "")))")
        md.append("")
        md.append("Held-out accuracy in percent, the same held-out set for every run. Mean ± half-width of the 95% "
            + "t interval over seeds; Δ = variant − reference, seed by seed (seeds are shared, so the difference is "
            + "paired). Verdict: whether our paired interval excludes zero, with the paper's sign or against it.")
        md.append("")
        if r.mlmFloor != nil || r.nspFloor != nil {
            md.append("Floors of this held-out set (best constant predictor): MLM \(pct(r.mlmFloor))% (always the most "
                + "frequent masked piece), NSP \(pct(r.nspFloor))% (always the more frequent label).")
            md.append("")
        }
        md.append("| variant | metric | seeds | ours (mean ± 95%) | × MLM floor | Δ vs reference (± 95%) | "
                  + "paper Δ | verdict |")
        md.append("|---|---|---:|---:|---:|---:|---:|---|")
        for c in cs {
            var ratio = ""
            if c.metric == "mlm_acc" {
                ratio = r.mlmFloor.flatMap { $0 > 0 ? String(format: "%.2f", c.mean / $0) : nil } ?? "–"
            }
            let diff = c.variant == c.reference ? "reference" : pm(c.difference, c.differenceHalfWidth)
            md.append("| \(Format.cell(c.variant)) | \(c.metric) | \(c.seeds) | "
                + "\(pm(c.mean, c.halfWidth)) | \(ratio) | \(diff) | "
                + "\(c.paperDifference.map { String(format: "%+.1f", $0) } ?? "–") | \(c.verdict.rawValue) |")
        }
        md.append("")
        if let runs = r.seedRuns, !runs.isEmpty {
            md.append("<details><summary>Every run (binomial 95% interval of its held-out score)</summary>")
            md.append("")
            md.append("| variant | seed | metric | accuracy | 95% (Wilson) | scored |")
            md.append("|---|---:|---|---:|---|---:|")
            for x in runs {
                md.append("| \(Format.cell(x.variant)) | \(x.seed) | \(x.metric) | \(pct(x.value)) | "
                    + "\(pct(x.wilsonLow))–\(pct(x.wilsonHigh)) | \(x.count.map(String.init) ?? "–") |")
            }
            md.append("")
            md.append("</details>")
            md.append("")
        }
        if let curves = r.curves, !curves.isEmpty {
            md.append("Learning curves: `\(r.tableID.fileStem)-curve-tokens.svg` (held-out MLM accuracy against "
                + "training tokens) and `\(r.tableID.fileStem)-curve-seconds.svg` (against seconds inside training "
                + "steps, one thread per run); the points are in the JSON.")
            md.append("")
        }
        return md
    }

    /// "21.41 ± 1.05", "5.22 (1 seed)" or "–": a mean over seeds with the half-width of its 95% interval.
    static func meanInterval(_ m: Double?, _ h: Double?, digits: Int) -> String {
        guard let m else { return "–" }
        let f = "%.\(digits)f"
        return h.map { String(format: "\(f) ± \(f)", m, $0) } ?? String(format: "\(f) (1 seed)", m)
    }

    /// Fine-tuning per task against its floors: majority class, random-init control, every variant's best and last
    /// evaluation, and whether the reference rises above both floors.
    static func fineTuneSection(_ f: FineTuneSummary) -> [String] {
        func v(_ x: Double?) -> String { x.map { String(format: "%.1f", $0) } ?? "–" }
        func bl(_ r: FineTuneTaskResult?, _ m: String) -> String {
            guard let r else { return "–" }
            return "\(v(r.best[m])) / \(v(r.last[m]))" + (r.diverged != nil ? " (diverged)" : "")
        }
        var md: [String] = []
        md.append("## Fine-tuning against its floors: \(f.benchmark) (reference: \(Format.cell(f.reference)))")
        md.append("")
        md.append("Dev-set scores in percent (paper definitions), best / last evaluation of the run with the best "
            + "learning rate on the grid. Floors: the majority class (the train split's most frequent class for every "
            + "row; a constant regression scores 0) and the random-init control (\(f.controlDescription)). A task "
            + "has signal when the reference's best beats both by more than the dev set's 95% sampling noise (the "
            + "binomial half-width of its score, or 1.96(1-r^2)/sqrt(n-3) for a correlation; sqrt(2) times that "
            + "against the control, which is as noisy); the others are marked and left out of the average. "
            + "Rows marked (official) give the official metric definition where it differs from the paper's. "
            + (f.seedComparisons == nil
               ? "± is that 95% half-width for the reference's value of the metric (one fine-tuning run per model: "
                 + "fine-tuning seeds are not varied)."
               : "± is that 95% half-width for the reference's value of the metric. Every value is the mean over "
                 + "fine-tuning seeds (seed s fine-tunes pre-training seed s's checkpoint, the control initialisation "
                 + "s; seeds after the first at the learning rate the first chose on the grid, so seed 0's value is "
                 + "the best of the grid and the mean leans slightly high); a task with signal also needs the "
                 + "reference's 95% interval over seeds above the majority class and the paired interval of "
                 + "reference − control above zero. Intervals over seeds are in the table after this one."))
        md.append("")
        let names = f.variantOrder.filter { n in f.tasks.contains { $0.variants[n] != nil } }
        md.append("| task | metric | dev rows | ± | majority | control | "
            + names.map(Format.cell).joined(separator: " | ") + " | signal |")
        md.append("|---|---|---:|---:|---:|---:|" + names.map { _ in "---:|" }.joined() + "---|")
        for t in f.tasks {
            for m in t.metrics {
                var pm = "–"
                if let p = t.variants[f.reference]?.best[m] {
                    let h = FineTuneSummary.noiseHalfWidth([m: p], rows: t.evalRows)
                    if h.isFinite { pm = String(format: "%.1f", h) }
                }
                md.append("| \(t.task) | \(m) | \(t.evalRows) | \(pm) | \(v(t.majority[m])) | \(bl(t.control, m)) | "
                    + names.map { bl(t.variants[$0], m) }.joined(separator: " | ")
                    + " | \(t.signal ? "yes" : "**no signal at this scale**: " + Format.cell(t.noSignalReason ?? ""))"
                    + " |")
            }
            // The official definitions where they differ from the paper's (CoLA MCC, STS-B Pearson, ...).
            let ref = t.variants[f.reference]
            for m in (ref?.official.keys.sorted() ?? []) where ref?.best[m] == nil || ref?.best[m] != ref?.official[m] {
                func ob(_ r: FineTuneTaskResult?) -> String {
                    guard let r else { return "–" }
                    return "\(v(r.official[m])) / \(v(r.officialLast[m]))"
                }
                md.append("| \(t.task) | \(m) (official) | \(t.evalRows) | – | – | \(ob(t.control)) | "
                    + names.map { ob(t.variants[$0]) }.joined(separator: " | ") + " | (official definition) |")
            }
        }
        md.append("")
        if !f.signalMetrics.isEmpty {
            let all = names + (f.signalAverage[FineTuneSummary.controlName] != nil ? [FineTuneSummary.controlName] : [])
            md.append("Average over the tasks with signal (\(f.signalMetrics.joined(separator: ", "))), best / last: "
                + all.map { "\(Format.cell($0)) \(v(f.signalAverage[$0])) / \(v(f.signalAverageLast[$0]))" }
                    .joined(separator: "; ") + ".")
        } else {
            md.append("No task has signal at this scale: no fine-tuning average is reported.")
        }
        md.append("")
        if let cs = f.seedComparisons, !cs.isEmpty {
            func pm(_ m: Double?, _ h: Double?) -> String { meanInterval(m, h, digits: 1) }
            md.append("Over fine-tuning seeds (best evaluation of each seed's run): mean ± half-width of the 95% t "
                + "interval, and Δ = model − reference seed by seed with its paired 95% interval (the control's Δ "
                + "is what pre-training is worth; negative means the pre-trained reference is ahead).")
            md.append("")
            md.append("| model | metric | seeds | mean ± 95% | Δ vs reference (± 95%) | paired seeds |")
            md.append("|---|---|---:|---:|---:|---:|")
            for c in cs {
                let diff = c.variant == c.reference ? "reference" : pm(c.difference, c.differenceHalfWidth)
                md.append("| \(Format.cell(c.variant)) | \(c.metric) | \(c.seeds) | "
                    + "\(pm(c.mean, c.halfWidth)) | \(diff) | "
                    + "\(c.variant == c.reference ? "–" : String(c.pairedSeeds)) |")
            }
            md.append("")
        }
        md.append("<details><summary>Chosen learning rate, batch and steps per run</summary>")
        md.append("")
        md.append("| task | model | learning rate | batch | steps | train rows |")
        md.append("|---|---|---:|---:|---:|---:|")
        for t in f.tasks {
            let runs = names.compactMap { n in t.variants[n].map { (n, $0) } }
                + (t.control.map { [(FineTuneSummary.controlName, $0)] } ?? [])
            for (n, r) in runs {
                md.append("| \(t.task) | \(Format.cell(n)) | \(String(format: "%g", r.learningRate)) | "
                    + "\(r.batchSize) | \(r.steps) | \(r.trainRows) |")
            }
        }
        md.append("")
        md.append("</details>")
        md.append("")
        return md
    }

    /// Writes the learning curves (`curveSVGs`) as <Stem>-curve-tokens.svg and <Stem>-curve-seconds.svg; nothing
    /// when the report has no curves.
    @discardableResult
    public func writeCurves(_ report: Report) throws -> [URL] {
        guard let svgs = Self.curveSVGs(report) else { return [] }
        return try [("tokens", svgs.tokens), ("seconds", svgs.seconds)].map { suffix, text in
            let url = directory.appendingPathComponent("\(report.tableID.fileStem)-curve-\(suffix).svg")
            try AtomicFile.write(text, to: url)
            return url
        }
    }

    /// The learning curves of a report as two SVGs: MLM accuracy against tokens and against training seconds.
    public static func curveSVGs(_ r: Report) -> (tokens: String, seconds: String)? {
        guard let curves = r.curves, !curves.isEmpty else { return nil }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                      "#bcbd22", "#17becf"]
        var order: [String] = []
        for c in curves where !order.contains(c.variant) { order.append(c.variant) }
        func series(_ x: (LearningCurve.Point) -> Double) -> [PlotSeries] {
            curves.map { c in
                let color = colors[(order.firstIndex(of: c.variant) ?? 0) % colors.count]
                return PlotSeries(name: "\(c.variant) seed \(c.seed)", color: color,
                                  points: c.points.map { PlotPoint(x: x($0), y: $0.mlmAccuracy, label: "") })
            }
        }
        let title = "\(r.tableID.fileStem) (\(r.scale.rawValue)): held-out MLM accuracy"
        return (SVGPlot.scatter(title: title, xLabel: "training tokens (millions)", yLabel: "MLM accuracy (%)",
                                series: series { $0.tokens / 1e6 }, height: 480 + 16 * Double(curves.count)),
                SVGPlot.scatter(title: title, xLabel: "seconds in training steps (one thread)",
                                yLabel: "MLM accuracy (%)", series: series { $0.seconds },
                                height: 480 + 16 * Double(curves.count)))
    }

    // MARK: JSON

    public static func json(_ r: Report) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        var data = try enc.encode(r)
        data.append(0x0A)
        return data
    }

    public static func decode(_ data: Data) throws -> Report { try JSONDecoder().decode(Report.self, from: data) }
}
