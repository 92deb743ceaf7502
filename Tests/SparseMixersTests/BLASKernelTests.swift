import XCTest
@testable import SparseMixers

/// The rule that restarts an executable with OPENBLAS_CORETYPE when OpenBLAS fell back to a generic kernel.
final class BLASKernelTests: XCTestCase {
    let avx512: Set<String> = ["sse3", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]

    func testFallbackOnANewerCPUIsReplaced() {
        // The machine this was found on: Intel family 6 model 207, OpenBLAS 0.3.21 chose Prescott.
        XCTAssertEqual(BLASKernel.replacement(chosen: "Prescott", flags: avx512), "SkylakeX")
        XCTAssertEqual(BLASKernel.replacement(chosen: "Sandybridge", flags: ["avx", "avx2", "fma"]), "Haswell")
    }

    func testARecognisedCPUIsLeftAlone() {
        for chosen in ["Haswell", "SkylakeX", "Zen", "Cooperlake", "SapphireRapids"] {
            XCTAssertNil(BLASKernel.replacement(chosen: chosen, flags: avx512), chosen)
        }
        // A CPU without AVX2 keeps whatever OpenBLAS chose.
        XCTAssertNil(BLASKernel.replacement(chosen: "Prescott", flags: ["sse3", "avx"]))
        // AVX-512 without the subsets SkylakeX kernels use falls back to Haswell, not to SkylakeX.
        XCTAssertEqual(BLASKernel.bestCore(flags: ["avx2", "fma", "avx512f"]), "Haswell")
    }

    func testTheLoadedKernelIsReported() {
        XCTAssertFalse(BLASKernel.coreName.isEmpty)
    }
}
