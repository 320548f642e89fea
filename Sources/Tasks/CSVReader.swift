// CSVReader — RFC 4180 records: fields separated by a comma (or a tab),
// quoted fields with "" for a quote and line ends inside, CRLF or LF.

import Formats

/// One record and the line it starts on (1-based).
struct CSVRow: Sendable {
    var fields: [String]
    var line: Int
}

enum CSVReader {
    /// Every record of `bytes`.
    ///
    /// - Throws: `CorpusError` naming the line of invalid UTF-8, a quote left
    ///   open, or text after a closing quote.
    static func rows(_ bytes: [UInt8], separator: UInt8, path: String) throws -> [CSVRow] {
        var rows: [CSVRow] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1, rowLine = 1
        var i = 0
        var quoted = false, wasQuoted = false
        func endField() throws {
            guard let s = String(validating: field, as: UTF8.self) else {
                throw CorpusError(path: path, line: rowLine, reason: "invalid UTF-8")
            }
            fields.append(s)
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
        }
        let n = bytes.count
        var start = 0
        if n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }  // a UTF-8 byte-order mark
        i = start
        while i < n {
            let b = bytes[i]
            if quoted {
                if b == 0x22 {
                    if i + 1 < n && bytes[i + 1] == 0x22 { field.append(0x22); i += 2; continue }
                    quoted = false
                    wasQuoted = true
                } else {
                    if b == 0x0A { line += 1 }
                    field.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case 0x22 where field.isEmpty && !wasQuoted:
                quoted = true
            case separator:
                try endField()
            case 0x0D where i + 1 < n && bytes[i + 1] == 0x0A:
                break
            case 0x0A:
                try endField()
                rows.append(CSVRow(fields: fields, line: rowLine))
                fields.removeAll()
                line += 1
                rowLine = line
            default:
                if wasQuoted { throw CorpusError(path: path, line: line, reason: "text after a closing quote") }
                field.append(b)
            }
            i += 1
        }
        if quoted { throw CorpusError(path: path, line: rowLine, reason: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted {
            try endField()
            rows.append(CSVRow(fields: fields, line: rowLine))
        }
        return rows
    }
}
