import Foundation

/// Loader for the fixtures in `../shared/golden` (format in its README) and the comparison that
/// `sparse-mixers verify-golden` prints.
public struct GoldenCase {
    public let directory: URL
    public let name: String
    public let config: ModelConfig
    public let batch: Batch
    public let losses: [String: Any]
    let entries: [String: [String: Any]]   // "kind/name" → manifest entry

    public enum GoldenError: Error, CustomStringConvertible {
        case missing(String), malformed(String)
        public var description: String {
            switch self {
            case .missing(let s): return "golden fixture: missing \(s)"
            case .malformed(let s): return "golden fixture: \(s)"
            }
        }
    }

    public init(directory: URL) throws {
        self.directory = directory
        let manifestURL = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: manifestURL) else { throw GoldenError.missing(manifestURL.path) }
        guard let m = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let cfg = m["config"] as? [String: Any], let tensors = m["tensors"] as? [[String: Any]] else {
            throw GoldenError.malformed("\(manifestURL.path): no config or tensors")
        }
        name = (m["case"] as? String) ?? directory.lastPathComponent
        var e: [String: [String: Any]] = [:]
        for t in tensors {
            guard let kind = t["kind"] as? String, let n = t["name"] as? String else { continue }
            e["\(kind)/\(n)"] = t
        }
        entries = e
        config = try GoldenCase.makeConfig(cfg, file: manifestURL.path)
        let lossURL = directory.appendingPathComponent("losses.json")
        guard let ld = try? Data(contentsOf: lossURL),
              let lj = try JSONSerialization.jsonObject(with: ld) as? [String: Any] else {
            throw GoldenError.missing(lossURL.path)
        }
        losses = lj
        let B = (m["batch_size"] as? Int) ?? 0, L = (m["seq_length"] as? Int) ?? 0
        var b = Batch(batchSize: B, seqLength: L, inputIds: [], typeIds: [])
        func ints(_ n: String) throws -> [Int32] { try GoldenCase.readInt32(directory, e["inputs/\(n)"], n) }
        b.inputIds = try ints("input_ids"); b.typeIds = try ints("type_ids")
        b.maskedLMPositions = try ints("masked_lm_positions"); b.maskedLMIds = try ints("masked_lm_ids")
        b.nextSentenceLabels = try ints("next_sentence_labels")
        b.maskedLMWeights = try GoldenCase.readFloat(directory, e["inputs/masked_lm_weights"], "masked_lm_weights")
        batch = b
    }

    static func makeConfig(_ c: [String: Any], file: String) throws -> ModelConfig {
        func int(_ k: String) throws -> Int {
            guard let v = c[k] as? Int else {
                throw GoldenError.malformed("\(file): config.\(k) missing or not an integer")
            }
            return v
        }
        func float(_ k: String) throws -> Float {
            guard let v = c[k] as? Double else {
                throw GoldenError.malformed("\(file): config.\(k) missing or not a number")
            }
            return Float(v)
        }
        func raw<T: RawRepresentable>(_ k: String) throws -> T where T.RawValue == String {
            guard let s = c[k] as? String, let v = T(rawValue: s) else {
                throw GoldenError.malformed("\(file): config.\(k) unknown")
            }
            return v
        }
        var m = ModelConfig()
        m.modelArch = try raw("model_arch"); m.vocabSize = try int("vocab_size"); m.padId = try int("pad_id")
        m.typeVocabSize = try int("type_vocab_size"); m.maxSeqLength = try int("max_seq_length")
        m.maxPredictionsPerSeq = try int("max_predictions_per_seq")
        m.dEmb = try int("d_emb"); m.dModel = try int("d_model")
        m.dFF = try int("d_ff"); m.numHeads = try int("num_heads"); m.numLayers = try int("num_layers")
        m.dropoutRate = try float("dropout_rate"); m.mixingDropoutRate = try float("mixing_dropout_rate")
        m.useFFT = (c["use_fft"] as? Bool) ?? false
        m.attentionLayout = try raw("attention_layout"); m.numAttentionLayers = try int("num_attention_layers")
        m.moeLayout = try raw("moe_layout"); m.numMoELayers = try int("num_moe_layers")
        m.numExperts = try int("num_experts")
        m.maxGroupSize = try int("max_group_size"); m.expertDFF = try int("expert_d_ff")
        m.expertDropoutRate = try float("expert_dropout_rate"); m.dispatchAlgorithm = try raw("dispatch_algorithm")
        m.trainCapacityFactor = try float("train_capacity_factor")
        m.evalCapacityFactor = try float("eval_capacity_factor")
        m.minExpertCapacity = try int("min_expert_capacity"); m.numSelectedExperts = try int("num_selected_experts")
        m.batchPrioritizedRouting = (c["batch_prioritized_routing"] as? Bool) ?? true
        m.auxiliaryLossFactor = try float("auxiliary_loss_factor")
        m.routerZLossFactor = try float("router_z_loss_factor")
        m.jitterNoise = try float("jitter_noise")
        do { try m.validate() } catch let e as ConfigError { throw GoldenError.malformed("\(file): \(e)") }
        return m
    }

    static func readRaw(_ dir: URL, _ entry: [String: Any]?, _ name: String) throws -> (Data, [Int]) {
        guard let entry, let file = entry["file"] as? String, let shape = entry["shape"] as? [Int] else {
            throw GoldenError.missing("tensor \(name) in manifest")
        }
        let url = dir.appendingPathComponent(file)
        guard let d = try? Data(contentsOf: url) else { throw GoldenError.missing(url.path) }
        let count = shape.reduce(1, *)
        guard d.count == count * 4 else {
            throw GoldenError.malformed("\(url.path): \(d.count) bytes, expected \(count * 4)")
        }
        return (d, shape)
    }

    static func readFloat(_ dir: URL, _ entry: [String: Any]?, _ name: String) throws -> [Float] {
        let (d, _) = try readRaw(dir, entry, name)
        return d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func readInt32(_ dir: URL, _ entry: [String: Any]?, _ name: String) throws -> [Int32] {
        let (d, _) = try readRaw(dir, entry, name)
        return d.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
    }

    public func floats(_ kind: String, _ name: String) throws -> [Float] {
        try GoldenCase.readFloat(directory, entries["\(kind)/\(name)"], "\(kind)/\(name)")
    }
    public func ints(_ kind: String, _ name: String) throws -> [Int32] {
        try GoldenCase.readInt32(directory, entries["\(kind)/\(name)"], "\(kind)/\(name)")
    }
    public func names(kind: String) -> [String] {
        entries.keys.filter { $0.hasPrefix(kind + "/") }.map { String($0.dropFirst(kind.count + 1)) }.sorted()
    }

    /// Converts a reference-layout tensor into our layout.
    static func toOurs(_ v: [Float], _ spec: TensorSpec) -> [Float] {
        switch spec.referenceLayout {
        case .same: return v
        case .expertKernel:   // ref [in, E, out] → ours [E, in, out]
            let E = spec.shape[0], nIn = spec.shape[1], nOut = spec.shape[2]
            var o = [Float](repeating: 0, count: v.count)
            for i in 0..<nIn {
                for e in 0..<E { for j in 0..<nOut { o[(e * nIn + i) * nOut + j] = v[(i * E + e) * nOut + j] } }
            }
            return o
        case .expertBias:     // ref [out, E] → ours [E, out]
            let E = spec.shape[0], nOut = spec.shape[1]
            var o = [Float](repeating: 0, count: v.count)
            for j in 0..<nOut { for e in 0..<E { o[e * nOut + j] = v[j * E + e] } }
            return o
        }
    }

    /// Copies every `params/` tensor into the model (all of the model's tensors must be present).
    public func load(into model: Model, kind: String = "params", arena: FloatArena? = nil) throws {
        let target = arena ?? model.params
        for spec in model.layout.tensors {
            let v = try floats(kind, spec.name)
            guard v.count == spec.count else {
                throw GoldenError.malformed(
                    "\(kind)/\(spec.name): \(v.count) values, model expects \(spec.count) \(spec.shape)")
            }
            let ours = GoldenCase.toOurs(v, spec)
            (target.base + spec.offset).update(from: ours, count: spec.count)
        }
    }
}

