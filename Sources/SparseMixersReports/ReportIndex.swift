import Foundation
import SparseMixersPaper

/// Reports/README.md, the one writer of the index: every report's headline comparisons, then the figures, the
/// tables not produced and how the reports were produced.
public enum ReportIndex {
    /// `table` of the reports in `directory`, followed by the SVG figures found there, the tables not produced
    /// and `runInfo`.
    public static func markdown(directory: URL, runInfo: [String] = []) throws -> String {
        let reports = try loadReports(directory: directory)
        var md = table(reports)
        let svgs = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".svg") }.sorted()
        if !svgs.isEmpty {
            md += "\n## Figures\n\n"
            for s in svgs { md += "![\(s)](\(s))\n\n" }
        }
        let missing = TableID.allCases.filter { id in !reports.contains { $0.tableID == id } }
        if !missing.isEmpty {
            md += "\n## Not produced\n\n" + missing.map {
                "- \($0.fileStem): run `\(TableCatalog.command($0, scale: .ci))`"
            }
                .joined(separator: "\n") + "\n"
        }
        if !runInfo.isEmpty {
            md += "\n## This run\n\n" + runInfo.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        return md
    }

    /// Writes Reports/README.md.
    @discardableResult
    public static func write(directory: URL, runInfo: [String] = []) throws -> URL {
        let url = directory.appendingPathComponent("README.md")
        try AtomicFile.write(markdown(directory: directory, runInfo: runInfo), to: url)
        return url
    }

    /// Every report JSON in the directory (files named Table*.json / Figure*.json), sorted by table.
    public static func loadReports(directory: URL) throws -> [Report] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return try names.filter { ($0.hasPrefix("Table") || $0.hasPrefix("Figure")) && $0.hasSuffix(".json") }
            .map { try ReportWriter.decode(Data(contentsOf: directory.appendingPathComponent($0))) }
            .sorted { $0.tableID < $1.tableID }
    }

    /// The index's table: one row per report with its headline comparisons, then the rules of the scales used.
    public static func table(_ reports: [Report]) -> String {
        var md = ["# Reports", "",
                  "One entry per table run; each links to its Markdown report (CSV and JSON beside it). "
                  + "Speed-ups are ratios to BERT Base timed in the same run; accuracies are ours beside the paper's.",
                  "",
                  "| table | title | scale | commit | headline (ours vs paper) | not run |",
                  "|---|---|---|---|---|---:|"]
        for r in reports.sorted(by: { $0.tableID < $1.tableID }) {
            let stem = r.tableID.fileStem
            md.append("| [\(r.tableID.rawValue)](\(stem).md) | \(Format.cell(r.title)) | \(r.scale.rawValue) | "
                + "\(r.environment?.gitCommit ?? "–") | \(Format.cell(r.headlines.joined(separator: "\n"))) | "
                + "\(r.skipped.count) |")
        }
        let scales = Set(reports.map(\.scale))
        md.append("")
        md.append("## Scale rules")
        md.append("")
        for s in Scale.allCases where scales.contains(s) {
            md.append(s.settings.ruleText)
            md.append("")
        }
        return md.joined(separator: "\n")
    }
}
