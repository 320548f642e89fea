// The JSON layer: json-c parsing into ordered values, literal numbers, and a
// writer that reproduces Python's json output.

import Formats
import Testing
import TestSupport

@Suite struct JSONTests {
    @Test func keepsOrderAndNumberLiterals() throws {
        let text = #"{"z": 1, "a": 1e-12, "m": 0.1, "big": 18446744073709551615, "neg": -3, "f": 2.50}"#
        let v = try JSONParser.parse(text)
        #expect(v.object!.keys == ["z", "a", "m", "big", "neg", "f"])
        #expect(v.serialized() == #"{"z":1,"a":1e-12,"m":0.1,"big":18446744073709551615,"neg":-3,"f":2.50}"#)
        #expect(v["big"]!.int == nil)
        if case let .number(n) = v["big"]! { #expect(n.uint64 == UInt64.max) }
        #expect(v["a"]!.double == 1e-12)
        // Integers at and around the 64-bit limits keep their value; -0 is 0,
        // as json-c reads it.
        let ints = #"[0,-0,9223372036854775806,9223372036854775807,9223372036854775808,-9223372036854775808,30521]"#
        #expect(try JSONParser.parse(ints).serialized() == #"[0,0,9223372036854775806,9223372036854775807,9223372036854775808,-9223372036854775808,30521]"#)
    }

    @Test func configFilesRoundTripByteForByte() throws {
        // transformers writes json.dumps(indent=2, sort_keys=True) + "\n"; the
        // files are sorted, so keeping order must reproduce them exactly.
        for model in ["bert-tied", "bert-untied", "distilbert-tied"] {
            let path = Fixtures.path("\(model)/config.json")
            let bytes = try readFile(path)
            let config = try ModelConfig(bytes: bytes, path: path)
            #expect(config.serialized() == bytes, "\(model)")
        }
    }

    @Test func settingAFieldChangesOnlyThatField() throws {
        let path = Fixtures.path("bert-tied/config.json")
        var config = try ModelConfig(bytes: try readFile(path), path: path)
        let keys = config.json.keys
        config.vocabSize = 30522
        #expect(config.json.keys == keys)
        #expect(config.vocabSize == 30522)
        let text = String(decoding: config.serialized(), as: UTF8.self)
        #expect(text.contains("\n  \"vocab_size\": 30522\n"))
    }

    @Test func strictModeRejectsDuplicatesAtAnyDepth() throws {
        #expect(throws: JSONError(path: "<memory>", reason: "duplicate key \"k\"")) {
            try JSONParser.parse(#"{"a": [{"k": 1, "k": 2}]}"#, mode: .strict)
        }
        // Escaped spellings of one key are the same key.
        #expect(throws: JSONError.self) { try JSONParser.parse(#"{"ab": 1, "a\u0062": 2}"#, mode: .strict) }
        // Python's json.loads keeps the last value.
        #expect(try JSONParser.parse(#"{"k": 1, "k": 2}"#)["k"]!.int == 2)
    }

    @Test func strictModeRejectsNaNAndTrailingGarbage() throws {
        #expect(throws: JSONError.self) { try JSONParser.parse(#"{"a": NaN}"#, mode: .strict) }
        #expect(try JSONParser.parse(#"{"a": NaN}"#)["a"]!.double!.isNaN)
        #expect(throws: JSONError.self) { try JSONParser.parse(#"{"a": 1} x"#) }
        #expect(throws: JSONError.self) { try JSONParser.parse("") }
        #expect(try JSONParser.parse(" {\"a\": 1}\n\n ")["a"]!.int == 1)
    }

    @Test func stringsEscapeLikePython() throws {
        let v = JSONValue.string("é\u{1}\"\\\n😀/")
        #expect(v.serialized() == "\"é\\u0001\\\"\\\\\\n😀/\"")
        #expect(v.serialized(asciiOnly: true) == "\"\\u00e9\\u0001\\\"\\\\\\n\\ud83d\\ude00/\"")
        let round = try JSONParser.parse(v.serialized(asciiOnly: true))
        #expect(round == v)
    }

    @Test func pythonIndentLayout() throws {
        let v = JSONValue.object(JSONObject([
            ("b", .array([.number(JSONNumber(1)), .object(JSONObject())])),
            ("a", .array([])),
            ("c", .number(JSONNumber(1e-05))),
        ]))
        // json.dumps({"b": [1, {}], "a": [], "c": 1e-05}, indent=2, sort_keys=True)
        #expect(v.serialized(indent: 2, sortKeys: true) == "{\n  \"a\": [],\n  \"b\": [\n    1,\n    {}\n  ],\n  \"c\": 1e-05\n}")
    }

    @Test func vocabFile() {
        #expect(VocabFile.parse(Array("[PAD]\n[UNK]\r\nhello\n".utf8)) == ["[PAD]", "[UNK]", "hello"])
        #expect(VocabFile.parse(Array("a\n\nb".utf8)) == ["a", "", "b"])
        #expect(VocabFile.parse([]) == [])
    }
}
