import SparseMixersCore
import XCTest
import SparseMixersTestSupport
@testable import SparseMixersData

/// GLUE/SuperGLUE loaders: real files (counts vs MANIFEST.md), self-written files in the original
/// layout for the tasks absent here, and malformed input.
final class LoaderTests: XCTestCase {
    func root() throws -> DataRoot {
        guard let r = realDataRoot() else { throw XCTSkip("no data root with datasets found") }
        return r
    }

    /// Counts and label distributions recorded in ../shared/data/MANIFEST.md.
    func testRealGLUECountsMatchManifest() throws {
        let r = try root()
        let expected: [(Task, Split, Int)] = [
            (.cola, .train, 8551), (.cola, .validation, 1043), (.cola, .test, 1063),
            (.sst2, .train, 67349), (.sst2, .validation, 872), (.sst2, .test, 1821),
            (.mrpc, .train, 3668), (.mrpc, .validation, 408), (.mrpc, .test, 1725),
            (.stsb, .train, 5749), (.stsb, .validation, 1500), (.stsb, .test, 1379),
            (.qnli, .validation, 5463), (.qnli, .test, 5463),
            (.rte, .train, 2490), (.rte, .validation, 277), (.rte, .test, 3000),
            (.wnli, .train, 635), (.wnli, .validation, 71), (.wnli, .test, 146),
        ]
        for (task, split, n) in expected {
            let d = try TaskLoader.load(task, split, root: r)
            XCTAssertEqual(d.count, n, "\(task) \(split)")
        }
        let sst = try TaskLoader.load(.sst2, .train, root: r).labelDistribution
        XCTAssertEqual(sst, ["0": 29780, "1": 37569])
        XCTAssertEqual(try TaskLoader.load(.qnli, .validation, root: r).labelDistribution,
                       ["entailment": 2702, "not_entailment": 2761])
        let mrpc = try TaskLoader.load(.mrpc, .train, root: r)
        XCTAssertEqual(mrpc.examples[0].segments.count, 2)  // BOM header parsed
        XCTAssertEqual(try TaskLoader.load(.cola, .validation, root: r).examples[0].segments,
                       ["The sailors rode the breeze clear of the rocks."])
        XCTAssertEqual(try TaskLoader.load(.qnli, .validation, root: r).examples[0].segments[0],
                       "What came into force after the new constitution was herald?")
        // STS-B regression targets in [0, 5].
        for e in try TaskLoader.load(.stsb, .validation, root: r).examples {
            guard case .score(let s)? = e.label else { return XCTFail("STS-B label") }
            XCTAssert(s >= 0 && s <= 5)
        }
    }

    func testRealSuperGLUECountsMatchManifest() throws {
        let r = try root()
        XCTAssertEqual(try TaskLoader.load(.boolq, .validation, root: r).count, 3270)
        XCTAssertEqual(try TaskLoader.load(.cb, .train, root: r).count, 250)
        XCTAssertEqual(try TaskLoader.load(.cb, .validation, root: r).count, 56)
        let copa = try TaskLoader.load(.copa, .train, root: r)
        XCTAssertEqual(copa.groupCount, 400); XCTAssertEqual(copa.count, 800)
        XCTAssertEqual(try TaskLoader.load(.copa, .validation, root: r).groupCount, 100)
        let multirc = try TaskLoader.load(.multirc, .train, root: r)
        XCTAssertEqual(multirc.count, 27243); XCTAssertEqual(multirc.groupCount, 5131)
        XCTAssertEqual(multirc.labelDistribution, ["0": 15218, "1": 12025])
        XCTAssertEqual(try TaskLoader.load(.superglueRTE, .train, root: r).count, 2490)
        XCTAssertEqual(try TaskLoader.load(.superglueRTE, .validation, root: r).count, 277)
        let wic = try TaskLoader.load(.wic, .train, root: r)
        XCTAssertEqual(wic.count, 5428); XCTAssertEqual(wic.labelDistribution, ["False": 2714, "True": 2714])
        XCTAssertEqual(try TaskLoader.load(.wic, .validation, root: r).count, 638)
        XCTAssertEqual(try TaskLoader.load(.wsc, .train, root: r).labelDistribution, ["False": 295, "True": 259])
        // Segment order per SPEC §5.1: CB is (hypothesis, premise).
        let cb = try TaskLoader.load(.cb, .validation, root: r).examples[0]
        XCTAssertEqual(cb.segments[0], "Valence was helping")
        XCTAssertEqual(cb.label, .category(1))  // contradiction
        // COPA: per-choice regression rows; validation row 0 has label 1 → choice2 is correct.
        let copaVal = try TaskLoader.load(.copa, .validation, root: r).examples
        XCTAssertEqual(copaVal[0].segments, ["The man turned on the faucet.", "effect",
                                             "The toilet filled with water."])
        XCTAssertEqual(copaVal[0].label, .score(0)); XCTAssertEqual(copaVal[1].label, .score(1))
        XCTAssertEqual(copaVal[0].group, copaVal[1].group)
    }

