import Foundation

/// How a book's Project Gutenberg header and footer were found.
public enum GutenbergMarkers: String, Codable, Sendable {
    /// `*** START OF ...` / `*** END OF ...` (any spacing or case).
    case modern
    /// Old "small print" header ending in `*END*THE SMALL PRINT!...` and a footer line
    /// `End of (the) Project Gutenberg ...`.
    case legacy
    /// No start marker: the file is used whole (counted in the summary).
    case none
}

/// One cleaned book: one pre-training document, as a list of sentences.
///
/// A "line" in SPEC §4.2's packing (the reference splits C4 documents with `splitlines`) is one
/// sentence here: Gutenberg files are hard-wrapped at ~70 columns, so physical lines are not
/// units of text. Lines are unwrapped into blank-line separated paragraphs and paragraphs are cut
/// into sentences, so consecutive segments are real consecutive text.
public struct CorpusDocument: Sendable {
    /// Path relative to the corpus directory, e.g. `Wilde, Oscar/A House of Pomegranates.txt`.
    public var name: String
    public var markers: GutenbergMarkers
    /// Sentences, concatenated UTF-8 bytes.
    public var bytes: [UInt8]
    /// `sentenceStarts[i] ..< sentenceStarts[i+1]` is sentence i (count + 1 entries).
    public var sentenceStarts: [Int]

    public var sentenceCount: Int { sentenceStarts.count - 1 }
    public func sentence(_ i: Int) -> ArraySlice<UInt8> { bytes[sentenceStarts[i]..<sentenceStarts[i + 1]] }
    public func sentenceString(_ i: Int) -> String { String(decoding: sentence(i), as: UTF8.self) }
    public var sentences: [String] { (0..<sentenceCount).map(sentenceString) }
}

/// A corpus file on disk with the facts that key the caches.
public struct CorpusFile: Codable, Equatable, Sendable {
    public var name: String
    public var path: String
    public var size: Int
    public var modified: Double
}

/// Reading and cleaning of the Gutenberg book corpus (`<data>/corpus/gutenberg/<Author>/<book>.txt`).
public enum GutenbergCorpus {
    /// Bump when the cleaning or sentence splitting changes: it keys the vocabulary and shard caches.
    public static let cleaningVersion = 1

