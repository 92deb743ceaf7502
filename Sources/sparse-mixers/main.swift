import ArgumentParser
import SparseMixers
import SparseMixersData

struct SparseMixersCLI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sparse-mixers",
        abstract: "Sparse Mixers (Lee-Thorp & Ainslie, 2022) reproduction and benchmark harness.",
        subcommands: [VerifyGolden.self, Bench.self, DataCommand.self, Pretrain.self, Finetune.self,
                      SpeedCheckCommand.self, IndexCommand.self, PlanCommand.self])
}
BLASKernel.ensureFastKernel()
SparseMixersCLI.main()
