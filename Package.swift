// swift-tools-version:6.0
// Sparse Mixers (Lee-Thorp & Ainslie, 2022) reproduction and benchmark harness for CPUs.
import PackageDescription
import Foundation

/// Release builds drop dynamic exclusivity checks in the numeric code; debug builds keep them, so the test suite
/// (run in debug) still traps on an overlapping access. (-Ounchecked was tried and crashed Model.init under
/// Swift 6.3.1 in release; plain -O is used.)
/// Release builds also target AVX2 (`-target-cpu haswell`; the reproduction machine is an AVX2+FMA EPYC): the
/// hand loops between BLAS calls vectorise 8 floats wide instead of SSE2's 4. Swift never contracts a·b + c into
/// an FMA on its own, so every result stays bit-for-bit the same (checked with `bench --digest`). Set
/// SMX_PORTABLE=1 in the environment to build for baseline x86-64. A build machine whose /proc/cpuinfo lacks avx2
/// or fma (an older CI runner) gets the baseline build automatically, so a binary never meets an illegal instruction
/// where it was built.
let avx2: [String] = {
    #if arch(x86_64)
    if ProcessInfo.processInfo.environment["SMX_PORTABLE"] != nil { return [] }
    #if os(Linux)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
          flags.split(separator: " ").contains("avx2"), flags.split(separator: " ").contains("fma") else { return [] }
    #endif
    return ["-target-cpu", "haswell"]
    #else
    return []
    #endif
}()
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"] + avx2, .when(configuration: .release)),
]

/// One thin executable per paper table under Tables/<Name>/main.swift (Figure2 also writes Figure4 and TableA5). Each calls
/// `TableMain.run(<TableID>)`; the grids live in SparseMixersPaper.TableCatalog.
var tableTargets: [Target] {
    let names = (1...19).map { "Table\($0)" } + ["Figure2"]
    return names.map {
        .executableTarget(name: $0, dependencies: ["SparseMixersTables", "SparseMixersPaper"],
                          path: "Tables/\($0)", swiftSettings: fastMath)
    }
}

let package = Package(
    name: "SparseMixers",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SparseMixers", targets: ["SparseMixers"]),
        .library(name: "SparseMixersData", targets: ["SparseMixersData"]),
        .library(name: "SparseMixersTraining", targets: ["SparseMixersTraining"]),
        .library(name: "SparseMixersPaper", targets: ["SparseMixersPaper"]),
        .library(name: "SparseMixersReports", targets: ["SparseMixersReports"]),
        .library(name: "SparseMixersTables", targets: ["SparseMixersTables"]),
        .executable(name: "sparse-mixers", targets: ["sparse-mixers"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Thin module maps over Debian's C libraries. Raw C types stay inside the wrapper files.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", pkgConfig: "fftw3f",
                       providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(name: "CCSV", path: "Sources/CCSV",
                       providers: [.apt(["libcsv-dev"])]),
        // C++ shim over libsentencepiece exposing plain C functions.
        .target(name: "CSentencePiece", path: "Sources/CSentencePiece",
                cxxSettings: [.unsafeFlags(["-std=c++17"])],
                linkerSettings: [.linkedLibrary("sentencepiece"), .linkedLibrary("sentencepiece_train"),
                                 .linkedLibrary("stdc++")]),

        // The seeded generator shared by the model and the data pipeline.
        .target(name: "SparseMixersCore", swiftSettings: fastMath),
        // The model library: layers, MoE, optimizer, checkpoints, golden verification, benchmarks.
        .target(name: "SparseMixers", dependencies: ["SparseMixersCore", "CBLAS", "CFFTW"], swiftSettings: fastMath),
        // Data: tokenizer, pre-training examples, GLUE/SuperGLUE loaders, metrics.
        .target(name: "SparseMixersData", dependencies: ["SparseMixersCore", "CCSV", "CSentencePiece"], swiftSettings: fastMath),

        // One way up (ARCHITECTURE.md): each target below imports only targets above it in this list.
        // Training drivers: pre-training and fine-tuning runs with checkpoints, exact resume and divergence; the
        // fine-tuning protocol and grid.
        .target(name: "SparseMixersTraining", dependencies: ["SparseMixers", "SparseMixersData"],
                swiftSettings: fastMath),

        // The paper: table catalog, published numbers, scales and what they mean for training, analytic cost.
        // Its CSV goes through the data module's libcsv wrapper (Delimited.swift), the only code that touches CCSV.
        .target(name: "SparseMixersPaper", dependencies: ["SparseMixers", "SparseMixersData", "SparseMixersTraining"],
                swiftSettings: fastMath),

        // Reports: what a table run writes (CSV, Markdown, JSON, SVG figures, the index) and the statistics in it.
        .target(name: "SparseMixersReports", dependencies: ["SparseMixers", "SparseMixersTraining", "SparseMixersPaper"],
                swiftSettings: fastMath),

        // The table runner shared by every TableN executable: flags, interleaved timing, accuracy runs, derived
        // tables, speed check, the Slurm job graph.
        .target(name: "SparseMixersTables",
                dependencies: ["SparseMixers", "SparseMixersData", "SparseMixersTraining", "SparseMixersPaper",
                               "SparseMixersReports", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: fastMath),

        .executableTarget(name: "sparse-mixers",
                          dependencies: ["SparseMixers", "SparseMixersData", "SparseMixersTraining", "SparseMixersPaper",
                                         "SparseMixersReports", "SparseMixersTables",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: fastMath),

        // Helpers shared by the test targets: temporary directories, the kernel-level gradient check.
        .target(name: "SparseMixersTestSupport", path: "Tests/SparseMixersTestSupport"),
        .testTarget(name: "SparseMixersTests", dependencies: ["SparseMixers", "SparseMixersCore", "SparseMixersTestSupport"]),
        .testTarget(name: "SparseMixersDataTests",
                    dependencies: ["SparseMixersData", "SparseMixersCore", "SparseMixersTestSupport"]),
        .testTarget(name: "SparseMixersPaperTests", dependencies: ["SparseMixersPaper", "SparseMixersTraining"]),
        .testTarget(name: "SparseMixersReportsTests",
                    dependencies: ["SparseMixersReports", "SparseMixersPaper", "SparseMixersTraining"]),
        .testTarget(name: "SparseMixersTrainingTests",
                    dependencies: ["SparseMixersTraining", "SparseMixersCore", "SparseMixersTestSupport"]),
        .testTarget(name: "SparseMixersTablesTests",
                    dependencies: ["SparseMixersTables", "SparseMixersReports", "SparseMixersPaper",
                                   "SparseMixersTraining", "SparseMixers"]),
    ] + tableTargets,
    swiftLanguageModes: [.v5]
)

