// Vocabularies holding canonically equivalent tokens ("é" and "e\u{301}"):
// two tokens for Hugging Face (and Python, and JSON), though Swift's String
// compares them equal. Goldens: tools/fixtures/make_canonical_fixtures.py.

import Formats
import Testing
import TestSupport
@testable import Tokenizers

@Suite struct CanonicalEquivalenceTests {
    let dir = Fixtures.path("tokenizer-canonical")

    func check(_ tok: Tokenizer, against golden: JSONValue, _ label: String) throws {
        for t in golden["texts"]?.array ?? [] {
            let text = try #require(t["text"]?.string)
            #expect(tok.encode(text).ids == t["ids"]?.array?.compactMap(\.int), "\(label): \(text.unicodeScalars.map(\.value))")
        }
        let ids = try #require(golden["token_to_id"]?.object)
        #expect(ids.count == 16)
        for (token, id) in ids { #expect(tok.id(of: token) == id.int, "\(label): \(token.unicodeScalars.map(\.value))") }
    }

    @Test func tokenizerJSONKeepsBothForms() throws {
        let golden = try JSONParser.parse(try readFile(dir + "/golden.json"), path: "golden.json")
        for case_ in ["wordpiece", "vocab-txt"] {
            let path = dir + "/\(case_)/tokenizer.json"
            let bytes = try readFile(path)
            for apart in [true, false] {
                let tok = try Tokenizer(tokenizerJSON: bytes, path: path, readingVocabularyApart: apart)
                try check(tok, against: try #require(golden[case_]), "\(case_) reader \(apart)")
            }
        }
    }

    @Test func vocabTxtKeepsBothForms() throws {
        let golden = try JSONParser.parse(try readFile(dir + "/golden.json"), path: "golden.json")
        let d = dir + "/vocab-txt"
        let tok = try Tokenizer(vocabTxt: try readFile(d + "/vocab.txt"), path: d + "/vocab.txt",
                                tokenizerConfig: try readFile(d + "/tokenizer_config.json"), specialTokensMap: nil)
        try check(tok, against: try #require(golden["vocab-txt"]), "vocab.txt")
    }

    @Test func jsonObjectKeysAreExact() throws {
        let v = try JSONParser.parse("{\"\u{E9}\": 1, \"e\u{301}\": 2}", path: "t", mode: .strict)
        #expect(v.object?.count == 2 && v["\u{E9}"]?.int == 1 && v["e\u{301}"]?.int == 2)
        #expect(v.object?.keys.map { Array($0.unicodeScalars) } == [["\u{E9}"], ["e", "\u{301}"]])
    }
}
