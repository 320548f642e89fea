// WordCounts — the words a tokenizer trainer counts: text normalized and
// pre-tokenized by a pipeline (the normalizer and pre-tokenizer of a
// tokenizer.json), as Hugging Face's `Tokenizer.train` feeds its trainer.

import Formats

/// The normalizer and pre-tokenizer that cut training text into words.
public struct TrainingPipeline: Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?

    /// The pipeline of a tokenizer.json document (its `normalizer` and
    /// `pre_tokenizer`; either may be null).
    public init(tokenizerJSON json: JSONValue, path: String) throws {
        normalizer = try json["normalizer"].flatMap { $0.isNull ? nil : try Normalizer.load($0, path: path) }
        preTokenizer = try json["pre_tokenizer"].flatMap { $0.isNull ? nil : try PreTokenizer.load($0, path: path) }
    }

    /// The normalizer and pre-tokenizer of a loaded tokenizer.
    public init(_ tokenizer: Tokenizer) {
        normalizer = tokenizer.normalizer
        preTokenizer = tokenizer.preTokenizer
    }

    /// The words of `text`, in order.
    public func words(_ text: String) -> [String] {
        if case let .bert(clean, _, _, lower)? = normalizer, case .bert? = preTokenizer,
           let fast = TrainingPipeline.bertASCIIWords(text, clean: clean, lowercase: lower) {
            return fast
        }
        return generalWords(text)
    }

    /// BERT's normalizer and pre-tokenizer on ASCII text, byte by byte (nil
    /// when the text is not ASCII): controls removed and whitespace made a
    /// space (clean_text), ASCII lowercased, then words split at whitespace
    /// and each punctuation character a word of its own. Chinese characters
    /// and accents do not occur in ASCII.
    static func bertASCIIWords(_ text: String, clean: Bool, lowercase: Bool) -> [String]? {
        var text = text
        return text.withUTF8 { bytes -> [String]? in
            var words: [String] = []
            var word: [UInt8] = []
            func flush() {
                if !word.isEmpty { words.append(String(decoding: word, as: UTF8.self)); word.removeAll(keepingCapacity: true) }
            }
            for var b in bytes {
                guard b < 0x80 else { return nil }
                let space = b == 0x20 || (0x09...0x0D).contains(b)
                if clean {
                    if b == 0 || ((b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D) || b == 0x7F) { continue }
                    if space { b = 0x20 }
                }
                if lowercase && b >= 0x41 && b <= 0x5A { b += 0x20 }
                if b == 0x20 || (0x09...0x0D).contains(b) {
                    flush()
                } else if (0x21...0x2F).contains(b) || (0x3A...0x40).contains(b) || (0x5B...0x60).contains(b) || (0x7B...0x7E).contains(b) {
                    flush()
                    words.append(String(UnicodeScalar(b)))
                } else {
                    word.append(b)
                }
            }
            flush()
            return words
        }
    }

    /// The words through the aligned-text pipeline.
    func generalWords(_ text: String) -> [String] {
        var t = NormalizedText(text)
        normalizer?.apply(&t)
        guard let preTokenizer else { return t.isEmpty ? [] : [t.string] }
        // Fast paths that build no aligned text: byte-level, and pre-tokenizers that only split.
        if case let .byteLevel(addPrefixSpace, useRegex) = preTokenizer {
            return ByteLevel.trainingWords(t.scalars, addPrefixSpace: addPrefixSpace, useRegex: useRegex).filter { !$0.isEmpty }
        }
        if let ranges = preTokenizer.ranges(t) {
            return ranges.compactMap { $0.isEmpty ? nil : String(String.UnicodeScalarView(t.scalars[$0])) }
        }
        return preTokenizer.apply([t]).compactMap { $0.isEmpty ? nil : $0.string }
    }

    /// Adds the words of `text` to `counts`.
    public func count(_ text: String, into counts: inout [ExactString: Int]) {
        for w in words(text) { counts[ExactString(w), default: 0] += 1 }
    }
}
