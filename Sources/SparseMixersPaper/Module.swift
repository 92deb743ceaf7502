/// SparseMixersPaper: the paper as data, and what a scale means. Imports the model, the data and the training
/// drivers; nothing here runs a table or writes a report (those are SparseMixersTables and SparseMixersReports).
///
/// - `TableID`, `TableSpec` / `TableCatalog`: each table's grid of variants as data (paper-scale `ModelConfig`,
///   fine-tuning protocol, speed reference, sources of the derived tables, what a target also writes, guesses
///   spelled out).
/// - `PublishedNumbers`: the paper's values (published_numbers.csv, read with libcsv through `CSV`).
/// - `PretrainingNotes` and the paper's fine-tuning protocols (`Schedules.swift`).
/// - `Scale` / `ScaleSettings`: `ci`, `small`, `long`, `paper` and the one rule mapping paper configs to scaled ones
///   (`scaledConfig`, `ruleText`); `ScalePlan`: what a scale means for the training drivers.
/// - `FLOPCounter`, `ParameterCounter`: analytic cost (SPEC §6), with the group and capacity rules of `Routing`.
public enum SparseMixersPaperModule {}
