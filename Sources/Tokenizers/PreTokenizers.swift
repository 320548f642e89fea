// Pre-tokenizers of tokenizer.json: split normalized text into words.

import Formats

/// How a split keeps the characters that matched.
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
    case contiguous = "Contiguous"
}

/// When Metaspace puts its replacement character before a piece.
enum PrependScheme: String, Sendable {
    case always, first, never

    /// The replacement, scheme and split of a Metaspace pre-tokenizer or
    /// decoder, with the legacy `add_prefix_space` read as the reference
    /// reads it (false means "never"; a contradiction is an error).
    static func metaspaceFields(_ json: JSONValue, path: String) throws -> (Unicode.Scalar, PrependScheme, Bool) {
        let r = json["replacement"]?.string ?? "\u{2581}"
        guard r.unicodeScalars.count == 1, let replacement = r.unicodeScalars.first else {
            throw TokenizerError.invalid(path: path, reason: "Metaspace replacement \(JSONValue.string(r).serialized()) is not one character")
        }
        var scheme = PrependScheme.always
        if let name = json["prepend_scheme"]?.string {
            guard let s = PrependScheme(rawValue: name) else {
                throw TokenizerError.unsupported(path: path, what: "Metaspace prepend_scheme \"\(name)\"")
            }
            scheme = s
        }
        if json["add_prefix_space"]?.bool == false {
            // As the reference: a missing scheme means "always", which contradicts it.
            guard scheme == .never else {
                throw TokenizerError.invalid(path: path, reason: "Metaspace add_prefix_space false contradicts prepend_scheme \"\(scheme.rawValue)\"")
            }
            scheme = .never
        }
        return (replacement, scheme, json["split"]?.bool ?? true)
    }
}

/// A pre-tokenization step.
indirect enum PreTokenizer: Sendable {
    case bert
    case whitespace
    case whitespaceSplit
    case punctuation(SplitBehavior)
    case digits(individual: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// SentencePiece's spaces: ' ' becomes the replacement (▁), which is put
    /// before the piece as the scheme says; then split before each ▁.
    case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme, split: Bool)
    case sequence([PreTokenizer])

    /// Splits each piece further.
    func apply(_ pieces: [NormalizedText]) -> [NormalizedText] {
        switch self {
        case .bert:
            return pieces.flatMap { split($0, .removed) { $0.isWhitespaceChar } }
                .flatMap { split($0, .isolated) { $0.isBertPunctuation } }
        case .whitespace:
            // \w+|[^\w\s]+ ; everything else removed
            return pieces.flatMap { p in
                runs(p) { c in c.isWordChar ? 1 : (c.isWhitespaceChar ? 0 : 2) }
            }
        case .whitespaceSplit:
            return pieces.flatMap { split($0, .removed) { $0.isWhitespaceChar } }
        case let .punctuation(behavior):
            return pieces.flatMap { split($0, behavior) { $0.isBertPunctuation } }
        case let .digits(individual):
            return pieces.flatMap { split($0, individual ? .isolated : .contiguous) { $0.isNumericChar } }
        case let .byteLevel(addPrefixSpace, useRegex):
            return pieces.flatMap { ByteLevel.preTokenize($0, addPrefixSpace: addPrefixSpace, useRegex: useRegex) }
        case .metaspace:
            return pieces.flatMap { piece -> [NormalizedText] in
                var t = piece
                return (rewrite(&t) ?? []).filter { !$0.isEmpty }.map { t.slice($0) }
            }
        case let .sequence(steps):
            var out = pieces
            for s in steps { out = s.apply(out) }
            return out
        }
    }

    /// The words as ranges of `t`, after rewriting `t` in place where a
    /// step rewrites the whole piece (Metaspace on its own); nil for the
    /// pre-tokenizers that must copy words (ByteLevel, Metaspace after a
    /// split). Saves copying every word.
    func rewrite(_ t: inout NormalizedText) -> [Range<Int>]? {
        if case let .metaspace(replacement, scheme, splitting) = self {
            t.map { $0 == " " ? replacement : $0 }
            // "first": only the piece that starts the original text.
            if t.scalars.first != replacement && (scheme == .always || (scheme == .first && t.originalStart == 0)) {
                t.prepend([replacement])
            }
            return splitting ? splitRanges(t.scalars, 0..<t.count, .mergedWithNext) { $0 == replacement } : [0..<t.count]
        }
        return ranges(t)
    }

    /// The words as ranges of `t` itself, for pre-tokenizers that only split
    /// (nil for those that rewrite text, such as ByteLevel).
    func ranges(_ t: NormalizedText) -> [Range<Int>]? {
        func splitAll(_ rs: [Range<Int>], _ b: SplitBehavior, _ m: (Unicode.Scalar) -> Bool) -> [Range<Int>] {
            rs.flatMap { r in splitRanges(t.scalars, r, b, m) }
        }
        func go(_ p: PreTokenizer, _ rs: [Range<Int>]) -> [Range<Int>]? {
            switch p {
            case .bert:
                // Whitespace removed, punctuation isolated, in one pass.
                var out: [Range<Int>] = []
                out.reserveCapacity(t.count / 2)
                for r in rs {
                    var start = r.lowerBound
                    for i in r {
                        let c = t.scalars[i]
                        if c.isWhitespaceChar {
                            if start < i { out.append(start..<i) }
                            start = i + 1
                        } else if c.isBertPunctuation {
                            if start < i { out.append(start..<i) }
                            out.append(i..<(i + 1))
                            start = i + 1
                        }
                    }
                    if start < r.upperBound { out.append(start..<r.upperBound) }
                }
                return out
            case .whitespaceSplit:
                return splitAll(rs, .removed) { $0.isWhitespaceChar }
            case let .punctuation(b):
                return splitAll(rs, b) { $0.isBertPunctuation }
            case let .digits(individual):
                return splitAll(rs, individual ? .isolated : .contiguous) { $0.isNumericChar }
            case let .sequence(steps):
                var out = rs
                for step in steps {
                    guard let next = go(step, out) else { return nil }
                    out = next
                }
                return out
            case .whitespace, .byteLevel, .metaspace:
                return nil
            }
        }
        return go(self, [0..<t.count])
    }

    /// Splits on every scalar matching `isMatch`, keeping matches as `behavior` says.
    func split(_ t: NormalizedText, _ behavior: SplitBehavior, _ isMatch: (Unicode.Scalar) -> Bool) -> [NormalizedText] {
        splitRanges(t.scalars, 0..<t.count, behavior, isMatch).map { t.slice($0) }
    }
}

