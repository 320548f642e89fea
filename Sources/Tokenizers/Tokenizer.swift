// Tokenizer — a Hugging Face tokenizer loaded from tokenizer.json, or from a
// BERT vocab.txt with its tokenizer_config.json / special_tokens_map.json.

import Dispatch
import Formats

/// A tokenizer: text → ids, tokens, offsets, word ids; ids → text.
public struct Tokenizer: Sendable {
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let model: Model
    let postProcessor: PostProcessor?
    let decoder: Decoder
    /// Added tokens matched on the original text and on the normalized text.
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher
    /// Added tokens by id.
    let addedByID: [Int: AddedToken]
    /// The added tokens, in tokenizer.json order.
    public let addedTokens: [AddedToken]

    /// The model's type as tokenizer.json names it: "WordPiece", "BPE" or "Unigram".
    public var modelType: String {
        switch model {
        case .wordPiece: return "WordPiece"
        case .bpe: return "BPE"
        case .unigram: return "Unigram"
        }
    }

    /// Size of the vocabulary including added tokens (`len(tokenizer)` in transformers).
    public var count: Int {
        var ids = Set(addedByID.keys)
        ids.formUnion(model.ids)
        return ids.count
    }

    /// One more than the largest id the tokenizer can produce (the rows an
    /// embedding matrix needs); equals `count` when the ids are contiguous.
    public var idCount: Int {
        max(addedByID.keys.max() ?? -1, model.ids.max() ?? -1) + 1
    }

