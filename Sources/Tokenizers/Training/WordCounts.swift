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

    /// The words of `text`, in order.
    public func words(_ text: String) -> [String] {
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
