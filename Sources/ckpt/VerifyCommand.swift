// ckpt verify — how far apart two checkpoints' outputs are, or one
// checkpoint's from reference outputs.

import ArgumentParser
import Formats
import Model
import Tokenizers
import Verify

#if canImport(Glibc)
import Glibc
#endif

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Compare two checkpoints' outputs, or one checkpoint against reference outputs.",
        discussion: """
            With A and B: tokenize the texts (--text-file, one per line, or a built-in set) with \
            A's tokenizer, run both, and compare the masked-LM logits (or the last hidden state \
            for base models). With --reference: run A on the inputs stored in the file and \
            compare with the outputs stored there (tools/reference_logits.py writes such files \
            with transformers). One line per output; exit 1 when any is over --max-abs.
            """)

    @Argument(help: "The checkpoint to check.")
    var a: String

    @Argument(help: "The checkpoint to compare with (its outputs are the reference).")
    var b: String?

    @Option(help: "Reference outputs (safetensors: input_ids, attention_mask, [token_type_ids], logits or last_hidden_state).")
    var reference: String?

    @Option(help: "Texts to run, one per line.")
    var textFile: String?

    @Option(help: "Largest absolute difference accepted.")
    var maxAbs: Double = 1e-4

    @Option(help: "Truncate texts to this many tokens.")
    var maxLength: Int = 512

    @Flag(help: "Also compare every layer's hidden states.")
    var layers = false

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup(title: "Precision of A (B and reference files are the float truth)") var precision: PrecisionOption

    func validate() throws {
        if (b == nil) == (reference == nil) { throw ValidationError("give either B or --reference") }
        if maxLength < 2 { throw ValidationError("--max-length must be at least 2") }
        if !(maxAbs >= 0) { throw ValidationError("--max-abs must be a non-negative number") }
    }

    func run() throws {
        let results: [Comparison] = try reportingErrors {
            let ckptA = try Checkpoint(path: a)
            let modelA = try Encoder(checkpoint: ckptA)
            modelA.precision = precision.precision
            if let reference {
                let (batch, refs) = try Verifier.loadReference(reference, config: modelA.config)
                return try Verifier.run(modelA, batch: batch, references: refs, layers: layers, tolerance: maxAbs)
            }
            let ckptB = try Checkpoint(path: b!)
            let modelB = try Encoder(checkpoint: ckptB)
            guard modelA.config.hidden == modelB.config.hidden, modelA.config.vocabSize == modelB.config.vocabSize else {
                throw VerifyError(path: b!, reason: "hidden size \(modelB.config.hidden) / vocabulary \(modelB.config.vocabSize) differ from \(a)'s \(modelA.config.hidden) / \(modelA.config.vocabSize)")
            }
            let tok = try Tokenizer(files: ckptA.files, path: ckptA.path)
            let mask = tok.addedTokens.first { $0.content.lowercased().contains("mask") }?.content ?? "[MASK]"
            let texts = try textFile.map { textLines(try readFile($0)) } ?? Verifier.defaultTexts(mask: mask)
            let pad = tok.addedTokens.first { $0.content.lowercased().contains("pad") }?.id ?? 0
            let batch = Batch(texts: texts, tokenizer: tok, padID: pad, maxLength: min(maxLength, modelA.config.maxLength))
            let refs = try Verifier.outputs(modelB, batch: batch, layers: layers)
            return try Verifier.run(modelA, batch: batch, references: refs, layers: layers, tolerance: maxAbs)
        }
        let ok = results.allSatisfy(\.ok) && !results.isEmpty
        if json {
            func num(_ x: Double?) -> JSONValue { x.map { .number(JSONNumber($0)) } ?? .null }
            let items: [JSONValue] = results.map { r in
                .object(JSONObject([
                    ("name", .string(r.name)), ("ok", .bool(r.ok)), ("count", .number(JSONNumber(r.count))),
                    ("max_abs", num(r.maxAbs)), ("mean_abs", num(r.meanAbs)), ("max_rel", num(r.maxRel)),
                    ("cosine", num(r.cosine)), ("top1", num(r.top1)), ("top5", num(r.top5)), ("kl", num(r.kl)),
                ]))
            }
            print(JSONValue.object(JSONObject([("ok", .bool(ok)), ("max_abs_tolerance", num(maxAbs)), ("outputs", .array(items))])).serialized())
        } else {
            for r in results {
                var line = pad(r.name, 20) + (r.ok ? " OK       " : " MISMATCH ")
                line += "max_abs=\(fmt(r.maxAbs)) mean_abs=\(fmt(r.meanAbs)) max_rel=\(fmt(r.maxRel)) cos=\(String(format6(r.cosine)))"
                if let t1 = r.top1, let t5 = r.top5, let kl = r.kl {
                    line += " top1=\(percent(t1)) top5=\(percent(t5)) kl=\(fmt(kl))"
                }
                print(line)
            }
            print("\(results.count) outputs compared, \(results.filter { !$0.ok }.count) over max_abs \(fmt(maxAbs))")
        }
        if !ok { throw ExitCode.failure }
    }

    /// Three significant digits; scientific below 1e-3 and from 1e6.
    func fmt(_ x: Double) -> String {
        guard x != 0, x.isFinite else { return x == 0 ? "0" : "\(x)" }
        let e = Int(log10(abs(x)).rounded(.down))
        if e < -3 || e >= 6 {
            let m = x / pow(10, Double(e))
            return "\((m * 100).rounded() / 100)e\(e)"
        }
        let scale = pow(10, Double(2 - e))
        return "\((x * scale).rounded() / scale)"
    }
    func format6(_ x: Double) -> String { String((x * 1e6).rounded() / 1e6) }
    func percent(_ x: Double) -> String { String((x * 1000).rounded() / 10) + "%" }
}
