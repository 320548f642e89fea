// Every field of every encoding against the goldens written by the real
// `tokenizers` library (tools/fixtures/make_tokenizer_goldens.py).

import Formats
import Testing
import TestSupport
import Tokenizers

/// The goldens under one fixture directory: `texts.json`, and per tokenizer
/// `golden.jsonl` and `pairs.jsonl`.
struct EncodingGoldens {
    let root: String
    let texts: [String]

    init(root: String) {
        self.root = root
        texts = (try? Fixtures.json("\(root)/texts.json").array?.compactMap(\.string)) ?? []
    }

    /// One JSON object per line.
    func lines(_ name: String) throws -> [JSONValue] {
        let bytes = try readFile(Fixtures.path(name))
        return try bytes.split(separator: 0x0A).map { try JSONParser.parse(Array($0), path: name) }
    }

    func ints(_ v: JSONValue?) -> [Int] { v?.array?.compactMap(\.int) ?? [] }
    func optionalInts(_ v: JSONValue?) -> [Int?] { v?.array?.map(\.int) ?? [] }
    /// Goldens store offsets flattened: [start0, end0, start1, end1, ...].
    func pairs(_ v: JSONValue?) -> [[Int]] {
        let flat = ints(v)
        return stride(from: 0, to: flat.count - 1, by: 2).map { [flat[$0], flat[$0 + 1]] }
    }
    func offsets(_ e: Encoding) -> [[Int]] { e.offsets.map { [$0.0, $0.1] } }

    /// Compares field by field and records the first few differences.
    func check(_ dir: String, golden: String, tokenizer: Tokenizer? = nil, minimumTexts: Int = 2000) throws {
        let tok = try tokenizer ?? Tokenizer(path: Fixtures.path("\(root)/\(dir)"))
        #expect(texts.count > minimumTexts)
        var failures: [String: Int] = [:]
        var examples: [String] = []
        func fail(_ field: String, _ i: Int, _ got: Any, _ want: Any) {
            failures[field, default: 0] += 1
            if examples.count < 8 { examples.append("\(dir) text \(i) \(field): got \(got) want \(want) — \(texts[i].debugDescription)") }
        }
        let golden = try lines("\(root)/\(golden)/golden.jsonl")
        #expect(golden.count == texts.count)
        for g in golden {
            let i = g["i"]!.int!
            let e = tok.encode(texts[i])
            if e.ids != ints(g["ids"]) { fail("ids", i, e.ids, ints(g["ids"])) }
            if e.tokens != (g["tokens"]?.array?.compactMap(\.string) ?? []) { fail("tokens", i, e.tokens, g["tokens"]!.serialized()) }
            if offsets(e) != pairs(g["offsets"]) { fail("offsets", i, offsets(e), pairs(g["offsets"])) }
            if e.wordIDs != optionalInts(g["word_ids"]) { fail("word_ids", i, e.wordIDs, optionalInts(g["word_ids"])) }
            if e.specialTokensMask != ints(g["special_tokens_mask"]) { fail("special_tokens_mask", i, e.specialTokensMask, ints(g["special_tokens_mask"])) }
            if e.typeIDs != ints(g["type_ids"]) { fail("type_ids", i, e.typeIDs, ints(g["type_ids"])) }
            let ns = tok.encode(texts[i], addSpecialTokens: false)
            if ns.ids != ints(g["ids_ns"]) { fail("ids_ns", i, ns.ids, ints(g["ids_ns"])) }
            let decoded = tok.decode(e.ids)
            if decoded != g["decoded"]?.string { fail("decoded", i, decoded.debugDescription, g["decoded"]!.serialized()) }
        }
        let summary = "\(dir): mismatches \(failures.sorted { $0.key < $1.key }) of \(golden.count) texts\n" + examples.joined(separator: "\n")
        #expect(failures.isEmpty, Comment(rawValue: summary))
    }

    func checkPairs(_ dir: String) throws {
        let tok = try Tokenizer(path: Fixtures.path("\(root)/\(dir)"))
        var bad: [String] = []
        let golden = try lines("\(root)/\(dir)/pairs.jsonl")
        #expect(golden.count >= 100)
        for g in golden {
            let (a, b) = (g["a"]!.int!, g["b"]!.int!)
            let e = tok.encode(texts[a], pair: texts[b])
            if e.ids != ints(g["ids"]) || e.typeIDs != ints(g["type_ids"]) || offsets(e) != pairs(g["offsets"])
                || e.specialTokensMask != ints(g["special_tokens_mask"]) {
                bad.append("pair (\(a), \(b))")
            }
        }
        #expect(bad.isEmpty, "\(dir): \(bad.count) of \(golden.count) pairs differ, e.g. \(bad.prefix(5))")
    }
}

@Suite struct TokenizerGoldenTests {
    let goldens = EncodingGoldens(root: "tokenizer-goldens")
    func check(_ dir: String, golden: String, tokenizer: Tokenizer? = nil) throws {
        try goldens.check(dir, golden: golden, tokenizer: tokenizer)
    }
    func checkPairs(_ dir: String) throws { try goldens.checkPairs(dir) }

    @Test func bertUncased() throws { try check("bert-uncased", golden: "bert-uncased") }
    @Test func wordPieceCased() throws { try check("wordpiece-cased", golden: "wordpiece-cased") }
    @Test func byteLevelBPE() throws { try check("bpe-bytelevel", golden: "bpe-bytelevel") }
    @Test func vocabTxtOnlyEqualsTokenizerJSON() throws {
        // vocab.txt + tokenizer_config.json + special_tokens_map.json alone, as
        // transformers' BertTokenizer reads them.
        let dir = Fixtures.path("tokenizer-goldens/bert-uncased")
        let tok = try Tokenizer(vocabTxt: try readFile(dir + "/vocab.txt"), path: dir + "/vocab.txt",
                                tokenizerConfig: try readFile(dir + "/tokenizer_config.json"),
                                specialTokensMap: try readFile(dir + "/special_tokens_map.json"))
        try check("bert-vocab-only", golden: "bert-uncased", tokenizer: tok)
    }
    @Test func pairsBertUncased() throws { try checkPairs("bert-uncased") }
    @Test func pairsWordPieceCased() throws { try checkPairs("wordpiece-cased") }
    @Test func pairsByteLevelBPE() throws { try checkPairs("bpe-bytelevel") }
}
