import Foundation
import SparseMixersCore
import XCTest
@testable import SparseMixersData

/// A seeded mutation fuzzer over the TSV and JSONL loaders (issue 14).
///
/// Every trial builds a small file (in memory) of generated rows whose loaded form is known, then mutates some of
/// its lines (a mutated line is one changed from its plain form: an inserted blank line, a CRLF ending, a quote or
/// leading space in a TSV text, an invalid mutation or a random overwrite; every JSONL record counts, its key
/// order, spacing and escapes being drawn at random):
/// - valid mutations (blank and whitespace-only lines, CRLF endings, quotes, braces, backslashes, accents, CJK and
///   emoji in text, leading and trailing spaces, JSON key order, spacing and `\u` escapes) must load to exactly the
///   expected rows, lines included;
/// - in 7 trials of 12, one invalid mutation, of a known class (NUL byte, invalid UTF-8, lone CR, extra or missing tab,
///   bad label; truncated JSON, trailing comma, duplicate key, deleted structural character, raw control character,
///   bad or duplicate idx, fractional label, missing field, wrong type) must raise a `DataFileError` naming the
///   file, the mutated line and the class's reason;
/// - random byte overwrites (no oracle) must load or raise a `DataFileError` naming a line of the file.
/// The trials run on a thread of their own: a crash ends the test process (a failure), and a load that does not
/// return within the time limit fails the test naming its file. The run asserts at least 200,000 mutated lines
/// (the issue asks for 100,000) and more than 100 draws of every invalid class.
final class LoaderFuzzTests: XCTestCase {
    static let minimumMutatedLines = 200_000

    struct Tally {
        var mutatedLines = 0
        var files = 0
        var invalidByClass: [String: Int] = [:]
        var unclassifiedErrors = 0
        var validFiles = 0
    }

    var rng = RNG(seed: 0x14F0_22)

    /// Failures found by the fuzzing thread, reported by the test's own thread once it has finished.
    var failures: [String] = []
    let failuresLock = NSLock()
    /// The file being loaded, for the report of a hang.
    var current = ""

    func fail(_ message: String) {
        failuresLock.lock(); failures.append(message); failuresLock.unlock()
    }

    // MARK: Text

    /// Words of a valid text field: quotes, braces and backslashes (which quoting-off TSV and escaped JSON keep
    /// verbatim), accents, CJK, emoji and HTML-ish MultiRC markup.
    let words = ["the", "cat", "sat", "\"quoted", "it's", "{brace}", "[x]", "a,b", "key:value", "back\\slash",
                 "café", "日本語", "😀", "naïve", "<b>bold</b>", "5.0", "0", "null", "true", "ünïcödé"]

    func text() -> String {
        var t = (0..<(1 + rng.int(6))).map { _ in words[rng.int(words.count)] }.joined(separator: " ")
        if rng.int(8) == 0 { t = " " + t }
        if rng.int(8) == 0 { t += "  " }
        return t
    }

    func blankLine(_ k: Int) -> String { ["", " ", "\t", " \t  ", "\r"][k % 5] }

    /// Renders lines with "\n" or (randomly) "\r\n" endings; the last line sometimes lacks one.
    func render(_ lines: [[UInt8]], crlf: Set<Int>) -> [UInt8] {
        var out: [UInt8] = []
        for (i, l) in lines.enumerated() {
            out += l
            if i == lines.count - 1 && rng.int(4) == 0 { break }
            if crlf.contains(i) { out.append(0x0D) }
            out.append(0x0A)
        }
        return out
    }

    // MARK: TSV

    struct TSVCase { var task: Task; var header: String; var classes: [String] }

    func expectError(_ body: () throws -> Void, path: String, line: Int, contains: String, _ what: String) {
        do {
            try body()
            fail("\(what): loaded without error (expected line \(line): \(contains))")
        } catch let e as DataFileError {
            if e.path != path || e.line != line
                || !contains.split(separator: "|").contains(where: { e.reason.contains($0) }) {
                fail("\(what): expected line \(line) '\(contains)', got \(e)")
            }
        } catch {
            fail("\(what): expected a DataFileError, got \(error)")
        }
    }

