// safetensors reading, writing (byte-identical to the reference writer) and
// validation of malformed files.

import Formats
import Testing
import TestSupport

@Suite struct SafeTensorsReadTests {
    @Test func readsEveryDTypeWrittenByTheReferenceWriter() throws {
        let f = try SafeTensorsFile(path: Fixtures.path("python-written.safetensors"))
        #expect(f.metadata == ["format": "pt", "source": "fixture"])
        let byName = Dictionary(uniqueKeysWithValues: f.tensors.map { ($0.name, $0) })
        #expect(byName["a_f64"]?.dtype == .f64)
        #expect(byName["d_bf16"]?.dtype == .bf16)
        #expect(byName["j_bool"]?.dtype == .bool)
        #expect(byName["k_empty"]?.shape == [0, 4])
        #expect(byName["l_scalar"]?.shape == [])
        #expect(byName["l_scalar"]?.elementCount == 1)
        #expect(try f.data("a_f64").floats() == [1.5, -2.25, Float(1e-300)])
        #expect(try f.data("b_f32").floats() == [0, 1, -1, 3.5, 0.001, 65504])
        #expect(try f.data("c_f16").floats() == [1, -0.5, 65504, 6.103515625e-05])
    }

    @Test func modelTensorsMatchTheGeneratorsHashes() throws {
        for model in ["bert-tied", "bert-untied", "distilbert-tied"] {
            let f = try SafeTensorsFile(path: Fixtures.path("\(model)/model.safetensors"))
            let expected = try Fixtures.json("\(model)/tensors.json")["tensors"]!.array!
            #expect(f.tensors.count == expected.count)
            for e in expected {
                let name = e["name"]!.string!
                let data = try f.data(name)
                #expect(data.info.dtype.rawValue == e["dtype"]!.string!)
                #expect(data.info.shape == e["shape"]!.array!.map { $0.int! })
                #expect(data.withUnsafeBytes(sha256Hex) == e["sha256"]!.string!, "\(model): \(name)")
            }
        }
    }

    @Test func shardedMatchesTheSingleFile() throws {
        let sharded = try ShardedSafeTensors(indexPath: Fixtures.path("bert-sharded/model.safetensors.index.json"))
        let single = try SafeTensorsFile(path: Fixtures.path("bert-tied/model.safetensors"))
        #expect(sharded.shards.count == 4)
        #expect(Set(sharded.tensors.map(\.name)) == Set(single.tensors.map(\.name)))
        for t in single.tensors {
            #expect(try sharded.data(t.name).sameContents(as: single.data(t.name)), "\(t.name)")
        }
    }
}

@Suite struct SafeTensorsWriteTests {
    /// Re-writes every tensor of a reference file and compares the bytes.
    func rewrite(_ fixture: String, metadata: [String: String]?) throws {
        let src = try SafeTensorsFile(path: Fixtures.path(fixture))
        let dir = ScratchDirectory()
        try SafeTensorsWriter.write(src.tensors, metadata: metadata, to: dir.file("out.safetensors")) { try src.data($0.name) }
        let original = try readFile(Fixtures.path(fixture))
        let written = try readFile(dir.file("out.safetensors"))
        #expect(written == original, "\(fixture): \(written.count) bytes written, \(original.count) in the original")
        #expect(dir.names() == ["out.safetensors"])
    }

    @Test func sameBytesAsReferenceWithoutMetadata() throws {
        try rewrite("python-written-nometa.safetensors", metadata: nil)
    }

    @Test func sameBytesAsReferenceWithMetadata() throws {
        try rewrite("python-written.safetensors", metadata: ["format": "pt", "source": "fixture"])
    }

    @Test func sameBytesAsTransformersSavePretrained() throws {
        try rewrite("bert-tied/model.safetensors", metadata: ["format": "pt"])
        try rewrite("distilbert-tied/model.safetensors", metadata: ["format": "pt"])
    }

