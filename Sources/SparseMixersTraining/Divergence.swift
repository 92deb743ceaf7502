import Foundation

/// When a run counts as diverged (Table 10 counts stable runs with this rule).
///
/// A run diverges at the first step whose training loss is NaN or infinite, or — once `minimumStep` steps
/// have run — whose mean loss over the last `window` steps exceeds `factor` times the lowest such windowed
/// mean seen so far. The paper does not say what it called unstable [UNKNOWN]; a sustained doubling of the
/// loss after warm-up is far outside the step-to-step noise of MLM+NSP training (about ±5% over 20 steps at
/// every scale we ran) and is what a diverging run looks like before it turns into NaN.
public struct DivergenceRule: Codable, Equatable, Sendable {
    public var window: Int = 20
    public var factor: Double = 2.0
    /// Steps before the blow-up test starts (the caller passes max(warm-up, 2·window)).
    public var minimumStep: Int = 100

    public init(window: Int = 20, factor: Double = 2.0, minimumStep: Int = 100) {
        self.window = window; self.factor = factor; self.minimumStep = minimumStep
    }

    public var text: String {
        "diverged = a NaN/inf loss, or after step \(minimumStep) a \(window)-step mean loss above "
            + String(format: "%g", factor) + "x the lowest \(window)-step mean so far"
    }
}

/// The rule's running state; Codable so it is checkpointed with the run and a resumed run decides identically.
public struct DivergenceTracker: Codable, Equatable, Sendable {
    public var rule: DivergenceRule
    public var recent: [Double] = []
    public var lowestMean: Double = .infinity

    public init(rule: DivergenceRule) { self.rule = rule }

    /// Feeds the loss of step `step` (1-based count of steps done); returns the reason if the run diverged.
    public mutating func observe(loss: Double, step: Int) -> String? {
        if !loss.isFinite { return "loss is \(loss) at step \(step)" }
        recent.append(loss)
        if recent.count > rule.window { recent.removeFirst(recent.count - rule.window) }
        guard recent.count == rule.window else { return nil }
        let mean = recent.reduce(0, +) / Double(recent.count)
        if step >= rule.minimumStep, lowestMean.isFinite, mean > rule.factor * lowestMean {
            return String(format: "%d-step mean loss %.4g at step %d is above %g x the lowest %.4g",
                          rule.window, mean, step, rule.factor, lowestMean)
        }
        lowestMean = min(lowestMean, mean)
        return nil
    }

    // JSON cannot hold infinity: encode it as nil.
    enum CodingKeys: String, CodingKey { case rule, recent, lowestMean }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rule = try c.decode(DivergenceRule.self, forKey: .rule)
        recent = try c.decode([Double].self, forKey: .recent)
        lowestMean = try c.decodeIfPresent(Double.self, forKey: .lowestMean) ?? .infinity
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(recent, forKey: .recent)
        if lowestMean.isFinite { try c.encode(lowestMean, forKey: .lowestMean) }
    }
}