    func expectLoadsOrNamesALine(_ body: () throws -> Void, path: String, lines: Int, tally: inout Tally,
                                 _ what: String) {
        do { try body() } catch let e as DataFileError {
            tally.unclassifiedErrors += 1
            if e.path != path || e.line < 1 || e.line > lines { fail("\(what): error outside the file: \(e)") }
        } catch { fail("\(what): expected a DataFileError, got \(error)") }
    }

    func tsvTrial(_ tally: inout Tally) {
        let cases = [
            TSVCase(task: .rte, header: "index\tsentence1\tsentence2\tlabel",
                    classes: ["entailment", "not_entailment"]),
            TSVCase(task: .stsb,
                    header: "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
                    classes: []),
        ]
        let c = cases[rng.int(cases.count)]
        let path = "/fuzz/\(c.task.rawValue)-\(tally.files).tsv"
        var lines: [[UInt8]] = [Array(c.header.utf8)]
        var expected: [TaskExample] = []
        var mutated = Set<Int>()
        var crlf = Set<Int>()
        for i in 0..<(4 + rng.int(8)) {
            while rng.int(6) == 0 {  // valid: blank or whitespace-only lines
                mutated.insert(lines.count); lines.append(Array(blankLine(rng.int(5)).utf8))
            }
            let s1 = text(), s2 = text()
            let label: String, value: Label
            if c.task == .stsb {
                let v = Double(rng.int(5001)) / 1000
                label = rng.int(2) == 0 ? String(format: "%.3f", v) : "\(Int(v))"
                value = .score(Double(label)!)
                let row = "\(i)\tmain-captions\tMSRvid\t2012test\t\(i)\tnone\tnone\t\(s1)\t\(s2)\t\(label)"
                lines.append(Array(row.utf8))
            } else {
                let k = rng.int(2)
                label = c.classes[k]; value = .category(k)
                lines.append(Array("\(i)\t\(s1)\t\(s2)\t\(label)".utf8))
            }
            if rng.int(3) == 0 { crlf.insert(lines.count - 1); mutated.insert(lines.count - 1) }
            if s1.contains("\"") || s1.hasPrefix(" ") || s1.hasSuffix(" ") { mutated.insert(lines.count - 1) }
            expected.append(TaskExample(segments: [s1, s2], label: value, group: expected.count, line: lines.count))
        }
        // One invalid mutation on a data row in 7 trials of 12, a random byte overwrite in 1 of 12; the other 4
        // check valid loading.
        let dataLines = expected.map { $0.line - 1 }
        var invalid: (line: Int, reason: String, name: String)? = nil
        var random = false
        switch rng.int(12) {
        case 0, 1, 2, 3: break
        case 11: random = true
        default:
            let li = dataLines[rng.int(dataLines.count)]
            var l = lines[li]
            let tabs = l.indices.filter { l[$0] == 0x09 }
            let name: String, reason: String
            switch rng.int(7) {
            case 0:
                l.insert(0, at: rng.int(l.count + 1)); name = "nul"; reason = "NUL byte"
            case 1:
                let bad: [[UInt8]] = [[0xFF], [0x80], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88], [0xE2, 0x82]]
                l.insert(contentsOf: bad[rng.int(bad.count)], at: rng.int(l.count + 1)); name = "utf8"
                reason = "invalid UTF-8"
            case 2:
                l.insert(0x0D, at: rng.int(l.count)); name = "lone-cr"; reason = "carriage return inside the line"
            case 3:
                l.insert(0x09, at: rng.int(l.count + 1)); name = "extra-tab"
                reason = "tab-separated fields|invalid UTF-8"
            case 4:
                l.remove(at: tabs[rng.int(tabs.count)]); name = "missing-tab"; reason = "tab-separated fields"
            default:
                let bad = c.task == .stsb ? ["0x1p2", "inf", "nan", "5.5", "-1", "4e0", ".5", "", "1,5", "5.", " 3",
                                             "+2"]
                                          : ["entailed", "", "Entailment", "0", " entailment", "not_entailment ", "1"]
                let b = bad[rng.int(bad.count)]
                l = Array(l[...tabs.last!]) + Array(b.utf8)
                name = "label"; reason = "label '\(b)' in column"
            }
            lines[li] = l
            invalid = (li + 1, reason, name)
            mutated.insert(li)
        }
        if random {
            let li = rng.int(lines.count)
            if !lines[li].isEmpty {
                lines[li][rng.int(lines[li].count)] = UInt8(rng.int(256))
            } else {
                lines[li] = [UInt8(rng.int(256))]
            }
            mutated.insert(li)
        }
        let data = Data(render(lines, crlf: crlf))
        tally.files += 1; tally.mutatedLines += mutated.count
        current = path
        let load = { _ = try TaskLoader.loadGLUE(c.task, .train, data: data, path: path) }
        if random {
            expectLoadsOrNamesALine(load, path: path, lines: lines.count + 1, tally: &tally, "random byte in \(path)")
        } else if let inv = invalid {
            tally.invalidByClass["tsv-" + inv.name, default: 0] += 1
            expectError(load, path: path, line: inv.line, contains: inv.reason, "\(inv.name) in \(path)")
        } else {
            do {
                let d = try TaskLoader.loadGLUE(c.task, .train, data: data, path: path)
                if d.examples != expected {
                    fail("valid mutations of \(path) changed the rows:\n\(d.examples)\n\(expected)")
                }
                tally.validFiles += 1
                if d.skippedBlankLines != lines.count - 1 - expected.count {
                    fail("\(path): \(d.skippedBlankLines) blank lines counted, "
                         + "\(lines.count - 1 - expected.count) written")
                }
            } catch { fail("valid mutations of \(path) were refused: \(error)") }
        }
    }

    // MARK: JSONL

    func jsonString(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "é" where rng.int(2) == 0: out += "\\u00e9"
            case "/" where rng.int(2) == 0: out += "\\/"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    /// An object with the members in random order and random spacing.
    func object(_ members: [(String, String)]) -> String {
        var m = members
        rng.shuffle(&m)
        let spaces = ["", " ", "  ", "\t"]
        func sp() -> String { spaces[rng.int(spaces.count)] }
        return "{" + sp() + m.map { "\"\($0.0)\"" + sp() + ":" + sp() + $0.1 }
            .joined(separator: sp() + "," + sp()) + sp() + "}"
    }

    /// One record of `task` with id `idx`, its expected rows (line filled in by the caller), and the group ids it uses.
    func record(_ task: Task, idx: Int, groupBase: Int, line: Int) -> (String, [TaskExample], [String: String]) {
        switch task {
        case .cb:
            let p = text(), h = text(), k = rng.int(3)
            let fields = ["premise": jsonString(p), "hypothesis": jsonString(h), "label": "\"\(task.classNames[k])\"",
                          "idx": "\(idx)"]
            return (object(fields.map { ($0.key, $0.value) }),
                    [TaskExample(segments: [h, p], label: .category(k), group: idx, line: line)], fields)
        case .copa:
            let p = text(), a = text(), b = text(), q = rng.int(2) == 0 ? "cause" : "effect", k = rng.int(2)
            let fields = ["premise": jsonString(p), "choice1": jsonString(a), "choice2": jsonString(b),
                          "question": "\"\(q)\"", "label": "\(k)", "idx": "\(idx)"]
            return (object(fields.map { ($0.key, $0.value) }),
                    [a, b].enumerated().map { i, choice in
                        TaskExample(segments: [p, q, choice], label: .score(i == k ? 1 : 0), group: idx, line: line,
                                    candidate: choice)
                    }, fields)
        default:  // MultiRC
            let passage = text() + " " + text()
            var questions: [String] = [], rows: [TaskExample] = []
            for qi in 0..<(1 + rng.int(2)) {
                let q = text(), qidx = groupBase + qi
                var answers: [String] = []
                for ai in 0..<(1 + rng.int(3)) {
                    let a = text(), l = rng.int(2)
                    answers.append(object([("text", jsonString(a)), ("idx", "\(ai)"), ("label", "\(l)")]))
                    rows.append(TaskExample(segments: [TaskLoader.cleanMultiRC(q), TaskLoader.cleanMultiRC(a),
                                                       TaskLoader.cleanMultiRC(passage)],
                                            label: .category(l), group: qidx, line: line))
                }
                questions.append(object([("question", jsonString(q)),
                                         ("answers", "[" + answers.joined(separator: ", ") + "]"), ("idx", "\(qidx)")]))
            }
            let p = object([("text", jsonString(passage)), ("questions", "[" + questions.joined(separator: ",") + "]")])
            let fields = ["idx": "\(idx)", "version": "1.1", "passage": p]
            return (object(fields.map { ($0.key, $0.value) }), rows, fields)
        }
    }

    /// One pass over a JSON line: the byte offsets of its structural characters (outside strings), and the offsets
    /// just after each opening quote of a string value or key (inside a string).
    func scan(_ l: [UInt8]) -> (structural: [Int], stringStarts: [Int]) {
        var structural: [Int] = [], stringStarts: [Int] = [], inString = false, escaped = false
        for (i, c) in l.enumerated() {
            if inString {
                if escaped {
                    escaped = false
                } else if c == 0x5C {
                    escaped = true
                } else if c == 0x22 {
                    inString = false
                }
            } else if c == 0x22 {
                inString = true; stringStarts.append(i + 1)
            } else if "{}[]:,".utf8.contains(c) {
                structural.append(i)
            }
        }
        return (structural, stringStarts)
    }

    func jsonTrial(_ tally: inout Tally) {
        let tasks: [Task] = [.cb, .copa, .multirc]
        let task = tasks[rng.int(tasks.count)]
        let path = "/fuzz/\(task.rawValue)-\(tally.files).jsonl"
        var lines: [[UInt8]] = []
        var expected: [TaskExample] = []
        var records: [(line: Int, idx: Int, fields: [String: String])] = []
        var mutated = Set<Int>()
        var crlf = Set<Int>()
        var idx = rng.int(1000)
        for _ in 0..<(3 + rng.int(6)) {
            while rng.int(6) == 0 { mutated.insert(lines.count); lines.append(Array(blankLine(rng.int(5)).utf8)) }
            idx += 1 + rng.int(3)
            let (line, rows, fields) = record(task, idx: idx, groupBase: idx * 10, line: lines.count + 1)
            lines.append(Array(line.utf8))
            mutated.insert(lines.count - 1)  // key order, spacing and escapes are drawn for every record
            if rng.int(3) == 0 { crlf.insert(lines.count - 1) }
            expected += rows
            records.append((lines.count, idx, fields))
        }
        var invalid: (line: Int, reason: String, name: String)? = nil
        var random = false, overwrite = false
        switch rng.int(12) {
        case 0, 1, 2, 3: break
        case 11: random = true; overwrite = true
        default:
            let ri = rng.int(records.count)
            let r = records[ri]
            var l = lines[r.line - 1]
            let name: String, reason: String
            switch rng.int(13) {
            case 0:
                l = Array(l[..<(1 + rng.int(l.count - 1))]); name = "truncated"
                reason = "invalid JSON at column|invalid UTF-8"
            case 1:
                let closers = scan(l).structural.filter { l[$0] == UInt8(ascii: "}") || l[$0] == UInt8(ascii: "]") }
                l.insert(UInt8(ascii: ","), at: closers[rng.int(closers.count)]); name = "trailing-comma"
                reason = "trailing comma"
            case 2:
                let key = r.fields.keys.sorted()[rng.int(r.fields.count)]
                l.insert(contentsOf: Array("\"\(key)\": \(r.fields[key]!), ".utf8), at: 1); name = "duplicate-key"
                reason = "duplicate key \"\(key)\""
            case 3:
                let s = scan(l).structural
                l.remove(at: s[rng.int(s.count)]); name = "structural"; reason = "invalid JSON at column"
            case 4:
                let at = scan(l).stringStarts
                let bad: [UInt8] = [0x00, 0x01, 0x09, 0x0D, 0x1F, 0x7F]
                let b = bad[rng.int(bad.count)]
                l.insert(b, at: at[rng.int(at.count)])
                if b == 0x7F {
                    name = "del-char"; reason = ""
                } else {
                    name = "control"; reason = "raw control character"
                }
            case 5:
                let at = scan(l).stringStarts
                l.insert(contentsOf: [[0xFF], [0x80, 0x41], [0xC3, 0x28], [0xED, 0xA0, 0x80]][rng.int(4)],
                         at: at[rng.int(at.count)])
                name = "utf8"; reason = "invalid UTF-8"
            case 6:
                let bad = ["1e300", "-1", "2.5", "18446744073709551616", "9223372036854775807", "\"a\"", "true", "null",
                           "[]"]
                let b = bad[rng.int(bad.count)]
                var f = r.fields; f["idx"] = b
                l = Array(object(f.map { ($0.key, $0.value) }).utf8); name = "bad-idx"
                reason = "field 'idx'"
            case 7 where ri > 0:
                var f = r.fields; f["idx"] = "\(records[rng.int(ri)].idx)"
                l = Array(object(f.map { ($0.key, $0.value) }).utf8); name = "duplicate-idx"; reason = "duplicate idx"
            case 8 where task != .multirc:
                let bad = task == .copa ? ["0.5", "2", "-1", "true", "\"1\"", "1e-9"]
                                        : ["\"maybe\"", "1", "true", "\"Neutral\""]
                var f = r.fields; f["label"] = bad[rng.int(bad.count)]
                l = Array(object(f.map { ($0.key, $0.value) }).utf8); name = "bad-label"; reason = "unparsable"
            case 8:
                // A MultiRC answer label: the first `"label": d` in the line.
                let s = String(decoding: l, as: UTF8.self)
                guard let range = s.range(of: #""label"\s*:\s*[01]"#, options: .regularExpression) else {
                    fail("no answer label in \(s)"); return
                }
                let bad = ["0.5", "2", "true", "\"1\""][rng.int(4)]
                let replaced = s.replacingCharacters(in: range, with: "\"label\": \(bad)")
                l = Array(replaced.utf8); name = "bad-label"; reason = "unparsable MultiRC answer label"
            case 9:
                let required = task == .cb ? ["premise", "hypothesis", "idx"]
                             : task == .copa ? ["premise", "choice1", "choice2", "question", "idx"] : ["passage", "idx"]
                let key = required[rng.int(required.count)]
                var f = r.fields; f[key] = nil
                l = Array(object(f.map { ($0.key, $0.value) }).utf8); name = "missing-field"
                reason = "missing field '\(key)'"
            case 10:
                let key = task == .multirc ? "passage" : "premise"
                var f = r.fields; f[key] = ["3", "[]", "null", "false"][rng.int(4)]
                l = Array(object(f.map { ($0.key, $0.value) }).utf8); name = "wrong-type"
                reason = "field '\(key)' is not"
            case 11 where task == .multirc && ri > 0:
                // The first question reuses the question idx of an earlier record.
                let earlier = records[rng.int(ri)]
                var f = r.fields
                f["passage"] = f["passage"]!.replacingOccurrences(of: "\(r.idx * 10)", with: "\(earlier.idx * 10)")
                l = Array(object(f.map { ($0.key, $0.value) }).utf8); name = "duplicate-question"
                reason = "duplicate question idx \(earlier.idx * 10) (first on line \(earlier.line))"
            default:
                l.insert(contentsOf: Array(" x".utf8), at: l.count); name = "trailing-text"
                reason = "after the JSON value"
            }
            lines[r.line - 1] = l
            if name == "del-char" {
                // DEL (0x7F) is a legal character in a JSON string: the line stays valid, with DEL in one field.
                random = true
            } else {
                invalid = (r.line, reason, name)
            }
            mutated.insert(r.line - 1)
        }
        if overwrite {
            let li = rng.int(lines.count)
            if !lines[li].isEmpty { lines[li][rng.int(lines[li].count)] = UInt8(rng.int(256)) }
            mutated.insert(li)
        }
        let data = Data(render(lines, crlf: crlf))
        tally.files += 1; tally.mutatedLines += mutated.count
        current = path
        let load = { _ = try TaskLoader.loadSuperGLUE(task, .train, data: data, path: path) }
        if let inv = invalid {
            tally.invalidByClass["json-" + inv.name, default: 0] += 1
            expectError(load, path: path, line: inv.line, contains: inv.reason, "\(inv.name) in \(path)")
        } else if random {
            expectLoadsOrNamesALine(load, path: path, lines: lines.count + 1, tally: &tally, "random byte in \(path)")
        } else {
            do {
                let d = try TaskLoader.loadSuperGLUE(task, .train, data: data, path: path)
                if d.examples != expected {
                    fail("valid mutations of \(path) changed the rows:\n\(d.examples)\n\(expected)")
                }
                tally.validFiles += 1
            } catch {
                fail("valid mutations of \(path) were refused: \(error)\n\(String(decoding: data, as: UTF8.self))")
            }
        }
    }

    /// Counts of the run, written by the fuzzing thread only, read after it finished.
    var tally = Tally()

    func testSeededMutationsOfTSVAndJSONLLines() throws {
        let start = Date()
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread { [self] in
            while tally.mutatedLines < Self.minimumMutatedLines {
                if tally.files % 2 == 0 { tsvTrial(&tally) } else { jsonTrial(&tally) }
            }
            finished.signal()
        }
        worker.stackSize = 8 << 20
        worker.start()
        // A debug build needs ~15 s; 300 s means a load hung (or the machine is starved).
        guard finished.wait(timeout: .now() + 300) == .success else {
            return XCTFail("the fuzzer did not finish in 300 s; last file \(current)")
        }
        let seconds = Date().timeIntervalSince(start)
        for f in failures.prefix(20) { XCTFail(f) }
        XCTAssertEqual(failures.count, 0, "\(failures.count) failures")
        print(String(format: "fuzzer: %d mutated lines in %d files (%d with valid mutations only), %.1f s; invalid by "
                             + "class %@; %d random overwrites refused",
                     tally.mutatedLines, tally.files, tally.validFiles, seconds,
                     tally.invalidByClass.sorted { $0.key < $1.key }.description, tally.unclassifiedErrors))
        XCTAssertGreaterThanOrEqual(tally.mutatedLines, Self.minimumMutatedLines)
        XCTAssertGreaterThan(tally.validFiles, tally.files / 4, "files with only valid mutations")
        // Every invalid class was drawn many times.
        for name in ["tsv-nul", "tsv-utf8", "tsv-lone-cr", "tsv-extra-tab", "tsv-missing-tab", "tsv-label",
                     "json-truncated", "json-trailing-comma", "json-duplicate-key", "json-structural", "json-control",
                     "json-utf8", "json-bad-idx", "json-duplicate-idx", "json-bad-label", "json-missing-field",
                     "json-wrong-type", "json-duplicate-question", "json-trailing-text"] {
            XCTAssertGreaterThan(tally.invalidByClass[name] ?? 0, 100, name)
        }
    }
}
