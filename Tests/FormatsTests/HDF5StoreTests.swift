// The ckpt-hdf5 store: reading a store written independently by h5py, and
// round trips of every dtype and awkward name through ckpt's own writer.

import Formats
import Testing
import TestSupport

@Suite struct HDF5StoreTests {
    @Test func readsTheStoreH5pyWrote() throws {
        let store = try HDF5Store(path: Fixtures.path("h5py-written.h5"))
        let expected = try Fixtures.json("h5py-written.json")
        let tensors = expected["tensors"]!.array!
        #expect(store.tensors.count == tensors.count)
        var sawChunked = false, sawBigEndian = false
        for e in tensors {
            let name = e["name"]!.string!
            let data = try store.data(name)
            #expect(data.info.dtype.rawValue == e["dtype"]!.string!, "\(name)")
            #expect(data.info.shape == e["shape"]!.array!.map { $0.int! }, "\(name)")
            #expect(data.withUnsafeBytes(sha256Hex) == e["sha256"]!.string!, "\(name)")
            if e["chunked"]?.bool == true { sawChunked = true }
            if e["h5_dtype"]?.string?.hasPrefix(">") == true { sawBigEndian = true }
        }
        #expect(sawChunked && sawBigEndian, "the fixture should exercise the library read path")
        for f in expected["files"]!.array! {
            let name = f["name"]!.string!
            let got = store.files.first { $0.name == name }
            #expect(got.map { sha256Hex($0.bytes) } == f["sha256"]!.string!, "\(name)")
        }
    }

    @Test func roundTripsEveryDTypeAndAwkwardNames() throws {
        let names = [
            "a.b.weight", "a.b", "a.b.c.d",  // "a.b" is both a tensor and a group of others
            "x..y", ".lead", "trail.", "per%cent.s/lash", "ünï.cödé", "plain",
        ]
        var tensors: [TensorData] = []
        var seed: UInt32 = 7
        for (i, dtype) in DType.allCases.enumerated() {
            let shape = i % 3 == 0 ? [] : (i % 3 == 1 ? [3] : [2, 3])
            let info = TensorInfo(name: "t\(i).\(dtype.rawValue)", dtype: dtype, shape: shape)!
            tensors.append(TensorData(info: info) { buf in
                for k in 0..<buf.count {
                    seed = seed &* 1_103_515_245 &+ 12345
                    buf[k] = dtype == .bool ? UInt8(seed >> 30 & 1) : UInt8(truncatingIfNeeded: seed >> 16)
                }
            })
        }
        for (i, n) in names.enumerated() {
            tensors.append(TensorData(info: TensorInfo(name: n, dtype: .f32, shape: [1])!, copying: [UInt8(i), 0, 128, 63]))
        }
        tensors.append(TensorData(info: TensorInfo(name: "empty", dtype: .f16, shape: [0, 5])!, copying: []))
        let files = [(name: "config.json", bytes: Array("{\"a\": 1}\n".utf8)), (name: "empty.txt", bytes: [UInt8]())]

        let dir = ScratchDirectory()
        let path = dir.file("store.h5")
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.info.name, $0) })
        try HDF5StoreWriter.write(tensors.map(\.info), files: files, to: path, createdBy: "test") { byName[$0.name]! }
        #expect(dir.names() == ["store.h5"])

        let store = try HDF5Store(path: path)
        #expect(store.createdBy == "test")
        #expect(Set(store.tensors.map(\.name)) == Set(byName.keys))
        for t in tensors {
            let back = try store.data(t.info.name)
            #expect(back.info == t.info, "\(t.info.name)")
            #expect(back.sameContents(as: t), "\(t.info.name)")
        }
        #expect(store.files.map(\.name) == ["config.json", "empty.txt"])
        #expect(store.files.first?.bytes == files[0].bytes)
    }

    @Test func writesCastsOnTheWay() throws {
        let info = TensorInfo(name: "w", dtype: .f32, shape: [4])!
        let values: [Float] = [1, -2.5, 65504, 1e-8]
        let src = TensorData(info: info) { b in values.withUnsafeBytes { b.copyMemory(from: $0) } }
        let dir = ScratchDirectory()
        try HDF5StoreWriter.write([info.with(dtype: .bf16)], to: dir.file("s.h5"), createdBy: "t") { _ in src }
        let back = try HDF5Store(path: dir.file("s.h5")).data("w")
        #expect(back.info.dtype == .bf16)
        #expect(back.byteArray == (try src.converted(to: .bf16)).byteArray)
    }

    @Test func rejectsOtherFiles() throws {
        let dir = ScratchDirectory()
        dir.write("x.h5", Array("not hdf5 at all".utf8))
        #expect(throws: HDF5StoreError.notHDF5(path: dir.file("x.h5"))) { try HDF5Store(path: dir.file("x.h5")) }
        // An HDF5 file that is not a ckpt store (no format attribute).
        let tensor = TensorData(info: TensorInfo(name: "a", dtype: .u8, shape: [1])!, copying: [1])
        try HDF5StoreWriter.write([tensor.info], to: dir.file("ok.h5"), createdBy: "t") { _ in tensor }
        #expect(throws: HDF5StoreError.self) { try HDF5Store(path: Fixtures.path("bert-tied/model.safetensors")) }
    }
}
