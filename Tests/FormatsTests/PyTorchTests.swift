// PyTorch checkpoints: byte-equal to torch.load(weights_only=True), and a
// malicious corpus refused without running anything
// (fixtures: tools/fixtures/make_torch_fixtures.py).

import Testing
import TestSupport
@testable import Formats

#if canImport(Glibc)
import Glibc
#endif

@Suite struct PyTorchTests {
    /// Every tensor torch.load returns, by hash; shared views written once.
    func check(_ file: String, expected: String) throws {
        let c = try Checkpoint(path: Fixtures.path("torch/\(file)"))
        let spec = try Fixtures.json("torch/\(expected)")
        let tensors = spec["tensors"]!.array!
        // In each shared pair the name that comes later in the state dict is the alias.
        let order = Dictionary(uniqueKeysWithValues: tensors.enumerated().map { ($0.element["name"]!.string!, $0.offset) })
        let aliases = Set((spec["shared"]?.array ?? []).compactMap { pair -> String? in
            let p = pair.array!.compactMap(\.string)
            return p.max { order[$0]! < order[$1]! }
        })
        #expect(Set(c.tensors.map(\.name)) == Set(tensors.map { $0["name"]!.string! }).subtracting(aliases), "\(file)")
        for t in tensors {
            let name = t["name"]!.string!
            let data = try c.data(name)
            #expect(data.info.dtype.rawValue == t["dtype"]!.string!, "\(file) \(name)")
            #expect(data.info.shape == t["shape"]!.array!.map { $0.int! }, "\(file) \(name)")
            #expect(data.withUnsafeBytes(sha256Hex) == t["sha256"]!.string!, "\(file) \(name)")
        }
        for pair in spec["shared"]?.array ?? [] {
            let p = pair.array!.compactMap(\.string)
            #expect(c.ties.contains { Set([$0.alias, $0.target]) == Set(p) }, "\(file): \(p) should be reported as tied")
        }
    }

    @Test func zipFormat() throws { try check("bert-zip.bin", expected: "bert-zip.json") }
    @Test func legacyFormat() throws { try check("bert-legacy.bin", expected: "bert-legacy.json") }
    @Test func mixedDTypesViewsAndSharing() throws {
        try check("mixed-zip.bin", expected: "mixed-zip.json")
        try check("mixed-legacy.bin", expected: "mixed-legacy.json")
    }
    @Test func shardedBin() throws { try check("sharded", expected: "sharded.json") }
    @Test func bigEndianArchive() throws {
        guard FileSystem.exists(Fixtures.path("torch/big-endian.bin")) else { return }
        try check("big-endian.bin", expected: "mixed-zip.json")
    }

    @Test func convertsToTheSafetensorsTransformersWrites() throws {
        // The tied BERT state dict converts to exactly what save_pretrained wrote.
        let c = try Checkpoint(path: Fixtures.path("torch/bert-zip.bin"))
        let s = ScratchDirectory()
        _ = try ConvertCheck.toSafetensors(c, s.file("m.safetensors"))
        let back = try SafeTensorsFile(path: s.file("m.safetensors"))
        let original = try SafeTensorsFile(path: Fixtures.path("model-goldens/bert-gelu/model.safetensors"))
        #expect(back.tensors.map(\.name) == original.tensors.map(\.name))
        for t in original.tensors { #expect(try back.data(t.name).sameContents(as: original.data(t.name)), "\(t.name)") }
    }
}

/// Writes a checkpoint's tensors as safetensors (what `ckpt convert` does).
enum ConvertCheck {
    static func toSafetensors(_ c: Checkpoint, _ path: String) throws -> Int {
        try SafeTensorsWriter.write(c.tensors, metadata: ["format": "pt"], to: path) { try c.data($0.name) }
        return c.tensors.count
    }
}

@Suite struct MaliciousPickleTests {
    /// Each file is refused with its own error and its payload's marker file
    /// never appears.
    @Test func everyPayloadIsRefusedAndNothingRuns() throws {
        let dir = Fixtures.path("torch/malicious")
        let expected = try Fixtures.json("torch/malicious/EXPECTED.json").object!
        #expect(expected.count >= 20)
        var messages: [String: String] = [:]
        for (file, info) in expected {
            let marker = info["marker"]?.string
            if let marker { unlink(marker) }
            let path = FileSystem.join(dir, file)
            var refused: String? = nil
            if file.hasSuffix(".pkl") {
                let bytes = try readFile(path)
                do {
                    let arena = PickleArena()
                    defer { arena.release() }
                    let value = try bytes.withUnsafeBytes { raw -> PickleValue in
                        // Storages resolve to a stand-in, so a payload after them is reached.
                        var u = Unpickler(raw) { _, _ in .storage(StorageRef(key: "0", dtype: .f32, count: 0)) }
                        defer { u.arena.release() }
                        return try u.load()
                    }
                    // What loads must still be a state dict to be used.
                    if Unpickler.dictOf(value) == nil { refused = "the pickled object is a \(Unpickler.kind(value)), not a state dict" }
                } catch let e as PickleError {
                    refused = e.reason
                }
            } else {
                do { _ = try Checkpoint(path: path) } catch { refused = "\(error)" }
            }
            #expect(refused != nil, "\(file) was accepted")
            messages[file] = refused ?? ""
            if let marker { #expect(!FileSystem.exists(marker), "\(file): \(marker) exists") }
        }
        // The dangerous globals are named in the refusal.
        for (file, m) in messages where file.contains("system") || file.contains("eval") || file.contains("exec") {
            #expect(m.contains("is not allowed") || m.contains("is refused") || m.contains("bad magic number"), "\(file): \(m)")
        }
    }
}
