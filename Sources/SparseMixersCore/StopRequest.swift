import Foundation

/// A request to stop long work at its next safe point, set from a signal handler. A Slurm job that is about to
/// reach its time limit gets SIGUSR1 (`sbatch --signal=B:USR1@120`, which the job script passes on) and a
/// preempted one SIGTERM; `Pretrainer` polls `isRequested` after every step, writes a checkpoint of that step and
/// stops, so the requeued job resumes from there (exact resume: README, Reliability).
public enum StopRequest {
    /// Plain aligned words (a sig_atomic_t each): a signal handler may store them, and a reader sees the old
    /// value or the new one. Touched by `install` before a handler can run, so their lazy initialisation never
    /// happens inside a handler.
    nonisolated(unsafe) private static var flag: Int32 = 0
    nonisolated(unsafe) private static var lastSignal: Int32 = 0

    /// True once a handled signal arrived (or `request` was called).
    public static var isRequested: Bool { flag != 0 }
    /// The signal that asked for the stop, 0 when none did.
    public static var signal: Int32 { lastSignal }

    public static func request(signal: Int32 = 0) {
        lastSignal = signal
        flag = 1
    }

    /// Clears the request (tests).
    public static func reset() { flag = 0; lastSignal = 0 }

    /// Turns `signals` (default SIGUSR1 and SIGTERM) into a stop request instead of their default action
    /// (ending the process at once).
    public static func install(_ signals: [Int32] = [SIGUSR1, SIGTERM]) {
        _ = isRequested; _ = signal
        for s in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { StopRequest.request(signal: $0) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(s, &action, nil)
        }
    }

    /// The exit status of a process that stopped on request after saving its state: EX_TEMPFAIL, "try again",
    /// which the job script reads as "requeue me".
    public static let exitStatus: Int32 = 75
}

/// Thrown by work that stopped on a `StopRequest` after saving what it needs to resume.
public struct StoppedOnRequest: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