/// The pieces of `s[range]` split on scalars matching `isMatch`, as the
/// reference's char-pattern split with the given behavior.
func splitRanges(_ s: [Unicode.Scalar], _ range: Range<Int>, _ behavior: SplitBehavior,
                 _ isMatch: (Unicode.Scalar) -> Bool) -> [Range<Int>] {
    do {
        // (range, matched) events, one per matching scalar, as the reference does.
        var events: [(Range<Int>, Bool)] = []
        var last = range.lowerBound
        for i in range where isMatch(s[i]) {
            if last < i { events.append((last..<i, false)) }
            events.append((i..<(i + 1), true))
            last = i + 1
        }
        if last < range.upperBound { events.append((last..<range.upperBound, false)) }

        var ranges: [Range<Int>] = []
        switch behavior {
        case .removed:
            ranges = events.filter { !$0.1 }.map(\.0)
        case .isolated:
            ranges = events.map(\.0)
        case .contiguous:
            var prevMatch = false
            for (r, m) in events {
                if m && prevMatch, let l = ranges.popLast() { ranges.append(l.lowerBound..<r.upperBound) } else { ranges.append(r) }
                prevMatch = m
            }
        case .mergedWithPrevious:
            var prevMatch = false
            for (r, m) in events {
                if m && !prevMatch, let l = ranges.popLast() { ranges.append(l.lowerBound..<r.upperBound) } else { ranges.append(r) }
                prevMatch = m
            }
        case .mergedWithNext:
            var prevMatch = false
            for (r, m) in events {
                if prevMatch && !m, let l = ranges.popLast() { ranges.append(l.lowerBound..<r.upperBound) } else { ranges.append(r) }
                prevMatch = m
            }
        }
        return ranges.filter { !$0.isEmpty }
    }
}

extension PreTokenizer {
    /// Runs of scalars of the same nonzero class; class 0 is dropped.
    func runs(_ t: NormalizedText, _ classOf: (Unicode.Scalar) -> Int) -> [NormalizedText] {
        var out: [NormalizedText] = []
        var i = 0
        while i < t.count {
            let k = classOf(t.scalars[i])
            var j = i + 1
            while j < t.count, classOf(t.scalars[j]) == k { j += 1 }
            if k != 0 { out.append(t.slice(i..<j)) }
            i = j
        }
        return out
    }

    static func load(_ json: JSONValue, path: String) throws -> PreTokenizer {
        guard let type = json["type"]?.string else {
            throw TokenizerError.invalid(path: path, reason: "pre_tokenizer without a \"type\"")
        }
        switch type {
        case "BertPreTokenizer": return .bert
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Punctuation":
            let name = json["behavior"]?.string ?? "Isolated"
            guard let b = SplitBehavior(rawValue: name) else {
                throw TokenizerError.unsupported(path: path, what: "Punctuation behavior \"\(name)\"")
            }
            return .punctuation(b)
        case "Digits": return .digits(individual: json["individual_digits"]?.bool ?? false)
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: json["add_prefix_space"]?.bool ?? true, useRegex: json["use_regex"]?.bool ?? true)
        case "Metaspace":
            let (replacement, scheme, split) = try PrependScheme.metaspaceFields(json, path: path)
            return .metaspace(replacement: replacement, prepend: scheme, split: split)
        case "Sequence":
            guard let items = json["pretokenizers"]?.array else {
                throw TokenizerError.invalid(path: path, reason: "Sequence pre_tokenizer without \"pretokenizers\"")
            }
            return .sequence(try items.map { try load($0, path: path) })
        default:
            throw TokenizerError.unsupported(path: path, what: "pre_tokenizer \"\(type)\"")
        }
    }
}
