// Small hand-checked cases; the goldens from the real library are in
// TokenizerGoldenTests.

import Formats
import Testing
import TestSupport
@testable import Tokenizers

@Suite struct TokenizerBasicsTests {
    @Test func bertFixtureTokenizer() throws {
        let tok = try Tokenizer(path: Fixtures.path("bert-tied"))
        let e = tok.encode("Hello, world!")
        #expect(e.tokens.first == "[CLS]" && e.tokens.last == "[SEP]")
        #expect(e.specialTokensMask.first == 1 && e.specialTokensMask.last == 1)
        #expect(e.wordIDs.first! == nil)
        #expect(tok.count == 160)
    }

    @Test func alignmentOfInsertedCharacters() {
        var t = NormalizedText("a中b")
        Normalizer.bert(cleanText: true, chineseChars: true, stripAccents: nil, lowercase: true).apply(&t)
        #expect(t.string == "a 中 b")
        #expect(t.starts == [0, 1, 1, 1, 2] && t.ends == [1, 2, 2, 2, 3])
    }

    @Test func stripAccentsAndLowercase() {
        var t = NormalizedText("Éa\u{301}İ")
        Normalizer.bert(cleanText: true, chineseChars: true, stripAccents: nil, lowercase: true).apply(&t)
        #expect(t.string == "eai\u{307}".replacingAll("\u{307}", with: ""))
    }

    @Test func gpt2Split() {
        let s = Array("Hello world's  test 123!!".unicodeScalars)
        let parts = ByteLevel.gpt2Split(s).map { String(String.UnicodeScalarView(s[$0])) }
        #expect(parts == ["Hello", " world", "'s", " ", " test", " 123", "!!"])
    }
}