    func testAvailabilityAndMissingFileError() throws {
        let dir = try makeTempDir(self)
        let r = DataRoot(url: dir, cacheURL: dir.appendingPathComponent("cache"))
        XCTAssertFalse(TaskLoader.isAvailable(.mnli, .train, root: r))
        XCTAssertThrowsError(try TaskLoader.load(.mnli, .train, root: r)) { error in
            let e = error as? MissingDataError
            XCTAssertNotNil(e)
            XCTAssert(e?.dataset.contains("MNLI") == true)
            XCTAssert(e?.path.hasSuffix("glue/MNLI/train.tsv") == true)
        }
        if let real = realDataRoot() {
            XCTAssertTrue(TaskLoader.isAvailable(.cola, .train, root: real))
            XCTAssertFalse(TaskLoader.isAvailable(.qqp, .train, root: real))
            XCTAssertFalse(TaskLoader.isAvailable(.record, .validation, root: real))
        }
    }

    // MARK: Absent tasks, on small files in the original layout

    func testMNLIOriginalLayoutHypothesisFirst() throws {
        let dir = try makeTempDir(self)
        let header = "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
                     + "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label"
        let rows = [
            "0\t31193\t31193n\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\t"
            + "Conceptually cream skimming has two basic dimensions.\t"
            + "Product and geography are what make cream skimming work. \tneutral\tneutral",
            "1\t101457\t101457e\ttelephone\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tyou know during the season \"i guess\t"
            + "You lose the things.\tentailment\tentailment",
            "2\t134793\t134793e\tfiction\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tOne of our number will carry out.\t"
            + "A member of my team will execute.\tcontradiction\tcontradiction",
        ]
        let url = dir.appendingPathComponent("glue/MNLI/train.tsv")
        try write(([header] + rows).joined(separator: "\n") + "\n", to: url)
        let r = DataRoot(url: dir, cacheURL: dir)
        let d = try TaskLoader.load(.mnli, .train, root: r)
        XCTAssertEqual(d.count, 3)
        XCTAssertEqual(d.examples[0].segments, ["Product and geography are what make cream skimming work. ",
                                                "Conceptually cream skimming has two basic dimensions."])
        XCTAssertEqual(d.examples.map(\.label), [.category(1), .category(0), .category(2)])
        // Unbalanced quote survives (quoting disabled).
        XCTAssertEqual(d.examples[1].segments[1], "you know during the season \"i guess")
        // dev_matched has 16 columns in GLUE; the label is gold_label wherever it is.
        let devHeader = "index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1\tlabel2\t"
                        + "label3\tlabel4\tlabel5\tgold_label"
        try write(devHeader
                  + "\n"
                  + "0\t1\t1n\tslate\ta\tb\tc\td\tPremise.\tHypothesis.\tneutral\tneutral\tneutral\tneutral\t"
                  + "neutral\tneutral\n",
                  to: dir.appendingPathComponent("glue/MNLI/dev_matched.tsv"))
        let dev = try TaskLoader.load(.mnli, .validationMatched, root: r)
        XCTAssertEqual(dev.examples[0].segments, ["Hypothesis.", "Premise."])
        XCTAssertTrue(TaskLoader.isAvailable(.mnli, .validationMatched, root: r))
        XCTAssertFalse(TaskLoader.isAvailable(.mnli, .validationMismatched, root: r))
    }

