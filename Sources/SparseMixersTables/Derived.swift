import Foundation
import SparseMixersPaper
import SparseMixersReports

/// Tables made from the runs of other tables, without running anything: those whose catalog entry names
/// `derivedFrom` (6/7: Table 9's best-batch rows; 16: per-task GLUE of the coordinate-descent tables; 17/18: per-task
/// GLUE/SuperGLUE by fine-tuning batch size, from Tables 9 and 10). Every row reads its `VariantSpec.source`.
public enum DerivedTables {
    /// Fills `report` (rows beside the published numbers, skipped items, notes) from the source reports found
    /// in `directory` (Table<N>.json); the sources' own not-run items (other than speed) are carried over. A missing
    /// source, or one at another scale, is a skipped item naming the command that produces it; its rows still carry
    /// the published values with no value of ours.
    public static func tabulate(_ spec: TableSpec, into report: inout Report, directory: URL,
                                published: PublishedNumbers?) {
        var sources: [TableID: Report] = [:]
        var unusable: Set<TableID> = []
        let needed = spec.variants.compactMap { $0.source?.table }
        for t in Array(Set(needed)).sorted() {
            let url = directory.appendingPathComponent(t.fileStem + ".json")
            guard let data = try? Data(contentsOf: url) else {
                report.skip("\(t.fileStem) report (source of \(needed.filter { $0 == t }.count) row(s))",
                            because: "\(url.path) not found; produce it with "
                                     + "`\(TableCatalog.command(t, scale: report.scale))`")
                unusable.insert(t); continue
            }
            guard let r = try? ReportWriter.decode(data) else {
                report.skip("\(t.fileStem) report",
                            because: "\(url.path) is not a report JSON; rerun "
                                     + "`\(TableCatalog.command(t, scale: report.scale))`")
                unusable.insert(t); continue
            }
            guard r.scale == report.scale else {
                report.skip("\(t.fileStem) report", because: "\(url.path) is at scale \(r.scale.rawValue), this "
                            + "table is at \(report.scale.rawValue); rerun "
                            + "`\(TableCatalog.command(t, scale: report.scale))`")
                unusable.insert(t); continue
            }
            sources[t] = r
            // What the source did not run is missing here too (a task without data, an average it could not form).
            for item in r.skipped where !item.item.hasPrefix("speed") {
                report.skip("\(item.item) [from \(t.fileStem)]", because: item.reason)
            }
            report.notes.append("Source \(t.fileStem): commit \(r.environment?.gitCommit ?? "unknown"), "
                                + "\(r.environment?.date ?? "date unknown").")
        }
        var emptyByTable: [TableID: [String]] = [:]
        var trained: [TrainedRow] = []
        for v in spec.variants {
            guard let src = v.source else {
                report.skip(v.name, because: "no source row: an appendix-only variant whose configuration the paper "
                            + "does not give (SPEC §8); not run")
                for m in v.publishedMetrics(in: spec) {
                    report.add(variant: v.name, metric: m, ours: nil, published: published)
                }
                continue
            }
            // What the source row was trained as, named as this table's row.
            if var t = sources[src.table]?.trained?.first(where: { $0.variant == src.variant }) {
                t.variant = v.name; t.trainedIn = "Table \(src.table.rawValue) '\(src.variant)'"; trained.append(t)
            }
            var found = 0
            for m in spec.metrics {
                let key = src.sourceMetric(m)
                let ours = sources[src.table]?.rows.first { $0.variant == src.variant && $0.metric == key }?.ours
                if ours != nil { found += 1 }
                let p = published?.value(table: spec.id, variant: v.name, metric: m)
                guard ours != nil || p != nil else { continue }
                report.add(variant: v.name, metric: m, ours: ours, published: published,
                           notes: "from Table \(src.table.rawValue) '\(src.variant)'" + (key == m ? "" : " (\(key))"))
            }
            if found == 0, sources[src.table] != nil, !unusable.contains(src.table) {
                emptyByTable[src.table, default: []].append(v.name)
            }
        }
        if !trained.isEmpty { report.trained = trained }
        for (t, names) in emptyByTable.sorted(by: { $0.key < $1.key }) {
            let theirs = sources[t]?.skipped.map { "\($0.item): \($0.reason)" } ?? []
            report.skip("\(names.count) row(s) from \(t.fileStem)",
                        because: "\(t.fileStem).json has no per-task values for them"
                            + (theirs.isEmpty ? "" : " (it did not run: \(theirs.joined(separator: "; ")))"))
        }
    }
}
