// The corpus side of `ckpt train`: token caches built (with progress) or
// mapped, and the eval split.

import Formats
import Tokenizers
import Train
#if canImport(Glibc)
import Glibc
#endif

/// Where the examples of a run come from.
struct TrainingData {
    var train: ExampleSet
    var eval: ExampleSet

    /// Maps (or first builds) the token cache of `corpus`, and of `evalFiles`
    /// or a seeded `evalRatio` share of the corpus.
    /// On failure, caches this call built and directories it made are removed
    /// again, so a refused run leaves nothing behind.
    ///
    /// - Throws: `TrainingError` when the tokenizer produces ids past the
    ///   model's vocabulary; corpus and file errors.
    static func load(corpus: [String], evalFiles: [String], evalRatio: Double, seed: UInt64, tokenizer: Tokenizer,
                     tokenizerFiles: [(name: String, bytes: [UInt8])], vocabSize: Int, tokenizerPath: String, options: CorpusOptions,
                     cacheDirectory: String, threads: Int) throws -> TrainingData {
        var missing: [String] = []
        var d = FileSystem.normalized(cacheDirectory)
        while !d.isEmpty && d != "/" && d != "." && !FileSystem.exists(d) { missing.append(d); d = FileSystem.dirname(d) }
        var built: [String] = []
        do {
            let data = try loadChecked(corpus: corpus, evalFiles: evalFiles, evalRatio: evalRatio, seed: seed, tokenizer: tokenizer,
                                       tokenizerFiles: tokenizerFiles, vocabSize: vocabSize, options: options,
                                       cacheDirectory: cacheDirectory, threads: threads, built: &built)
            if data.maxID >= vocabSize {
                throw TrainingError(path: tokenizerPath, reason: "the tokenizer produces id \(data.maxID), past the model's vocabulary (\(vocabSize)); resize the model first (ckpt resize-vocab)")
            }
            return data
        } catch {
            for p in built { removeTree(p) }
            for dir in missing { rmdir(dir) }
            throw error
        }
    }

    private static func loadChecked(corpus: [String], evalFiles: [String], evalRatio: Double, seed: UInt64, tokenizer: Tokenizer,
                                    tokenizerFiles: [(name: String, bytes: [UInt8])], vocabSize: Int, options: CorpusOptions,
                                    cacheDirectory: String, threads: Int, built: inout [String]) throws -> TrainingData {
        func cached(_ paths: [String], what: String) throws -> TokenizedExamples {
            let bar = ProgressLine()
            let clock = ContinuousClock()
            let start = clock.now
            let loaded = try Corpus.loadCached(paths, tokenizer: tokenizer, tokenizerFiles: tokenizerFiles, vocabSize: vocabSize,
                                               options: options, cacheDirectory: cacheDirectory, threads: threads,
                                               progress: { p in
                let s = seconds(clock.now - start)
                let rate = Double(p.bytesDone) / 1e6 / max(s, 1e-9)
                let eta = rate > 0 ? duration(Double(p.bytesTotal - p.bytesDone) / 1e6 / rate) : "?"
                bar.show("tokenizing \(what): \(p.bytesDone / 1_000_000) / \(p.bytesTotal / 1_000_000) MB, "
                         + "\(fmt(rate, 1)) MB/s, \(grouped(p.examples)) examples, ETA \(eta)")
            }, note: { print("note: \($0)") })
            bar.finish()
            if !loaded.fromCache { built.append(loaded.path) }
            let e = loaded.examples
            let what = "\(what): \(grouped(e.count)) examples, \(grouped(e.tokenCount)) tokens"
            if loaded.fromCache {
                print("\(what) from the cache in \(cacheDirectory)")
            } else {
                print("\(what) tokenized in \(fmt(seconds(clock.now - start), 1)) s, cached in \(cacheDirectory)")
            }
            return e
        }
        let examples = try cached(corpus, what: "corpus")
        if !evalFiles.isEmpty {
            return TrainingData(train: ExampleSet(examples), eval: ExampleSet(try cached(evalFiles, what: "eval corpus")))
        }
        if evalRatio > 0 {
            let (train, eval) = Corpus.evalSplit(count: examples.count, ratio: evalRatio, seed: seed)
            return TrainingData(train: ExampleSet(examples, indices: train), eval: ExampleSet(examples, indices: eval))
        }
        return TrainingData(train: ExampleSet(examples), eval: ExampleSet([]))
    }

    /// The largest id of any example (−1 when there are none).
    var maxID: Int { max(train.examples.maxID, eval.isEmpty ? -1 : eval.examples.maxID) }
}