    func testQQPAndQNLITrainOriginalLayout() throws {
        let dir = try makeTempDir(self)
        try write("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                  + "133273\t213221\t213222\tHow is the life of a math student?\t"
                  + "Which level of prepration is enough?\t0\n"
                  + "402555\t536040\t536041\tHow do I control my horny emotions?\t"
                  + "How do you control your horniness?\t1\n",
                  to: dir.appendingPathComponent("glue/QQP/train.tsv"))
        try write("index\tquestion\tsentence\tlabel\n"
                  + "0\tWhen did the third Digimon series begin?\tUnlike the two seasons before it.\tnot_entailment\n",
                  to: dir.appendingPathComponent("glue/QNLI/train.tsv"))
        let r = DataRoot(url: dir, cacheURL: dir)
        let qqp = try TaskLoader.load(.qqp, .train, root: r)
        XCTAssertEqual(qqp.examples.map(\.label), [.category(0), .category(1)])
        XCTAssertEqual(qqp.examples[1].segments[0], "How do I control my horny emotions?")
        let qnli = try TaskLoader.load(.qnli, .train, root: r)
        XCTAssertEqual(qnli.examples[0].label, .category(1))
        XCTAssertEqual(qnli.examples[0].segments[0], "When did the third Digimon series begin?")
    }

    func testBoolQTrainAndReCoRDOriginalLayout() throws {
        let dir = try makeTempDir(self)
        try write(#"{"question": "do iran and afghanistan speak the same language", "passage": "Persian language -- "#
                  + #"Persian is spoken.", "idx": 0, "label": true}"# + "\n",
                  to: dir.appendingPathComponent("superglue/BoolQ/train.jsonl"))
        // ReCoRD: entity spans are inclusive; "Zoë" checks Unicode-scalar offsets; "Paris" appears twice.
        let passage = "Zoë met Paris officials.\n@highlight\nParis is big"
        let record = """
        {"source": "Daily mail", "passage": {"text": "\(passage.replacingOccurrences(of: "\n", with: "\\n"))", \
        "entities": [{"start": 0, "end": 2}, {"start": 8, "end": 12}, {"start": 36, "end": 40}]}, \
        "qas": [{"query": "@placeholder is a city", "answers": [{"start": 8, "end": 12, "text": "Paris"}, \
        {"start": 36, "end": 40, "text": "Paris"}], "idx": 17}], "idx": 3}
        """
        try write(record + "\n", to: dir.appendingPathComponent("superglue/ReCoRD/val.jsonl"))
        let r = DataRoot(url: dir, cacheURL: dir)
        let boolq = try TaskLoader.load(.boolq, .train, root: r)
        XCTAssertEqual(boolq.examples[0].label, .category(1))
        XCTAssertEqual(boolq.examples[0].segments[0], "do iran and afghanistan speak the same language")
        let rec = try TaskLoader.load(.record, .validation, root: r)
        // Candidates: sorted unique entity strings; one regression row each, query kept verbatim.
        XCTAssertEqual(rec.examples.map { $0.candidate! }, ["Paris", "Zoë"])
        XCTAssertEqual(rec.examples.map(\.label), [.score(1), .score(0)])
        XCTAssertEqual(rec.examples[0].segments, ["Paris", "@placeholder is a city", passage])
        XCTAssertEqual(rec.examples[0].group, 17)
        XCTAssertEqual(rec.examples[0].answers!, ["Paris"])
        XCTAssertEqual(Task.record.numClasses, 1)
    }

    func testMultiRCCleaningAndGrouping() throws {
        let dir = try makeTempDir(self)
        let line = #"{"idx": 0, "version": 1.1, "passage": {"text": "Sent 1: <b>Bold</b> text.<br>Sent 2: more.", "#
                   + #""questions": [{"question": "What <b>is</b> it?", "answers": [{"text": "Bold", "idx": 0, "#
                   + #""label": 1}, {"text": "None", "idx": 1, "label": 0}], "idx": 5}, {"question": "Q2?", "#
                   + #""answers": [{"text": "x", "idx": 2, "label": 0}], "idx": 6}]}}"#
        try write(line + "\n\n", to: dir.appendingPathComponent("superglue/MultiRC/train.jsonl"))
        let d = try TaskLoader.load(.multirc, .train, root: DataRoot(url: dir, cacheURL: dir))
        XCTAssertEqual(d.count, 3)
        XCTAssertEqual(d.skippedBlankLines, 1)
        XCTAssertEqual(d.examples.map(\.group), [5, 5, 6])
        XCTAssertEqual(d.examples[0].segments, ["What  is  it?", "Bold", "Sent 1:  Bold  text. Sent 2: more."])
    }

