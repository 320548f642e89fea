// Labelled data for task heads: CSV, TSV (RFC 4180, header row) or JSONL
// files with a text column, an optional second text and a label; the label
// set; tokenized, truncated examples; and the stratified eval split.

import Formats
import Model
import Tokenizers

/// What the labels are.
public enum TaskKind: String, Sendable, Codable, CaseIterable {
    /// One class per text (`single_label_classification`).
    case classification
    /// Any number of classes per text (`multi_label_classification`).
    case multiLabel = "multi-label"
    /// A number per text (`regression`).
    case regression

    /// transformers' `problem_type`.
    public var problemType: String {
        switch self {
        case .classification: return "single_label_classification"
        case .multiLabel: return "multi_label_classification"
        case .regression: return "regression"
        }
    }

    /// The kind of a transformers `problem_type`.
    public init?(problemType: String) {
        guard let k = TaskKind.allCases.first(where: { $0.problemType == problemType }) else { return nil }
        self = k
    }
}

/// Which columns (CSV/TSV header names, JSONL keys) hold what.
public struct LabelledColumns: Sendable, Equatable {
    public var text = "text"
    public var textPair: String? = nil
    public var label = "label"
    public init() {}
}

/// One row of a labelled file.
public struct LabelledRecord: Sendable, Equatable {
    public var text: String
    public var pair: String?
    /// Label names (one for a class; any number for multi-label), or the
    /// value's text for regression; empty when the file has no label column
    /// and none was required.
    public var labels: [String]
    /// The line the row starts on (1-based; a CSV header is line 1).
    public var line: Int
    /// The file it came from.
    public var path: String
    public init(text: String, pair: String?, labels: [String], line: Int, path: String) {
        self.text = text; self.pair = pair; self.labels = labels; self.line = line; self.path = path
    }
}

/// The target of an example: a class, or a row of values (multi-hot, or the regression value).
public enum ExampleTarget: Sendable, Equatable {
    case classIndex(Int)
    case values([Float])
}

/// A tokenized, labelled example.
public struct LabelledExample: Sendable, Equatable {
    public var ids: [Int32]
    /// Where the second text's tokens start (token type 1), or `ids.count`.
    public var pairStart: Int32
    public var target: ExampleTarget
    /// Text tokens truncation dropped.
    public var dropped: Int32 = 0
    public var tokenTypes: [Int] { (0..<ids.count).map { $0 < Int(pairStart) ? 0 : 1 } }
    public init(ids: [Int32], pairStart: Int32, target: ExampleTarget) { self.ids = ids; self.pairStart = pairStart; self.target = target }
}

