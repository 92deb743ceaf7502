import Foundation
import SparseMixersCore
import XCTest
@testable import SparseMixers

/// Checkpoint integrity (issue 14): the CRC-32C, and damaged files raising errors instead of loading or trapping.
final class CheckpointTests: XCTestCase {
    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("smx-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A checkpoint of a trained tiny model with Adam moments.
    func saved(_ dir: URL) throws -> (URL, Model, AdamW) {
        let c = Tiny.config(.linear, layers: 2, attention: 1, moe: 1)
        let m = try Model(config: c, seed: 4)
        let opt = AdamW(parameterCount: m.params.count)
        try m.forward(Tiny.batch(c), training: true); m.zeroGradients(); m.backward()
        opt.update(params: m.params, grads: m.grads, learningRate: 1e-3)
        let url = dir.appendingPathComponent("checkpoint.bin")
        try Checkpoint.save(m, optimizer: opt, userState: Data(#"{"step":1}"#.utf8), to: url)
        return (url, m, opt)
    }

    func expectCorrupt(_ url: URL, _ contains: String, file: StaticString = #filePath, line: UInt = #line) {
        let m = try! Model(config: Tiny.config(.linear, layers: 2, attention: 1, moe: 1), seed: 0)
        XCTAssertThrowsError(try Checkpoint.load(url, into: m, optimizer: AdamW(parameterCount: m.params.count)),
                             file: file, line: line) { e in
            XCTAssert("\(e)".contains(url.path) && "\(e)".contains(contains), "\(e)", file: file, line: line)
        }
        XCTAssertThrowsError(try Checkpoint.metadata(at: url), file: file, line: line)
    }

    /// Writes `header` + `body` + its CRC-32C: a file whose checksum is right but whose contents are not.
    func writeWithValidChecksum(_ header: Data, _ body: Data, to url: URL) throws {
        var d = header + body
        var crc = CRC32C.checksum(d).littleEndian
        d.append(Data(bytes: &crc, count: 4))
        try d.write(to: url)
    }

    func testCRC32CMatchesPublishedVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI) B.4: 32 zero bytes, 32 0xFF bytes, 0...31, 31...0.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        // Incremental updates over any split equal one pass (the 8-byte and 1-byte paths agree).
        var r = RNG(seed: 3)
        let bytes = (0..<1000).map { _ in UInt8(r.int(256)) }
        let whole = CRC32C.checksum(bytes)
        for _ in 0..<50 {
            var c = CRC32C(), i = 0
            while i < bytes.count {
                let n = min(bytes.count - i, r.int(20))
                c.update(Array(bytes[i..<(i + n)]))
                i += n
            }
            XCTAssertEqual(c.value, whole)
        }
    }

    /// The issue's reproduction: 15 of 15 random body flips and a zeroed KB were accepted. Every flip is now
    /// refused: in the body by the checksum, in the header by the checksum or the bounds checks before it.
    func testBitFlipsAnywhereAreRefused() throws {
        let dir = try tempDir()
        let (url, _, _) = try saved(dir)
        let good = try Data(contentsOf: url)
        var r = RNG(seed: 14)
        let damaged = dir.appendingPathComponent("damaged.bin")
        // Every bit of the first 32 bytes (magic, length, start of the JSON), then 200 random bits anywhere.
        let positions = (0..<(32 * 8)).map { $0 } + (0..<200).map { _ in r.int(good.count * 8) }
        let m = try Model(config: Tiny.config(.linear, layers: 2, attention: 1, moe: 1), seed: 0)
        for bit in positions {
            var d = good
            d[bit / 8] ^= UInt8(1 << (bit % 8))
            try d.write(to: damaged)
            XCTAssertThrowsError(try Checkpoint.load(damaged, into: m), "bit \(bit)") { e in
                guard case Checkpoint.CheckpointError.corrupt(let p, _) = e else { return XCTFail("bit \(bit): \(e)") }
                XCTAssertEqual(p, damaged.path)
            }
        }
        // A bit in the tensor body is caught by the checksum.
        var d = good
        d[good.count / 2] ^= 0x10
        try d.write(to: damaged)
        expectCorrupt(damaged, "checksum mismatch")
        d = good
        d.replaceSubrange(good.count / 3..<(good.count / 3 + 1024), with: Data(count: 1024))
        try d.write(to: damaged)
        expectCorrupt(damaged, "checksum mismatch")
        XCTAssertNoThrow(try Checkpoint.metadata(at: url))
    }

    func testTruncatedAndExtendedFilesAreRefused() throws {
        let dir = try tempDir()
        let (url, _, _) = try saved(dir)
        let good = try Data(contentsOf: url)
        let damaged = dir.appendingPathComponent("damaged.bin")
        for n in [0, 7, 8, 15, 16, 19, 20, 100, good.count / 2, good.count - 4, good.count - 1] {
            try good.prefix(n).write(to: damaged)
            XCTAssertThrowsError(try Checkpoint.metadata(at: damaged), "\(n) bytes") {
                XCTAssert("\($0)".contains("corrupt"), "\($0)")
            }
        }
        try (good + Data([0])).write(to: damaged)
        expectCorrupt(damaged, "checksum mismatch")
    }

    /// Fields a damaged or hand-edited header can hold, behind a valid checksum: errors, not traps ("Not enough
    /// bits" on a length with the high bit set, an overflow on 2^63-1, negative counts).
    func testCorruptHeaderFieldsAreErrorsNotTraps() throws {
        let dir = try tempDir()
        let (url, _, _) = try saved(dir)
        let (meta, data, offset) = try Checkpoint.read(url)
        let body = data.subdata(in: offset..<(data.count - 4))
        let damaged = dir.appendingPathComponent("damaged.bin")
        let json = try JSONEncoder().encode(meta)
        for (length, what) in [(UInt64(1) << 63, "high bit"), (UInt64(Int64.max), "2^63-1"), (UInt64.max, "2^64-1"),
                               (UInt64(json.count + body.count + 1), "past the end")] {
            var h = Data(Checkpoint.magic)
            var l = length.littleEndian
            h.append(Data(bytes: &l, count: 8)); h.append(json)
            try writeWithValidChecksum(h, body, to: damaged)
            XCTAssertThrowsError(try Checkpoint.metadata(at: damaged), what) {
                XCTAssert("\($0)".contains("header length \(length) exceeds"), "\(what): \($0)")
            }
        }
        func edited(_ change: (inout Checkpoint.Metadata) -> Void) throws {
            var m = meta; change(&m)
            try writeWithValidChecksum(try Checkpoint.header(m), body, to: damaged)
        }
        try edited { $0.parameterFloats = -1 }
        expectCorrupt(damaged, "parameterFloats is -1")
        try edited { $0.optimizerStep = -5 }
        expectCorrupt(damaged, "optimizerStep is -5")
        try edited { $0.parameterFloats = Int.max / 2 }
        expectCorrupt(damaged, "header describes")
        try edited { $0.parameterFloats += 1 }
        expectCorrupt(damaged, "header describes")
        try edited { $0.hasOptimizer = false }
        expectCorrupt(damaged, "header describes")
        // The unedited parts round-trip through the same helper (the helper itself is sound).
        try edited { _ in }
        XCTAssertEqual(try Checkpoint.metadata(at: damaged), meta)
    }

    /// Checkpoints written before the checksum (format 1) still load, bit for bit.
    func testFormatOneCheckpointsStillLoad() throws {
        let dir = try tempDir()
        let (url, model, opt) = try saved(dir)
        let (meta, data, offset) = try Checkpoint.read(url)
        let json = try JSONEncoder().encode(meta)
        var old = Data(Checkpoint.legacyMagic)
        var l = UInt64(json.count).littleEndian
        old.append(Data(bytes: &l, count: 8)); old.append(json); old.append(data.subdata(in: offset..<(data.count - 4)))
        let legacy = dir.appendingPathComponent("legacy.bin")
        try old.write(to: legacy)
        let m2 = try Model(config: meta.config, seed: 9), o2 = AdamW(parameterCount: m2.params.count)
        try Checkpoint.load(legacy, into: m2, optimizer: o2)
        XCTAssertEqual(Array(m2.params.buffer), Array(model.params.buffer))
        XCTAssertEqual(Array(o2.v.buffer), Array(opt.v.buffer))
        try old.prefix(old.count - 1).write(to: legacy)
        XCTAssertThrowsError(try Checkpoint.metadata(at: legacy)) {
            XCTAssert("\($0)".contains("header describes"), "\($0)")
        }
    }

    /// A save goes through `.checkpoint.bin.<pid>.tmp` and leaves nothing else; leftovers of killed writes are
    /// recognised and removed by `DurableFile.removeTemporaries`, other files are kept.
    func testTemporaryFilesAreNamedAndRemovable() throws {
        let dir = try tempDir()
        _ = try saved(dir)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["checkpoint.bin"])
        XCTAssertEqual(DurableFile.temporaryURL(for: dir.appendingPathComponent("checkpoint.bin")).lastPathComponent,
                       ".checkpoint.bin.\(getpid()).tmp")
        for n in [".checkpoint.bin.4242.tmp", ".run.json.17.tmp", "notes.tmp", ".hidden", "log.jsonl", ".notes.old.tmp",
                  ".x.tmp"] {
            FileManager.default.createFile(atPath: dir.appendingPathComponent(n).path, contents: Data("x".utf8))
        }
        XCTAssertEqual(try DurableFile.removeTemporaries(in: dir), [".checkpoint.bin.4242.tmp", ".run.json.17.tmp"])
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)),
                       ["checkpoint.bin", "notes.tmp", ".hidden", "log.jsonl", ".notes.old.tmp", ".x.tmp"])
    }
}
