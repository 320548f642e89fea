// TokenizerTraining — the corpus side of tokenizer training: files streamed in
// blocks of lines, words counted on every thread. Memory grows with the number
// of distinct words, not with the corpus.

import Formats

public enum TokenizerTraining {
    /// How far the count has come.
    public struct Progress: Sendable {
        public var bytesDone: Int, bytesTotal: Int, distinctWords: Int
    }

    /// Counts the words of text files (each line with its line end, as
    /// Hugging Face's `train_from_files` reads them) and of JSONL files (the
    /// `text` string of each line).
    ///
    /// - Throws: `CorpusError` naming the file and line (invalid UTF-8, a NUL
    ///   byte, a JSONL line without a `text` string), or when there is no word at all.
    /// - Parameter lineEnds: count text lines with their line ends (as
    ///   training does) or without (as `ckpt tokenize --file` encodes them).
    public static func countWords(_ paths: [String], pipeline: TrainingPipeline, threads: Int, lineEnds: Bool = true,
                                  progress: ((Progress) -> Void)? = nil) throws -> [ExactString: Int] {
        let total = try paths.reduce(0) { $0 + (try fileSize($1)) }
        var counts: [ExactString: Int] = [:]
        var before = 0
        for file in paths {
            let reader = try TextBlockReader(path: file)
            let path = reader.path, jsonl = path.hasSuffix(".jsonl")
            try forEachLineRun(reader, threads: threads) { block, run -> [ExactString: Int] in
                var local: [ExactString: Int] = [:]
                for i in run {
                    if jsonl {
                        if let text = try jsonText(block, i, path: path) { pipeline.count(text, into: &local) }
                    } else {
                        // The line with its end: up to the next line's start.
                        let end = !lineEnds ? block.lines[i].upperBound
                            : i + 1 < block.lines.count ? block.lines[i + 1].lowerBound : block.bytes.count
                        guard let s = block.bytes.withUnsafeBufferPointer({
                            String(validating: UnsafeBufferPointer(rebasing: $0[block.lines[i].lowerBound..<end]), as: UTF8.self)
                        }) else { throw CorpusError(path: path, line: block.firstLine + i, reason: "invalid UTF-8") }
                        pipeline.count(s, into: &local)
                    }
                }
                return local
            } consume: { local, block in
                counts.merge(local, uniquingKeysWith: +)
                progress?(Progress(bytesDone: before + block.endOffset, bytesTotal: total, distinctWords: counts.count))
            }
            before += reader.size
        }
        guard !counts.isEmpty else {
            throw CorpusError(path: paths.joined(separator: ", "), reason: "no words: the corpus is empty")
        }
        return counts
    }

    /// The `text` of a JSONL line (nil for a blank line).
    static func jsonText(_ block: TextBlock, _ i: Int, path: String) throws -> String? {
        let line = block.firstLine + i
        let s = try block.string(i, path: path)
        if s.allSatisfy(\.isWhitespace) { return nil }
        guard let v = try? JSONParser.parse(s, path: path, mode: .strict) else {
            throw CorpusError(path: path, line: line, reason: "invalid JSON")
        }
        guard let text = v["text"]?.string else { throw CorpusError(path: path, line: line, reason: "needs a \"text\" string") }
        return text
    }
}