    /// Lists `*.txt` files under `directory`, sorted by relative path (byte order).
    public static func listFiles(in directory: String) throws -> [CorpusFile] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw MissingDataError(dataset: "corpus/gutenberg", path: directory)
        }
        var files: [CorpusFile] = []
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        guard let e = fm.enumerator(atPath: base) else { return [] }
        while let rel = e.nextObject() as? String {
            guard rel.hasSuffix(".txt") else { continue }
            let full = base + "/" + rel
            let attrs = try fm.attributesOfItem(atPath: full)
            guard (attrs[.type] as? FileAttributeType) == .typeRegular else { continue }
            let size = (attrs[.size] as? NSNumber)?.intValue ?? 0
            let mtime = (attrs[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            files.append(CorpusFile(name: rel, path: full, size: size, modified: mtime))
        }
        files.sort { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
        return files
    }

    /// Whether a document belongs to the held-out evaluation split: a fixed set chosen by a stable
    /// hash of its name (about 1 in `every`), so adding books does not move the others.
    public static func isHeldOut(_ name: String, every: Int) -> Bool {
        every > 0 && FNV1a.hash(name) % UInt64(every) == 0
    }

    /// Reads and cleans one book.
    public static func load(_ file: CorpusFile) throws -> CorpusDocument {
        let data = try Data(contentsOf: URL(fileURLWithPath: file.path))
        return clean(bytes: [UInt8](data), name: file.name)
    }

    // MARK: - Cleaning

    /// Strips the Gutenberg header/footer, unwraps paragraphs and splits sentences.
    public static func clean(bytes raw: [UInt8], name: String) -> CorpusDocument {
        var lines = splitLines(raw)
        let (start, end, markers) = bodyRange(lines)
        lines = Array(lines[start..<end])
        var out = [UInt8]()
        out.reserveCapacity(raw.count)
        var starts = [0]
        var paragraph = [UInt8]()
        func flush() {
            if !paragraph.isEmpty {
                for s in splitSentences(paragraph) {
                    out.append(contentsOf: s)
                    starts.append(out.count)
                }
                paragraph.removeAll(keepingCapacity: true)
            }
        }
        for line in lines {
            let t = trimmed(line)
            if t.isEmpty { flush(); continue }
            if !paragraph.isEmpty { paragraph.append(0x20) }
            // Collapse internal whitespace runs to one space.
            var lastSpace = false
            for b in t {
                let isSpace = b == 0x20 || b == 0x09
                if isSpace { if !lastSpace { paragraph.append(0x20) } } else { paragraph.append(b) }
                lastSpace = isSpace
            }
        }
        flush()
        return CorpusDocument(name: name, markers: markers, bytes: out, sentenceStarts: starts)
    }

    static func splitLines(_ raw: [UInt8]) -> [ArraySlice<UInt8>] {
        var body = raw[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }  // BOM
        var lines: [ArraySlice<UInt8>] = []
        var s = body.startIndex
        var i = s
        while i < body.endIndex {
            let b = body[i]
            if b == 0x0A || b == 0x0D {
                lines.append(body[s..<i])
                if b == 0x0D, i + 1 < body.endIndex, body[i + 1] == 0x0A { i += 1 }
                s = i + 1
            }
            i += 1
        }
        if s < body.endIndex { lines.append(body[s..<body.endIndex]) }
        return lines
    }

    static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var a = s.startIndex, b = s.endIndex
        while a < b, s[a] == 0x20 || s[a] == 0x09 { a += 1 }
        while b > a, s[b - 1] == 0x20 || s[b - 1] == 0x09 { b -= 1 }
        return s[a..<b]
    }

    private static func upperASCII(_ s: ArraySlice<UInt8>) -> [UInt8] {
        s.map { ($0 >= 0x61 && $0 <= 0x7A) ? $0 - 32 : $0 }
    }

    /// `*** START OF`, `***START OF`, `*** START OF THE PROJECT GUTENBERG EBOOK` ...
    static func isModernMarker(_ line: ArraySlice<UInt8>, word: String) -> Bool {
        let u = upperASCII(trimmed(line))
        guard u.starts(with: Array("***".utf8)) else { return false }
        var rest = u.dropFirst(3)
        while let f = rest.first, f == 0x20 || f == 0x2A { rest = rest.dropFirst() }
        return rest.starts(with: Array("\(word) OF".utf8))
    }

    /// `*END*THE SMALL PRINT!` / `*END THE SMALL PRINT!` ends the old licence header.
    static func isLegacyStart(_ line: ArraySlice<UInt8>) -> Bool {
        let u = upperASCII(trimmed(line))
        return u.starts(with: Array("*END".utf8)) && u.firstRange(of: Array("THE SMALL PRINT".utf8)) != nil
    }

    /// `End of (the|this) Project Gutenberg ...` (old footers; modern files also have one before `*** END`).
    static func isLegacyEnd(_ line: ArraySlice<UInt8>) -> Bool {
        let u = upperASCII(trimmed(line))
        return u.starts(with: Array("END OF".utf8)) && u.prefix(60)
            .firstRange(of: Array("PROJECT GUTENBERG".utf8)) != nil
    }

    static func bodyRange(_ lines: [ArraySlice<UInt8>]) -> (Int, Int, GutenbergMarkers) {
        var start = 0
        var markers = GutenbergMarkers.none
        if let i = lines.firstIndex(where: { isModernMarker($0, word: "START") }) {
            start = i + 1; markers = .modern
        } else if let i = lines.firstIndex(where: isLegacyStart) {
            start = i + 1; markers = .legacy
        }
        var end = lines.count
        if markers != .none {
            for i in start..<lines.count where isModernMarker(lines[i], word: "END") || isLegacyEnd(lines[i]) {
                end = i; break
            }
        }
        return (start, max(start, end), markers)
    }

    // MARK: - Sentences

    /// Abbreviations after which a period does not end a sentence (lower-cased, without the dot).
    static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "st", "messrs", "mme", "mlle", "prof", "rev", "capt", "col", "gen",
        "lt", "sgt", "sr", "jr", "esq", "hon", "gov", "sen", "rep", "vs", "etc", "viz", "cf", "no",
        "vol", "ch", "chap", "fig", "p", "pp", "i.e", "e.g", "a.m", "p.m", "co", "bros", "ave", "mt",
        "ft", "lieut", "maj", "cpt", "rt", "sq", "inst", "ult", "do", "ibid", "op", "cit", "ed",
    ]

    /// Rule-based sentence splitter over one unwrapped paragraph.
    ///
    /// A sentence ends at `.`, `!` or `?` (plus any closing quotes, brackets, underscores or
    /// further terminators) followed by a space and a token that starts with an upper-case letter,
    /// a digit or an opening quote/bracket. A `.` after a known abbreviation or a single capital
    /// (an initial) does not end a sentence. Foundation on Linux has no sentence tokenizer, so this
    /// is the one piece of text processing written here.
    public static func splitSentences(_ p: [UInt8]) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        let n = p.count
        var start = 0
        var i = 0
        while i < n {
            let b = p[i]
            guard b == 0x2E || b == 0x21 || b == 0x3F else { i += 1; continue }
            var j = i + 1
            while j < n {
                let c = p[j]
                if c == 0x2E || c == 0x21 || c == 0x3F || c == 0x22 || c == 0x27 || c == 0x29 || c == 0x5D
                    || c == 0x5F || c == 0x2A { j += 1; continue }
                if c == 0xE2, j + 2 < n, p[j + 1] == 0x80, p[j + 2] == 0x9D || p[j + 2] == 0x99 { j += 3; continue }
                break
            }
            guard j < n, p[j] == 0x20 else { i = j; continue }
            var k = j
            while k < n, p[k] == 0x20 { k += 1 }
            guard k < n, startsSentence(p, k) else { i = k; continue }
            if b == 0x2E, j == i + 1, isAbbreviation(p, before: i) { i = k; continue }
            out.append(p[start..<j])
            start = k
            i = k
        }
        if start < n { out.append(p[start..<n]) }
        return out
    }

    static func startsSentence(_ p: [UInt8], _ k: Int) -> Bool {
        let c = p[k]
        if (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) { return true }
        if c == 0x22 || c == 0x27 || c == 0x28 || c == 0x5B || c == 0x5F { return true }
        if c == 0xE2, k + 2 < p.count, p[k + 1] == 0x80, p[k + 2] == 0x9C || p[k + 2] == 0x98 { return true }
        if c == 0xC3, k + 1 < p.count, p[k + 1] >= 0x80, p[k + 1] <= 0x9E { return true }  // À..Þ
        return false
    }

    static func isAbbreviation(_ p: [UInt8], before i: Int) -> Bool {
        var s = i
        while s > 0 {
            let c = p[s - 1]
            let isWordByte = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E
            if !isWordByte { break }
            s -= 1
        }
        let word = p[s..<i]
        if word.isEmpty { return false }
        if word.count == 1, let c = word.first, c >= 0x41, c <= 0x5A { return true }  // an initial: "J."
        let lower = String(decoding: word.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 32 : $0 }, as: UTF8.self)
        return abbreviations.contains(lower)
    }
}