/// One tensor's agreement with the reference.
public struct TensorComparison: Sendable {
    public var name: String
    public var count: Int
    public var maxAbsError: Float
    public var maxRelError: Float
    /// max |ours − ref| / max(|ref|, 0.01·max|ref|, floor): what the tolerance applies to.
    public var scaledError: Float
    public var passed: Bool
}

public enum GoldenVerifier {
    /// Relative tolerance of `verify-golden`.
    public static let relativeTolerance: Float = 1e-4
    /// Absolute floor under the denominator, for values near zero (e.g. the key-bias gradient, which is zero
    /// mathematically and float round-off in the fixture).
    public static let absoluteFloor: Float = 3e-3

    public static func compare(_ name: String, ours: [Float], reference: [Float]) -> TensorComparison {
        precondition(ours.count == reference.count, "\(name): \(ours.count) vs \(reference.count) values")
        let maxRef = reference.reduce(0) { max($0, abs($1)) }
        var maxAbs: Float = 0, maxRel: Float = 0, scaled: Float = 0
        for i in 0..<ours.count {
            let d = abs(ours[i] - reference[i])
            if !d.isFinite { maxAbs = .infinity; scaled = .infinity; continue }
            maxAbs = max(maxAbs, d)
            maxRel = max(maxRel, d / max(abs(reference[i]), 1e-12))
            scaled = max(scaled, d / max(abs(reference[i]), 0.01 * maxRef, absoluteFloor))
        }
        return TensorComparison(name: name, count: ours.count, maxAbsError: maxAbs, maxRelError: maxRel,
                                scaledError: scaled, passed: scaled <= relativeTolerance)
    }

