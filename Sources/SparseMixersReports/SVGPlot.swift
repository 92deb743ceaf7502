import Foundation
import SparseMixersPaper

public struct PlotPoint: Codable, Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var label: String
    public init(x: Double, y: Double, label: String) { self.x = x; self.y = y; self.label = label }
}

public struct PlotSeries: Codable, Equatable, Sendable {
    public var name: String
    /// Any SVG colour.
    public var color: String
    public var points: [PlotPoint]
    public init(name: String, color: String, points: [PlotPoint]) {
        self.name = name; self.color = color; self.points = points
    }
}

/// Hand-written SVG scatter plots (Figures 2 and 4: speed against accuracy, one line per model family).
public enum SVGPlot {
    /// A scatter plot with each series' points joined in x order and labelled.
    public static func scatter(title: String, xLabel: String, yLabel: String, series: [PlotSeries],
                               width: Double = 640, height: Double = 440) -> String {
        let left = 70.0, right = 20.0, top = 40.0, bottom = 60.0
        let pw = width - left - right, ph = height - top - bottom
        let all = series.flatMap(\.points)
        let (x0, x1) = niceRange(all.map(\.x)), (y0, y1) = niceRange(all.map(\.y))
        func sx(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func sy(_ y: Double) -> Double { top + ph - (y - y0) / (y1 - y0) * ph }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var s: [String] = []
        s.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        s.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" "
            + "viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"sans-serif\" font-size=\"12\">")
        s.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        s.append("<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>")
        // Axes, ticks and grid.
        s.append("<g stroke=\"#333\" stroke-width=\"1\">")
        s.append("<line x1=\"\(f(left))\" y1=\"\(f(top + ph))\" x2=\"\(f(left + pw))\" y2=\"\(f(top + ph))\"/>")
        s.append("<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(top + ph))\"/>")
        s.append("</g>")
        for t in ticks(x0, x1) {
            s.append("<line x1=\"\(f(sx(t)))\" y1=\"\(f(top))\" x2=\"\(f(sx(t)))\" y2=\"\(f(top + ph))\" "
                     + "stroke=\"#eee\"/>")
            s.append("<text x=\"\(f(sx(t)))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(tickLabel(t))</text>")
        }
        for t in ticks(y0, y1) {
            s.append("<line x1=\"\(f(left))\" y1=\"\(f(sy(t)))\" x2=\"\(f(left + pw))\" y2=\"\(f(sy(t)))\" "
                     + "stroke=\"#eee\"/>")
            s.append("<text x=\"\(f(left - 6))\" y=\"\(f(sy(t) + 4))\" text-anchor=\"end\">\(tickLabel(t))</text>")
        }
        s.append("<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 18))\" "
                 + "text-anchor=\"middle\">\(escape(xLabel))</text>")
        s.append("<text x=\"16\" y=\"\(f(top + ph / 2))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 16 \(f(top + ph / 2)))\">\(escape(yLabel))</text>")
        // Series.
        for (i, ser) in series.enumerated() {
            let pts = ser.points.sorted { $0.x < $1.x }
            if pts.count > 1 {
                let path = pts.map { "\(f(sx($0.x))),\(f(sy($0.y)))" }.joined(separator: " ")
                s.append("<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.5\" points=\"\(path)\"/>")
            }
            for p in pts {
                s.append("<circle cx=\"\(f(sx(p.x)))\" cy=\"\(f(sy(p.y)))\" r=\"4\" fill=\"\(ser.color)\">"
                    + "<title>\(escape("\(ser.name) \(p.label): x \(tickLabel(p.x)), y \(tickLabel(p.y))"))"
                    + "</title></circle>")
                s.append("<text x=\"\(f(sx(p.x) + 6))\" y=\"\(f(sy(p.y) - 6))\" fill=\"\(ser.color)\" "
                    + "font-size=\"10\">\(escape(p.label))</text>")
            }
            let ly = top + 8 + Double(i) * 16
            s.append("<circle cx=\"\(f(left + pw - 120))\" cy=\"\(f(ly))\" r=\"4\" fill=\"\(ser.color)\"/>")
            s.append("<text x=\"\(f(left + pw - 110))\" y=\"\(f(ly + 4))\">\(escape(ser.name))</text>")
        }
        s.append("</svg>")
        return s.joined(separator: "\n") + "\n"
    }

    /// Figure 2 (MLM) or 4 (NSP) from a report: x = pre-training steps per second (1000 / ms_per_batch median),
    /// y = our accuracy; one series per `VariantSpec.series`, points labelled by `sizeLabel`. Variants without
    /// both a timing and an accuracy are left out.
    public static func figure(report: Report, spec: TableSpec) -> String {
        let metric = spec.metrics.first { $0 == "mlm_acc" || $0 == "nsp_acc" } ?? "mlm_acc"
        var bySeries: [String: [PlotPoint]] = [:]
        var order: [String] = []
        for v in spec.variants {
            guard let series = v.series,
                  let ms = report.speedRows.first(where: { $0.variant == v.name && $0.msMetric == "ms_per_batch" }),
                  ms.timing.median > 0,
                  let acc = report.rows.first(where: { $0.variant == v.name && $0.metric == metric })?.ours
            else { continue }
            if bySeries[series] == nil { order.append(series) }
            bySeries[series, default: []].append(PlotPoint(x: 1000 / ms.timing.median, y: acc,
                                                           label: v.sizeLabel ?? v.name))
        }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
        let series = order.enumerated().map {
            PlotSeries(name: $1, color: colors[$0 % colors.count], points: bySeries[$1]!)
        }
        return scatter(title: "\(report.tableID.rawValue): \(metric == "mlm_acc" ? "MLM" : "NSP") accuracy vs "
                            + "pre-training speed (scale \(report.scale.rawValue))",
                       xLabel: "pre-training steps / second (higher is faster)",
                       yLabel: "\(metric == "mlm_acc" ? "MLM" : "NSP") accuracy (%)", series: series)
    }

    // MARK: Helpers

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Data range widened by 5% on each side; a unit range around a single value; [0, 1] when empty.
    static func niceRange(_ v: [Double]) -> (Double, Double) {
        guard let lo = v.min(), let hi = v.max() else { return (0, 1) }
        if hi - lo < 1e-12 { return (lo - 0.5, hi + 0.5) }
        let pad = (hi - lo) * 0.05
        return (lo - pad, hi + pad)
    }

    /// About five round tick values inside [a, b].
    static func ticks(_ a: Double, _ b: Double) -> [Double] {
        let raw = (b - a) / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = ceil(a / step) * step
        var out: [Double] = []
        while t <= b + 1e-9 * step { out.append(t); t += step }
        return out
    }

    static func tickLabel(_ v: Double) -> String {
        abs(v - v.rounded()) < 1e-9 ? String(Int(v.rounded())) : String(format: "%.3g", v)
    }
}
