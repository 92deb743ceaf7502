import SparseMixersCore
import Foundation

/// One contiguous, 64-byte aligned, zero-filled block of floats. The model keeps one arena per kind of buffer:
/// parameters, gradients, each Adam moment, and activations.
///
/// Arenas of 2 MB or more are mapped directly (`mmap`, already zero) and advised to use transparent huge pages:
/// a 540M-parameter model's parameters, gradients and moments are 8.6 GB, and touching them for the first time
/// one 4 KB page fault at a time cost more than initialising them (and every later pass over them misses the
/// TLB less).
public final class FloatArena: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>
    /// Bytes mapped with `mmap` (0: allocated with `posix_memalign`).
    private let mappedBytes: Int

    static let mapThreshold = 2 << 20

    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= FloatArena.mapThreshold,
           let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            _ = madvise(p, bytes, MADV_HUGEPAGE)   // advice only: ignored where unsupported
            mappedBytes = bytes
            base = p.bindMemory(to: Float.self, capacity: max(count, 1))
        } else {
            var raw: UnsafeMutableRawPointer? = nil
            precondition(posix_memalign(&raw, 64, bytes) == 0 && raw != nil, "out of memory allocating \(bytes) bytes")
            mappedBytes = 0
            base = raw!.bindMemory(to: Float.self, capacity: max(count, 1))
            base.initialize(repeating: 0, count: max(count, 1))
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(base, mappedBytes) } else { free(base) }
    }

    public func zero() { base.update(repeating: 0, count: count) }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: base, count: count) }

    public subscript(i: Int) -> Float {
        get { base[i] }
        set { base[i] = newValue }
    }

    public func copy(from other: FloatArena) {
        precondition(other.count == count, "arena size mismatch: \(other.count) vs \(count)")
        base.update(from: other.base, count: count)
    }
}

/// A bump allocator over a `FloatArena`, used to carve the activation arena into named buffers.
/// Built twice: once with `sizing: true` to count floats, then for real.
public struct ArenaCarver {
    private(set) var used = 0
    private let arena: FloatArena?
    private static let scratch = FloatArena(count: 16)

    public static func sizing() -> ArenaCarver { ArenaCarver(arena: nil) }
    public init(arena: FloatArena?) { self.arena = arena }

    /// `n` floats, aligned to 16 floats (64 bytes). In sizing mode the pointer must not be dereferenced.
    public mutating func take(_ n: Int) -> UnsafeMutablePointer<Float> {
        let start = used
        used += (n + 15) & ~15
        guard let a = arena else { return ArenaCarver.scratch.base }
        precondition(used <= a.count, "activation arena overflow")
        return a.base + start
    }
}

/// How a tensor is initialised (SPEC §1.8).
public enum TensorInit: Codable, Equatable, Sendable {
    /// normal(0, std), not truncated.
    case normal(Float)
    case zeros
    case ones
    /// Flax lecun_normal: truncated normal at ±2σ with variance 1/fanIn.
    case lecunNormal(fanIn: Int)
}

/// How a stored tensor's memory order differs from the authors' Flax layout (for golden fixtures).
public enum ReferenceLayout: String, Codable, Sendable {
    /// Same element order.
    case same
    /// Ours [E, in, out], reference [in, E, out].
    case expertKernel
    /// Ours [E, out], reference [out, E].
    case expertBias
}

public struct TensorSpec: Codable, Equatable, Sendable {
    /// The reference's Flax path, e.g. `encoder/encoder_0/mixing_layer_norm/scale`.
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let initializer: TensorInit
    public let referenceLayout: ReferenceLayout
    /// Part of an MoE sublayer's experts (for "freeze MoE" fine-tuning).
    public let isExpert: Bool
    public var count: Int { shape.reduce(1, *) }
}

/// Named slices of the parameter arena. Gradients and optimizer moments use the same offsets.
public struct ParameterLayout: Codable, Equatable, Sendable {
    public private(set) var tensors: [TensorSpec] = []
    public private(set) var totalCount = 0
    private var index: [String: Int] = [:]

    public init() {}

    /// Appends a tensor and returns its offset (aligned to 16 floats).
    @discardableResult
    public mutating func add(_ name: String, _ shape: [Int], _ initializer: TensorInit,
                             reference: ReferenceLayout = .same, isExpert: Bool = false) -> Int {
        precondition(index[name] == nil, "duplicate parameter \(name)")
        let offset = totalCount
        let spec = TensorSpec(name: name, shape: shape, offset: offset, initializer: initializer,
                              referenceLayout: reference, isExpert: isExpert)
        index[name] = tensors.count
        tensors.append(spec)
        totalCount += (spec.count + 15) & ~15
        return offset
    }

    public func tensor(named name: String) -> TensorSpec? { index[name].map { tensors[$0] } }

    /// Number of scalar parameters (without alignment padding).
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.count } }

    /// Names the initialisation algorithm (normal generator and stream layout) in run identities, so a cached
    /// run made with other initial values is never taken for this code's.
    public static let initializationVersion = "ziggurat-v1"

    /// Fills `arena` with initial values drawn from `rng`; each tensor gets its own stream, so adding a tensor
    /// does not change the others' values, and tensors are filled in parallel with the same values at any
    /// thread count.
    public func initialize(_ arena: FloatArena, seed: UInt64) {
        let root = RNG(seed: seed)
        Parallel.forEach(tensors.count) { i in
            let t = tensors[i]
            var r = root.fork(UInt64(i) &+ 1)
            let p = arena.base + t.offset
            switch t.initializer {
            case .zeros: p.update(repeating: 0, count: t.count)
            case .ones: p.update(repeating: 1, count: t.count)
            case .normal(let std):
                for j in 0..<t.count { p[j] = std * r.normal() }
            case .lecunNormal(let fanIn):
                // Truncated at ±2 standard deviations; the std is corrected so the variance is 1/fanIn.
                let std = (1.0 / Float(fanIn)).squareRoot() / 0.879_625_66
                for j in 0..<t.count {
                    var z = r.normal()
                    while abs(z) > 2 { z = r.normal() }
                    p[j] = std * z
                }
            }
        }
    }
}
