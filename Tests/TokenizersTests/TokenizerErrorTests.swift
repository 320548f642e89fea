// Malformed tokenizer files: each gives an error naming the file and the problem.

import Formats
import Testing
import TestSupport
import Tokenizers

@Suite struct TokenizerErrorTests {
    let dir = ScratchDirectory()

    func load(_ json: String) throws -> Tokenizer {
        dir.write("tokenizer.json", Array(json.utf8))
        return try Tokenizer(path: dir.file("tokenizer.json"))
    }

    var path: String { dir.file("tokenizer.json") }
    let vocab = #"{"[UNK]":0,"[CLS]":1,"[SEP]":2,"a":3,"b":4,"ab":5}"#

    @Test func unknownModelType() {
        #expect(throws: TokenizerError.unsupported(path: path, what: "model \"Banana\"")) {
            try load(#"{"model":{"type":"Banana","vocab":{}}}"#)
        }
    }

    @Test func unknownNormalizer() {
        #expect(throws: TokenizerError.unsupported(path: path, what: "normalizer \"Frobnicate\"")) {
            try load(#"{"normalizer":{"type":"Frobnicate"},"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":"# + vocab + "}}")
        }
    }

    @Test func specialTokenMissingFromVocabulary() {
        let json = #"{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":"# + vocab + #"},"post_processor":{"type":"BertProcessing","sep":["[SEP]",2],"cls":["[MASK]",9]}}"#
        #expect(throws: TokenizerError.invalid(path: path, reason: "BertProcessing cls token \"[MASK]\" is not id 9 in the vocabulary")) {
            try load(json)
        }
    }

    @Test func unknownTokenMissing() {
        #expect(throws: TokenizerError.invalid(path: path, reason: "the unknown token \"[UNK]\" is not in the vocabulary")) {
            try load(#"{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0}}}"#)
        }
    }

    @Test func badMerges() {
        let json = #"{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b","a c"]}}"#
        #expect(throws: TokenizerError.invalid(path: path, reason: "merge 1 (\"a c\") uses a token missing from the vocabulary")) {
            try load(json)
        }
        let bad = #"{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}}"#
        #expect(throws: TokenizerError.invalid(path: path, reason: "merge 0 (\"a b\") makes a token missing from the vocabulary")) {
            try load(bad)
        }
    }

    @Test func truncatedFile() {
        do {
            _ = try load(#"{"model":{"type":"WordPiece","vocab":{"a":"#)
            Issue.record("accepted")
        } catch let e as TokenizerError {
            guard case let .invalid(p, reason) = e, p == path, reason.contains("end of document") else { Issue.record("\(e)"); return }
        } catch { Issue.record("\(error)") }
    }

    @Test func emptyDirectory() {
        #expect(throws: TokenizerError.missing(path: dir.path)) { try Tokenizer(path: dir.path) }
    }

    @Test func vocabTxtWithoutItsSpecialTokens() {
        dir.write("vocab.txt", Array("[UNK]\na\nb\n".utf8))
        dir.write("special_tokens_map.json", Array(#"{"cls_token": "[CLS]"}"#.utf8))
        #expect(throws: TokenizerError.self) { try Tokenizer(path: dir.path) }
    }
}
