import Foundation
import XCTest
import SparseMixersCore
import SparseMixers
import SparseMixersData
@testable import SparseMixersTraining
import SparseMixersTestSupport

/// What a Slurm job near its time limit relies on (`sbatch --signal=B:USR1@120`, `sparse-mixers job pretrain`):
/// the signal becomes a stop request, the run checkpoints the step it is at (off the checkpoint cadence) and
/// stops, and the requeued job's resume ends exactly where an uninterrupted run ends.
final class StopRequestTests: XCTestCase {
    let options = TinyRun.options

    func params(_ url: URL) throws -> [Float] { try TinyRun.params(url) }

    func testSignalBecomesAStopRequest() {
        StopRequest.reset()
        defer { StopRequest.reset(); signal(SIGUSR1, SIG_DFL) }
        StopRequest.install([SIGUSR1])
        XCTAssertFalse(StopRequest.isRequested)
        raise(SIGUSR1)   // the default action would end the test process
        XCTAssertTrue(StopRequest.isRequested)
        XCTAssertEqual(StopRequest.signal, SIGUSR1)
    }

    func testStopCheckpointsTheCurrentStepAndTheResumeEqualsTheUninterruptedRun() throws {
        let root = try makeTempDir(self)
        let a = try TinyRun.trainer(root.appendingPathComponent("a"), options)
        let ra = try a.run(resume: false)

        // Stop requested after step 7: the cadence (every 4) would have left a checkpoint of step 4.
        let bDir = root.appendingPathComponent("b")
        let b = try TinyRun.trainer(bDir, options)
        var polls = 0
        b.shouldStop = { polls += 1; return polls == 7 }
        XCTAssertThrowsError(try b.run(resume: false)) { e in
            XCTAssertTrue(e is StoppedOnRequest, "\(e)")
            XCTAssertTrue("\(e)".contains("step 7 of 12"), "\(e)")
        }
        let state = try JSONDecoder().decode(PretrainState.self,
                                             from: try Checkpoint.metadata(at: b.checkpointURL).userState)
        XCTAssertEqual(state.step, 7)
        XCTAssertFalse(FileManager.default.fileExists(atPath: b.resultURL.path))
        XCTAssertTrue(try String(contentsOf: b.logURL, encoding: .utf8).contains("\"kind\":\"stopped\""))

        let rb = try TinyRun.trainer(bDir, options).run(resume: true)
        XCTAssertTrue(rb.complete)
        XCTAssertEqual(try params(a.checkpointURL), try params(b.checkpointURL))
        func scores(_ r: PretrainResult) -> [PretrainEval] {
            r.evals.map { var e = $0; e.trainSeconds = nil; return e }
        }
        XCTAssertEqual(scores(ra), scores(rb))
        let la = JSONLLog(unchecked: a.logURL)
            .records(TrainRecordView.self).filter { $0.kind == "train" }.map { [$0.step: $0.loss] }
        let lb = JSONLLog(unchecked: b.logURL)
            .records(TrainRecordView.self).filter { $0.kind == "train" }.map { [$0.step: $0.loss] }
        XCTAssertEqual(la, lb)
        XCTAssertEqual(la.count, 6)
    }

    /// The request is polled after every step but the last: a run that reached its last step completes and
    /// writes its result whatever arrives then.
    func testTheLastStepIsNotPolled() throws {
        let dir = try makeTempDir(self).appendingPathComponent("c")
        let t = try TinyRun.trainer(dir, options)
        var polls = 0
        t.shouldStop = { polls += 1; return false }
        XCTAssertTrue(try t.run(resume: false).complete)
        XCTAssertEqual(polls, options.steps - 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: t.resultURL.path))
    }
}
