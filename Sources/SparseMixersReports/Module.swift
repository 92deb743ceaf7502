/// SparseMixersReports: what a table run writes, and the statistics in it. Imports the paper (table ids, specs,
/// scales) and the training results; it runs nothing.
///
/// - `Report` (rows beside the published numbers, speed rows, not-run items, notes) and `ReportWriter`: one writer
///   for Reports/TableN.{csv,md,json}.
/// - `TrainedRow`, `FineTuneSummary`: what each accuracy row was trained as, fine-tuning against its floors.
/// - `SeedStatistics`, `SpeedupInterval`: intervals over seeds and over timing rounds.
/// - `Figures`, `SVGPlot`: Figures 2 and 4 and the learning curves as SVG; `ReportIndex`: Reports/README.md.
/// - `EnvironmentInfo`: machine, build and library versions for every report; `AtomicFile`: whole-file writes.
public enum SparseMixersReportsModule {}
