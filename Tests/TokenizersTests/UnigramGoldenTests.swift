// SentencePiece-style tokenizers (Unigram, Precompiled charsmap, Metaspace,
// regex Replace, byte fallback) against the goldens written by the real
// `tokenizers` library from models trained by `sentencepiece`
// (tools/fixtures/make_unigram_goldens.py): every field of every encoding,
// the pairs, and hostile files refused by name.

import Formats
import Foundation
import Testing
import TestSupport
import Tokenizers

@Suite struct UnigramGoldenTests {
    static let tokenizers = ["xlm-roberta", "camembert", "xlm-roberta-legacy", "unigram-byte-fallback", "metaspace-first", "metaspace-never"]
    let goldens = EncodingGoldens(root: "unigram-goldens")

    @Test(arguments: tokenizers) func encodings(_ name: String) throws {
        try goldens.check(name, golden: name, minimumTexts: 300)
    }

    @Test(arguments: tokenizers) func pairs(_ name: String) throws {
        try goldens.checkPairs(name)
    }

    /// Corner cases (tools/fixtures/make_tokenizer_edge_goldens.py): "first"
    /// after a normalizer removed the text's first characters, Oniguruma's \w,
    /// and the pattern of fuzzing's finding 3 (exponential for plain
    /// backtracking on a run of 300 x; docs/fuzzing.md).
    @Test(arguments: ["first-after-removal", "regex-word", "regex-backtracking"]) func cornerCases(_ name: String) throws {
        let edge = EncodingGoldens(root: "tokenizer-edge")
        try edge.check(name, golden: name, minimumTexts: 10)
        try edge.checkPairs(name)
    }

    /// tokenizer.json texts the reference refuses to load are refused too.
    @Test func whatTheReferenceRefusesIsRefused() throws {
        let files = try #require(try Fixtures.json("tokenizer-edge/rejected.json")["files"]?.array)
        #expect(files.count >= 2)
        for f in files {
            #expect(f["error"]?.isNull == false, "the reference loads \(f["name"]?.string ?? "")")
            let bytes = Array(try #require(f["tokenizer"]).serialized().utf8)
            #expect(throws: TokenizerError.self, "\(f["name"]?.string ?? "")") { try Tokenizer(tokenizerJSON: bytes, path: "tokenizer.json") }
        }
    }

    /// Added-token ids outside 0..<2^24 (the reference reads them as u32).
    @Test func addedTokenIDsAreChecked() throws {
        let path = Fixtures.path("unigram-goldens/xlm-roberta/tokenizer.json")
        let text = String(decoding: try readFile(path), as: UTF8.self)
        for bad in ["-5", "1000000000000"] {
            let edited = text.replacingOccurrences(of: "{\"id\":2001,\"content\":\"<mask>\"", with: "{\"id\":\(bad),\"content\":\"<mask>\"")
            #expect(edited != text)
            #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: Array(edited.utf8), path: path) }
        }
    }

    /// Patterns where Oniguruma gives up ("retry-limit-in-match over", a panic
    /// in `tokenizers`) still match, in polynomial time, as backtracking
    /// defines: six stars before a `y` that is not there match nothing (the
    /// text is encoded as under a pattern that cannot match), and with the `y`
    /// there they match the whole run (as `x+y` does).
    @Test func patternsThatExhaustOnigurumaStillMatch() throws {
        let path = Fixtures.path("tokenizer-edge/regex-word/tokenizer.json")
        let text = String(decoding: try readFile(path), as: UTF8.self)
        func tokenizer(_ regex: String) throws -> Tokenizer {
            let edited = text.replacingOccurrences(of: #""Regex": "\\w+""#, with: "\"Regex\": \"\(regex)\"")
            #expect(edited != text)
            return try Tokenizer(tokenizerJSON: Array(edited.utf8), path: path)
        }
        let stars = try tokenizer("x*x*x*x*x*x*y|x+x+x+z")
        let run = String(repeating: "x", count: 300)
        #expect(stars.encode(run + " hello").ids == (try tokenizer("q")).encode(run + " hello").ids)
        #expect(stars.encode(run + "y hello").ids == (try tokenizer("x+y")).encode(run + "y hello").ids)
        #expect(stars.encode(run + "y hello").ids != stars.encode(run + " hello").ids)
    }

    /// A regex outside the supported subset is refused by name, with the file.
    @Test func unsupportedRegexIsNamed() throws {
        let path = Fixtures.path("tokenizer-edge/regex-word/tokenizer.json")
        let text = String(decoding: try readFile(path), as: UTF8.self)
        let edited = text.replacingOccurrences(of: #""Regex": "\\w+""#, with: #""Regex": "(a|b)""#)
        #expect(edited != text)
        do {
            _ = try Tokenizer(tokenizerJSON: Array(edited.utf8), path: path)
            Issue.record("a grouped regex loaded")
        } catch {
            #expect("\(error)".contains("tokenizer.json") && "\(error)".contains("(a|b)"), "\(error)")
        }
    }

    /// Hostile files: each refused with the file and the problem named.
    @Test(arguments: [
        ("charsmap-truncated.json", "truncated"),
        ("charsmap-outside.json", "points outside"),
        ("unigram-nan.json", "unigram-nan.json"),
        ("unigram-inf.json", "not a finite number"),
        ("unigram-no-unk.json", "no unknown piece"),
        ("unigram-unk-out-of-range.json", "outside the vocabulary"),
    ]) func hostileFilesAreRefused(_ file: String, _ phrase: String) throws {
        let path = Fixtures.path("unigram-goldens/bad/\(file)")
        do {
            _ = try Tokenizer(path: path)
            Issue.record("\(file) loaded")
        } catch {
            let message = "\(error)"
            #expect(message.contains(file) && message.contains(phrase), "\(file): \(message)")
        }
    }
}
