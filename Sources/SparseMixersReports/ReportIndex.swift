import Foundation
import SparseMixersPaper

/// Reports/README.md: the harness's index of every report (headline comparisons), then the figures and how the
/// reports were produced.
public enum ReportIndex {
    /// `ReportWriter.index` of the reports in `directory`, followed by the SVG figures found there and `runInfo`.
    public static func markdown(directory: URL, runInfo: [String] = []) throws -> String {
        let writer = ReportWriter(directory: directory)
        let reports = try writer.loadReports()
        var md = ReportWriter.index(reports)
        let svgs = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".svg") }.sorted()
        if !svgs.isEmpty {
            md += "\n## Figures\n\n"
            for s in svgs { md += "![\(s)](\(s))\n\n" }
        }
        let missing = TableID.allCases.filter { id in !reports.contains { $0.tableID == id } }
        if !missing.isEmpty {
            md += "\n## Not produced\n\n" + missing.map { "- \($0.fileStem): run `\(TableCatalog.command($0, scale: .ci))`" }
                .joined(separator: "\n") + "\n"
        }
        if !runInfo.isEmpty {
            md += "\n## This run\n\n" + runInfo.map { "- \($0)" }.joined(separator: "\n") + "\n"
        }
        return md
    }

    @discardableResult
    public static func write(directory: URL, runInfo: [String] = []) throws -> URL {
        let url = directory.appendingPathComponent("README.md")
        try AtomicFile.write(markdown(directory: directory, runInfo: runInfo), to: url)
        return url
    }
}
