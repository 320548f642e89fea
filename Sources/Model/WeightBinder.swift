// WeightBinder — finds each parameter of the encoder in a checkpoint by its
// Hugging Face name, accepting the usual variants, and collects every problem
// (missing, mis-shaped, unexpected) before anything runs.

import Formats

struct WeightBinder {
    let checkpoint: Checkpoint
    let kind: EncoderConfig.Kind
    /// The base-model prefix the checkpoint uses ("bert.", "distilbert.", or "").
    let prefix: String
    private var names: Set<String>
    private(set) var used: Set<String> = []
    private(set) var problems: [String] = []

    /// Name rewrites tried in order when a name is not found as is: legacy
    /// TensorFlow-era LayerNorm names.
    static let legacyRules: [(String, String)] = [
        ("LayerNorm.weight", "LayerNorm.gamma"),
        ("LayerNorm.bias", "LayerNorm.beta"),
    ]

    /// Tensors a checkpoint may hold that this encoder does not use.
    static let ignorable: [String] = [
        "embeddings.position_ids", "embeddings.token_type_ids", "pooler.", "cls.seq_relationship.",
        "classifier.", "pre_classifier.", "qa_outputs.",
    ]

    init(checkpoint: Checkpoint, kind: EncoderConfig.Kind) {
        self.checkpoint = checkpoint
        self.kind = kind
        let all = Set(checkpoint.tensors.map(\.name))
        names = all
        let candidates = [kind == .bert ? "bert." : kind == .roberta ? "roberta." : "distilbert."]
        prefix = candidates.first { p in all.contains { $0.hasPrefix(p) } } ?? ""
    }

    /// Whether the checkpoint carries the masked-LM head.
    var hasHead: Bool {
        let marker = kind == .bert ? "cls.predictions." : kind == .roberta ? "lm_head." : "vocab_transform."
        return names.contains { $0.hasPrefix(marker) }
    }

    private func resolve(_ name: String) -> String? {
        var candidates = [name]
        for (a, b) in WeightBinder.legacyRules where name.hasSuffix(a) {
            candidates.append(String(name.dropLast(a.count)) + b)
        }
        return candidates.first(where: names.contains)
    }

    /// A base-model tensor (looked up under the checkpoint's prefix) as f32.
    mutating func take(_ name: String, _ shape: [Int]) -> [Float] {
        load(prefix + name, shape, display: prefix + name)
    }

    /// A head tensor (no prefix). A missing tied decoder takes `tiedTo`; a
    /// missing name may be found under `alias`.
    mutating func takeHead(_ name: String, _ shape: [Int], tiedTo: [Float]? = nil, tie: Bool = true, alias: String? = nil) -> [Float] {
        if resolve(name) == nil, let alias, resolve(alias) != nil { return load(alias, shape, display: alias) }
        if resolve(name) == nil, let tiedTo, tie { return tiedTo }
        return load(name, shape, display: name)
    }

    /// The tensor as f32, or an empty array after recording a problem (the
    /// binding then fails in `finish`, before anything runs).
    private mutating func load(_ name: String, _ shape: [Int], display: String) -> [Float] {
        guard let found = resolve(name) else {
            problems.append("missing tensor \(display) \(shapeText(shape))")
            return []
        }
        used.insert(found)
        guard let info = checkpoint.info(found) else { return [] }
        guard info.shape == shape else {
            problems.append("tensor \(found) has shape \(info.shapeText), expected \(shapeText(shape))")
            return []
        }
        guard info.dtype.isCastableFloat else {
            problems.append("tensor \(found) is \(info.dtype.rawValue), expected a float type")
            return []
        }
        do {
            // The f32 copy is what the encoder keeps: the file's pages can go.
            let data = try checkpoint.data(found)
            defer { data.releasePages() }
            return try data.floats()
        } catch {
            problems.append("tensor \(found): \(error)")
            return []
        }
    }

    /// A dense layer `name.weight` (outputs × inputs) and `name.bias` when the
    /// checkpoint has both (any number of outputs when `outputs` is nil);
    /// nil when it has neither. Half a layer or a wrong shape is a problem.
    mutating func takeOptionalDense(_ name: String, outputs: Int?, inputs: Int) -> DenseWeights? {
        let w = name + ".weight", b = name + ".bias"
        let hasW = resolve(w) != nil, hasB = resolve(b) != nil
        guard hasW || hasB else { return nil }
        guard hasW && hasB else {
            problems.append("missing tensor \(hasW ? b : w) (the checkpoint has \(hasW ? w : b))")
            return nil
        }
        let n = outputs ?? checkpoint.info(resolve(w)!)?.shape.first ?? 0
        guard n >= 1, n <= 1 << 20 else {
            problems.append("tensor \(w) has \(n) rows")
            return nil
        }
        let weight = load(w, [n, inputs], display: w), bias = load(b, [n], display: b)
        guard weight.count == n * inputs, bias.count == n else { return nil }
        return DenseWeights(weight: weight, bias: bias)
    }

    /// The checkpoint's tensors not taken (tied copies and ignorable buffers included), sorted.
    var unused: [String] { names.subtracting(used).sorted() }

    /// Throws when anything was missing, mis-shaped or unexpected.
    func finish(path: String) throws {
        var all = problems
        for n in names.sorted() where !used.contains(n) {
            let base = n.hasPrefix(prefix) ? String(n.dropFirst(prefix.count)) : n
            if WeightBinder.ignorable.contains(where: { base.hasPrefix($0) || n.hasPrefix($0) }) { continue }
            if ["cls.predictions.bias", "cls.predictions.decoder.weight", "vocab_projector.weight", "lm_head.bias", "lm_head.decoder.weight"].contains(n) {
                // Tied copies stored alongside their targets.
                continue
            }
            all.append("unexpected tensor \(n)")
        }
        if !all.isEmpty { throw ModelError.binding(path: path, problems: all) }
    }

    private func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
}
