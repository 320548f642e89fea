// The trainer's logs: OUT/metrics.jsonl (one JSON line per log or
// evaluation, cut back to the resumed step) and the TensorBoard event file.

import Formats

#if canImport(Glibc)
import Glibc
#endif

extension Trainer {
    func number(_ v: Double) -> JSONValue { v.isFinite ? .number(JSONNumber(v)) : .null }

    func logEval(_ e: Evaluation) throws {
        var fields: [(String, JSONValue)] = [("step", .number(JSONNumber(step))), ("eval_loss", number(e.loss))]
        for (name, v) in e.report.scalars { fields.append(("eval_" + name, number(v))) }
        if e.report.perClass.count == e.report.labelNames.count, !e.report.perClass.isEmpty {
            fields.append(("eval_per_class", .object(JSONObject(zip(e.report.labelNames, e.report.perClass).map { name, c in
                (name, .object(JSONObject([("precision", number(c.precision)), ("recall", number(c.recall)), ("f1", number(c.f1)),
                                           ("support", .number(JSONNumber(c.support)))])))
            }))))
        }
        try log(fields)
        events?.scalars(step: step, [("eval/loss", e.loss)] + e.report.scalars.map { ("eval/" + $0.name, $0.value) })
    }

    // MARK: - Metrics


    /// Opens OUT/metrics.jsonl for appending, dropping lines past the current
    /// step (left by a run that went further than the checkpoint resumed).
    func openMetrics() throws {
        guard world.isPrimary else { return }
        let path = FileSystem.join(output, "metrics.jsonl")
        var kept: [String] = []
        if FileSystem.exists(path) {
            for line in textLines(try readFile(path)) where !line.isEmpty {
                if let v = try? JSONParser.parse(line, path: path), let s = v["step"]?.int, s <= step { kept.append(line) }
            }
        }
        history = kept.compactMap { try? JSONParser.parse($0, path: path) }
        // The kept lines replace the file atomically; then it is appended to.
        let rewrite = try AtomicFile(path: path, overwrite: true)
        try rewrite.write(Array(kept.map { $0 + "\n" }.joined().utf8), at: 0)
        try rewrite.commit()
        if metricsFD >= 0 { close(metricsFD) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.current(path, "open") }
        metricsFD = fd
        if events == nil { events = try? EventFile(directory: FileSystem.join(output, "runs")) }
    }

    func append(_ line: String) throws {
        let text = line + "\n"
        try text.utf8CString.withUnsafeBufferPointer { p in
            let raw = UnsafeRawBufferPointer(start: p.baseAddress, count: p.count - 1)
            var done = 0
            while done < raw.count {
                let n = write(metricsFD, raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; throw FileError.current(FileSystem.join(output, "metrics.jsonl"), "write") }
                done += n
            }
        }
    }

    func log(_ fields: [(String, JSONValue)]) throws {
        guard world.isPrimary else { return }
        let v = JSONValue.object(JSONObject(fields))
        history.append(v)
        try append(v.serialized())
    }
}
