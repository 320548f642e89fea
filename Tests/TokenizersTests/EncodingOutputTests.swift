// The byte writers of `ckpt tokenize` against the slow, obvious forms: the
// JSON line against JSONValue's serialization, the text lines against a
// scalar-by-scalar escape of control characters.

import Formats
import Testing
@testable import Tokenizers

@Suite struct EncodingOutputTests {
    /// Tokens with everything a writer can get wrong: quotes, backslashes, C0
    /// and C1 controls, DEL, non-ASCII, astral scalars, empty strings.
    let tokens = ["[CLS]", "a\"b", "\\", "\n\r\t\u{08}\u{0C}", "\u{01}\u{1F}", "\u{7F}", "x\u{85}y\u{9F}", "\u{A0}é", "e\u{301}",
                  "😀", "##ß", "", "\u{2028}", "[SEP]"]

    func encoding() -> Encoding {
        var e = Encoding()
        for (i, t) in tokens.enumerated() {
            let special = i == 0 || i == tokens.count - 1
            e.append(id: i * 7919 - (i == 3 ? 10_000 : 0), token: t, offsets: (i * 3, i * 3 + 1_000_003), word: special ? nil : i, special: special, typeID: 0)
        }
        return e
    }

    @Test func jsonLineIsJSONValuesSerialization() throws {
        let e = encoding()
        var out: [UInt8] = []
        e.appendJSONLine(to: &out)
        let expected = JSONValue.object(JSONObject([
            ("ids", .array(e.ids.map { .number(JSONNumber($0)) })),
            ("tokens", .array(e.tokens.map { .string($0) })),
            ("offsets", .array(e.offsets.map { .array([.number(JSONNumber($0.0)), .number(JSONNumber($0.1))]) })),
            ("word_ids", .array(e.wordIDs.map { $0.map { .number(JSONNumber($0)) } ?? .null })),
        ])).serialized() + "\n"
        #expect(String(decoding: out, as: UTF8.self) == expected)
        #expect(out == Array(expected.utf8))
        // And it parses back to the same tokens.
        let back = try JSONParser.parse(Array(out.dropLast()), path: "line")
        #expect(back["tokens"]?.array?.compactMap(\.string) == tokens)
        var empty: [UInt8] = []
        Encoding().appendJSONLine(to: &empty)
        #expect(String(decoding: empty, as: UTF8.self) == "{\"ids\":[],\"tokens\":[],\"offsets\":[],\"word_ids\":[]}\n")
    }

    @Test func textLinesEscapeControlCharacters() {
        let e = encoding()
        var out: [UInt8] = []
        e.appendTextLines(to: &out)
        var first = ""
        for u in e.tokens.joined(separator: " ").unicodeScalars {
            if u.properties.generalCategory == .control {
                first += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
            } else {
                first.unicodeScalars.append(u)
            }
        }
        let expected = first + "\n" + e.ids.map(String.init).joined(separator: " ") + "\n"
        #expect(out == Array(expected.utf8), "\(String(decoding: out, as: UTF8.self))")
    }
}