    func testWiCAndCOPASegments() throws {
        let dir = try makeTempDir(self)
        try write(#"{"word": "class", "sentence1": "An emerging class.", "sentence2": "Showed real class.", "idx": 0, "#
                  + #""label": false, "start1": 1, "start2": 2, "end1": 3, "end2": 4, "version": 1.1}"# + "\n",
                  to: dir.appendingPathComponent("superglue/WiC/val.jsonl"))
        let wic = try TaskLoader.load(.wic, .validation, root: DataRoot(url: dir, cacheURL: dir))
        XCTAssertEqual(wic.examples[0].segments, ["class", "An emerging class.", "Showed real class."])
        XCTAssertEqual(wic.examples[0].label, .category(0))
    }

    // MARK: Malformed input

    func expectFileError(_ body: () throws -> Void, line: Int, contains: String,
                         file: StaticString = #filePath, testLine: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: testLine) { error in
            guard let e = error as? DataFileError else {
                return XCTFail("expected DataFileError, got \(error)", file: file, line: testLine)
            }
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: testLine)
            XCTAssert(e.reason.contains(contains), "\(e)", file: file, line: testLine)
            XCTAssertFalse(e.path.isEmpty)
        }
    }

    func testMalformedGLUELines() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("rte.tsv")
        try write("index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.rte, .train, path: url.path) }, line: 3,
                        contains: "expected 4 tab-separated fields, found 3")
        try write("index\tsentence1\tsentence2\tlabel\n\n0\ta\tb\tentailed\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.rte, .train, path: url.path) }, line: 3,
                        contains: "unparsable RTE label 'entailed'")
        let cola = dir.appendingPathComponent("cola.tsv")
        try write("gj04\t1\t\tGood.\ngj04\tx\t\tBad label.\n", to: cola)
        expectFileError({ _ = try TaskLoader.load(.cola, .train, path: cola.path) }, line: 2,
                        contains: "unparsable CoLA label")
        let stsb = dir.appendingPathComponent("stsb.tsv")
        try write("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
                  + "0\tg\tf\t2012\t1\ts\ts\ta\tb\t7.5\n", to: stsb)
        expectFileError({ _ = try TaskLoader.load(.stsb, .train, path: stsb.path) }, line: 2,
                        contains: "unparsable STS-B label '7.5'")
        let sst = dir.appendingPathComponent("sst.tsv")
        try write("sentence\tlabel\n", to: sst)
        expectFileError({ _ = try TaskLoader.load(.sst2, .train, path: sst.path) }, line: 1,
                        contains: "no rows after the header")
        try write("", to: sst)
        expectFileError({ _ = try TaskLoader.load(.sst2, .train, path: sst.path) }, line: 1, contains: "empty file")
        try write("text\tlabel\nfoo\t1\n", to: sst)
        expectFileError({ _ = try TaskLoader.load(.sst2, .train, path: sst.path) }, line: 1,
                        contains: "lacks column 'sentence'")
        // CRLF endings and blank lines are accepted and counted.
        try write("sentence\tlabel\r\nok\t1\r\n\r\nfine\t0\r\n", to: sst)
        let d = try TaskLoader.load(.sst2, .train, path: sst.path)
        XCTAssertEqual(d.examples.map(\.segments), [["ok"], ["fine"]])
        XCTAssertEqual(d.examples.map(\.line), [2, 4])
        XCTAssertEqual(d.skippedBlankLines, 1)
    }

    func testMalformedJSONLines() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("cb.jsonl")
        let good = #"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}"#
        try write(good + "\n" + #"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 1"# + "\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 2, contains: "invalid JSON")
        try write(good + "\n" + #"{"premise": "p", "label": "neutral", "idx": 1}"#, to: url)
        expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 2,
                        contains: "missing field 'hypothesis'")
        try write(#"{"premise": "p", "hypothesis": 3, "label": "neutral", "idx": 1}"#, to: url)
        expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 1,
                        contains: "'hypothesis' is not a string")
        try write(#"{"premise": "p", "hypothesis": "h", "label": "maybe", "idx": 1}"#, to: url)
        expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 1, contains: "unparsable label")
        try write("[1, 2]\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 1,
                        contains: "must be an object")
        let copa = dir.appendingPathComponent("copa.jsonl")
        try write(#"{"premise": "p", "choice1": "a", "choice2": "b", "question": "effect", "label": 2, "idx": 0}"#,
                  to: copa)
        expectFileError({ _ = try TaskLoader.load(.copa, .train, path: copa.path) }, line: 1,
                        contains: "unparsable COPA label")
        let rec = dir.appendingPathComponent("record.jsonl")
        try write(#"{"passage": {"text": "abc", "entities": [{"start": 1, "end": 9}]}, "qas": [], "idx": 0}"#, to: rec)
        expectFileError({ _ = try TaskLoader.load(.record, .train, path: rec.path) }, line: 1,
                        contains: "outside the passage")
        // Unlabelled test rows load with nil labels.
        try write(#"{"premise": "p", "hypothesis": "h", "idx": 0}"#, to: url)
        XCTAssertNil(try TaskLoader.load(.cb, .test, path: url.path).examples[0].label)
    }

    // MARK: Issue 14: input the loaders used to misread

    /// libcsv gets NUL as its (disabled) quote character; a NUL byte used to merge every row up to the next NUL.
    func testNULByteIsAnErrorNamingItsLine() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("cola.tsv")
        var rows = (1...20).map { "gj04\t\($0 % 2)\t\tSentence \($0)." }
        try write(rows.joined(separator: "\n") + "\n", to: url)
        XCTAssertEqual(try TaskLoader.load(.cola, .train, path: url.path).count, 20)
        rows[4] = "gj04\t1\t\tSen\u{0}tence 5."
        try write(rows.joined(separator: "\n") + "\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.cola, .train, path: url.path) }, line: 5,
                        contains: "NUL byte at column 12")
        // A later error names its own line (the NUL no longer shifts the count).
        rows[4] = "gj04\t1\t\tSentence 5."; rows[19] = "gj04\t7\t\tSentence 20."
        try write(rows.joined(separator: "\n") + "\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.cola, .train, path: url.path) }, line: 20,
                        contains: "label '7' in column 'label'")
        if let real = realDataRoot() {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: TaskLoader.path(.cola, .validation, root: real)))
            let lineStarts = [0] + bytes.indices.filter { bytes[$0] == 0x0A }.map { $0 + 1 }
            bytes[lineStarts[99] + 2] = 0
            let copy = dir.appendingPathComponent("cola-dev.tsv")
            try bytes.write(to: copy)
            expectFileError({ _ = try TaskLoader.load(.cola, .validation, path: copy.path) }, line: 100,
                            contains: "NUL byte at column 3")
        }
    }

    func testLoneCarriageReturnAndInvalidUTF8AreErrors() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("sst.tsv")
        // A lone CR would end a libcsv row inside the line and add a row.
        try write("sentence\tlabel\nok\t1\nsplit\t0\rhere\t1\n", to: url)
        expectFileError({ _ = try TaskLoader.load(.sst2, .train, path: url.path) }, line: 3,
                        contains: "carriage return inside the line at column 8")
        var bytes = Array("sentence\tlabel\nok\t1\ncaf\u{e9}\t0\n".utf8)
        XCTAssertNoThrow(try Data(bytes).write(to: url))
        XCTAssertEqual(try TaskLoader.load(.sst2, .train, path: url.path).examples[1].segments, ["café"])
        bytes[bytes.count - 5] = 0xFF   // the second byte of é
        try Data(bytes).write(to: url)
        expectFileError({ _ = try TaskLoader.load(.sst2, .train, path: url.path) }, line: 3,
                        contains: "invalid UTF-8 at column 4")
        try Data([0x7B, 0x22, 0xC3, 0x28, 0x22, 0x7D, 0x0A]).write(to: url)   // {"\xC3("} in a JSON line
        expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 1, contains: "invalid UTF-8")
    }

    func testWhitespaceOnlyLinesAreSkippedLikeBlankLines() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("sst.tsv")
        try write("sentence\tlabel\nok\t1\n   \n\t\n \t \r\nfine\t0\n", to: url)
        let d = try TaskLoader.load(.sst2, .train, path: url.path)
        XCTAssertEqual(d.examples.map(\.segments), [["ok"], ["fine"]])
        XCTAssertEqual(d.examples.map(\.line), [2, 6])
        XCTAssertEqual(d.skippedBlankLines, 3)
        let cb = dir.appendingPathComponent("cb.jsonl")
        try write("  \t\n" + #"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}"# + "\n \n", to: cb)
        let c = try TaskLoader.load(.cb, .train, path: cb.path)
        XCTAssertEqual(c.count, 1); XCTAssertEqual(c.examples[0].line, 2); XCTAssertEqual(c.skippedBlankLines, 2)
    }

    /// `finetune` on an empty CoLA dev used to print `cola_acc 0.00` and exit 0.
    func testEmptyBlankAndHeaderOnlyFilesAreErrors() throws {
        let dir = try makeTempDir(self)
        let cola = dir.appendingPathComponent("cola.tsv")
        for text in ["", "\n\n", "  \n\t\n"] {
            try write(text, to: cola)
            expectFileError({ _ = try TaskLoader.load(.cola, .validation, path: cola.path) }, line: 1,
                            contains: "empty file")
        }
        let rte = dir.appendingPathComponent("rte.tsv")
        try write("index\tsentence1\tsentence2\tlabel\n\n", to: rte)
        expectFileError({ _ = try TaskLoader.load(.rte, .validation, path: rte.path) }, line: 1,
                        contains: "no rows after the header")
        let cb = dir.appendingPathComponent("cb.jsonl")
        for text in ["", "\n", " \n\n"] {
            try write(text, to: cb)
            expectFileError({ _ = try TaskLoader.load(.cb, .validation, path: cb.path) }, line: 1,
                            contains: "empty file")
        }
    }

    func testSTSBScoresArePlainDecimalsInZeroToFive() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("stsb.tsv")
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        func file(_ score: String) throws { try write(header + "0\tg\tf\t2012\t1\ts\ts\ta\tb\t\(score)\n", to: url) }
        for (text, value) in [("5.000", 5.0), ("0", 0), ("3.8", 3.8), ("0.59999999999999", 0.59999999999999)] {
            try file(text)
            XCTAssertEqual(try TaskLoader.load(.stsb, .train, path: url.path).examples[0].label, .score(value), text)
        }
        for bad in ["0x1p2", "4e0", "inf", "nan", "+4", "-0", " 4", "4 ", ".5", "5.", "5.01", "", "1,5", "٣"] {
            try file(bad)
            expectFileError({ _ = try TaskLoader.load(.stsb, .train, path: url.path) }, line: 2,
                            contains: "label '\(bad)' in column 'score'")
        }
    }

    func testSuperGLUEIntegersLabelsAndIDsAreExact() throws {
        let dir = try makeTempDir(self)
        let copa = dir.appendingPathComponent("copa.jsonl")
        func copaLine(label: String, idx: String) -> String {
            #"{"premise": "p", "choice1": "a", "choice2": "b", "question": "effect", "label": "# + label
                + #", "idx": "# + idx + "}"
        }
        // Fractional labels used to truncate (0.5 -> 0).
        for bad in ["0.5", "1e-9", "true", "\"1\"", "-1", "2"] {
            try write(copaLine(label: bad, idx: "0") + "\n", to: copa)
            expectFileError({ _ = try TaskLoader.load(.copa, .train, path: copa.path) }, line: 1,
                            contains: "unparsable COPA label")
        }
        try write(copaLine(label: "1.0", idx: "0") + "\n" + copaLine(label: "0", idx: "1") + "\n", to: copa)
        XCTAssertEqual(try TaskLoader.load(.copa, .train, path: copa.path).examples.map(\.label),
                       [.score(0), .score(1), .score(1), .score(0)])
        // Out-of-range idx used to become Int.min (1e300, 2^63) or 0 (2^64).
        for bad in ["1e300", "9223372036854775808", "18446744073709551616", "9007199254740993", "-1", "1.5", "\"x\"",
                    "null"] {
            try write(copaLine(label: "0", idx: bad) + "\n", to: copa)
            expectFileError({ _ = try TaskLoader.load(.copa, .train, path: copa.path) }, line: 1, contains: "'idx'")
        }
        // Duplicate idx used to be accepted (COPA groups 100 -> 76).
        try write([0, 1, 2, 1].map { copaLine(label: "0", idx: "\($0)") }.joined(separator: "\n") + "\n", to: copa)
        expectFileError({ _ = try TaskLoader.load(.copa, .train, path: copa.path) }, line: 4,
                        contains: "duplicate idx 1 (first on line 2)")
        let multirc = dir.appendingPathComponent("multirc.jsonl")
        func mrc(_ idx: Int, question: Int, label: String) -> String {
            #"{"idx": \#(idx), "passage": {"text": "T", "questions": [{"question": "Q", "answers": [{"text": "A", "#
            + #""idx": 0, "label": \#(label)}], "idx": \#(question)}]}}"#
        }
        try write(mrc(0, question: 0, label: "0.5") + "\n", to: multirc)
        expectFileError({ _ = try TaskLoader.load(.multirc, .train, path: multirc.path) }, line: 1,
                        contains: "unparsable MultiRC answer label '0.5'")
        try write(mrc(0, question: 7, label: "1") + "\n" + mrc(1, question: 7, label: "0") + "\n", to: multirc)
        expectFileError({ _ = try TaskLoader.load(.multirc, .train, path: multirc.path) }, line: 2,
                        contains: "duplicate question idx 7 (first on line 1)")
        // AX files quote their idx; the same range applies.
        let ax = dir.appendingPathComponent("ax.jsonl")
        try write(#"{"premise": "p", "hypothesis": "h", "label": "entailment", "idx": "12"}"# + "\n", to: ax)
        XCTAssertEqual(try TaskLoader.load(.superglueRTE, .test, path: ax.path).examples[0].group, 12)
        try write(#"{"premise": "p", "hypothesis": "h", "label": "entailment", "idx": "-12"}"# + "\n", to: ax)
        expectFileError({ _ = try TaskLoader.load(.superglueRTE, .test, path: ax.path) }, line: 1,
                        contains: "'idx' must be an integer")
    }

    func testJSONLinesMustBeStrictJSON() throws {
        let dir = try makeTempDir(self)
        let url = dir.appendingPathComponent("cb.jsonl")
        let good = #"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0}"#
        try write(good + "\n", to: url)
        XCTAssertEqual(try TaskLoader.load(.cb, .train, path: url.path).count, 1)
        let cases: [(String, String)] = [
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0,}"#, "trailing comma in an object"),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0, "x": [1,]}"#,
             "trailing comma in an array"),
            (#"{"premise": "p", "premise": "q", "hypothesis": "h", "label": "neutral", "idx": 0}"#,
             "duplicate key \"premise\""),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 01}"#, "leading zero"),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": NaN}"#, "expected a value"),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 0} // c"#, "after the JSON value"),
            (#"{'premise': "p"}"#, "expected a string key"),
            (#"{"premise": "p\q", "hypothesis": "h", "label": "neutral", "idx": 0}"#, "invalid escape"),
            (#"{"premise": "p\u12", "hypothesis": "h", "label": "neutral", "idx": 0}"#, "four hex digits"),
            ("{\"premise\": \"p\tq\", \"hypothesis\": \"h\", \"label\": \"neutral\", \"idx\": 0}",
             "raw control character"),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 1.}"#, "no digit after '.'"),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": 1e}"#, "no digit in the exponent"),
            (#"{"premise": "p", "hypothesis": "h", "label": "neutral", "idx": tru}"#, "invalid literal"),
            (#"{"premise": "p", "hypothesis": "h""#, "expected ',' or '}'"),
            (#"{"premise": "p"#, "unterminated string"),
            (String(repeating: "[", count: 100_000), "nested deeper than 64"),
        ]
        for (line, reason) in cases {
            try write(good + "\n" + line + "\n", to: url)
            expectFileError({ _ = try TaskLoader.load(.cb, .train, path: url.path) }, line: 2, contains: reason)
        }
    }

    /// Rows that share a segment (every MultiRC answer shares the paragraph) reuse its tokens; the encoded rows
    /// equal tokenizing every row on its own.
    func testSharedSegmentsAreTokenizedOnceWithTheSameIDs() throws {
        let dir = try makeTempDir(self)
        var r = RNG(seed: 11)
        let words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "green"]
        func text(_ n: Int) -> String { (0..<n).map { _ in words[r.int(words.count)] }.joined(separator: " ") }
        var options = VocabularyOptions(vocabSize: 30, inputSentenceSize: 1_000)
        options.numThreads = 1
        let prefix = dir.appendingPathComponent("spm").path
        try Tokenizer.train(sentences: (0..<200).map { _ in Array(text(6).utf8) }, modelPrefix: prefix,
                            options: options)
        let t = try Tokenizer(modelPath: prefix + ".model")
        var lines: [String] = []
        for i in 0..<4 {
            let answers = (0..<5).map { j in #"{"text": "\#(text(2))", "idx": \#(j), "label": \#(j % 2)}"# }
                .joined(separator: ", ")
            lines.append(#"{"idx": \#(i), "passage": {"text": "\#(text(400))", "questions": [{"question": "#
                         + #""\#(text(3))?", "answers": [\#(answers)], "idx": \#(10 + i)}]}}"#)
        }
        let url = dir.appendingPathComponent("multirc.jsonl")
        try write(lines.joined(separator: "\n") + "\n", to: url)
        let d = try TaskLoader.load(.multirc, .train, path: url.path)
        XCTAssertEqual(d.count, 20)
        for seqLen in [8, 64, 1_024] {
            let enc = EncodedTaskData(d, tokenizer: t, seqLen: seqLen)
            for (k, e) in d.examples.enumerated() {
                let (ids, types) = encodeSegments(e.segments, tokenizer: t, seqLen: seqLen)
                XCTAssertEqual(Array(enc.inputIDs[k * seqLen..<(k + 1) * seqLen]), ids, "row \(k) at L=\(seqLen)")
                XCTAssertEqual(Array(enc.typeIDs[k * seqLen..<(k + 1) * seqLen]), types, "row \(k) at L=\(seqLen)")
            }
        }
    }

    /// Random mutations of real-layout lines never crash: each load succeeds or throws a
    /// `DataFileError` that names a line of the file.
    func testRandomMutationsNeverCrash() throws {
        let dir = try makeTempDir(self)
        var rng = RNG(seed: 99)
        let tsvSeed = "index\tsentence1\tsentence2\tlabel\n0\tThe cat \"sat.\tA cat sat.\tentailment\n"
                      + "1\tDogs bark.\tCats purr.\tnot_entailment\n"
        let jsonSeed = #"{"idx": 0, "passage": {"text": "P <br> q", "questions": [{"question": "Q?", "answers": "#
                       + #"[{"text": "A", "idx": 0, "label": 1}], "idx": 0}]}}"# + "\n"
        let alphabet = Array("\t\n\r\"{}[]:,0123456789abc \u{00e9}\\".utf8)
        for (seed, task, ext) in [(tsvSeed, Task.rte, "tsv"), (jsonSeed, Task.multirc, "jsonl")] {
            for trial in 0..<150 {
                var bytes = Array(seed.utf8)
                for _ in 0..<(1 + rng.int(4)) {
                    let i = rng.int(bytes.count)
                    switch rng.int(3) {
                    case 0: bytes[i] = alphabet[rng.int(alphabet.count)]
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(alphabet[rng.int(alphabet.count)], at: i)
                    }
                    if bytes.isEmpty { bytes = [0x0A] }
                }
                if trial % 10 == 0 { bytes = (0..<40).map { _ in UInt8(rng.int(256)) } }  // random garbage
                let url = dir.appendingPathComponent("m\(trial).\(ext)")
                try Data(bytes).write(to: url)
                let lines = bytes.filter { $0 == 0x0A }.count + 1
                do {
                    _ = try TaskLoader.load(task, .train, path: url.path)
                } catch let e as DataFileError {
                    XCTAssert(e.line >= 0 && e.line <= lines, "\(e)")
                    XCTAssertEqual(e.path, url.path)
                }
            }
        }
    }

    func testEncodingSegmentsTruncationAndTypes() {
        // [CLS]=2 [SEP]=3 pad=0.
        let (ids, types) = encodeSegments([[10, 11], [20], [30, 31, 32]], cls: 2, sep: 3, pad: 0, seqLen: 12)
        XCTAssertEqual(ids, [2, 10, 11, 3, 20, 3, 30, 31, 32, 3, 0, 0])
        XCTAssertEqual(types, [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 0, 0])
        // Tail truncation can cut the final [SEP].
        let (t, tt) = encodeSegments([[10, 11], [20, 21, 22]], cls: 2, sep: 3, pad: 0, seqLen: 6)
        XCTAssertEqual(t, [2, 10, 11, 3, 20, 21]); XCTAssertEqual(tt, [0, 0, 0, 0, 1, 1])
        XCTAssertEqual(Task.allCases.filter { $0.numClasses == 3 }, [.mnli, .cb])
        XCTAssertEqual(Task.allCases.filter(\.isRegression), [.stsb, .copa, .record])
    }
}
