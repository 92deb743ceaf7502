/// A validator for one JSON text (RFC 8259), run on every JSONL line before `JSONSerialization` builds it.
///
/// `JSONSerialization` is lenient: it accepts trailing commas (`{"a": 1,}`), and silently keeps the last of two
/// equal keys. A SuperGLUE line is accepted only if it is strict JSON: one value with optional surrounding
/// whitespace, no trailing commas, no duplicate keys in an object, numbers in JSON's grammar, strings without raw
/// control characters and with valid escapes, nesting at most `maxDepth` deep (so a line of 100,000 `[` cannot
/// exhaust the stack). UTF-8 validity is checked by the caller.
struct StrictJSON {
    /// Where and why a text is not strict JSON; `column` is the 1-based byte offset in the line.
    struct Failure: Error {
        var column: Int
        var reason: String
    }

    static let maxDepth = 64

    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    /// Throws a `Failure` at the first byte that breaks the grammar.
    static func validate(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        var p = StrictJSON(bytes)
        p.skipSpace()
        try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw p.fail("unexpected '\(p.printable(p.b[p.i]))' after the JSON value") }
    }

    private func fail(_ reason: String) -> Failure { Failure(column: i + 1, reason: reason) }

    private func printable(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? String(UnicodeScalar(c)) : "\\x" + String(c, radix: 16)
    }

    private var current: UInt8? { i < b.count ? b[i] : nil }

    private mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws {
        guard current == c else {
            throw fail(current.map { "expected \(what), found '\(printable($0))'" }
                       ?? "expected \(what), found the end of the line")
        }
        i += 1
    }

    private mutating func value(depth: Int) throws {
        guard let c = current else { throw fail("expected a value, found the end of the line") }
        switch c {
        case UInt8(ascii: "{"): try object(depth: depth + 1)
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw fail("expected a value, found '\(printable(c))'")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        guard i + n <= b.count, (0..<n).allSatisfy({ b[i + $0] == w[$0] }) else { throw fail("invalid literal") }
        i += n
    }

    private mutating func object(depth: Int) throws {
        if depth > Self.maxDepth { throw fail("nested deeper than \(Self.maxDepth) levels") }
        i += 1  // {
        skipSpace()
        if current == UInt8(ascii: "}") { i += 1; return }
        var keys = Set<ArraySlice<UInt8>>()
        while true {
            skipSpace()
            guard current == UInt8(ascii: "\"") else {
                throw fail(current == UInt8(ascii: "}") ? "trailing comma in an object" : "expected a string key")
            }
            let keyStart = i
            let key = try string()
            if !keys.insert(key).inserted {
                i = keyStart
                throw fail("duplicate key \"\(String(decoding: key, as: UTF8.self))\"")
            }
            skipSpace()
            try expect(UInt8(ascii: ":"), "':'")
            skipSpace()
            try value(depth: depth)
            skipSpace()
            if current == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return
        }
    }

    private mutating func array(depth: Int) throws {
        if depth > Self.maxDepth { throw fail("nested deeper than \(Self.maxDepth) levels") }
        i += 1  // [
        skipSpace()
        if current == UInt8(ascii: "]") { i += 1; return }
        while true {
            skipSpace()
            if current == UInt8(ascii: "]") { throw fail("trailing comma in an array") }
            try value(depth: depth)
            skipSpace()
            if current == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return
        }
    }

    /// A string; returns its raw bytes between the quotes (escapes not decoded).
    private mutating func string() throws -> ArraySlice<UInt8> {
        i += 1  // "
        let start = i
        while let c = current {
            switch c {
            case UInt8(ascii: "\""):
                let s = ArraySlice(b[start..<i]); i += 1; return s
            case UInt8(ascii: "\\"):
                i += 1
                guard let e = current else { break }
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 1
                case UInt8(ascii: "u"):
                    i += 1
                    for _ in 0..<4 {
                        guard let h = current, (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else {
                            throw fail("\\u must be followed by four hex digits")
                        }
                        i += 1
                    }
                default: throw fail("invalid escape '\\\(printable(e))'")
                }
            case 0..<0x20:
                throw fail("raw control character \(printable(c)) in a string")
            default:
                i += 1
            }
        }
        throw fail("unterminated string")
    }

    private mutating func number() throws {
        func digits() -> Int { let s = i; while let c = current, c >= 0x30 && c <= 0x39 { i += 1 }; return i - s }
        if current == UInt8(ascii: "-") { i += 1 }
        if current == UInt8(ascii: "0") {
            i += 1
            if let c = current, c >= 0x30 && c <= 0x39 { throw fail("number with a leading zero") }
        } else if digits() == 0 { throw fail("invalid number") }
        if current == UInt8(ascii: ".") {
            i += 1
            if digits() == 0 { throw fail("invalid number: no digit after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            i += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
            if digits() == 0 { throw fail("invalid number: no digit in the exponent") }
        }
    }
}
