// The files of an extended tokenizer: the base directory's files with the
// vocabulary (and BPE merges) extended; everything else as it was.

import Formats

extension VocabularyExtension {
    /// The extended tokenizer's files, from the base tokenizer directory's.
    ///
    /// - Throws: `TokenizerError` when the base's tokenizer.json cannot be read.
    public static func files(base directory: String, result r: ExtensionResult) throws -> [(name: String, bytes: [UInt8])] {
        var out: [(name: String, bytes: [UInt8])] = []
        let files = try readTokenizerFiles(in: directory)
        let vocab = r.vocabulary.enumerated().filter { !$0.element.isEmpty }
        let vocabJSON = JSONValue.object(JSONObject(vocab.map { ($0.element, .number(JSONNumber($0.offset))) }))
        var isBPE = false
        var jsonMerges: [String]? = nil
        if let bytes = files.first(where: { $0.name == "tokenizer.json" })?.bytes {
            let path = FileSystem.join(directory, "tokenizer.json")
            var json = try JSONParser.parse(bytes, path: path)
            guard var root = json.object, var model = root["model"]?.object else {
                throw TokenizerError.invalid(path: path, reason: "no model")
            }
            model["vocab"] = vocabJSON
            if model["type"]?.string == "BPE" {
                isBPE = true
                let old = model["merges"]?.array ?? []
                let asStrings = old.first?.string != nil
                jsonMerges = old.map { $0.string ?? ($0.array?.compactMap(\.string).joined(separator: " ") ?? "") }
                model["merges"] = .array(old + r.newMerges.map { asStrings ? .string("\($0.0) \($0.1)") : .array([.string($0.0), .string($0.1)]) })
            }
            root["model"] = .object(model)
            json = .object(root)
            out.append(("tokenizer.json", Array(json.serialized(indent: 2).utf8) + [0x0A]))
        }
        if isBPE || files.contains(where: { $0.name == "merges.txt" }) {
            isBPE = true
            out.append(("vocab.json", Array(vocabJSON.serialized().utf8)))
            var merges = files.first { $0.name == "merges.txt" }?.bytes
                ?? Array(("#version: 0.2\n" + (jsonMerges ?? []).map { $0 + "\n" }.joined()).utf8)
            if let last = merges.last, last != 0x0A { merges.append(0x0A) }
            merges += Array(r.newMerges.map { "\($0.0) \($0.1)\n" }.joined().utf8)
            out.append(("merges.txt", merges))
        } else {
            out.append(("vocab.txt", Array(r.vocabulary.enumerated().map { ($0.element.isEmpty ? "[unused-\($0.offset)]" : $0.element) + "\n" }.joined().utf8)))
        }
        for f in files where !["tokenizer.json", "vocab.txt", "vocab.json", "merges.txt"].contains(f.name) { out.append(f) }
        return out
    }
}
