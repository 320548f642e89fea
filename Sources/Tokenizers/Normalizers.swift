// Normalizers of tokenizer.json: BertNormalizer and the building blocks
// BERT-family files use (Sequence, NFD, NFKD, NFC, NFKC, Lowercase,
// StripAccents, Replace, Strip, Prepend), and SentencePiece's Precompiled
// charsmap (Precompiled.swift).

import Formats
import Foundation

/// A text normalization step.
enum Normalizer: Sendable {
    case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool?, lowercase: Bool)
    case sequence([Normalizer])
    case nfd, nfkd, nfc, nfkc
    case lowercase
    case stripAccents
    case replace(pattern: [Unicode.Scalar], content: [Unicode.Scalar])
    case replaceRegex(SimpleRegex, content: [Unicode.Scalar])
    case precompiled(CharsMap)
    case strip(left: Bool, right: Bool)
    case prepend([Unicode.Scalar])

    func apply(_ t: inout NormalizedText) {
        switch self {
        case let .bert(clean, chinese, strip, lower):
            if clean {
                t.filter { !($0.value == 0 || $0.value == 0xFFFD || $0.isBertControl) }
                t.map { $0.isBertWhitespace ? " " : $0 }
            }
            if chinese {
                if t.scalars.contains(where: \.isChineseChar) {
                    t.expand { c, out in
                        if c.isChineseChar { out.append(" "); out.append(c); out.append(" ") } else { out.append(c) }
                    }
                }
            }
            if strip ?? lower {
                Normalizer.decompose(&t, compatibility: false)
                t.filter { !$0.isNonspacingMark }
            }
            if lower { Normalizer.lowercase(&t) }
        case let .sequence(steps):
            for s in steps { s.apply(&t) }
        case .nfd: Normalizer.decompose(&t, compatibility: false)
        case .nfkd: Normalizer.decompose(&t, compatibility: true)
        case .nfc: Normalizer.compose(&t, compatibility: false)
        case .nfkc: Normalizer.compose(&t, compatibility: true)
        case .lowercase: Normalizer.lowercase(&t)
        case .stripAccents: t.filter { !$0.isNonspacingMark }
        case let .replace(pattern, content): Normalizer.replace(&t, pattern, content)
        case let .replaceRegex(regex, content): Normalizer.replace(&t, regex.matches(in: t.scalars), content)
        case let .precompiled(map): map.apply(&t)
        case let .strip(left, right):
            if left, let first = t.scalars.firstIndex(where: { !$0.isWhitespaceChar }) {
                t = t.slice(first..<t.count)
            } else if left {
                t = t.slice(0..<0)
            }
            if right, let last = t.scalars.lastIndex(where: { !$0.isWhitespaceChar }) {
                t = t.slice(0..<(last + 1))
            } else if right {
                t = t.slice(0..<0)
            }
        case let .prepend(prefix):
            t.prepend(prefix)
        }
    }

    // MARK: - Unicode normalization with alignments

    static func lowercase(_ t: inout NormalizedText) {
        // ASCII text without capitals is common and changes nothing.
        if !t.scalars.contains(where: { !$0.isASCII || ($0.value >= 65 && $0.value <= 90) }) { return }
        t.expand { c, out in ScalarTables.appendLowercase(c, to: &out) }
    }

    /// NFD / NFKD: each scalar decomposed in place, then combining marks put in
    /// canonical order (carrying their alignments).
    static func decompose(_ t: inout NormalizedText, compatibility: Bool) {
        // Below U+00C0 nothing decomposes.
        if !t.scalars.contains(where: { $0.value >= 0xC0 }) { return }
        t.expand { c, out in ScalarTables.appendDecomposition(c, compatibility: compatibility, to: &out) }
        reorderMarks(&t)
    }

    static func reorderMarks(_ t: inout NormalizedText) {
        var i = 0
        while i < t.count {
            guard t.scalars[i].properties.canonicalCombiningClass.rawValue != 0 else { i += 1; continue }
            var j = i
            while j < t.count, t.scalars[j].properties.canonicalCombiningClass.rawValue != 0 { j += 1 }
            if j - i > 1 {
                let run = (i..<j).map { (t.scalars[$0], t.starts[$0], t.ends[$0]) }
                let sorted = run.enumerated().sorted { a, b in
                    let ca = a.element.0.properties.canonicalCombiningClass.rawValue
                    let cb = b.element.0.properties.canonicalCombiningClass.rawValue
                    return ca != cb ? ca < cb : a.offset < b.offset
                }.map(\.element)
                for (k, e) in sorted.enumerated() {
                    t.scalars[i + k] = e.0; t.starts[i + k] = e.1; t.ends[i + k] = e.2
                }
            }
            i = j
        }
    }

    /// NFC / NFKC: decompose, then recompose each starter with its marks; a
    /// composed scalar keeps the alignment of the first scalar it absorbed.
    static func compose(_ t: inout NormalizedText, compatibility: Bool) {
        decompose(&t, compatibility: compatibility)
        var s: [Unicode.Scalar] = [], a: [Int] = [], b: [Int] = []
        var i = 0
        while i < t.count {
            var j = i + 1
            while j < t.count, t.scalars[j].properties.canonicalCombiningClass.rawValue != 0 { j += 1 }
            // Hangul and a few scripts compose starter + starter: extend to the next
            // starter when it composes with this segment.
            func composedCount(_ r: Range<Int>) -> Int {
                String(String.UnicodeScalarView(t.scalars[r])).precomposedStringWithCanonicalMapping.unicodeScalars.count
            }
            while j < t.count, composedCount(i..<(j + 1)) < composedCount(i..<j) + 1 {
                j += 1
                while j < t.count, t.scalars[j].properties.canonicalCombiningClass.rawValue != 0 { j += 1 }
            }
            let segment = Array(t.scalars[i..<j])
            let composed = Array(String(String.UnicodeScalarView(segment)).precomposedStringWithCanonicalMapping.unicodeScalars)
            if composed.count == segment.count {
                for k in 0..<segment.count { s.append(composed[k]); a.append(t.starts[i + k]); b.append(t.ends[i + k]) }
            } else {
                // The first output absorbs the segment's first scalar; the others
                // are matched to the remaining inputs in order.
                s.append(composed[0]); a.append(t.starts[i]); b.append(t.ends[i])
                var next = i + 1
                for c in composed.dropFirst() {
                    while next < j, t.scalars[next] != c { next += 1 }
                    let k = min(next, j - 1)
                    s.append(c); a.append(t.starts[k]); b.append(t.ends[k])
                    next += 1
                }
            }
            i = j
        }
        t.scalars = s; t.starts = a; t.ends = b
    }

    /// Replaces every occurrence of `pattern` by `content` (left to right, no
    /// overlaps). As the reference does it, the matched scalars are removed and
    /// the content inserted: every content scalar is aligned like the last
    /// matched scalar.
    static func replace(_ t: inout NormalizedText, _ pattern: [Unicode.Scalar], _ content: [Unicode.Scalar]) {
        guard !pattern.isEmpty else { return }
        var ranges: [Range<Int>] = []
        var i = 0
        let n = t.count
        while i + pattern.count <= n {
            if t.scalars[i..<(i + pattern.count)].elementsEqual(pattern) {
                ranges.append(i..<(i + pattern.count))
                i += pattern.count
            } else {
                i += 1
            }
        }
        replace(&t, ranges, content)
    }

    /// Replaces each of `matches` (ascending, disjoint, non-empty) by `content`.
    static func replace(_ t: inout NormalizedText, _ matches: [Range<Int>], _ content: [Unicode.Scalar]) {
        guard !matches.isEmpty else { return }
        var s: [Unicode.Scalar] = [], a: [Int] = [], b: [Int] = []
        var i = 0
        for m in matches {
            for k in i..<m.lowerBound { s.append(t.scalars[k]); a.append(t.starts[k]); b.append(t.ends[k]) }
            let last = m.upperBound - 1
            for c in content { s.append(c); a.append(t.starts[last]); b.append(t.ends[last]) }
            i = m.upperBound
        }
        for k in i..<t.count { s.append(t.scalars[k]); a.append(t.starts[k]); b.append(t.ends[k]) }
        t.scalars = s; t.starts = a; t.ends = b
    }

    // MARK: - Loading

    static func load(_ json: JSONValue, path: String) throws -> Normalizer {
        guard let type = json["type"]?.string else {
            throw TokenizerError.invalid(path: path, reason: "normalizer without a \"type\"")
        }
        switch type {
        case "BertNormalizer":
            return .bert(cleanText: json["clean_text"]?.bool ?? true,
                         chineseChars: json["handle_chinese_chars"]?.bool ?? true,
                         stripAccents: json["strip_accents"]?.bool,
                         lowercase: json["lowercase"]?.bool ?? true)
        case "Sequence":
            guard let items = json["normalizers"]?.array else {
                throw TokenizerError.invalid(path: path, reason: "Sequence normalizer without \"normalizers\"")
            }
            return .sequence(try items.map { try load($0, path: path) })
        case "NFD": return .nfd
        case "NFKD": return .nfkd
        case "NFC": return .nfc
        case "NFKC": return .nfkc
        case "Lowercase": return .lowercase
        case "StripAccents": return .stripAccents
        case "Strip":
            return .strip(left: json["strip_left"]?.bool ?? true, right: json["strip_right"]?.bool ?? true)
        case "Prepend":
            return .prepend(Array((json["prepend"]?.string ?? "").unicodeScalars))
        case "Replace":
            guard let content = json["content"]?.string else {
                throw TokenizerError.invalid(path: path, reason: "Replace normalizer without a \"content\" string")
            }
            if let pattern = json["pattern"]?["String"]?.string {
                return .replace(pattern: Array(pattern.unicodeScalars), content: Array(content.unicodeScalars))
            }
            guard let pattern = json["pattern"]?["Regex"]?.string else {
                throw TokenizerError.invalid(path: path, reason: "Replace normalizer without a \"String\" or \"Regex\" pattern")
            }
            return .replaceRegex(try regex(pattern, path: path), content: Array(content.unicodeScalars))
        case "Precompiled":
            guard let text = json["precompiled_charsmap"]?.string else {
                throw TokenizerError.invalid(path: path, reason: "Precompiled normalizer without a \"precompiled_charsmap\" string")
            }
            guard let bytes = Data(base64Encoded: text).map({ [UInt8]($0) }) else {
                throw TokenizerError.invalid(path: path, reason: "precompiled_charsmap is not valid base64")
            }
            return .precompiled(try CharsMap(bytes, path: path))
        default:
            throw TokenizerError.unsupported(path: path, what: "normalizer \"\(type)\"")
        }
    }

    static func regex(_ pattern: String, path: String) throws -> SimpleRegex {
        do {
            return try SimpleRegex(pattern)
        } catch let SimpleRegexError.unsupported(what) {
            throw TokenizerError.unsupported(path: path, what: "regex \(JSONValue.string(pattern).serialized()) (\(what))")
        }
    }
}
