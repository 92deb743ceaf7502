import Foundation

/// Loads GLUE TSVs (original GLUE layout, read through libcsv) and SuperGLUE JSONL files, and casts
/// them to model rows per SPEC §5.1.
///
/// Errors: a missing file is a `MissingDataError` naming the task and path; a malformed line
/// (wrong column count, unparsable label, NUL byte, invalid UTF-8, JSON that is not strict RFC 8259,
/// missing or mistyped field, fractional or out-of-range integer, duplicate `idx`) is a
/// `DataFileError` naming file, line, field and reason; so is a file with no rows at all (empty, blank
/// or header only). Blank and whitespace-only lines are the only counted skip.
public enum TaskLoader {
    /// `<root>/glue/<Task>/<file>.tsv` or `<root>/superglue/<Task>/<file>.jsonl`.
    public static func path(_ task: Task, _ split: Split, root: DataRoot) -> String {
        let file: String
        switch (task.benchmark, split) {
        case (.glue, .train): file = "train.tsv"
        case (.glue, .validation): file = "dev.tsv"
        case (.glue, .test): file = "test.tsv"
        case (.glue, .validationMatched): file = "dev_matched.tsv"
        case (.glue, .validationMismatched): file = "dev_mismatched.tsv"
        case (.glue, .testMatched): file = "test_matched.tsv"
        case (.glue, .testMismatched): file = "test_mismatched.tsv"
        case (.superglue, .train): file = "train.jsonl"
        case (.superglue, .validation): file = "val.jsonl"
        case (.superglue, _): file = "test.jsonl"
        }
        let bench = task.benchmark == .glue ? "glue" : "superglue"
        return root.url.appendingPathComponent("\(bench)/\(task.directoryName)/\(file)").path
    }

    /// Whether the file of a task split exists under the root.
    public static func isAvailable(_ task: Task, _ split: Split, root: DataRoot) -> Bool {
        task.splits.contains(split) && FileManager.default.fileExists(atPath: path(task, split, root: root))
    }

    public static func load(_ task: Task, _ split: Split, root: DataRoot) throws -> TaskDataset {
        guard task.splits.contains(split) else {
            throw DataPipelineError("\(task.displayName) has no split \(split.rawValue)")
        }
        return try load(task, split, path: path(task, split, root: root))
    }

    /// Loads a task split from an explicit file.
    public static func load(_ task: Task, _ split: Split, path: String) throws -> TaskDataset {
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingDataError(dataset: "\(task.displayName) \(split.rawValue)", path: path)
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try task.benchmark == .glue ? loadGLUE(task, split, data: data, path: path)
                                           : loadSuperGLUE(task, split, data: data, path: path)
    }

    // MARK: - GLUE

    /// Column layout of one GLUE file.
    struct GLUELayout {
        /// Header to assume when the file has none (CoLA train/dev); nil when the first row is one.
        var implicitHeader: [String]?
        /// Columns holding the segments, in model order.
        var segmentColumns: [String]
        /// Label column, nil when the split is unlabelled.
        var labelColumn: String?
    }

    static func layout(_ task: Task, _ split: Split) -> GLUELayout {
        let labelled = !(split == .test || split == .testMatched || split == .testMismatched)
        switch task {
        case .cola:
            return labelled ? GLUELayout(implicitHeader: ["source", "label", "original_label", "sentence"],
                                         segmentColumns: ["sentence"], labelColumn: "label")
                            : GLUELayout(implicitHeader: nil, segmentColumns: ["sentence"], labelColumn: nil)
        case .sst2: return GLUELayout(implicitHeader: nil, segmentColumns: ["sentence"],
                                      labelColumn: labelled ? "label" : nil)
        case .mrpc: return GLUELayout(implicitHeader: nil, segmentColumns: ["#1 String", "#2 String"],
                                      labelColumn: labelled ? "Quality" : nil)
        case .stsb: return GLUELayout(implicitHeader: nil, segmentColumns: ["sentence1", "sentence2"],
                                      labelColumn: labelled ? "score" : nil)
        case .qqp: return GLUELayout(implicitHeader: nil, segmentColumns: ["question1", "question2"],
                                     labelColumn: labelled ? "is_duplicate" : nil)
        // MNLI: sentence1 is the premise, sentence2 the hypothesis; the model sees hypothesis first.
        case .mnli: return GLUELayout(implicitHeader: nil, segmentColumns: ["sentence2", "sentence1"],
                                      labelColumn: labelled ? "gold_label" : nil)
        case .qnli: return GLUELayout(implicitHeader: nil, segmentColumns: ["question", "sentence"],
                                      labelColumn: labelled ? "label" : nil)
        default: return GLUELayout(implicitHeader: nil, segmentColumns: ["sentence1", "sentence2"],
                                   labelColumn: labelled ? "label" : nil)
        }
    }

