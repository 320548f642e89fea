// NormalizedText — text being normalized, with each character's position in the
// original text, so token offsets can point back into what the user wrote.
//
// Positions are Unicode scalar indices into the original text (what Python's
// `tokenizers` reports as character offsets). Every normalized scalar carries
// the original range it came from; an inserted scalar shares the range of the
// one before it, as the reference implementation aligns them.

/// A piece of text after normalization, aligned to the original.
public struct NormalizedText: Sendable, Equatable {
    /// The normalized scalars.
    public internal(set) var scalars: [Unicode.Scalar]
    /// For each normalized scalar, the start of its original range.
    var starts: [Int]
    /// For each normalized scalar, the end of its original range.
    var ends: [Int]
    /// Where this piece starts in the original text (used for insertions at
    /// its start, and by Metaspace's "first" scheme).
    private(set) var originalStart: Int

    /// Wraps original text: every scalar aligned to itself.
    public init(_ text: String) {
        scalars = Array(text.unicodeScalars)
        starts = Array(0..<scalars.count)
        ends = Array(1..<(scalars.count + 1))
        originalStart = 0
    }

    init(scalars: [Unicode.Scalar], starts: [Int], ends: [Int], originalStart: Int) {
        self.scalars = scalars
        self.starts = starts
        self.ends = ends
        self.originalStart = originalStart
    }

    /// The normalized text.
    public var string: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    /// Number of normalized scalars.
    public var count: Int { scalars.count }
    public var isEmpty: Bool { scalars.isEmpty }

    /// The original range covered by normalized scalars `range` (empty range →
    /// the position where it would start).
    func originalRange(_ range: Range<Int>) -> (Int, Int) {
        if range.isEmpty {
            let at = range.lowerBound < starts.count ? starts[range.lowerBound] : (ends.last ?? originalStart)
            return (at, at)
        }
        return (starts[range.lowerBound], ends[range.upperBound - 1])
    }

    /// A sub-piece (normalized indices), keeping its alignment.
    func slice(_ range: Range<Int>) -> NormalizedText {
        NormalizedText(scalars: Array(scalars[range]), starts: Array(starts[range]), ends: Array(ends[range]),
                       originalStart: range.isEmpty ? originalStart : starts[range.lowerBound])
    }

    // MARK: - Transformations

    /// Replaces every scalar with `f(scalar)`, keeping alignments.
    mutating func map(_ f: (Unicode.Scalar) -> Unicode.Scalar) {
        for i in scalars.indices { scalars[i] = f(scalars[i]) }
    }

    /// Keeps the scalars for which `keep` is true.
    mutating func filter(_ keep: (Unicode.Scalar) -> Bool) {
        var s: [Unicode.Scalar] = [], a: [Int] = [], b: [Int] = []
        s.reserveCapacity(scalars.count); a.reserveCapacity(scalars.count); b.reserveCapacity(scalars.count)
        for i in scalars.indices where keep(scalars[i]) {
            s.append(scalars[i]); a.append(starts[i]); b.append(ends[i])
        }
        scalars = s; starts = a; ends = b
    }

    /// Rewrites the whole text from `(scalar, change)` pairs, as the reference
    /// `transform` does: change 0 replaces the next old scalar, +1 inserts a new
    /// scalar (aligned like the old scalar before it), −n replaces the next old
    /// scalar and removes the n after it.
    mutating func transform(_ items: [(Unicode.Scalar, Int)]) {
        var s: [Unicode.Scalar] = [], a: [Int] = [], b: [Int] = []
        s.reserveCapacity(items.count); a.reserveCapacity(items.count); b.reserveCapacity(items.count)
        var old = 0
        for (c, change) in items {
            if change > 0 {
                if old >= 1 {
                    a.append(starts[old - 1]); b.append(ends[old - 1])
                } else {
                    a.append(originalStart); b.append(originalStart)
                }
            } else {
                let i = min(old, starts.count - 1)
                a.append(starts[i]); b.append(ends[i])
                old += 1 - change
            }
            s.append(c)
        }
        scalars = s; starts = a; ends = b
    }

    /// Replaces each scalar with the scalars `f` gives: all of them keep the
    /// replaced scalar's alignment (the first replaces it, the others are
    /// inserted after it); an empty result removes it.
    mutating func expand(_ f: (Unicode.Scalar) -> [Unicode.Scalar]) {
        var s: [Unicode.Scalar] = [], a: [Int] = [], b: [Int] = []
        s.reserveCapacity(scalars.count); a.reserveCapacity(scalars.count); b.reserveCapacity(scalars.count)
        for i in scalars.indices {
            for c in f(scalars[i]) {
                s.append(c); a.append(starts[i]); b.append(ends[i])
            }
        }
        scalars = s; starts = a; ends = b
    }

    /// Replaces each scalar with what `f` appends for it, as `expand` does,
    /// without an array per scalar.
    mutating func expand(appending f: (Unicode.Scalar, inout [Unicode.Scalar]) -> Void) {
        var s: [Unicode.Scalar] = [], a: [Int] = [], b: [Int] = []
        s.reserveCapacity(scalars.count + 8); a.reserveCapacity(scalars.count + 8); b.reserveCapacity(scalars.count + 8)
        for i in scalars.indices {
            let before = s.count
            f(scalars[i], &s)
            for _ in before..<s.count { a.append(starts[i]); b.append(ends[i]) }
        }
        scalars = s; starts = a; ends = b
    }

    /// Starts the piece where its first normalized scalar comes from, as the
    /// reference's slice of the whole normalized piece does after normalizing
    /// (characters a normalizer removed from the front no longer count).
    mutating func rebase() {
        if let first = starts.first { originalStart = first }
    }

    /// Puts `prefix` before the text, as the reference's `prepend`: the
    /// prefix and the first scalar all take the first scalar's alignment.
    /// An empty text stays empty.
    mutating func prepend(_ prefix: [Unicode.Scalar]) {
        guard !scalars.isEmpty, !prefix.isEmpty else { return }
        let a = starts[0], b = ends[0]
        scalars.insert(contentsOf: prefix, at: 0)
        starts.insert(contentsOf: repeatElement(a, count: prefix.count), at: 0)
        ends.insert(contentsOf: repeatElement(b, count: prefix.count), at: 0)
    }
}
