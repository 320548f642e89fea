// The token cache of `ckpt train`: one file per (corpus, tokenizer, options),
// found by a key over their contents, built once and memory-mapped by every
// later run, resume and run that shares the cache directory.

import Formats
import Tokenizers
#if canImport(Glibc)
import Glibc
#endif

extension Corpus {
    /// The cache key: XXH64 over the corpus files' contents (read in blocks),
    /// whether each is JSONL, the tokenizer files, the options and the
    /// vocabulary size.
    public static func cacheKey(_ paths: [String], tokenizerFiles: [(name: String, bytes: [UInt8])], vocabSize: Int,
                                options: CorpusOptions) throws -> String {
        var key = Checksum64()
        key.update("\(TokenCache.format)-\(TokenCache.version)")
        for path in paths {
            let (sum, size) = try fileChecksum(path)
            key.update(size)
            key.update(Int(truncatingIfNeeded: sum))
            key.update(path.hasSuffix(".jsonl") ? 1 : 0)
        }
        for f in tokenizerFiles { key.update(f.name); key.update(f.bytes.count); key.update(f.bytes) }
        for v in [options.documentSeparator == .line ? 0 : 1, options.split == .none ? 0 : 1, options.groupTexts ?? -1,
                  options.maxLength, vocabSize] { key.update(v) }
        return key.hex
    }

    /// The examples of `paths`, from the token cache in `cacheDirectory` when
    /// it holds them, else tokenized (streaming) into a new cache file that
    /// is then mapped. A damaged cache file is reported through `note`,
    /// removed and rebuilt.
    ///
    /// - Parameter progress: called after each block while tokenizing.
    /// - Throws: `CorpusError` for unusable corpus files, `FileError` when the
    ///   cache cannot be written.
    public static func loadCached(_ paths: [String], tokenizer: Tokenizer, tokenizerFiles: [(name: String, bytes: [UInt8])],
                                  vocabSize: Int, options: CorpusOptions, cacheDirectory: String, threads: Int = 1,
                                  progress: ((CorpusProgress) -> Void)? = nil,
                                  note: (String) -> Void = { _ in }) throws -> (examples: TokenizedExamples, fromCache: Bool, path: String) {
        let key = try cacheKey(paths, tokenizerFiles: tokenizerFiles, vocabSize: vocabSize, options: options)
        // Directories made here are removed again if the corpus turns out unusable.
        var created: [String] = []
        var d = FileSystem.normalized(cacheDirectory)
        while !d.isEmpty && d != "/" && d != "." && !FileSystem.exists(d) { created.append(d); d = FileSystem.dirname(d) }
        try FileSystem.makeDirectories(cacheDirectory)
        removeAbandonedTemporaries(in: cacheDirectory)
        let path = FileSystem.join(cacheDirectory, "tokens-\(key).safetensors")
        let longest = max(options.maxLength, options.groupTexts ?? 0)
        if FileSystem.exists(path) {
            do {
                return (try TokenCache.open(path: path, key: key, vocabSize: vocabSize, maxLength: longest), true, path)
            } catch let e as CorpusError {
                note("\(e); rebuilding it")
                removeTree(path)
            }
        }
        let width = max(vocabSize, tokenizer.idCount) <= 1 << 16 ? 2 : 4
        do {
            let examples = try TokenCache.write(path: path, key: key, vocabSize: vocabSize, maxLength: longest, idWidth: width) { writer in
                try stream(paths, tokenizer: tokenizer, vocabSize: vocabSize, options: options, threads: max(1, threads), into: writer,
                           progress: progress)
            }
            return (examples, false, path)
        } catch {
            for dir in created { rmdir(dir) }
            throw error
        }
    }

    /// Removes temporary files of cache builds that no process is writing
    /// (killed before it could clean up): a live build holds a lock on its file.
    static func removeAbandonedTemporaries(in directory: String) {
        for name in (try? FileSystem.list(directory)) ?? [] where name.hasPrefix(".tokens-") && name.contains(".ckpt-tmp-") {
            let path = FileSystem.join(directory, name)
            if isAbandonedTemporary(path) { removeTree(path) }
        }
    }
}