    @Test func headerIsPaddedToEightBytes() throws {
        for names in [["a"], ["ab"], ["abc", "d"], ["x.y.z.w"]] {
            let infos = names.map { TensorInfo(name: $0, dtype: .f32, shape: [1])! }
            let layout = try SafeTensorsLayout(tensors: infos)
            #expect(layout.header.count % 8 == 0)
            #expect(layout.prefix.count == 8 + layout.header.count)
        }
        // The reference implementation's empty file: "{}" and six spaces.
        #expect(try SafeTensorsLayout(tensors: []).prefix == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    @Test func failedWriteLeavesNothing() throws {
        struct Boom: Error {}
        let dir = ScratchDirectory()
        let infos = [TensorInfo(name: "a", dtype: .f32, shape: [2])!, TensorInfo(name: "b", dtype: .f32, shape: [2])!]
        #expect(throws: Boom.self) {
            try SafeTensorsWriter.write(infos, to: dir.file("x.safetensors")) { info in
                if info.name == "b" { throw Boom() }
                return TensorData(info: info, copying: [UInt8](repeating: 0, count: 8))
            }
        }
        #expect(dir.names().isEmpty)
    }

    @Test func refusesToOverwriteUnlessAsked() throws {
        let dir = ScratchDirectory()
        dir.write("x.safetensors", [1, 2, 3])
        let t = TensorData(info: TensorInfo(name: "a", dtype: .u8, shape: [1])!, copying: [7])
        #expect(throws: FileError.self) { try SafeTensorsWriter.write([t], to: dir.file("x.safetensors")) }
        #expect(try readFile(dir.file("x.safetensors")) == [1, 2, 3])
        try SafeTensorsWriter.write([t], to: dir.file("x.safetensors"), overwrite: true)
        #expect(try SafeTensorsFile(path: dir.file("x.safetensors")).data("a").byteArray == [7])
    }
}

/// One small file per failure, built from hand-made bytes; each must be its own error.
@Suite struct SafeTensorsMalformedTests {
    let dir = ScratchDirectory()

    func open(_ bytes: [UInt8]) throws -> SafeTensorsFile {
        dir.write("bad.safetensors", bytes)
        return try SafeTensorsFile(path: dir.file("bad.safetensors"))
    }

    var p: String { dir.file("bad.safetensors") }
    let f32x2 = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func truncated() {
        #expect(throws: SafeTensorsError.truncated(path: p, size: 5)) { try open([1, 2, 3, 4, 5]) }
    }