    /// Forward, backward and one AdamW step on a fixture; one comparison per tensor and loss.
    public static func verify(_ g: GoldenCase) throws -> [TensorComparison] {
        let model = try Model(config: g.config, head: .pretraining, seed: 0)
        try g.load(into: model)
        var out: [TensorComparison] = []
        let result = try model.forward(g.batch, training: true, dropoutSeed: 0)
        guard let w = model.workspace else { return out }
        let cfg = g.config, B = g.batch.batchSize, L = cfg.maxSeqLength, D = cfg.dModel, T = B * L
        func arr(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> [Float] {
            Array(UnsafeBufferPointer(start: p, count: n))
        }
        func cmp(_ name: String, _ ours: [Float]) throws {
            out.append(compare("outputs/\(name)", ours: ours, reference: try g.floats("outputs", name)))
        }
        try cmp("embedding_output", arr(w.embedding.output, T * D))
        for (l, bc) in w.blocks.enumerated() {
            try cmp("encoder_\(l)/mixing_output", arr(bc.mixOut, T * D))
            try cmp("encoder_\(l)/mixing_layer_norm", arr(bc.h, T * D))
            try cmp("encoder_\(l)/feed_forward_output", arr(bc.ffOut, T * D))
            try cmp("encoder_\(l)/output", arr(bc.out, T * D))
            if case .moe(let mp, let mc) = bc.feedForward, let d = mc.decision {
                let E = cfg.numExperts
                try cmp("moe_\(l)/router_logits", arr(mc.logits, T * E))
                try cmp("moe_\(l)/router_probs", arr(mc.probs, T * E))
                let G = d.numGroups, Tg = d.tokensPerGroup, C = d.capacity
                var dispatch = [Float](repeating: 0, count: G * Tg * E * C), combine = dispatch
                var expertOut = [Float](repeating: 0, count: G * E * C * D)
                var filled = [Bool](repeating: false, count: G * E * C)
                for e in 0..<E { for j in 0..<d.count[e] {
                    let idx = e * d.slotsPerExpert + j
                    let t = Int(d.token[idx]), pos = Int(d.position[idx])
                    let gi = pos / C, c = pos % C, tl = t - gi * Tg
                    dispatch[((gi * Tg + tl) * E + e) * C + c] = 1
                    combine[((gi * Tg + tl) * E + e) * C + c] = d.weight[idx]
                    filled[(gi * E + e) * C + c] = true
                    for k in 0..<D { expertOut[((gi * E + e) * C + c) * D + k] = mc.ye[(e * mc.maxSlots + j) * D + k] }
                } }
                // Empty slots hold the expert applied to a zero input: W2·gelu(b1) + b2.
                for gi in 0..<G { for e in 0..<E { for c in 0..<C where !filled[(gi * E + e) * C + c] {
                    let ep = mp.expert(e), P = model.params.base, F = mp.dFF
                    for k in 0..<D {
                        var s = P[ep.w2.bias + k]
                        for f in 0..<F { s += FastMath.gelu(P[ep.w1.bias + f]) * P[ep.w2.kernel + f * D + k] }
                        expertOut[((gi * E + e) * C + c) * D + k] = s
                    }
                } } }
                let refDispatch = try g.ints("outputs", "moe_\(l)/dispatch_mask").map { Float($0) }
                out.append(compare("outputs/moe_\(l)/dispatch_mask", ours: dispatch, reference: refDispatch))
                try cmp("moe_\(l)/combine_array", combine)
                try cmp("moe_\(l)/expert_outputs", expertOut)
            }
        }
        try cmp("sequence_output", arr(w.blocks.last!.out, T * D))
        try cmp("pooler_pre_tanh", arr(w.heads.poolPre, B * D))
        try cmp("pooled_output", arr(w.heads.pooled, B * D))
        let Pn = cfg.maxPredictionsPerSeq
        try cmp("mlm_transform", arr(w.heads.tNorm, B * Pn * cfg.dEmb))
        try cmp("mlm_logits", arr(w.heads.mlmLogits, B * Pn * cfg.vocabSize))
        try cmp("nsp_logits", arr(w.heads.logits, B * 2))
        func loss(_ key: String, _ v: Double) {
            let ref = (g.losses[key] as? Double) ?? .nan
            out.append(compare("losses/\(key)", ours: [Float(v)], reference: [Float(ref)]))
        }
        loss("mlm_loss", result.mlmLoss); loss("nsp_loss", result.nspLoss); loss("aux_loss", result.auxLoss)
        loss("z_loss", result.zLoss); loss("total_loss", result.totalLoss)
        if let per = g.losses["per_moe_layer"] as? [String: [String: Double]] {
            for (k, v) in per.sorted(by: { $0.key < $1.key }) {
                guard let l = Int(k), let st = result.moe[l] else { continue }
                let pairs: [(String, Float)] = [("aux_loss", st.auxLoss), ("z_loss", st.zLoss),
                    ("fraction_tokens_left_behind", st.fractionTokensLeftBehind), ("expert_usage", st.expertUsage),
                    ("router_confidence", st.routerConfidence)]
                for (name, ours) in pairs {
                    out.append(compare("losses/moe_\(l)/\(name)", ours: [ours], reference: [Float(v[name] ?? .nan)]))
                }
            }
        }
        // Gradients.
        model.zeroGradients()
        model.backward()
        for spec in model.layout.tensors {
            let ref = GoldenCase.toOurs(try g.floats("grads", spec.name), spec)
            out.append(compare("grads/\(spec.name)", ours: arr(model.grads.base + spec.offset, spec.count),
                               reference: ref))
        }
        // One AdamW step (lr 1e-3 constant) applied to the fixture's own gradients, as its README prescribes.
        try g.load(into: model, kind: "grads", arena: model.grads)
        let opt = AdamW(parameterCount: model.params.count)
        opt.update(params: model.params, grads: model.grads, learningRate: 1e-3)
        for name in g.names(kind: "adamw") {
            guard let spec = model.layout.tensor(named: name) else {
                throw GoldenCase.GoldenError.missing("parameter \(name)")
            }
            let ref = GoldenCase.toOurs(try g.floats("adamw", name), spec)
            out.append(compare("adamw/\(name)", ours: arr(model.params.base + spec.offset, spec.count), reference: ref))
        }
        return out
    }
}
