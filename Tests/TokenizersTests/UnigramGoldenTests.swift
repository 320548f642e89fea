// SentencePiece-style tokenizers (Unigram, Precompiled charsmap, Metaspace,
// regex Replace, byte fallback) against the goldens written by the real
// `tokenizers` library from models trained by `sentencepiece`
// (tools/fixtures/make_unigram_goldens.py): every field of every encoding,
// the pairs, and hostile files refused by name.

import Formats
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