    @Test func headerLengthPastEnd() {
        #expect(throws: SafeTensorsError.headerPastEnd(path: p, length: 1000, fileSize: 10)) {
            try open(safetensorsBytes(header: "{}", lengthOverride: 1000))
        }
    }

    @Test func headerTooLarge() {
        #expect(throws: SafeTensorsError.headerTooLarge(path: p, length: 100_000_001)) {
            try open(safetensorsBytes(header: "{}", lengthOverride: 100_000_001))
        }
    }

    @Test func headerNotUTF8() {
        var bytes = safetensorsBytes(header: #"{"a":1}"#)
        bytes[10] = 0xFF
        #expect(throws: SafeTensorsError.headerNotUTF8(path: p)) { try open(bytes) }
    }

    @Test func headerNotJSON() {
        #expect(throws: SafeTensorsError.self) { try open(safetensorsBytes(header: #"{"a": "#)) }
        do { _ = try open(safetensorsBytes(header: #"{"a":,}"#)); Issue.record("no error") } catch let e as SafeTensorsError {
            guard case .headerJSON = e else { Issue.record("wrong error \(e)"); return }
        } catch { Issue.record("wrong error \(error)") }
    }

    @Test func headerNotAnObject() {
        #expect(throws: SafeTensorsError.headerNotObject(path: p)) { try open(safetensorsBytes(header: "[1,2]   ")) }
    }

    @Test func duplicateKey() {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        #expect(throws: SafeTensorsError.headerJSON(path: p, reason: "duplicate key \"a\"")) {
            try open(safetensorsBytes(header: header, data: [0]))
        }
    }

    @Test func gap() {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#
        #expect(throws: SafeTensorsError.gap(path: p, tensor: "b", expectedOffset: 1, offset: 2)) {
            try open(safetensorsBytes(header: header, data: [0, 0, 0]))
        }
    }

    @Test func overlap() {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#
        #expect(throws: SafeTensorsError.overlap(path: p, tensor: "b", previous: "a", offset: 1)) {
            try open(safetensorsBytes(header: header, data: [0, 0, 0]))
        }
    }

    @Test func trailingBytes() {
        #expect(throws: SafeTensorsError.trailingBytes(path: p, dataEnd: 8, dataSize: 9)) {
            try open(safetensorsBytes(header: f32x2, data: [UInt8](repeating: 0, count: 9)))
        }
    }

    @Test func dataPastEnd() {
        #expect(throws: SafeTensorsError.dataPastEnd(path: p, tensor: "a", end: 8, dataSize: 4)) {
            try open(safetensorsBytes(header: f32x2, data: [UInt8](repeating: 0, count: 4)))
        }
    }

    @Test func sizeShapeMismatch() {
        let header = #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        #expect(throws: SafeTensorsError.sizeMismatch(path: p, tensor: "a", expected: 12, actual: 8)) {
            try open(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func overflowingShape() {
        let header = #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#
        #expect(throws: SafeTensorsError.shapeOverflow(path: p, tensor: "a", shape: "[4294967296, 4294967296]")) {
            try open(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func badDType() {
        let header = #"{"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}"#
        #expect(throws: SafeTensorsError.unknownDType(path: p, tensor: "a", dtype: "F33")) {
            try open(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func reversedOffsets() {
        let header = #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#
        #expect(throws: SafeTensorsError.reversedOffsets(path: p, tensor: "a", begin: 4, end: 0)) {
            try open(safetensorsBytes(header: header, data: [0, 0, 0, 0]))
        }
    }

    @Test func negativeOrFractionalShape() {
        for shape in ["[-1]", "[1.5]", "[\"2\"]"] {
            let header = #"{"a":{"dtype":"U8","shape":"# + shape + #","data_offsets":[0,1]}}"#
            do { _ = try open(safetensorsBytes(header: header, data: [0])); Issue.record("\(shape) accepted") } catch let e as SafeTensorsError {
                guard case let .entry(_, tensor, reason) = e, tensor == "a", reason.contains("shape") else {
                    Issue.record("wrong error \(e)"); return
                }
            } catch { Issue.record("wrong error \(error)") }
        }
    }

    @Test func missingField() {
        let header = #"{"a":{"shape":[1],"data_offsets":[0,1]}}"#
        #expect(throws: SafeTensorsError.entry(path: p, tensor: "a", reason: "missing \"dtype\"")) {
            try open(safetensorsBytes(header: header, data: [0]))
        }
    }

    @Test func nonStringMetadata() {
        let header = #"{"__metadata__":{"format":"pt","step":3}}"#
        #expect(throws: SafeTensorsError.metadata(path: p, reason: "value of \"step\" is a number, not a string")) {
            try open(safetensorsBytes(header: header))
        }
    }

    @Test func lfsPointer() {
        let text = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 440473133\n"
        #expect(throws: SafeTensorsError.lfsPointer(path: p)) { try open(Array(text.utf8)) }
    }

    @Test func acceptsWhatTheReferenceAccepts() throws {
        // Leading/trailing whitespace, zero-size and scalar tensors, an empty file.
        let header = "\t\n" + #"{"e":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]},"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}"# + "  "
        let f = try open(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
        #expect(f.tensors.map(\.name) == ["e", "s"])
        #expect(try open(safetensorsBytes(header: "{}")).tensors.isEmpty)
    }
}

@Suite struct ShardIndexMalformedTests {
    let dir = ScratchDirectory()
    var index: String { dir.file("model.safetensors.index.json") }

    func shard(_ name: String, _ tensor: String) {
        dir.write(name, safetensorsBytes(header: #"{""# + tensor + #"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [9]))
    }

    @Test func corruptIndex() {
        dir.write("model.safetensors.index.json", Array(#"{"weight_map": {"a": "x.safetensors",}"#.utf8))
        do { _ = try ShardedSafeTensors(indexPath: index); Issue.record("accepted") } catch let e as SafeTensorsError {
            guard case .index(index, _) = e else { Issue.record("wrong error \(e)"); return }
        } catch { Issue.record("wrong error \(error)") }
    }

    @Test func indexWithoutWeightMap() {
        dir.write("model.safetensors.index.json", Array(#"{"metadata": {}}"#.utf8))
        #expect(throws: SafeTensorsError.index(path: index, reason: "missing \"weight_map\"")) {
            try ShardedSafeTensors(indexPath: index)
        }
    }

    @Test func shardPathEscape() {
        dir.write("model.safetensors.index.json", Array(#"{"weight_map": {"a": "../etc/passwd"}}"#.utf8))
        #expect(throws: SafeTensorsError.index(path: index, reason: "shard name \"../etc/passwd\" of 'a' is not a plain file name")) {
            try ShardedSafeTensors(indexPath: index)
        }
    }

    @Test func missingShard() {
        shard("s1.safetensors", "a")
        dir.write("model.safetensors.index.json", Array(#"{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}"#.utf8))
        #expect(throws: SafeTensorsError.missingShard(path: index, shard: "s2.safetensors", reason: "no such file in \(dir.path)")) {
            try ShardedSafeTensors(indexPath: index)
        }
    }

    @Test func indexAndShardsDisagree() {
        shard("s1.safetensors", "a")
        shard("s2.safetensors", "b")
        dir.write("model.safetensors.index.json", Array(#"{"weight_map": {"a": "s2.safetensors", "b": "s2.safetensors"}}"#.utf8))
        #expect(throws: SafeTensorsError.self) { try ShardedSafeTensors(indexPath: index) }
        dir.write("model.safetensors.index.json", Array(#"{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"}}"#.utf8))
        #expect(throws: SafeTensorsError.shardMismatch(path: index, reason: "the index puts tensor 'c' in s2.safetensors, but that shard does not hold it")) {
            try ShardedSafeTensors(indexPath: index)
        }
    }
}

@Suite struct ShardPlanTests {
    @Test func reproducesTheTransformersSplit() throws {
        // The fixture was saved by transformers with max_shard_size="30KB" (30000 bytes).
        let index = try Fixtures.json("bert-sharded/model.safetensors.index.json")
        let fixture = try Fixtures.json("bert-sharded/tensors.json")
        let stored = Dictionary(uniqueKeysWithValues: fixture["tensors"]!.array!.map {
            ($0["name"]!.string!, TensorInfo(name: $0["name"]!.string!, dtype: DType(rawValue: $0["dtype"]!.string!)!,
                                              shape: $0["shape"]!.array!.map { $0.int! })!)
        })
        let order = fixture["state_dict_keys"]!.array!.compactMap { stored[$0.string!] }
        let plan = ShardPlan(tensors: order, maxShardSize: 30_000)
        var map: [String: String] = [:]
        for (i, shard) in plan.shards.enumerated() { for t in shard { map[t.name] = plan.fileName(i) } }
        let expected = index["weight_map"]!.object!
        #expect(map.count == expected.count)
        for (k, v) in expected { #expect(map[k] == v.string, "\(k)") }
        #expect(plan.totalSize == index["metadata"]!["total_size"]!.int)
    }

    @Test func oversizedTensorGetsItsOwnShardFirst() {
        let t = { (n: String, size: Int) in TensorInfo(name: n, dtype: .u8, shape: [size])! }
        let plan = ShardPlan(tensors: [t("a", 4), t("big", 20), t("b", 4), t("c", 4)], maxShardSize: 10)
        #expect(plan.shards.map { $0.map(\.name) } == [["big"], ["a", "b"], ["c"]])
        #expect(plan.fileName(0) == "model-00001-of-00003.safetensors")
    }

    @Test func sizes() {
        #expect(parseByteSize("2GB") == 2_000_000_000)
        #expect(parseByteSize("20KB") == 20_000)
        #expect(parseByteSize("5GiB") == 5 * 1_073_741_824)
        #expect(parseByteSize("1.5 MB") == 1_500_000)
        #expect(parseByteSize("123") == 123)
        #expect(parseByteSize("12XB") == nil)
        #expect(parseByteSize("-1GB") == nil)
    }
}