    static func parseLabel(_ task: Task, _ text: String) -> Label? {
        switch task {
        case .stsb:
            // Plain decimals only ("3.800", "5"): Double() would also take "0x1p2", "inf" or "4e0".
            guard isPlainDecimal(text), let v = Double(text), v >= 0, v <= 5 else { return nil }
            return .score(v)
        case .mnli, .qnli, .rte:
            return task.classNames.firstIndex(of: text).map { .category($0) }
        default:
            switch text { case "0": return .category(0); case "1": return .category(1); default: return nil }
        }
    }

    /// `[0-9]+(\.[0-9]+)?`, the form of every STS-B score.
    static func isPlainDecimal(_ text: String) -> Bool {
        let u = Array(text.utf8)
        let digit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
        guard let dot = u.firstIndex(of: UInt8(ascii: ".")) else { return !u.isEmpty && u.allSatisfy(digit) }
        return dot > 0 && dot < u.count - 1 && u[..<dot].allSatisfy(digit) && u[(dot + 1)...].allSatisfy(digit)
    }

    static func loadGLUE(_ task: Task, _ split: Split, data: Data, path: String) throws -> TaskDataset {
        let rows = try DelimitedReader.parse(data, path: path)
        let lay = layout(task, split)
        var header: [String]
        var body: ArraySlice<DelimitedRow>
        if let h = lay.implicitHeader {
            header = h; body = rows[...]
        } else {
            guard let first = rows.first else {
                throw DataFileError(path: path, line: 1, reason: "empty file: no header row and no rows")
            }
            header = first.fields; body = rows.dropFirst()
            if let f = header.first, f.hasPrefix("\u{FEFF}") { header[0] = String(f.dropFirst()) }  // MRPC's BOM
        }
        func column(_ name: String) throws -> Int {
            guard let i = header.firstIndex(of: name) else {
                throw DataFileError(path: path, line: 1, reason: "header lacks column '\(name)' (has \(header))")
            }
            return i
        }
        let segmentIndices = try lay.segmentColumns.map(column)
        let labelIndex = try lay.labelColumn.map(column)
        var examples: [TaskExample] = []
        examples.reserveCapacity(body.count)
        for row in body {
            guard row.fields.count == header.count else {
                throw DataFileError(path: path, line: row.line,
                                    reason: "expected \(header.count) tab-separated fields, found \(row.fields.count)")
            }
            var label: Label? = nil
            if let li = labelIndex {
                guard let l = parseLabel(task, row.fields[li]) else {
                    throw DataFileError(path: path, line: row.line,
                                        reason: "unparsable \(task.directoryName) label '\(row.fields[li])' in column "
                                                + "'\(header[li])'")
                }
                label = l
            }
            examples.append(TaskExample(segments: segmentIndices.map { row.fields[$0] }, label: label,
                                        group: examples.count, line: row.line))
        }
        if examples.isEmpty {
            throw DataFileError(path: path, line: rows.first?.line ?? 1,
                                reason: rows.isEmpty ? "empty file: no rows" : "no rows after the header")
        }
        let lineCount = data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } + ((data.last ?? 0x0A) == 0x0A ? 0 : 1)
        let blank = max(0, lineCount - rows.count)
        return TaskDataset(task: task, split: split, path: path, examples: examples, skippedBlankLines: blank)
    }

    // MARK: - SuperGLUE

    typealias JSON = [String: Any]

    struct Row {
        let object: JSON
        let line: Int
        let path: String
        func fail(_ reason: String) -> DataFileError { DataFileError(path: path, line: line, reason: reason) }
        func string(_ key: String, in o: JSON? = nil) throws -> String {
            guard let v = (o ?? object)[key] else { throw fail("missing field '\(key)'") }
            guard let s = v as? String else { throw fail("field '\(key)' is not a string") }
            return s
        }
        /// A non-negative integer below 2^53 (exact in a Double, so 1e300 or 2^64 cannot wrap to another id).
        func int(_ key: String, in o: JSON? = nil) throws -> Int {
            guard let v = (o ?? object)[key] else { throw fail("missing field '\(key)'") }
            if let n = v as? NSNumber, !isBool(n) {
                let d = n.doubleValue
                guard d == d.rounded(), d >= 0, d < 9_007_199_254_740_992 else {
                    throw fail("field '\(key)' must be an integer in 0..<2^53, got \(v)")
                }
                return Int(d)
            }
            if let s = v as? String, let i = Int(s) {  // AX files quote their idx
                guard i >= 0, i < 9_007_199_254_740_992 else {
                    throw fail("field '\(key)' must be an integer in 0..<2^53, got \(s)")
                }
                return i
            }
            throw fail("field '\(key)' is not an integer")
        }
        func object(_ key: String, in o: JSON? = nil) throws -> JSON {
            guard let v = (o ?? object)[key] else { throw fail("missing field '\(key)'") }
            guard let d = v as? JSON else { throw fail("field '\(key)' is not an object") }
            return d
        }
        func array(_ key: String, in o: JSON? = nil) throws -> [JSON] {
            guard let v = (o ?? object)[key] else { throw fail("missing field '\(key)'") }
            guard let a = v as? [Any] else { throw fail("field '\(key)' is not an array") }
            return try a.map {
                guard let d = $0 as? JSON else { throw fail("field '\(key)' holds a non-object") }
                return d
            }
        }
        /// A boolean label (true/false; 0/1 accepted); nil when absent (test data).
        func boolLabel(_ key: String = "label", in o: JSON? = nil) throws -> Label? {
            guard let v = (o ?? object)[key], !(v is NSNull) else { return nil }
            if let n = v as? NSNumber, isBool(n) { return .category(n.boolValue ? 1 : 0) }
            if let c = binaryNumber(v) { return .category(c) }
            throw fail("unparsable boolean label '\(v)' in field '\(key)'")
        }
        func classLabel(_ names: [String], key: String = "label") throws -> Label? {
            guard let v = object[key], !(v is NSNull) else { return nil }
            guard let s = v as? String, let i = names.firstIndex(of: s) else {
                throw fail("unparsable label '\(v)' in field '\(key)'")
            }
            return .category(i)
        }
    }

    /// 0 or 1 as a JSON number (not a boolean), exactly: 0.5 or 1e-9 are not labels.
    static func binaryNumber(_ v: Any) -> Int? {
        guard let n = v as? NSNumber, !isBool(n) else { return nil }
        switch n.doubleValue { case 0: return 0; case 1: return 1; default: return nil }
    }

    static func isBool(_ n: NSNumber) -> Bool {
        // JSONSerialization yields NSNumber for both; booleans have Objective-C type "c" (char).
        String(cString: n.objCType) == "c"
    }

    /// `<br>`, `<b>`, `</b>` → space, as `_clean_multirc_inputs` of the reference.
    public static func cleanMultiRC(_ s: String) -> String {
        s.replacingOccurrences(of: "<br>", with: " ").replacingOccurrences(of: "<b>", with: " ")
            .replacingOccurrences(of: "</b>", with: " ")
    }

    /// ReCoRD candidates: the sorted set of entity strings `text[start...end]` (inclusive ends, in
    /// Unicode scalars, as TFDS `_get_record_entities`).
    static func recordEntities(_ text: String, spans: [JSON], row: Row) throws -> [String] {
        let scalars = Array(text.unicodeScalars)
        var out = Set<String>()
        for s in spans {
            let a = try row.int("start", in: s), b = try row.int("end", in: s)
            guard a >= 0, b >= a, b < scalars.count else {
                throw row.fail("entity span \(a)...\(b) outside the passage")
            }
            var u = String.UnicodeScalarView(); u.append(contentsOf: scalars[a...b])
            out.insert(String(u))
        }
        return out.sorted()
    }

    /// The lines that first used each `idx` (the record's, and MultiRC's question or ReCoRD's query idx): every
    /// one must be unique in a file, since the group metrics (COPA, MultiRC, ReCoRD) group rows by it.
    struct SeenIDs {
        var records: [Int: Int] = [:]
        var groups: [Int: Int] = [:]
        mutating func record(_ idx: Int, _ r: Row) throws {
            if let first = records.updateValue(r.line, forKey: idx) {
                throw r.fail("duplicate idx \(idx) (first on line \(first))")
            }
        }
        mutating func group(_ idx: Int, field: String, _ r: Row) throws {
            if let first = groups.updateValue(r.line, forKey: idx) {
                throw r.fail("duplicate \(field) idx \(idx) (first on line \(first))")
            }
        }
    }

    static func loadSuperGLUE(_ task: Task, _ split: Split, data: Data, path: String) throws -> TaskDataset {
        var examples: [TaskExample] = []
        var seen = SeenIDs()
        var blank = 0
        var lineNo = 0
        var start = data.startIndex
        let bytes = [UInt8](data)
        func process(_ lineBytes: ArraySlice<UInt8>) throws {
            lineNo += 1
            let trimmedLine = lineBytes.last == 0x0D ? lineBytes.dropLast() : lineBytes
            if trimmedLine.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { blank += 1; return }
            try trimmedLine.withUnsafeBufferPointer { line in
                if String(validating: line, as: UTF8.self) == nil {
                    throw DataFileError(path: path, line: lineNo, reason: "invalid UTF-8")
                }
                do { try StrictJSON.validate(line) } catch let f as StrictJSON.Failure {
                    throw DataFileError(path: path, line: lineNo,
                                        reason: "invalid JSON at column \(f.column): \(f.reason)")
                }
            }
            let parsed: Any
            do {
                parsed = try JSONSerialization.jsonObject(with: Data(trimmedLine), options: [])
            } catch {
                throw DataFileError(path: path, line: lineNo, reason: "invalid JSON (\(error.localizedDescription))")
            }
            guard let object = parsed as? JSON else {
                throw DataFileError(path: path, line: lineNo, reason: "a JSON line must be an object")
            }
            try cast(task, Row(object: object, line: lineNo, path: path), into: &examples, seen: &seen)
        }
        for i in bytes.indices where bytes[i] == 0x0A {
            try process(bytes[start..<i]); start = i + 1
        }
        if start < bytes.count { try process(bytes[start...]) }
        if examples.isEmpty && seen.records.isEmpty {
            throw DataFileError(path: path, line: 1, reason: "empty file: no JSON records")
        }
        return TaskDataset(task: task, split: split, path: path, examples: examples, skippedBlankLines: blank)
    }

    /// SPEC §5.1 casting of one SuperGLUE record into one or more rows.
    static func cast(_ task: Task, _ r: Row, into out: inout [TaskExample], seen: inout SeenIDs) throws {
        let idx = try r.int("idx")
        try seen.record(idx, r)
        switch task {
        case .boolq:
            out.append(TaskExample(segments: [try r.string("question"), try r.string("passage")],
                                   label: try r.boolLabel(), group: idx, line: r.line))
        case .cb, .superglueRTE:
            out.append(TaskExample(segments: [try r.string("hypothesis"), try r.string("premise")],
                                   label: try r.classLabel(task.classNames), group: idx, line: r.line))
        case .wic:
            out.append(TaskExample(segments: [try r.string("word"), try r.string("sentence1"),
                                              try r.string("sentence2")],
                                   label: try r.boolLabel(), group: idx, line: r.line))
        case .wsc:
            let t = try r.object("target")
            out.append(TaskExample(segments: [try r.string("span1_text", in: t), try r.string("span2_text", in: t),
                                              try r.string("text")],
                                   label: try r.boolLabel(), group: idx, line: r.line))
        case .copa:
            // One regression row per choice, target 1.0 for the correct one (`_singularize_copa_examples`).
            let premise = try r.string("premise"), question = try r.string("question")
            guard question == "cause" || question == "effect" else {
                throw r.fail("COPA question must be cause or effect, got '\(question)'")
            }
            var correct: Int? = nil
            if let v = r.object["label"], !(v is NSNull) {
                guard let c = binaryNumber(v) else { throw r.fail("unparsable COPA label '\(v)' in field 'label'") }
                correct = c
            }
            for (i, key) in ["choice1", "choice2"].enumerated() {
                let choice = try r.string(key)
                out.append(TaskExample(segments: [premise, question, choice],
                                       label: correct.map { .score($0 == i ? 1 : 0) }, group: idx, line: r.line,
                                       candidate: choice))
            }
        case .multirc:
            // One binary row per answer, grouped by question idx; HTML markup cleaned.
            let passage = try r.object("passage")
            let paragraph = cleanMultiRC(try r.string("text", in: passage))
            for q in try r.array("questions", in: passage) {
                let question = cleanMultiRC(try r.string("question", in: q))
                let qidx = try r.int("idx", in: q)
                try seen.group(qidx, field: "question", r)
                for a in try r.array("answers", in: q) {
                    var label: Label? = nil
                    if let v = a["label"], !(v is NSNull) {
                        guard let c = binaryNumber(v) else {
                            throw r.fail("unparsable MultiRC answer label '\(v)' in field 'label'")
                        }
                        label = .category(c)
                    }
                    out.append(TaskExample(segments: [question, cleanMultiRC(try r.string("text", in: a)), paragraph],
                                           label: label, group: qidx, line: r.line))
                }
            }
        case .record:
            // One regression row per candidate entity, target 1.0 if it is a gold answer.
            let passage = try r.object("passage")
            let text = try r.string("text", in: passage)
            let entities = try recordEntities(text, spans: try r.array("entities", in: passage), row: r)
            for qa in try r.array("qas") {
                let query = try r.string("query", in: qa)
                let qidx = try r.int("idx", in: qa)
                try seen.group(qidx, field: "query", r)
                var answers: [String]? = nil
                if qa["answers"] != nil {
                    answers = Array(Set(try r.array("answers", in: qa).map { try r.string("text", in: $0) })).sorted()
                }
                for e in entities {
                    out.append(TaskExample(segments: [e, query, text],
                                           label: answers.map { .score($0.contains(e) ? 1 : 0) }, group: qidx,
                                           line: r.line, candidate: e, answers: answers))
                }
            }
        default:
            throw r.fail("\(task.displayName) is not a SuperGLUE task")
        }
    }
}
