// Precompiled — SentencePiece's normalization rules (`precompiled_charsmap`,
// e.g. nmt_nfkc) as Hugging Face `tokenizers` applies them.
//
// The charsmap is [u32 LE: trie size in bytes][trie: Darts double-array
// units, u32 LE][replacements: UTF-8 strings, each ended by NUL]. A key's
// first prefix (the shortest) with a leaf in the trie gives the offset of its
// replacement.
//
// Applied as the reference does (spm_precompiled + normalizers/precompiled.rs):
// per extended grapheme cluster, a cluster shorter than 6 UTF-8 bytes whose
// bytes start with a key is replaced whole by that key's replacement; other
// clusters are rewritten character by character. This differs from
// SentencePiece itself in corner cases; the goldens pin the `tokenizers`
// version (Tests/Fixtures/unigram-goldens/VERSIONS.json).
//
// A hostile charsmap cannot make ckpt read outside it: the header, every
// reachable unit and every replacement offset are checked when it is loaded,
// and lookups are bounds-checked.

import Formats

struct CharsMap: Sendable {
    private let units: [UInt32]
    /// Replacement scalars by their byte offset in the replacement blob.
    private let replacements: [Int: [Unicode.Scalar]]
    /// Lookup results of the 128 one-byte (ASCII) keys.
    private var ascii: [[Unicode.Scalar]?] = []

    @inline(__always) private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ u: UInt32) -> Int { Int(u & 0x7fff_ffff) }
    @inline(__always) private static func label(_ u: UInt32) -> UInt32 { u & 0x8000_00ff }
    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & 0x200) >> 6)) }

    /// Parses and checks a decoded `precompiled_charsmap`.
    ///
    /// - Throws: `TokenizerError.invalid` naming what is truncated or points outside.
    init(_ bytes: [UInt8], path: String) throws {
        func bad(_ reason: String) -> TokenizerError { .invalid(path: path, reason: "precompiled_charsmap: " + reason) }
        guard bytes.count >= 4 else { throw bad("truncated: \(bytes.count) bytes, no trie size") }
        let trieBytes = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        let count = trieBytes / 4
        guard 4 + 4 * count <= bytes.count else {
            throw bad("truncated: the trie is declared as \(trieBytes) bytes but only \(bytes.count - 4) follow")
        }
        guard count > 0 else { throw bad("the trie is empty") }
        var units = [UInt32](repeating: 0, count: count)
        for i in 0..<count {
            let p = 4 + 4 * i
            units[i] = UInt32(bytes[p]) | UInt32(bytes[p + 1]) << 8 | UInt32(bytes[p + 2]) << 16 | UInt32(bytes[p + 3]) << 24
        }
        let blob = Array(bytes[(4 + 4 * count)...])
        guard String(validating: blob, as: UTF8.self) != nil else { throw bad("the replacement strings are not valid UTF-8") }

        // Every node reachable from the root: each child's offset and each
        // leaf's replacement must stay inside the charsmap.
        var replacements: [Int: [Unicode.Scalar]] = [:]
        let root = CharsMap.offset(units[0])
        guard root < count else { throw bad("the root points outside the trie (\(root) of \(count) units)") }
        var seen = Set<Int>([root]), stack = [root]
        while let node = stack.popLast() {
            for c in 1...255 {
                let child = node ^ c
                guard child < count, CharsMap.label(units[child]) == UInt32(c) else { continue }
                let next = child ^ CharsMap.offset(units[child])
                guard next < count else {
                    throw bad("unit \(child) points outside the trie (\(next) of \(count) units)")
                }
                if CharsMap.hasLeaf(units[child]) {
                    let at = CharsMap.value(units[next])
                    if replacements[at] == nil {
                        guard at <= blob.count else {
                            throw bad("unit \(next) points outside the replacement strings (offset \(at) of \(blob.count) bytes)")
                        }
                        let end = blob[at...].firstIndex(of: 0) ?? blob.count
                        guard let s = String(validating: blob[at..<end], as: UTF8.self) else {
                            throw bad("unit \(next) points inside a character of the replacement strings (offset \(at))")
                        }
                        replacements[at] = Array(s.unicodeScalars)
                    }
                }
                if seen.insert(next).inserted { stack.append(next) }
            }
        }
        self.units = units
        self.replacements = replacements
        ascii = (0..<128).map { lookup([UInt8($0)]) }
    }

    /// The replacement of the first key that `key` starts with, if any.
    func lookup<C: Collection>(_ key: C) -> [Unicode.Scalar]? where C.Element == UInt8 {
        let count = units.count
        var node = CharsMap.offset(units[0])
        for c in key {
            if c == 0 { break }
            let child = node ^ Int(c)
            guard child < count, CharsMap.label(units[child]) == UInt32(c) else { return nil }
            node = child ^ CharsMap.offset(units[child])
            guard node < count else { return nil }
            if CharsMap.hasLeaf(units[child]) { return replacements[CharsMap.value(units[node])] }
        }
        return nil
    }

    /// Rewrites `t` as the reference does, keeping alignments as its
    /// `transform` would.
    func apply(_ t: inout NormalizedText) {
        var items: [(Unicode.Scalar, Int)] = []
        items.reserveCapacity(t.count)
        var modified = false
        // The reference's `replace`: new scalars replace old ones; extra new
        // scalars are insertions; fewer remove from the last one written.
        func replace(_ old: Int, _ new: [Unicode.Scalar]) {
            modified = true
            for c in new { items.append((c, 0)) }
            let diff = new.count - old
            if diff > 0 {
                for k in (items.count - diff)..<items.count { items[k].1 = 1 }
            } else if diff < 0, !items.isEmpty {
                items[items.count - 1].1 += diff
            }
        }
        var utf8: [UInt8] = []
        let scalars = t.scalars, count = scalars.count
        /// An ASCII scalar between ASCII neighbours is a grapheme of its own
        /// (but for CR LF): there is a cluster boundary on both sides of it.
        @inline(__always) func alone(_ i: Int) -> Bool {
            let c = scalars[i]
            guard c.isASCII, i == 0 || scalars[i - 1].isASCII, i + 1 == count || scalars[i + 1].isASCII else { return false }
            return !(c == "\r" && i + 1 < count && scalars[i + 1] == "\n") && !(c == "\n" && i > 0 && scalars[i - 1] == "\r")
        }
        var i = 0
        while i < count {
            if alone(i) {
                if let r = ascii[Int(scalars[i].value)] { replace(1, r) } else { items.append((scalars[i], 0)) }
                i += 1
                continue
            }
            // A stretch from one sure boundary to the next, split into clusters.
            var j = i + 1
            while j < count && !(scalars[j - 1].isASCII && scalars[j].isASCII && !(scalars[j - 1] == "\r" && scalars[j] == "\n")) { j += 1 }
            var k = i
            for grapheme in String(String.UnicodeScalarView(scalars[i..<j])) {
                let n = grapheme.unicodeScalars.count
                utf8.removeAll(keepingCapacity: true)
                utf8.append(contentsOf: grapheme.utf8)
                if utf8.count < 6, let r = lookup(utf8) {
                    replace(n, r)
                } else {
                    for m in k..<(k + n) {
                        if let r = lookup(String(scalars[m]).utf8) { replace(1, r) } else { items.append((scalars[m], 0)) }
                    }
                }
                k += n
            }
            i = j
        }
        if modified { t.transform(items) }
    }
}
