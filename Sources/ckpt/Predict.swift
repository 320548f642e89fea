// ckpt predict — the fill-mask pipeline.

import ArgumentParser
import Formats
import Model
import Tokenizers
import Verify

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill the mask tokens of a text with a masked-LM checkpoint.")

    @Argument(help: "A model directory or a ckpt-hdf5 store (the tokenizer comes with it).")
    var model: String

    @Argument(help: "Text with one or more mask tokens, e.g. \"Paris is the [MASK] of France.\"")
    var text: String

    @Option(help: "Candidates per mask.")
    var topK: Int = 5

    @Flag(help: "Print one JSON array per mask.")
    var json = false

    @OptionGroup var precision: PrecisionOption

    func validate() throws {
        if topK < 1 { throw ValidationError("--top-k must be at least 1") }
    }

    func run() throws {
        let results = try reportingErrors {
            let ckpt = try Checkpoint(path: model)
            let encoder = try Encoder(checkpoint: ckpt)
            encoder.precision = precision.precision
            let tok = try Tokenizer(files: ckpt.files, path: ckpt.path)
            return try FillMask.predict(model: encoder, tokenizer: tok, text: text, topK: topK)
        }
        for (i, cands) in results.enumerated() {
            if json {
                print(JSONValue.array(cands.map { c in
                    .object(JSONObject([("score", .number(JSONNumber(c.score))), ("token", .number(JSONNumber(c.token))),
                                        ("token_str", .string(c.tokenString)), ("sequence", .string(c.sequence))]))
                }).serialized())
                continue
            }
            if results.count > 1 { print("mask \(i + 1):") }
            for c in cands {
                let pct = String((c.score * 1000).rounded() / 10)
                print(pad(printable(c.tokenString), 16) + " " + pad(pct + "%", 7) + " " + printable(c.sequence))
            }
        }
    }
}
