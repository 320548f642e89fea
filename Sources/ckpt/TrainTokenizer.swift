// ckpt train-tokenizer — a domain tokenizer trained on a corpus: WordPiece
// (BERT) or byte-level BPE (RoBERTa), or an existing tokenizer's pipeline with
// a new vocabulary (--from), as Hugging Face `tokenizers` trains them.

import ArgumentParser
import Formats
import Tokenizers
#if canImport(Glibc)
import Glibc
#endif

struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Train a WordPiece or byte-level BPE tokenizer on a corpus (or retrain an existing tokenizer's vocabulary).",
        discussion: """
            The algorithm is Hugging Face tokenizers' BpeTrainer (WordPiece: with the ## prefix): \
            words counted after normalization and pre-tokenization, alphabet limited by frequency, \
            merges by count until --vocab-size (special tokens included) or --min-frequency. Ties are \
            broken deterministically, so the same corpus and options give the same files. Text files \
            are read line by line (line ends included, as tokenizers' train_from_files reads them); \
            .jsonl files by their "text" field. Writes tokenizer.json, vocab.txt (WordPiece) or \
            vocab.json + merges.txt (BPE), tokenizer_config.json and special_tokens_map.json.
            """)

    @Argument(help: "Corpus files: text (one document per line) or .jsonl with a \"text\" field.")
    var corpus: [String] = []

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "Vocabulary size, special tokens included.")
    var vocabSize: Int

    @Option(help: "wordpiece (BERT's pipeline) or bpe (byte-level, RoBERTa's pipeline). Ignored with --from.")
    var type: TokenizerTemplate.Kind = .wordpiece

    @Option(help: "Retrain this tokenizer directory's vocabulary, keeping its normalizer, pre-tokenizer, post-processor, decoder and special tokens.")
    var from: String?

    @Flag(inversion: .prefixedNo, help: "WordPiece: lowercase (BertNormalizer), as bert-base-uncased.")
    var lowercase = true

    @Option(help: "WordPiece: strip accents (true/false; default: as --lowercase).")
    var stripAccents: Bool?

    @Option(help: "Smallest count of a merged pair (default 2; 0 with --from, as train_new_from_iterator).")
    var minFrequency: Int?

    @Option(help: "Most characters in the initial alphabet (default 1000 for WordPiece, none for BPE and --from).")
    var limitAlphabet: Int?

    @Option(help: "Special tokens, comma-separated, in id order (default: [PAD],[UNK],[CLS],[SEP],[MASK] or <s>,<pad>,</s>,<unk>,<mask>).")
    var specialTokens: String?

    @Option(help: "Longest merged token, in characters.")
    var maxTokenLength: Int?

    @OptionGroup var threading: ThreadOption

    @Flag(help: "Replace an existing --out.")
    var force = false

    func validate() throws {
        guard !corpus.isEmpty else { throw ValidationError("give at least one corpus file") }
        guard vocabSize >= 1 && vocabSize <= 1 << 24 else { throw ValidationError("--vocab-size must be in 1...16777216") }
        if let m = minFrequency, m < 0 { throw ValidationError("--min-frequency must be at least 0") }
        if let l = limitAlphabet, l < 0 { throw ValidationError("--limit-alphabet must be at least 0") }
        if let m = maxTokenLength, m < 1 { throw ValidationError("--max-token-length must be at least 1") }
        if let s = specialTokens, s.split(separator: ",").contains(where: { $0.isEmpty }) {
            throw ValidationError("--special-tokens: empty token")
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        try reportingErrors {
            var template: TokenizerTemplate
            if let from {
                template = try TokenizerTemplate.from(directory: from)
            } else {
                template = type == .wordpiece ? .bert(lowercase: lowercase, stripAccents: stripAccents) : .roberta()
            }
            if let s = specialTokens { template.setSpecialTokens(s.split(separator: ",").map(String.init)) }
            var o = BPETrainingOptions()
            o.vocabSize = vocabSize
            o.minFrequency = minFrequency ?? (from == nil ? 2 : 0)
            o.limitAlphabet = limitAlphabet ?? (from == nil && template.kind == .wordpiece ? 1000 : nil)
            o.specialTokens = template.specialTokens
            o.continuingSubwordPrefix = template.continuingSubwordPrefix
            o.endOfWordSuffix = template.endOfWordSuffix
            o.maxTokenLength = maxTokenLength
            if template.isByteLevel { o.initialAlphabet = BPETrainingOptions.byteLevelAlphabet }

            let bar = ProgressLine()
            let counts = try TokenizerTraining.countWords(corpus, pipeline: try template.pipeline(), threads: threading.count) { p in
                let s = seconds(clock.now - start)
                bar.show("counting words: \(p.bytesDone / 1_000_000) / \(p.bytesTotal / 1_000_000) MB, "
                         + "\(fmt(Double(p.bytesDone) / 1e6 / max(s, 1e-9), 1)) MB/s, \(grouped(p.distinctWords)) distinct words")
            }
            let counted = seconds(clock.now - start)
            bar.show("merging: \(grouped(counts.count)) distinct words")
            let result = BPETrainer.train(counts, options: o)
            bar.finish()
            let alphabet = result.initialSize - o.specialTokens.count
            if result.vocabulary.count > vocabSize {
                throw TokenizerError.invalid(path: out, reason: "--vocab-size \(vocabSize) is below the \(o.specialTokens.count) special tokens and the \(alphabet) symbols of the alphabet; raise it" + (template.kind == .wordpiece ? " or lower --limit-alphabet" : ""))
            }
            try FileSystem.makeDirectories(FileSystem.dirname(FileSystem.normalized(out)))
            let dir = try AtomicDirectory(path: out, overwrite: force)
            for f in template.files(result) { try dir.writeFile(f.name, f.bytes) }
            try dir.commit()
            let total = seconds(clock.now - start)
            print("tokenizer        \(template.kind == .wordpiece ? "WordPiece" : "byte-level BPE")" + (from.map { ", pipeline of \($0)" } ?? ""))
            print("vocabulary       \(grouped(result.vocabulary.count)) tokens: \(o.specialTokens.count) special, \(grouped(alphabet)) alphabet symbols, \(grouped(result.vocabulary.count - result.initialSize)) merged")
            print("corpus           \(grouped(counts.count)) distinct words, \(grouped(counts.values.reduce(0, +))) in all; counted in \(fmt(counted, 1)) s")
            print("time             \(fmt(total, 1)) s")
            print("wrote            \(FileSystem.normalized(out)): " + template.files(result).map(\.name).joined(separator: ", "))
        }
    }
}

extension TokenizerTemplate.Kind: ExpressibleByArgument {}
