import ArgumentParser
import SparseMixers

struct SparseMixersCLI: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sparse-mixers",
        abstract: "Sparse Mixers reproduction harness.")
}
SparseMixersCLI.main()
