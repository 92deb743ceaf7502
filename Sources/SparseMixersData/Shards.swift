import Foundation
import SparseMixersCore

/// Tokenized documents in memory: each document is a run of lines (sentences), each line a run of
/// token ids. This is what pre-training streams from; it is read from binary shards, never by
/// re-tokenizing.
public final class TokenizedCorpus: @unchecked Sendable {
    public let documentNames: [String]
    /// Document d owns lines `documentLineStarts[d] ..< documentLineStarts[d+1]`.
    public let documentLineStarts: [Int]
    /// Line i owns tokens `lineTokenStarts[i] ..< lineTokenStarts[i+1]`.
    public let lineTokenStarts: [Int]
    public let tokens: [Int32]

    public init(documentNames: [String], documentLineStarts: [Int], lineTokenStarts: [Int], tokens: [Int32]) {
        precondition(documentLineStarts.count == documentNames.count + 1)
        precondition(lineTokenStarts.last == tokens.count && documentLineStarts.last == lineTokenStarts.count - 1)
        self.documentNames = documentNames; self.documentLineStarts = documentLineStarts
        self.lineTokenStarts = lineTokenStarts; self.tokens = tokens
    }

    /// Builds a corpus from nested arrays (document → line → tokens).
    public convenience init(documents: [[[Int32]]], names: [String]? = nil) {
        var docStarts = [0], lineStarts = [0], toks: [Int32] = []
        for doc in documents {
            for line in doc { toks += line; lineStarts.append(toks.count) }
            docStarts.append(lineStarts.count - 1)
        }
        self.init(documentNames: names ?? documents.indices.map { "doc\($0)" }, documentLineStarts: docStarts,
                  lineTokenStarts: lineStarts, tokens: toks)
    }

    /// Concatenates several corpora (e.g. the shards of one split).
    public convenience init(concatenating parts: [TokenizedCorpus]) {
        var names: [String] = [], docStarts = [0], lineStarts = [0], toks: [Int32] = []
        for p in parts {
            names += p.documentNames
            let lineBase = lineStarts.count - 1, tokBase = toks.count
            docStarts += p.documentLineStarts.dropFirst().map { $0 + lineBase }
            lineStarts += p.lineTokenStarts.dropFirst().map { $0 + tokBase }
            toks += p.tokens
        }
        self.init(documentNames: names, documentLineStarts: docStarts, lineTokenStarts: lineStarts, tokens: toks)
    }

    public var documentCount: Int { documentNames.count }
    public var lineCount: Int { lineTokenStarts.count - 1 }
    public var tokenCount: Int { tokens.count }
    public func lineRange(ofDocument d: Int) -> Range<Int> { documentLineStarts[d]..<documentLineStarts[d + 1] }
    public func lineLength(_ i: Int) -> Int { lineTokenStarts[i + 1] - lineTokenStarts[i] }
    public func line(_ i: Int) -> ArraySlice<Int32> { tokens[lineTokenStarts[i]..<lineTokenStarts[i + 1]] }
    public func document(_ d: Int) -> [[Int32]] { lineRange(ofDocument: d).map { Array(line($0)) } }
}

/// Binary shard of tokenized documents.
///
/// Layout (little-endian): magic `SMXSHRD1` (8 bytes); UInt32 version (1); UInt32 token width
/// (2 = UInt16 when the vocabulary has ≤ 65,536 pieces, else 4 = Int32); UInt64 document count D,
/// line count N, token count T; D × (UInt32 byte length + UTF-8 name); (D+1) × UInt64 document line
/// starts; (N+1) × UInt64 line token starts; T tokens. Written to a temp file and renamed.
public enum Shard {
    static let magic = Array("SMXSHRD1".utf8)

    public static func write(_ corpus: TokenizedCorpus, to path: String, vocabSize: Int) throws {
        let width = vocabSize <= 65_536 ? 2 : 4
        var out = Data()
        out.reserveCapacity(64 + corpus.documentCount * 80 + corpus.lineCount * 8 + corpus.tokenCount * width)
        out.append(contentsOf: magic)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(UInt32(1)); put(UInt32(width))
        put(UInt64(corpus.documentCount)); put(UInt64(corpus.lineCount)); put(UInt64(corpus.tokenCount))
        for name in corpus.documentNames {
            let b = Array(name.utf8); put(UInt32(b.count)); out.append(contentsOf: b)
        }
        for s in corpus.documentLineStarts { put(UInt64(s)) }
        for s in corpus.lineTokenStarts { put(UInt64(s)) }
        if width == 2 {
            let u = corpus.tokens.map { UInt16(truncatingIfNeeded: $0).littleEndian }
            u.withUnsafeBytes { out.append(contentsOf: $0) }
        } else {
            let u = corpus.tokens.map { $0.littleEndian }
            u.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        try DurableFile.write(out, to: URL(fileURLWithPath: path))  // temp file, fsync, rename, directory fsync
    }

    public static func read(path: String) throws -> TokenizedCorpus {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        return try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> TokenizedCorpus in
            var o = 0
            func need(_ n: Int) throws {
                if o + n > raw.count {
                    throw DataFileError(path: path, line: 0, reason: "truncated shard at byte \(o)")
                }
            }
            func get<T: FixedWidthInteger>(_: T.Type) throws -> T {
                try need(MemoryLayout<T>.size)
                let v = raw.loadUnaligned(fromByteOffset: o, as: T.self); o += MemoryLayout<T>.size
                return T(littleEndian: v)
            }
            try need(8)
            guard Array(raw[0..<8]) == magic else {
                throw DataFileError(path: path, line: 0, reason: "not a shard (bad magic)")
            }
            o = 8
            guard try get(UInt32.self) == 1 else {
                throw DataFileError(path: path, line: 0, reason: "unsupported shard version")
            }
            let width = Int(try get(UInt32.self))
            guard width == 2 || width == 4 else {
                throw DataFileError(path: path, line: 0, reason: "bad token width \(width)")
            }
            let d = Int(try get(UInt64.self)), n = Int(try get(UInt64.self)), t = Int(try get(UInt64.self))
            var names: [String] = []
            for _ in 0..<d {
                let len = Int(try get(UInt32.self)); try need(len)
                names.append(String(decoding: raw[o..<o + len], as: UTF8.self)); o += len
            }
            var docStarts = [Int](); docStarts.reserveCapacity(d + 1)
            for _ in 0...d { docStarts.append(Int(try get(UInt64.self))) }
            var lineStarts = [Int](); lineStarts.reserveCapacity(n + 1)
            for _ in 0...n { lineStarts.append(Int(try get(UInt64.self))) }
            try need(t * width)
            var tokens = [Int32](repeating: 0, count: t)
            if width == 2 {
                for i in 0..<t {
                    tokens[i] = Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o + 2 * i,
                                                                             as: UInt16.self)))
                }
            } else {
                for i in 0..<t {
                    tokens[i] = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o + 4 * i, as: Int32.self))
                }
            }
            guard docStarts.last == n, lineStarts.last == t, docStarts.first == 0, lineStarts.first == 0 else {
                throw DataFileError(path: path, line: 0, reason: "inconsistent shard offsets")
            }
            return TokenizedCorpus(documentNames: names, documentLineStarts: docStarts, lineTokenStarts: lineStarts,
                                   tokens: tokens)
        }
    }
}
