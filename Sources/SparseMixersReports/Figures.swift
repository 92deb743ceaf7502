import Foundation
import SparseMixersPaper

/// Figures 2 and 4 as SVG, the one writer of the figures.
public enum Figures {
    /// Writes `<directory>/<Figure2|Figure4>.svg` from a report and its spec (`svg`).
    @discardableResult
    public static func write(_ report: Report, spec: TableSpec, to directory: URL) throws -> URL {
        let url = directory.appendingPathComponent(report.tableID.fileStem + ".svg")
        try AtomicFile.write(svg(report, spec: spec), to: url)
        return url
    }

    /// Speed against accuracy (`SVGPlot.figure`) when the report has accuracies; otherwise, so the figure still
    /// shows what was measured, speed against parameter count, titled as such.
    public static func svg(_ report: Report, spec: TableSpec) -> String {
        let metric = spec.metrics.first { !Metric.speedMetrics.contains($0) } ?? "mlm_acc"
        if report.rows.contains(where: { $0.metric == metric && $0.ours != nil }) {
            return SVGPlot.figure(report: report, spec: spec)
        }
        var bySeries: [String: [PlotPoint]] = [:]
        var order: [String] = []
        for v in spec.variants {
            guard let series = v.series,
                  let s = report.speedRows.first(where: { $0.variant == v.name && $0.msMetric == "ms_per_batch" }),
                  s.timing.median > 0 else { continue }
            if bySeries[series] == nil { order.append(series) }
            bySeries[series, default: []].append(PlotPoint(x: ParameterCounter.count(v.config).millions,
                                                           y: 1000 / s.timing.median, label: v.sizeLabel ?? v.name))
        }
        let colors = ["#1f77b4", "#d62728"]
        let series = order.enumerated().map { PlotSeries(name: $1, color: colors[$0 % 2], points: bySeries[$1]!) }
        let shape = report.speedRows.first?.shape ?? ""
        return SVGPlot.scatter(title: "\(report.tableID.rawValue) (no \(metric == "mlm_acc" ? "MLM" : "NSP") "
                                   + "accuracy yet): training speed vs size, \(shape)",
                               xLabel: "parameters (M)", yLabel: "training steps / second", series: series)
    }
}