    init(normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: Model, postProcessor: PostProcessor?,
         decoder: Decoder, added: [AddedToken]) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.addedTokens = added
        self.addedByID = Dictionary(added.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }.map { (Array($0.content.unicodeScalars), $0) })
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized).map { tok in
            var t = NormalizedText(tok.content)
            normalizer?.apply(&t)
            return (t.scalars, tok)
        })
    }

    /// The model of tokenizer.json's `model` object; `vocabulary` holds its
    /// `vocab` members (and token → id) when they were read apart from `json`.
    // MARK: - Encoding

    /// Encodes one text.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> Encoding {
        let e = encodeSequence(text)
        guard addSpecialTokens, let post = postProcessor else { return trimmed(e) }
        return post.process(trimmed(e), nil)
    }

    /// Encodes a pair of texts (`[CLS] A [SEP] B [SEP]` for BERT).
    public func encode(_ a: String, pair b: String, addSpecialTokens: Bool = true) -> Encoding {
        var ea = trimmed(encodeSequence(a))
        var eb = trimmed(encodeSequence(b))
        for i in eb.typeIDs.indices { eb.typeIDs[i] = 1 }
        guard addSpecialTokens, let post = postProcessor else {
            ea.ids += eb.ids; ea.tokens += eb.tokens; ea.offsets += eb.offsets; ea.wordIDs += eb.wordIDs
            ea.specialTokensMask += eb.specialTokensMask; ea.typeIDs += eb.typeIDs
            return ea
        }
        return post.process(ea, eb)
    }

    /// Encodes many texts, on `threads` threads (texts are split into
    /// contiguous blocks; the result is in input order).
    public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = true, threads: Int = 1) -> [Encoding] {
        let n = texts.count
        let workers = max(1, min(threads, n / 64))
        if workers == 1 { return texts.map { encode($0, addSpecialTokens: addSpecialTokens) } }
        let results = UnsafeMutableBufferPointer<Encoding>.allocate(capacity: n)
        _ = results.initialize(from: repeatElement(Encoding(), count: n))
        defer { results.deallocate() }
        nonisolated(unsafe) let out = results
        let block = (n + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for i in (w * block)..<min(n, (w + 1) * block) {
                out[i] = encode(texts[i], addSpecialTokens: addSpecialTokens)
            }
        }
        return Array(results)
    }

    func trimmed(_ e: Encoding) -> Encoding {
        guard let post = postProcessor, post.trimOffsets else { return e }
        var e = e
        let space = ByteLevel.byteToScalar[0x20]
        for i in e.tokens.indices {
            let scalars = Array(e.tokens[i].unicodeScalars)
            var leading = scalars.prefix { $0 == space || $0.isWhitespaceChar }.count
            let trailing = scalars.reversed().prefix { $0 == space || $0.isWhitespaceChar }.count
            guard leading > 0 || trailing > 0 else { continue }
            var (s, t) = e.offsets[i]
            if leading > 0 {
                let isFirst = i == 0 || s == 0
                if isFirst && post.addPrefixSpace && leading == 1 { leading = 0 }
                s = min(s + leading, t)
            }
            if trailing > 0 && t >= trailing { t = max(t - trailing, s) }
            e.offsets[i] = (s, t)
        }
        return e
    }

    func encodeSequence(_ text: String) -> Encoding {
        // 1. Added tokens matched on the original text; 2. normalize the rest and
        //    match added tokens on the normalized text.
        var splits: [(NormalizedText, AddedToken?)] = []
        for (piece, tok) in rawMatcher.split(NormalizedText(text)) {
            if tok != nil { splits.append((piece, tok)); continue }
            var p = piece
            normalizer?.apply(&p)
            p.rebase()
            splits.append(contentsOf: normalizedMatcher.split(p))
        }
        // 3. Pre-tokenize what is not an added token (empty pieces vanish), and
        // 4. run the model on each word; word ids count every piece.
        var e = Encoding()
        var word = 0
        for (piece, tok) in splits where !piece.isEmpty {
            if let tok {
                e.append(id: tok.id, token: piece.string, offsets: piece.originalRange(0..<piece.count),
                         word: word, special: false, typeID: 0)
                word += 1
                continue
            }
            var piece = piece
            if let pre = preTokenizer, let ranges = pre.rewrite(&piece) {
                for r in ranges where !r.isEmpty {
                    for t in model.tokenize(piece.scalars[r]) {
                        e.append(id: t.id, token: t.value, offsets: piece.originalRange(t.range), word: word,
                                 special: false, typeID: 0)
                    }
                    word += 1
                }
                continue
            }
            for w in preTokenizer?.apply([piece]) ?? [piece] where !w.isEmpty {
                for t in model.tokenize(w.scalars[...]) {
                    e.append(id: t.id, token: t.value, offsets: w.originalRange(t.range), word: word, special: false, typeID: 0)
                }
                word += 1
            }
        }
        return e
    }

    // MARK: - Decoding

    /// Turns ids back into text; unknown ids are skipped.
    /// The ids this tokenizer gives the surface form of `token`, a vocabulary
    /// entry of another tokenizer: a WordPiece continuation (`##ing`) is
    /// tokenized as a continuation of a word, anything else as text without
    /// special tokens. The unknown token may appear among the ids.
    public func pieces(ofVocabularyToken token: String) -> [Int] {
        if case let .wordPiece(m) = model {
            let scalars = Array(token.unicodeScalars), prefix = Array(m.prefix.unicodeScalars)
            if !prefix.isEmpty, scalars.count > prefix.count, scalars.starts(with: prefix) {
                var text = NormalizedText(String(String.UnicodeScalarView(scalars.dropFirst(prefix.count))))
                normalizer?.apply(&text)
                let word = text.scalars.filter { !$0.properties.isWhitespace }
                guard !word.isEmpty else { return [] }
                return m.tokenize(word[...], asContinuation: true).map(\.id)
            }
        }
        if case let .unigram(m) = model {
            // A piece is one word already (its ▁ included): normalized, then
            // segmented whole, so a piece without ▁ stays a continuation.
            var text = NormalizedText(token)
            normalizer?.apply(&text)
            return m.tokenize(text.scalars[...]).map(\.id)
        }
        return encode(token, addSpecialTokens: false).ids
    }

    /// Whether the token `id` continues the word before it rather than
    /// starting one: WordPiece's `##` pieces, SentencePiece pieces without
    /// the Metaspace `▁`, byte-level BPE tokens without `Ġ`. Added tokens
    /// and byte-fallback pieces never do (for whole-word masking).
    public func isWordContinuation(_ id: Int) -> Bool {
        guard addedByID[id] == nil, let t = model.token(of: id), !t.isEmpty else { return false }
        switch model {
        case let .wordPiece(m):
            return !m.prefix.isEmpty && t.unicodeScalars.count > m.prefix.unicodeScalars.count && t.unicodeScalars.starts(with: m.prefix.unicodeScalars)
        case .unigram:
            guard Decoder.byteToken(t) == nil, let marker = wordStartMarker else { return false }
            return t.unicodeScalars.first != marker
        case .bpe:
            guard let marker = wordStartMarker else { return false }
            return t.unicodeScalars.first != marker
        }
    }

    /// The character that starts a word in the model's pieces: Metaspace's
    /// replacement, or byte-level's `Ġ` (the space).
    var wordStartMarker: Unicode.Scalar? {
        func find(_ p: PreTokenizer?) -> Unicode.Scalar? {
            switch p {
            case let .metaspace(replacement, _, _)?: return replacement
            case .byteLevel?: return ByteLevel.byteToScalar[0x20]
            case let .sequence(steps)?: return steps.lazy.compactMap { find($0) }.first
            default: return nil
            }
        }
        return find(preTokenizer)
    }

    /// The id of the unknown token, if the model has one.
    public var unknownID: Int? { model.unknownID }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var tokens: [String] = []
        for id in ids {
            if let a = addedByID[id] {
                if skipSpecialTokens && a.special { continue }
                tokens.append(a.content)
            } else if let t = model.token(of: id), !t.isEmpty {
                tokens.append(t)
            }
        }
        return decoder.decode(tokens)
    }

    /// The token string of an id.
    public func token(of id: Int) -> String? { addedByID[id]?.content ?? model.token(of: id) }

    /// The id of a token string.
    public func id(of token: String) -> Int? {
        addedTokens.first { ExactString($0.content) == ExactString(token) }?.id ?? model.id(of: token)
    }
}
