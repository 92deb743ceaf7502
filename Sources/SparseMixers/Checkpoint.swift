import Foundation
import SparseMixersCore

/// A checkpoint: a small header (magic, version, JSON metadata with the config, head, layout and caller state)
/// followed by the raw parameter arena and, optionally, both Adam moments, and a CRC-32C of everything before it.
/// Written through `DurableFile` (a temporary file in the same folder, fsynced, renamed, folder fsynced), so an
/// interrupted write never leaves a half checkpoint behind.
///
/// Layout (format 2, magic `SMXCKPT2`; all integers little-endian):
///
///     magic (8) | header length n (UInt64) | header JSON (n) | parameters (4P) | [m (4P) | v (4P)] | CRC-32C (UInt32)
///
/// Reading checks, in order: the magic, that n fits in the file, the checksum over every preceding byte, the
/// header's fields (no negative count or step, sizes without overflow), then that the file length is exactly
/// what the header describes. Any failure is a `CheckpointError` naming the file; nothing traps. Format 1 files
/// (`SMXCKPT1`, written before the checksum) still load, unverified; the pre-training driver refuses to resume
/// from them (their state carries no run identity).
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

    static let magic: [UInt8] = Array("SMXCKPT2".utf8)
    static let legacyMagic: [UInt8] = Array("SMXCKPT1".utf8)

    public enum CheckpointError: Error, CustomStringConvertible {
        case unreadable(String), corrupt(String, String), mismatch(String), unwritable(String, String)
        public var description: String {
            switch self {
            case .unreadable(let p): return "checkpoint \(p): cannot be read"
            case .unwritable(let p, let why): return "checkpoint \(p): cannot be written (\(why))"
            case .corrupt(let p, let why): return "checkpoint \(p): corrupt (\(why))"
            case .mismatch(let why): return "checkpoint does not fit this model: \(why)"
            }
        }
    }

    /// Magic, header length and header JSON of a metadata value (what precedes the arenas).
    static func header(_ meta: Metadata) throws -> Data {
        let json = try JSONEncoder().encode(meta)
        var header = Data(magic)
        var len = UInt64(json.count).littleEndian
        header.append(Data(bytes: &len, count: 8))
        header.append(json)
        return header
    }

    /// Writes atomically and durably to `url`.
    public static func save(_ model: Model, optimizer: AdamW?, userState: Data = Data(), to url: URL) throws {
        let meta = Metadata(config: model.config, head: model.head, tensorNames: model.layout.tensors.map(\.name),
                            parameterFloats: model.params.count, optimizerStep: optimizer?.step ?? 0,
                            hasOptimizer: optimizer != nil, userState: userState)
        let head = try header(meta)
        do {
            try DurableFile.write(to: url) { h in
                var crc = CRC32C()
                func put(_ d: Data) throws { crc.update(d); try h.write(contentsOf: d) }
                try put(head)
                func arena(_ a: FloatArena) throws {
                    try put(Data(bytesNoCopy: a.base, count: a.count * 4, deallocator: .none))
                }
                try arena(model.params)
                if let o = optimizer { try arena(o.m); try arena(o.v) }
                var sum = crc.value.littleEndian
                try h.write(contentsOf: Data(bytes: &sum, count: 4))
            }
        } catch let e as DurableFile.Failure {
            throw CheckpointError.unwritable(url.path, "\(e)")
        }
    }

    /// Reads the metadata only (after verifying the whole file).
    public static func metadata(at url: URL) throws -> Metadata {
        try read(url).0
    }

    /// Verifies the file and returns its metadata, the mapped bytes, and the offset of the parameter arena.
    static func read(_ url: URL) throws -> (Metadata, Data, Int) {
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
            throw CheckpointError.unreadable(url.path)
        }
        func corrupt(_ why: String) -> CheckpointError { .corrupt(url.path, why) }
        guard data.count >= 16 else { throw corrupt("\(data.count) bytes, shorter than a header") }
        let head = Array(data.prefix(8))
        guard head == magic || head == legacyMagic else { throw corrupt("bad magic") }
        let trailer = head == magic ? 4 : 0
        let rawLength = data.subdata(in: 8..<16).withUnsafeBytes {
            UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))
        }
        guard data.count >= 16 + trailer, rawLength <= UInt64(data.count - 16 - trailer) else {
            throw corrupt("header length \(rawLength) exceeds the \(data.count)-byte file")
        }
        let len = Int(rawLength)
        if trailer > 0 {
            let body = data.count - 4
            let stored = data.subdata(in: body..<data.count).withUnsafeBytes {
                UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))
            }
            let computed = data.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
            guard stored == computed else {
                throw corrupt("checksum mismatch: stored CRC-32C \(hex(stored)), computed \(hex(computed)) over "
                              + "\(body) bytes; the file was damaged or truncated")
            }
        }
        let meta: Metadata
        do { meta = try JSONDecoder().decode(Metadata.self, from: data.subdata(in: 16..<(16 + len))) }
        catch { throw corrupt("header: \(error)") }
        guard meta.parameterFloats >= 0 else {
            throw corrupt("header field parameterFloats is \(meta.parameterFloats)")
        }
        guard meta.optimizerStep >= 0 else { throw corrupt("header field optimizerStep is \(meta.optimizerStep)") }
        let arenas = meta.hasOptimizer ? 3 : 1
        let (perArena, o1) = meta.parameterFloats.multipliedReportingOverflow(by: 4)
        let (need, o2) = perArena.multipliedReportingOverflow(by: arenas)
        let available = data.count - 16 - len - trailer
        guard !o1, !o2, need == available else {
            throw corrupt("header describes \(meta.parameterFloats) floats x \(arenas) arenas, the file holds "
                          + "\(available) bytes of them")
        }
        return (meta, data, 16 + len)
    }

    static func hex(_ v: UInt32) -> String { "0x" + String(format: "%08x", v) }

    /// Restores parameters (and moments, when `optimizer` is given and the file has them) into a model with the
    /// same layout. Returns the metadata.
    @discardableResult
    public static func load(_ url: URL, into model: Model, optimizer: AdamW? = nil) throws -> Metadata {
        let (meta, data, off) = try read(url)
        guard meta.tensorNames == model.layout.tensors.map(\.name), meta.parameterFloats == model.params.count else {
            throw CheckpointError.mismatch("parameter layout differs (\(meta.tensorNames.count) tensors vs "
                                           + "\(model.layout.tensors.count))")
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
