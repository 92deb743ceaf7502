import ArgumentParser
import Foundation
import SparseMixers
import SparseMixersData

struct SparseMixersCLI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sparse-mixers",
        abstract: "Sparse Mixers (Lee-Thorp & Ainslie, 2022) reproduction and benchmark harness.",
        subcommands: [VerifyGolden.self, Bench.self, DataCommand.self, Pretrain.self, Finetune.self,
                      SpeedCheckCommand.self, IndexCommand.self, TablesCommand.self, PlanCommand.self,
                      SubmitCommand.self, JobCommand.self, BLASKernelCommand.self])
}
BLASKernel.ensureFastKernel()
SparseMixersCLI.main()

/// `sparse-mixers blas-kernel`: which OpenBLAS kernel this machine runs, and whether the restart rule replaced it.
struct BLASKernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "blas-kernel",
        abstract: "Print the OpenBLAS kernel in use (the README's \"OpenBLAS's kernel\").")
    @Flag(help: ArgumentHelp("Print only the OPENBLAS_CORETYPE value the executables restart with, or nothing when "
                             + "OpenBLAS's own choice stands (test.sh exports it for the test suite)."))
    var restartChoice = false

    func run() {
        if restartChoice {
            if let k = BLASKernel.restartedWith { print(k) }
            return
        }
        print("OpenBLAS kernel: \(BLASKernel.coreName)" + (BLASKernel.restartedWith.map { _ in
            " (OpenBLAS chose a generic kernel this CPU outgrows; restarted with OPENBLAS_CORETYPE)" } ?? ""))
        print("configuration: \(BLAS.configuration)")
        let timeout = ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"]
        print("idle worker spin: " + (timeout.map { "2^\($0) cycles (OPENBLAS_THREAD_TIMEOUT)" }
                                      ?? "OpenBLAS's default, 2^28 cycles"))
    }
}
