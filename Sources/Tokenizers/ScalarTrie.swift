// ScalarTrie — the vocabulary trie of WordPiece and Unigram.

/// A trie over Unicode scalars for longest-prefix matches in one pass. Edges
/// live in one open-addressing hash table keyed by (node, scalar).
struct ScalarTrie: @unchecked Sendable {
    private final class Table: @unchecked Sendable {
        var keys: UnsafeMutableBufferPointer<UInt64>    // 0 = empty; else (node << 32 | scalar) + 1
        var values: UnsafeMutableBufferPointer<Int32>
        var count = 0
        init(capacity: Int) {
            var size = 16
            while size < capacity * 2 { size <<= 1 }
            keys = .allocate(capacity: size)
            keys.initialize(repeating: 0)
            values = .allocate(capacity: size)
            values.initialize(repeating: 0)
        }
        deinit { keys.deallocate(); values.deallocate() }

        @inline(__always) func slot(_ key: UInt64) -> Int {
            var h = key &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            return Int(truncatingIfNeeded: h) & (keys.count - 1)
        }

        @inline(__always) func get(_ key: UInt64) -> Int32? {
            let k = key &+ 1
            var i = slot(k)
            while true {
                let found = keys[i]
                if found == k { return values[i] }
                if found == 0 { return nil }
                i = (i + 1) & (keys.count - 1)
            }
        }

        func put(_ key: UInt64, _ value: Int32) {
            if (count + 1) * 2 > keys.count { grow() }
            let k = key &+ 1
            var i = slot(k)
            while keys[i] != 0 && keys[i] != k { i = (i + 1) & (keys.count - 1) }
            if keys[i] == 0 { count += 1 }
            keys[i] = k
            values[i] = value
        }

        private func grow() {
            let oldKeys = keys, oldValues = values
            keys = .allocate(capacity: oldKeys.count * 2)
            keys.initialize(repeating: 0)
            values = .allocate(capacity: oldKeys.count * 2)
            values.initialize(repeating: 0)
            count = 0
            for i in oldKeys.indices where oldKeys[i] != 0 { put(oldKeys[i] - 1, oldValues[i]) }
            oldKeys.deallocate(); oldValues.deallocate()
        }
    }

    private let table: Table
    private var terminal: [Int32] = [-1]

    init(capacity: Int = 0) {
        table = Table(capacity: max(capacity, 8))
        terminal.reserveCapacity(capacity + 1)
    }

    mutating func insert<S: Sequence>(_ scalars: S, id: Int) where S.Element == Unicode.Scalar {
        var node: Int32 = 0
        for c in scalars {
            let key = UInt64(UInt32(node)) << 32 | UInt64(c.value)
            if let next = table.get(key) {
                node = next
            } else {
                let next = Int32(terminal.count)
                terminal.append(-1)
                table.put(key, next)
                node = next
            }
        }
        terminal[Int(node)] = Int32(id)
    }

    /// Calls `body(end, id)` for every entry that `word[start...]` starts
    /// with, shortest first.
    @inline(__always)
    func forEachPrefix(_ word: ArraySlice<Unicode.Scalar>, from start: Int, _ body: (Int, Int) -> Void) {
        var node: Int32 = 0
        var i = start
        while i < word.endIndex {
            guard let next = table.get(UInt64(UInt32(node)) << 32 | UInt64(word[i].value)) else { return }
            node = next
            i += 1
            let t = terminal[Int(node)]
            if t >= 0 { body(i, Int(t)) }
        }
    }

    /// The longest entry that `word[start...]` starts with: its end and id.
    @inline(__always)
    func longestMatch(_ word: ArraySlice<Unicode.Scalar>, from start: Int) -> (end: Int, id: Int)? {
        var best: (end: Int, id: Int)? = nil
        forEachPrefix(word, from: start) { best = ($0, $1) }
        return best
    }
}
