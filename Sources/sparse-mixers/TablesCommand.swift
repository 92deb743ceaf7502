import ArgumentParser
import SparseMixersPaper
import SparseMixersTables

/// `sparse-mixers tables`: the table targets `run_all.sh` runs, one per line, in its order (`Workload.runAllOrder`),
/// so the script's list is the program's.
struct TablesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tables",
        abstract: "Print the table targets in run_all.sh order (those that run models, then the derived ones).")
    @Flag(help: "Also say what each target writes and, for a derived table, which reports it reads.")
    var verbose = false

    func run() {
        for id in Workload.runAllOrder {
            guard verbose else { print(id.fileStem); continue }
            let spec = TableSpec.spec(id)
            let writes = TableRunner.reportIDs(for: id).map(\.fileStem).joined(separator: ", ")
            let reads = spec.isDerived ? "; reads " + spec.derivedFrom.map(\.fileStem).joined(separator: ", ") : ""
            print("\(id.fileStem): writes \(writes)\(reads)")
        }
    }
}
