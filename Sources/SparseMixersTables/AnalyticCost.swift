import Foundation
import SparseMixers
import SparseMixersPaper
import SparseMixersReports

/// Analytic columns a table executable can fill without running a model.
public enum AnalyticCost {
    /// Table 8's gflops_per_ex and params_m for every variant of `spec`: forward FLOPs per example counted as in
    /// SPEC §6 (reference masked-einsum dispatch, eval capacity, MLM head on the predictions), parameters exact.
    /// The note states our CPU (gather/scatter) count beside it.
    public static func costRows(_ spec: TableSpec, published: PublishedNumbers?) -> [ReportRow] {
        var rows: [ReportRow] = []
        for v in spec.variants {
            let einsum = FLOPCounter.forward(v.config, options: .reference).gflops
            let cpu = FLOPCounter.forward(v.config).gflops
            let p = spec.id.csvTable == nil ? nil : published
            rows.append(ReportRow(variant: v.name, metric: "gflops_per_ex", ours: einsum,
                                  published: p?.value(table: spec.id, variant: v.name, metric: "gflops_per_ex"),
                                  notes: String(format: "analytic, reference einsum dispatch; %.1f with our "
                                                + "gather/scatter dispatch", cpu)))
            rows.append(ReportRow(variant: v.name, metric: "params_m",
                                  ours: ParameterCounter.count(v.config).millions,
                                  published: p?.value(table: spec.id, variant: v.name, metric: "params_m"),
                                  notes: "analytic"))
        }
        return rows
    }

    /// Reference FLOPs / variant FLOPs for every run variant of `spec` (the speed-up FLOPs alone predict),
    /// keyed by variant name. Training = one pre-training step; otherwise a forward pass.
    public static func flopRatios(_ spec: TableSpec, training: Bool,
                                  options: FLOPOptions = FLOPOptions()) -> [String: Double] {
        guard let ref = spec.speedReference else { return [:] }
        return Dictionary(spec.runVariants.map {
            ($0.name, FLOPCounter.flopRatio(reference: ref.config, variant: $0.config, training: training,
                                            options: options))
        }, uniquingKeysWith: { a, _ in a })
    }
}
