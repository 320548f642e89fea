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

    /// vocab.txt files repeat tokens at times. The id a token encodes to, the
    /// id `id(of:)` reports and the special tokens' ids all follow one rule
    /// (the last listing wins, as in Hugging Face's WordPiece).
    @Test func repeatedVocabularyTokenHasOneID() throws {
        let lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "[SEP]", "b", "a", "##b"]
        let tok = try Tokenizer(vocabTxt: Array((lines.joined(separator: "\n") + "\n").utf8), path: "/v/vocab.txt",
                                tokenizerConfig: nil, specialTokensMap: nil)
        let e = tok.encode("a ab")
        #expect(e.tokens == ["[CLS]", "a", "a", "##b", "[SEP]"])
        #expect(e.ids[1] == tok.id(of: "a") && e.ids[2] == tok.id(of: "a"))
        #expect(e.ids.last == tok.id(of: "[SEP]"))
        #expect(tok.id(of: "a") == 8 && tok.id(of: "[SEP]") == 6)
        #expect(tok.token(of: 8) == "a")
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
