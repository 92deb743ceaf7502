import Foundation

/// A checkpoint: a small header (magic, version, JSON metadata with the config, head, layout and caller state)
/// followed by the raw parameter arena and, optionally, both Adam moments. Written to a temporary file in the
/// same folder and renamed, so an interrupted write never leaves a half checkpoint behind.
public struct Checkpoint {
    public struct Metadata: Codable, Equatable {
        public var config: ModelConfig
        public var head: ModelHead
        public var tensorNames: [String]
        public var parameterFloats: Int
        public var optimizerStep: Int
        public var hasOptimizer: Bool
        /// Free-form state of the caller (training step, data position, seeds...), JSON-encoded.
        public var userState: Data
    }

    static let magic: [UInt8] = Array("SMXCKPT1".utf8)

    public enum CheckpointError: Error, CustomStringConvertible {
        case unreadable(String), corrupt(String, String), mismatch(String)
        public var description: String {
            switch self {
            case .unreadable(let p): return "checkpoint \(p): cannot be read"
            case .corrupt(let p, let why): return "checkpoint \(p): corrupt (\(why))"
            case .mismatch(let why): return "checkpoint does not fit this model: \(why)"
            }
        }
    }

    /// Writes atomically to `url`.
    public static func save(_ model: Model, optimizer: AdamW?, userState: Data = Data(), to url: URL) throws {
        let meta = Metadata(config: model.config, head: model.head, tensorNames: model.layout.tensors.map(\.name),
                            parameterFloats: model.params.count, optimizerStep: optimizer?.step ?? 0,
                            hasOptimizer: optimizer != nil, userState: userState)
        let json = try JSONEncoder().encode(meta)
        var header = Data(magic)
        var len = UInt64(json.count).littleEndian
        header.append(Data(bytes: &len, count: 8))
        header.append(json)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        FileManager.default.createFile(atPath: tmp.path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: tmp.path) else { throw CheckpointError.unreadable(tmp.path) }
        do {
            try h.write(contentsOf: header)
            func arena(_ a: FloatArena) throws {
                try h.write(contentsOf: Data(bytesNoCopy: a.base, count: a.count * 4, deallocator: .none))
            }
            try arena(model.params)
            if let o = optimizer { try arena(o.m); try arena(o.v) }
            try h.synchronize()
            try h.close()
        } catch {
            try? h.close(); try? FileManager.default.removeItem(at: tmp); throw error
        }
        if rename(tmp.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: tmp)
            throw CheckpointError.unreadable(url.path)
        }
    }

    /// Reads the metadata only.
    public static func metadata(at url: URL) throws -> Metadata {
        try read(url).0
    }

    static func read(_ url: URL) throws -> (Metadata, Data, Int) {
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { throw CheckpointError.unreadable(url.path) }
        guard data.count >= 16, Array(data.prefix(8)) == magic else { throw CheckpointError.corrupt(url.path, "bad magic") }
        let len = data.subdata(in: 8..<16).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard 16 + len <= data.count else { throw CheckpointError.corrupt(url.path, "truncated header") }
        let meta: Metadata
        do { meta = try JSONDecoder().decode(Metadata.self, from: data.subdata(in: 16..<(16 + len))) }
        catch { throw CheckpointError.corrupt(url.path, "header: \(error)") }
        let need = meta.parameterFloats * 4 * (meta.hasOptimizer ? 3 : 1)
        guard data.count == 16 + len + need else {
            throw CheckpointError.corrupt(url.path, "expected \(16 + len + need) bytes, found \(data.count)")
        }
        return (meta, data, 16 + len)
    }

    /// Restores parameters (and moments, when `optimizer` is given and the file has them) into a model with the
    /// same layout. Returns the metadata.
    @discardableResult
    public static func load(_ url: URL, into model: Model, optimizer: AdamW? = nil) throws -> Metadata {
        let (meta, data, off) = try read(url)
        guard meta.tensorNames == model.layout.tensors.map(\.name), meta.parameterFloats == model.params.count else {
            throw CheckpointError.mismatch("parameter layout differs (\(meta.tensorNames.count) tensors vs \(model.layout.tensors.count))")
        }
        let n = meta.parameterFloats * 4
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            memcpy(model.params.base, base + off, n)
            if let o = optimizer, meta.hasOptimizer {
                memcpy(o.m.base, base + off + n, n)
                memcpy(o.v.base, base + off + 2 * n, n)
                o.step = meta.optimizerStep
            }
        }
        return meta
    }

    /// Copies every tensor whose name and shape match from a checkpoint of another head (pre-training →
    /// fine-tuning), skipping the names `exclude` selects (the fresh classification head). Returns copied names.
    @discardableResult
    public static func transfer(_ url: URL, into model: Model, exclude: (String) -> Bool) throws -> [String] {
        let (meta, data, off) = try read(url)
        let source = try Model.layoutOnly(config: meta.config, head: meta.head)
        var copied: [String] = []
        data.withUnsafeBytes { raw in
            let base = (raw.baseAddress! + off).assumingMemoryBound(to: Float.self)
            for spec in model.layout.tensors where !exclude(spec.name) {
                guard let s = source.tensor(named: spec.name), s.shape == spec.shape else { continue }
                (model.params.base + spec.offset).update(from: base + s.offset, count: spec.count)
                copied.append(spec.name)
            }
        }
        return copied
    }
}

extension Model {
    /// The parameter layout a config and head would have, without allocating a model's arenas twice.
    static func layoutOnly(config: ModelConfig, head: ModelHead) throws -> ParameterLayout {
        try Model(config: config, head: head, seed: 0, allocate: false).layout
    }
}
