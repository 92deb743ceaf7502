/// SparseMixersHarness: everything a `TableN` executable needs besides the model itself.
///
/// - `PublishedNumbers`: the paper's values (published_numbers.csv, read with libcsv through `CSV`).
/// - `TableSpec` / `TableCatalog`: each table's grid of variants as data (paper-scale `ModelConfig`,
///   fine-tuning protocol, speed reference, sources of the appendix tables, guesses spelled out).
/// - `Scale` / `ScaleSettings`: `ci`, `small`, `paper` and the one rule mapping paper configs to scaled ones
///   (`scaledConfig`, `ruleText`).
/// - `FLOPCounter`, `ParameterCounter`, `AnalyticCost`: analytic cost (SPEC §6), with the group and capacity rules of `Routing`.
/// - `EnvironmentInfo`: machine, build and library versions for every report.
/// - `Report`, `ReportWriter`, `SVGPlot`: one writer for Reports/TableN.{csv,md,json}, the index and figures.
/// - `SpeedBaseline`: speed-ratio regression check for CI.
public enum SparseMixersHarnessModule {}
