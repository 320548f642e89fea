// ckpt tokenize — text to ids with a model's tokenizer. Files stream: blocks
// of lines are tokenized and formatted in parallel and written in order.

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
            line is one text; the file is read in blocks, so its size does not matter. --json \
            prints one object per text: ids, tokens, offsets (Unicode code points, as Python's \
            tokenizers reports them) and word_ids (null for special tokens).
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

    @OptionGroup var threading: ThreadOption

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give either TEXT or --file") }
    }

    /// What one run of lines gives: the formatted output and the counts.
    struct Piece: Sendable {
        var output: [UInt8] = []
        var texts = 0, tokens = 0, bytes = 0
    }

    func run() throws {
        let clock = ContinuousClock()
        let loadStart = clock.now
        let tok = try reportingErrors { try Tokenizer(path: tokenizer) }
        let loadTime = clock.now - loadStart
        let special = !noSpecialTokens, json = self.json, stats = self.stats
        let format: @Sendable (Encoding, inout Piece) -> Void = { e, piece in
            piece.tokens += e.ids.count
            if stats { return }
            if json { e.appendJSONLine(to: &piece.output) } else { e.appendTextLines(to: &piece.output) }
        }
        let out = StandardOutput()
        var total = Piece()
        let start = clock.now
        if let file {
            try reportingErrors {
                let reader = try TextBlockReader(path: file)
                try forEachLineRun(reader, threads: threading.count) { block, run -> Piece in
                    var piece = Piece()
                    for i in run {
                        let line = try block.string(i, path: file)
                        piece.texts += 1
                        piece.bytes += block.lines[i].count
                        format(tok.encode(line, addSpecialTokens: special), &piece)
                    }
                    return piece
                } consume: { piece, _ in
                    try out.write(piece.output)
                    total.texts += piece.texts; total.tokens += piece.tokens; total.bytes += piece.bytes
                }
            }
        } else {
            total.texts = 1
            total.bytes = text!.utf8.count
            format(tok.encode(text!, addSpecialTokens: special), &total)
            try reportingErrors { try out.write(total.output) }
        }
        let elapsed = seconds(clock.now - start)
        if stats {
            let o = JSONObject([
                ("texts", .number(JSONNumber(total.texts))), ("tokens", .number(JSONNumber(total.tokens))),
                ("bytes", .number(JSONNumber(total.bytes))), ("seconds", .number(JSONNumber(elapsed))),
                ("mb_per_s", .number(JSONNumber(elapsed > 0 ? Double(total.bytes) / 1e6 / elapsed : 0))),
                ("load_seconds", .number(JSONNumber(seconds(loadTime)))),
            ])
            try reportingErrors { try out.write(Array((JSONValue.object(o).serialized() + "\n").utf8)) }
        }
    }
}

/// Standard output written with write(2), in whole buffers.
final class StandardOutput {
    func write(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.current("standard output", "write")
            }
            done += n
        }
    }
}
