// ckpt embed — sentence embeddings; a sentence-transformers directory decides
// its own pooling, normalisation and length.

import ArgumentParser
import Formats
import Model
import Tasks
import Tokenizers

extension EmbeddingPooling: ExpressibleByArgument {}

struct Embed: ParsableCommand {
    enum OutputFormat: String, ExpressibleByArgument { case jsonl, npy }

    static let configuration = CommandConfiguration(
        abstract: "Sentence embeddings of texts (as sentence-transformers computes them).",
        discussion: """
            With sentence-transformers files in the model directory (modules.json, the Pooling \
            module's config.json, sentence_bert_config.json) their pooling, normalisation and \
            maximum length are used, unless the options below say otherwise. jsonl: one \
            {"embedding": [...]} per text; npy: one float32 (texts, dim) array (needs --out).
            """)

    @Argument(help: "A model directory or store.")
    var model: String
    @Argument(help: "A text to embed.")
    var text: String?
    @Option(help: "A file of texts, one per line.")
    var file: String?
    @Option(help: "mean, cls, max or mean-sqrt-len (default: the model's sentence-transformers pooling, else mean).")
    var pooling: EmbeddingPooling?
    @Flag(help: "L2-normalise the embeddings (default: as the model's sentence-transformers files say).")
    var normalize = false
    @Option(help: "Tokens per text, special tokens included (default: the model's).")
    var maxLength: Int?
    @Option(help: "jsonl or npy.")
    var format: OutputFormat = .jsonl
    @Option(help: "Output file (default: standard output, jsonl only).")
    var out: String?
    @Option(help: "Texts per forward pass.")
    var batchSize: Int = 32
    @OptionGroup var threads: ThreadOption

    func validate() throws {
        guard (text == nil) != (file == nil) else { throw ValidationError("give a TEXT or --file, not both") }
        if format == .npy && out == nil { throw ValidationError("--format npy needs --out FILE") }
        if let m = maxLength, m < 2 { throw ValidationError("--max-length must be at least 2") }
        guard batchSize >= 1 && batchSize <= 1 << 16 else { throw ValidationError("--batch-size must be between 1 and 65536") }
    }

    func run() throws {
        try reportingErrors {
            let ckpt = try Checkpoint(path: model)
            let encoder = try Encoder(checkpoint: ckpt)
            encoder.workerCount = threads.count
            setMatmulThreads(threads.count)
            let tok = try Tokenizer(files: ckpt.files, path: ckpt.path)
            let dir = ckpt.isDirectory ? ckpt.path : FileSystem.dirname(ckpt.path)
            var settings = try EmbeddingSettings.sentenceTransformers(dir) ?? EmbeddingSettings()
            if let p = pooling { settings.pooling = [p] }
            if normalize { settings.normalize = true }
            if let m = maxLength { settings.maxLength = m }
            let embedder = SentenceEmbedder(encoder: encoder, tokenizer: tok, settings: settings)
            embedder.batchSize = batchSize
            let texts: [String]
            if let file { texts = textLines(try readFile(file)) } else { texts = [text!] }
            let vectors = try embedder.embed(texts)
            var bytes: [UInt8] = []
            switch format {
            case .jsonl:
                for v in vectors {
                    bytes += Array(JSONValue.object(JSONObject([("embedding", .array(v.map { .number(JSONNumber(Double($0))) }))])).serialized().utf8)
                    bytes.append(0x0A)
                }
            case .npy:
                bytes = npy(vectors, columns: embedder.dimension)
            }
            if let out {
                let f = try AtomicFile(path: out, overwrite: true)
                try f.write(bytes, at: 0)
                try f.commit()
            } else {
                print(String(decoding: bytes, as: UTF8.self), terminator: "")
            }
        }
    }

    /// A NumPy .npy (version 1.0) of little-endian float32 `(rows, columns)`.
    func npy(_ rows: [[Float]], columns: Int) -> [UInt8] {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows.count), \(columns)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let n = UInt16(header.utf8.count)
        out += [UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8)
        for r in rows { for v in r { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } } }
        return out
    }
}
