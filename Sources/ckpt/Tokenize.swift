// ckpt tokenize — text to ids with a model's tokenizer.

import ArgumentParser
import Formats
#if canImport(Glibc)
import Glibc
#endif
import Tokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize text with a model's tokenizer (tokenizer.json, or vocab.txt for BERT).",
        discussion: """
            TOKENIZER is a model directory, a tokenizer.json or a vocab.txt. With --file each \
            line is one text. --json prints one object per text: ids, tokens, offsets \
            (Unicode code points, as Python's tokenizers reports them) and word_ids (null for \
            special tokens).
            """)

    @Argument(help: "A model directory, tokenizer.json or vocab.txt.")
    var tokenizer: String

    @Argument(help: "The text to tokenize (or use --file).")
    var text: String?

    @Option(help: "Tokenize every line of this file.")
    var file: String?

    @Flag(help: "One JSON object per text.")
    var json = false

    @Flag(name: .customLong("no-special-tokens"), help: "Do not add [CLS]/[SEP] (or <s>/</s>).")
    var noSpecialTokens = false

    @Flag(help: "Print only totals and the encoding speed as one JSON object.")
    var stats = false

    @Option(help: "Threads for --file (default: all cores).")
    var threads: Int?

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give either TEXT or --file") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let loadStart = clock.now
        let tok = try reportingErrors { try Tokenizer(path: tokenizer) }
        let loadTime = clock.now - loadStart
        let texts: [String]
        if let file {
            let bytes = try reportingErrors { try readFile(file, limit: 1 << 34) }
            texts = textLines(bytes)
        } else {
            texts = [text!]
        }
        let start = clock.now
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let encodings = tok.encodeBatch(texts, addSpecialTokens: !noSpecialTokens, threads: threads ?? max(1, cores))
        let elapsed = clock.now - start
        if stats {
            func secs(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
            let seconds = secs(elapsed)
            let bytes = texts.reduce(0) { $0 + $1.utf8.count }
            let tokens = encodings.reduce(0) { $0 + $1.ids.count }
            let o = JSONObject([
                ("texts", .number(JSONNumber(texts.count))), ("tokens", .number(JSONNumber(tokens))),
                ("bytes", .number(JSONNumber(bytes))), ("seconds", .number(JSONNumber(seconds))),
                ("mb_per_s", .number(JSONNumber(seconds > 0 ? Double(bytes) / 1e6 / seconds : 0))),
                ("load_seconds", .number(JSONNumber(secs(loadTime)))),
            ])
            print(JSONValue.object(o).serialized())
            return
        }
        var out = ""
        for e in encodings {
            if json {
                let o = JSONObject([
                    ("ids", .array(e.ids.map { .number(JSONNumber($0)) })),
                    ("tokens", .array(e.tokens.map { .string($0) })),
                    ("offsets", .array(e.offsets.map { .array([.number(JSONNumber($0.0)), .number(JSONNumber($0.1))]) })),
                    ("word_ids", .array(e.wordIDs.map { $0.map { .number(JSONNumber($0)) } ?? .null })),
                ])
                out += JSONValue.object(o).serialized() + "\n"
            } else {
                out += printable(e.tokens.joined(separator: " ")) + "\n"
                out += e.ids.map(String.init).joined(separator: " ") + "\n"
            }
            if out.utf8.count > 1 << 20 { print(out, terminator: ""); out = "" }
        }
        print(out, terminator: "")
    }
}