/// Reads labelled files.
public enum LabelledData {
    /// The rows of `path`: CSV (`.csv`), TSV (`.tsv`) or JSON lines (`.jsonl`,
    /// `.json`), chosen by the extension. Multi-label rows list their labels
    /// as a JSON array (JSONL) or separated by commas (CSV/TSV field).
    ///
    /// - Throws: `CorpusError` naming the file and line: a missing column,
    ///   an empty text, a missing or malformed label (when `requireLabels`),
    ///   invalid UTF-8, malformed CSV or JSON.
    public static func read(_ path: String, columns: LabelledColumns, kind: TaskKind, requireLabels: Bool = true) throws -> [LabelledRecord] {
        let bytes = try readFile(path, limit: 1 << 34)
        let lower = path.lowercased()
        if lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") {
            return try readJSONL(bytes, path: path, columns: columns, kind: kind, requireLabels: requireLabels)
        }
        let separator: UInt8
        if lower.hasSuffix(".tsv") { separator = 0x09 } else if lower.hasSuffix(".csv") { separator = 0x2C } else {
            throw CorpusError(path: path, reason: "labelled data must be .csv, .tsv or .jsonl")
        }
        let rows = try CSVReader.rows(bytes, separator: separator, path: path)
        guard let header = rows.first else { throw CorpusError(path: path, reason: "empty file: no header row") }
        func column(_ name: String) throws -> Int {
            guard let i = header.fields.firstIndex(of: name) else {
                throw CorpusError(path: path, line: 1, reason: "no column \"\(name)\" in the header (\(header.fields.joined(separator: ", ")))")
            }
            return i
        }
        let ti = try column(columns.text)
        let pi = try columns.textPair.map(column)
        let li: Int? = requireLabels ? try column(columns.label) : header.fields.firstIndex(of: columns.label)
        var out: [LabelledRecord] = []
        for row in rows.dropFirst() {
            if row.fields.count == 1 && row.fields[0].isEmpty { continue }  // a blank line
            guard row.fields.count == header.fields.count else {
                throw CorpusError(path: path, line: row.line, reason: "\(row.fields.count) fields, the header has \(header.fields.count)")
            }
            let text = row.fields[ti], pair = pi.map { row.fields[$0] }
            var labels: [String] = []
            if let li {
                let raw = row.fields[li]
                labels = kind == .multiLabel
                    ? raw.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
                    : [raw.trimmingSpaces()]
            }
            out.append(try record(text: text, pair: pair, labels: labels, line: row.line, path: path, kind: kind, hasLabel: li != nil))
        }
        guard !out.isEmpty else { throw CorpusError(path: path, reason: "no rows after the header") }
        return out
    }

    private static func readJSONL(_ bytes: [UInt8], path: String, columns: LabelledColumns, kind: TaskKind,
                                  requireLabels: Bool) throws -> [LabelledRecord] {
        var out: [LabelledRecord] = []
        var line = 0
        for range in lineRanges(bytes) {
            line += 1
            let slice = bytes[range]  // without its line end (Formats' lineRanges)
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            guard let text = String(validating: slice, as: UTF8.self) else {
                throw CorpusError(path: path, line: line, reason: "invalid UTF-8")
            }
            let value: JSONValue
            do { value = try JSONParser.parse(text, path: path) } catch {
                throw CorpusError(path: path, line: line, reason: "invalid JSON: \(error)")
            }
            guard value.object != nil else { throw CorpusError(path: path, line: line, reason: "not a JSON object") }
            func string(_ key: String) throws -> String {
                guard let v = value[key] else { throw CorpusError(path: path, line: line, reason: "no \"\(key)\" field") }
                guard let s = v.string else { throw CorpusError(path: path, line: line, reason: "\"\(key)\" is \(v.kindName), not a string") }
                return s
            }
            let t = try string(columns.text)
            let p = try columns.textPair.map(string)
            var labels: [String] = []
            let label = value[columns.label]
            if label == nil && requireLabels { throw CorpusError(path: path, line: line, reason: "no \"\(columns.label)\" field") }
            if let label {
                func name(_ v: JSONValue) throws -> String {
                    switch v {
                    case let .string(s): return s
                    case let .number(n): return n.literal
                    case let .bool(b): return b ? "true" : "false"
                    default: throw CorpusError(path: path, line: line, reason: "label \(v.serialized()) is not a string or a number")
                    }
                }
                if kind == .multiLabel {
                    guard let a = label.array else {
                        throw CorpusError(path: path, line: line, reason: "a multi-label \"\(columns.label)\" must be an array of labels")
                    }
                    labels = try a.map(name)
                } else {
                    labels = [try name(label)]
                }
            }
            out.append(try record(text: t, pair: p, labels: labels, line: line, path: path, kind: kind, hasLabel: label != nil))
        }
        guard !out.isEmpty else { throw CorpusError(path: path, reason: "no examples: the file is empty") }
        return out
    }

    private static func record(text: String, pair: String?, labels: [String], line: Int, path: String, kind: TaskKind,
                               hasLabel: Bool) throws -> LabelledRecord {
        if text.trimmingSpaces().isEmpty { throw CorpusError(path: path, line: line, reason: "empty text") }
        if let pair, pair.trimmingSpaces().isEmpty { throw CorpusError(path: path, line: line, reason: "empty second text") }
        if hasLabel && kind != .multiLabel && (labels.first ?? "").isEmpty {
            throw CorpusError(path: path, line: line, reason: "empty label")
        }
        if hasLabel && kind == .regression {
            guard let v = Double(labels[0]), v.isFinite else {
                throw CorpusError(path: path, line: line, reason: "regression label \"\(labels[0])\" is not a number")
            }
        }
        return LabelledRecord(text: text, pair: pair, labels: labels, line: line, path: path)
    }

    /// The label names in order: `given`, else the sorted distinct labels of
    /// `records` (numerically when every label is an integer).
    public static func labelSet(_ records: [LabelledRecord], given: [String]?) -> [String] {
        if let given { return given }
        let distinct = Set(records.flatMap(\.labels))
        if distinct.allSatisfy({ Int($0) != nil }) {
            return distinct.sorted { Int($0)! != Int($1)! ? Int($0)! < Int($1)! : Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
        }
        return distinct.sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
    }

    /// Tokenizes `records` (at most `maxLength` tokens, the part `keep` says)
    /// and maps their labels to targets.
    ///
    /// - Throws: `CorpusError` naming the line of a label outside `labels`.
    public static func examples(_ records: [LabelledRecord], labels: [String], kind: TaskKind, tokenizer: Tokenizer,
                                maxLength: Int, keep: TruncationSide, threads: Int) throws -> [LabelledExample] {
        var index: [String: Int] = [:]
        for (i, l) in labels.enumerated() { index[l] = i }
        let targets: [ExampleTarget] = try records.map { r in
            switch kind {
            case .regression:
                return .values([Float(Double(r.labels[0]) ?? 0)])
            case .classification:
                guard let i = index[r.labels[0]] else {
                    throw CorpusError(path: r.path, line: r.line, reason: "label \"\(r.labels[0])\" is not one of the labels (\(labels.joined(separator: ", ")))")
                }
                return .classIndex(i)
            case .multiLabel:
                var row = [Float](repeating: 0, count: labels.count)
                for l in r.labels {
                    guard let i = index[l] else {
                        throw CorpusError(path: r.path, line: r.line, reason: "label \"\(l)\" is not one of the labels (\(labels.joined(separator: ", ")))")
                    }
                    row[i] = 1
                }
                return .values(row)
            }
        }
        return try parallelMap(records.count, threads: threads) { i -> LabelledExample in
            let r = records[i]
            let (e, dropped) = tokenizer.encodeCounting(r.text, pair: r.pair, maxLength: maxLength, keep: keep)
            let start = e.typeIDs.firstIndex(of: 1) ?? e.ids.count
            var x = LabelledExample(ids: e.ids.map { Int32(truncatingIfNeeded: $0) }, pairStart: Int32(start), target: targets[i])
            x.dropped = Int32(clamping: dropped)
            return x
        }.map { try $0.get() }
    }

    /// A seeded eval split of `examples`: for single-label classification
    /// stratified (each class gives its share, largest remainders first),
    /// else a plain seeded choice. Both keep the file order.
    public static func stratifiedSplit(_ examples: [LabelledExample], ratio: Double, seed: UInt64) -> (train: [Int], eval: [Int]) {
        let n = examples.count
        guard ratio > 0, n > 1 else { return (Array(0..<n), []) }
        var classes: [Int: [Int]] = [:]
        for (i, e) in examples.enumerated() {
            guard case let .classIndex(c) = e.target else {
                let (t, v) = seededSplit(count: n, ratio: ratio, seed: seed)
                return (t.map { Int($0) }, v.map { Int($0) })
            }
            classes[c, default: []].append(i)
        }
        let total = min(n - 1, max(1, Int((Double(n) * ratio).rounded(.up))))
        // Largest remainder allocation of `total` over the classes.
        let keys = classes.keys.sorted()
        var take: [Int: Int] = [:]
        var remainders: [(Double, Int)] = []
        for c in keys {
            let exact = Double(total) * Double(classes[c]!.count) / Double(n)
            take[c] = Int(exact)
            remainders.append((exact - Double(Int(exact)), c))
        }
        // Largest remainders first; a class keeps at least one training example.
        let byRemainder = remainders.sorted(by: { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }).map(\.1)
        for c in keys { take[c] = min(take[c]!, classes[c]!.count - 1) }
        var missing = total - keys.reduce(0) { $0 + take[$1]! }
        while missing > 0 {
            guard let c = byRemainder.first(where: { take[$0]! < classes[$0]!.count - 1 }) else { break }
            take[c]! += 1
            missing -= 1
        }
        var chosen = Set<Int>()
        for c in keys {
            let members = classes[c]!
            var rng = SplitMix64(seed: mix(seed, 0x5354_5241, UInt64(c)))
            let order = permutation(members.count, rng: &rng)
            for k in order.prefix(min(take[c]!, members.count)) { chosen.insert(members[Int(k)]) }
        }
        let eval = (0..<n).filter { chosen.contains($0) }
        let train = (0..<n).filter { !chosen.contains($0) }
        return (train, eval)
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and line ends.
    public func trimmingSpaces() -> String {
        let s = unicodeScalars
        guard let a = s.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let b = s.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(s[a...b])
    }
}
