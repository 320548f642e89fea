// ckpt inspect — what a checkpoint holds.

import ArgumentParser
import Formats

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's format, tensors, config, tied weights and problems.")

    @Argument(help: "A weights file or a model directory.")
    var path: String

    @Flag(help: "Print one JSON object (stable keys) instead of text.")
    var json = false

    @Flag(name: .long, help: "In text output, leave out the tensor table.")
    var summary = false

    func run() throws {
        let ckpt = try reportingErrors { try Checkpoint(path: path) }
        print(json ? Inspect.jsonReport(ckpt) : Inspect.textReport(ckpt, tensors: !summary))
    }

    static func formatName(_ c: Checkpoint) -> String {
        switch c.format {
        case .safetensors: return "safetensors"
        case .shardedSafetensors: return "safetensors, \((c.store as? ShardedSafeTensors)?.shards.count ?? 0) shards"
        case .hdf5: return "ckpt-hdf5"
        case .pytorch: return "PyTorch \((c.store as? PyTorchFile)?.isLegacy == true ? "legacy" : "zip") format"
        case .shardedPytorch: return "PyTorch, \((c.store as? ShardedSafeTensors)?.shards.count ?? 0) shards"
        }
    }

    static func dtypeCounts(_ c: Checkpoint) -> [(DType, Int)] {
        var counts: [DType: Int] = [:]
        for t in c.tensors { counts[t.dtype, default: 0] += 1 }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.rawValue < $1.key.rawValue }
    }

    static func textReport(_ c: Checkpoint, tensors showTensors: Bool) -> String {
        var lines: [String] = []
        lines.append("\(c.path) (\(c.isDirectory ? "model directory, " : "")\(formatName(c)))")
        if let cfg = c.config {
            var parts: [String] = []
            if let v = cfg.vocabSize { parts.append("vocab \(grouped(v))") }
            if let h = cfg.hiddenSize { parts.append("hidden \(h)") }
            if let l = cfg.layerCount { parts.append("\(l) layers") }
            if let h = cfg.headCount { parts.append("\(h) heads") }
            if let i = cfg.intermediateSize { parts.append("intermediate \(i)") }
            if let p = cfg.maxPositions { parts.append("\(p) positions") }
            let arch = (cfg.architectures.first ?? "?") + (cfg.modelType.map { " (\($0))" } ?? "")
            lines.append("  config    \(arch): " + parts.joined(separator: ", "))
        } else {
            lines.append("  config    none")
        }
        if let t = c.tokenizer {
            var parts = ["\(grouped(t.vocabSize)) tokens"]
            if let l = t.lowercase { parts.append(l ? "lowercase" : "cased") }
            if let n = t.modelMaxLength, n < 1_000_000 { parts.append("max length \(n)") }
            let specials = SpecialTokenRole.allCases.compactMap { t.specialTokens[$0] }
            if !specials.isEmpty { parts.append("specials " + specials.joined(separator: " ")) }
            lines.append("  tokenizer \(t.model ?? "?"): " + parts.joined(separator: ", "))
        }
        let types = dtypeCounts(c).map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
        lines.append("  tensors   \(c.tensors.count) (\(types)), \(grouped(c.parameterCount)) parameters, \(grouped(c.tensorBytes)) bytes (\(humanBytes(c.tensorBytes)))")
        if c.ties.isEmpty {
            lines.append("  tied      none")
        } else {
            for (i, t) in c.ties.enumerated() {
                let state = t.aliasStored ? "stored twice; written once" : "not stored"
                lines.append("  \(i == 0 ? "tied      " : "          ")\(t.alias) -> \(t.target) (\(state))")
            }
        }
        if let m = c.metadata, !m.isEmpty {
            lines.append("  metadata  " + m.keys.sorted().map { "\($0)=\(m[$0]!)" }.joined(separator: ", "))
        }
        lines.append("  files     " + (c.files.isEmpty ? "none" : c.files.map(\.name).joined(separator: ", ")))
        if c.problems.isEmpty {
            lines.append("  problems  none")
        } else {
            for (i, p) in c.problems.enumerated() { lines.append("  \(i == 0 ? "problems  " : "          ")\(p)") }
        }
        if showTensors && !c.tensors.isEmpty {
            let w = min(72, c.tensors.map(\.name.count).max() ?? 4)
            let sw = max(5, c.tensors.map(\.shapeText.count).max() ?? 5)
            lines.append("")
            lines.append("  " + pad("name", w) + "  " + pad("dtype", 7) + "  " + pad("shape", sw) + "  bytes")
            for t in c.tensors {
                lines.append("  " + pad(t.name, w) + "  " + pad(t.dtype.rawValue, 7) + "  " + pad(t.shapeText, sw) + "  " + grouped(t.byteCount))
            }
        }
        return lines.map(printable).joined(separator: "\n")
    }

    static func jsonReport(_ c: Checkpoint) -> String {
        func num(_ n: Int) -> JSONValue { .number(JSONNumber(n)) }
        var root = JSONObject()
        root["path"] = .string(c.path)
        root["format"] = .string(c.format.rawValue)
        root["directory"] = .bool(c.isDirectory)
        root["parameters"] = num(c.parameterCount)
        root["bytes"] = num(c.tensorBytes)
        if let cfg = c.config {
            var o = JSONObject()
            o["model_type"] = cfg.modelType.map { .string($0) } ?? .null
            o["architectures"] = .array(cfg.architectures.map { .string($0) })
            o["vocab_size"] = cfg.vocabSize.map(num) ?? .null
            o["hidden_size"] = cfg.hiddenSize.map(num) ?? .null
            o["num_layers"] = cfg.layerCount.map(num) ?? .null
            o["num_heads"] = cfg.headCount.map(num) ?? .null
            o["intermediate_size"] = cfg.intermediateSize.map(num) ?? .null
            o["max_position_embeddings"] = cfg.maxPositions.map(num) ?? .null
            o["tie_word_embeddings"] = .bool(cfg.tieWordEmbeddings)
            root["config"] = .object(o)
        } else {
            root["config"] = .null
        }
        if let t = c.tokenizer {
            var o = JSONObject()
            o["model"] = t.model.map { .string($0) } ?? .null
            o["vocab_size"] = num(t.vocabSize)
            o["lowercase"] = t.lowercase.map { .bool($0) } ?? .null
            o["model_max_length"] = t.modelMaxLength.map(num) ?? .null
            o["special_tokens"] = .object(JSONObject(SpecialTokenRole.allCases.compactMap { r in
                t.specialTokens[r].map { (r.rawValue, JSONValue.string($0)) }
            }))
            root["tokenizer"] = .object(o)
        } else {
            root["tokenizer"] = .null
        }
        root["tied"] = .array(c.ties.map {
            .object(JSONObject([("alias", .string($0.alias)), ("target", .string($0.target)), ("alias_stored", .bool($0.aliasStored))]))
        })
        root["files"] = .array(c.files.map { .string($0.name) })
        if let m = c.metadata {
            root["metadata"] = .object(JSONObject(m.keys.sorted().map { ($0, JSONValue.string(m[$0]!)) }))
        } else {
            root["metadata"] = .null
        }
        root["problems"] = .array(c.problems.map { .string($0) })
        root["tensors"] = .array(c.tensors.map { t in
            .object(JSONObject([
                ("name", .string(t.name)), ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map(num))), ("bytes", num(t.byteCount)),
            ]))
        })
        return JSONValue.object(root).serialized()
    }
}
