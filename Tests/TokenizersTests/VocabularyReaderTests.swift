// The dedicated tokenizer.json vocabulary reader against the generic json-c
// parse: the same members for every tokenizer.json in the fixtures, the
// unusual forms left to the generic path, and json-c's errors unchanged.

import Formats
import Testing
import TestSupport
@testable import Tokenizers

@Suite struct VocabularyReaderTests {
    /// The `model.vocab` members as the generic parse gives them.
    func genericVocabulary(_ bytes: [UInt8]) throws -> [(String, Int?)] {
        let json = try JSONParser.parse(bytes, path: "t")
        return (json["model"]?["vocab"]?.object ?? JSONObject()).map { ($0.key, $0.value.int) }
    }

    func document(vocab: String, rest: String = #""unk_token": "[UNK]""#) -> [UInt8] {
        Array(#"{"version": "1.0", "model": {"type": "WordPiece", "vocab": "#.utf8) + Array(vocab.utf8)
            + Array(#", \#(rest)}, "normalizer": null}"#.utf8)
    }

    @Test(arguments: ["tokenizer-goldens/bert-uncased", "tokenizer-goldens/wordpiece-cased", "tokenizer-goldens/bpe-bytelevel",
                      "resize/append-tokenizer", "resize/domain-tokenizer", "bert-tied", "distilbert-tied"])
    func fixturesReadAsTheGenericParseReadsThem(dir: String) throws {
        let bytes = try readFile(Fixtures.path(dir + "/tokenizer.json"))
        let split = try #require(VocabularyReader.split(bytes))
        let generic = try genericVocabulary(bytes)
        #expect(split.entries.count == generic.count && !generic.isEmpty)
        #expect(zip(split.entries, generic).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 })
        // The rest of the document is untouched and the vocabulary is blank.
        var original = try JSONParser.parse(bytes, path: "t")
        original.setModelVocabulary(JSONObject())
        #expect(try JSONParser.parse(split.document, path: "t") == original)
        #expect(split.document.count == bytes.count)
    }

    @Test func escapesDuplicatesAndNonASCII() throws {
        let vocab = #"{"[UNK]": 0, "caf\u00e9": 1, "😀": 2, "\ud83d\ude00x": 3, "a\"b\\c\/d\n\t\b\f\r": 4, "é": 5, "x": 6, "": 8}"#
        let bytes = document(vocab: vocab)
        let split = try #require(VocabularyReader.split(bytes))
        let generic = try genericVocabulary(bytes)
        #expect(split.entries.map(\.0) == generic.map(\.0))
        #expect(split.entries.map(\.1) == generic.map(\.1))
        #expect(split.entries.map(\.0) == ["[UNK]", "café", "😀", "😀x", "a\"b\\c/d\n\t\u{8}\u{C}\r", "é", "x", ""])
        #expect(split.entries.map(\.1) == [0, 1, 2, 3, 4, 5, 6, 8])
        #expect(split.ids.count == 8 && split.ids[ExactString("😀x")] == 3)
        // A repeated token is left to the generic path, whose last value wins.
        let repeated = document(vocab: #"{"[UNK]": 0, "x": 6, "x": 7}"#)
        #expect(VocabularyReader.split(repeated) == nil)
        #expect(try Tokenizer(tokenizerJSON: repeated, path: "t").id(of: "x") == 7)
        // Canonically equivalent tokens are two tokens, both ways.
        let pair = document(vocab: #"{"[UNK]": 0, "\u00e9": 6, "e\u0301": 7}"#)
        #expect(VocabularyReader.split(pair)?.entries.map(\.1) == [0, 6, 7])
        #expect(try genericVocabulary(pair).map(\.1) == [0, 6, 7])
    }

    /// Forms the reader leaves to the generic path (which decides, as before).
    @Test(arguments: [
        #"{"a\ud800": 1}"#, #"{"a\udc00": 1}"#, #"{"a\u0000": 1}"#, "{\"a\u{1}\": 1}", #"{"a": 1.0}"#, #"{"a": -1}"#,
        #"{"a": 01}"#, #"{"a": 1e2}"#, #"{"a": 1,}"#, #"{"a": 1 /* c */}"#, #"{"a" 1}"#, #"{"a": "1"}"#,
        #"{"a": 12345678901}"#, #"{"a\x": 1}"#, #"{"a\u12": 1}"#, #"{a: 1}"#,
    ])
    func unusualVocabulariesFallBack(vocab: String) {
        #expect(VocabularyReader.split(document(vocab: vocab)) == nil, "\(vocab)")
    }

    @Test func unusualDocumentsFallBack() {
        let cases = [
            #"{"model": {"vocab": {"a": 0}}, "model": {"vocab": {"b": 0}}}"#,   // model twice
            #"{"model": {"vocab": {"a": 0}, "vocab": {"b": 0}}}"#,                // vocab twice
            #"{"model": {"vocab": ["a"]}}"#,                                       // not an object
            #"{"model": {"type": "WordPiece"}}"#,                                  // no vocab
            #"[{"model": {"vocab": {"a": 0}}}]"#,                                  // not an object
            "\u{FEFF}" + #"{"model": {"vocab": {"a": 0}}}"#,                       // byte-order mark
            #"{"x": /* c */ 1, "model": {"vocab": {"a": 0}}}"#,                    // a comment before
            #"{"model": {"vocab": {"a": 0}"#,                                      // cut short
        ]
        for c in cases { #expect(VocabularyReader.split(Array(c.utf8)) == nil, "\(c)") }
    }

    /// Random byte edits of a small tokenizer.json: loading with the reader
    /// gives what loading through json-c alone gives, the same encodings or
    /// the same error.
    @Test func mutatedDocumentsLoadAsWithoutTheReader() throws {
        let base = document(vocab: ###"{"[UNK]": 0, "a": 1, "##b": 2, "caf\u00e9": 3, "é": 4, "\ud83d\ude00": 5, "x y": 16}"###)
        let alphabet = Array(#"{}[]":,\ u0123456789abdef-.eE/*"#.utf8) + [0x00, 0x01, 0x0A, 0xC3, 0xA9, 0xFF]
        var state: UInt64 = 0x5EED
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        func load(_ doc: [UInt8], apart: Bool) -> String {
            do {
                let tok = try Tokenizer(tokenizerJSON: doc, path: "t.json", readingVocabularyApart: apart)
                let ids = ["a ab café", "é x y 😀", "zzz"].map { tok.encode($0).ids.map(String.init).joined(separator: " ") }
                return "ok " + ids.joined(separator: " | ") + " count \(tok.count)"
            } catch {
                return "error \(error)"
            }
        }
        var taken = 0, loaded = 0
        for _ in 0..<3000 {
            var doc = base
            for _ in 0...next(3) {
                let at = next(doc.count)
                switch next(3) {
                case 0: doc[at] = alphabet[next(alphabet.count)]
                case 1: doc.insert(alphabet[next(alphabet.count)], at: at)
                default: doc.remove(at: at)
                }
            }
            guard VocabularyReader.split(doc) != nil else { continue }
            taken += 1
            let (withReader, without) = (load(doc, apart: true), load(doc, apart: false))
            if withReader.hasPrefix("ok") { loaded += 1 }
            #expect(withReader == without, "\(String(decoding: doc, as: UTF8.self))")
        }
        #expect(taken > 300 && loaded > 100, "\(taken) \(loaded)")
    }

    /// A document broken outside the vocabulary gets json-c's error for the
    /// file, at the file's byte offset.
    @Test func errorsOutsideTheVocabularyAreJSONCs() throws {
        let bytes = document(vocab: #"{"[UNK]": 0, "a": 1}"#, rest: #""unk_token": [UNK]"#)
        #expect(VocabularyReader.split(bytes) != nil)
        var expected = ""
        do { _ = try JSONParser.parse(bytes, path: "t.json") } catch let e as JSONError { expected = e.reason }
        #expect(expected.contains("at byte"))
        #expect(throws: TokenizerError.invalid(path: "t.json", reason: expected)) {
            try Tokenizer(tokenizerJSON: bytes, path: "t.json")
        }
        let badID = document(vocab: #"{"[UNK]": 0, "a": 99999999}"#)
        #expect(throws: TokenizerError.invalid(path: "t.json", reason: #"vocab id of "a" is not a valid id"#)) {
            try Tokenizer(tokenizerJSON: badID, path: "t.json")
        }
    }
}

extension JSONValue {
    /// Replaces `model.vocab`.
    mutating func setModelVocabulary(_ vocab: JSONObject) {
        guard case var .object(root) = self, case var .object(model)? = root["model"] else { return }
        model["vocab"] = .object(vocab)
        root["model"] = .object(model)
        self = .object(root)
    }
}
