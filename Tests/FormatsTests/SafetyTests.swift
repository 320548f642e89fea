// Inputs and races that must end in a clear error with nothing half-written.

import Formats
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct SafetyTests {
    @Test func headerLengthThatLooksLikeAPickleIsStillSafetensors() throws {
        // 640 = 0x280: the file starts 0x80 0x02, a pickle's first bytes.
        let dir = ScratchDirectory()
        var header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#
        header += String(repeating: " ", count: 640 - header.utf8.count)
        dir.write("w", safetensorsBytes(header: header, data: [7]))
        let c = try Checkpoint(path: dir.file("w"))
        #expect(c.format == .safetensors)
        #expect(try c.data("a").byteArray == [7])
    }

    @Test func fifoIsRefusedNotWaitedOn() throws {
        let dir = ScratchDirectory()
        #expect(mkfifo(dir.file("pipe"), 0o644) == 0)
        #expect(throws: FileError.self) { try Checkpoint(path: dir.file("pipe")) }
        dir.write("model.safetensors.index.json", Array(#"{"weight_map": {"a": "pipe"}}"#.utf8))
        #expect(throws: FileError.self) { try Checkpoint(path: dir.path) }
    }

    @Test func reservedAndRepeatedNamesAreNotWritten() {
        let dir = ScratchDirectory()
        let t = { (n: String) in TensorData(info: TensorInfo(name: n, dtype: .u8, shape: [1])!, copying: [1]) }
        #expect(throws: SafeTensorsError.invalidName(path: dir.file("a.safetensors"), tensor: "__metadata__",
                                                     reason: "the name is reserved for metadata")) {
            try SafeTensorsWriter.write([t("__metadata__")], to: dir.file("a.safetensors"))
        }
        #expect(throws: SafeTensorsError.invalidName(path: dir.file("b.safetensors"), tensor: "x",
                                                     reason: "two tensors have this name")) {
            try SafeTensorsWriter.write([t("x"), t("x")], to: dir.file("b.safetensors"))
        }
        #expect(dir.names().isEmpty)
    }

    @Test func suppliedBytesMustMatchThePlan() {
        let dir = ScratchDirectory()
        let planned = TensorInfo(name: "w", dtype: .f32, shape: [2, 2])!
        let wrong = TensorData(info: TensorInfo(name: "w", dtype: .f32, shape: [8])!, copying: [UInt8](repeating: 0, count: 32))
        #expect(throws: CastError.shapeMismatch(tensor: "w", planned: [2, 2], supplied: [8])) {
            try SafeTensorsWriter.write([planned], to: dir.file("w.safetensors")) { _ in wrong }
        }
        #expect(throws: CastError.self) {
            try HDF5StoreWriter.write([planned], to: dir.file("w.h5"), createdBy: "t") { _ in wrong }
        }
        #expect(dir.names().isEmpty)
    }

    @Test func keysWithNULAreRefusedInStrictMode() {
        #expect(throws: JSONError.self) { try JSONParser.parse(#"{"a\u0000x": 1, "a\u0000y": 2}"#, mode: .strict) }
    }

    @Test func aFileThatAppearsMeanwhileIsNotReplaced() throws {
        let dir = ScratchDirectory()
        let out = try AtomicFile(path: dir.file("x"))
        try out.write([1, 2, 3], at: 0)
        dir.write("x", [9])  // someone else creates it while we write
        #expect(throws: FileError.self) { try out.commit() }
        #expect(try readFile(dir.file("x")) == [9])
        #expect(dir.names() == ["x"])

        let tree = try AtomicDirectory(path: dir.file("d"))
        try tree.writeFile("a", [1])
        #expect(mkdir(dir.file("d"), 0o755) == 0)
        dir.write("d/keep", [5])
        #expect(throws: FileError.self) { try tree.commit() }
        #expect(try readFile(dir.file("d/keep")) == [5])
    }

    @Test func replacingADirectorySwapsItWhole() throws {
        let dir = ScratchDirectory()
        #expect(mkdir(dir.file("d"), 0o755) == 0)
        dir.write("d/old", [1])
        let tree = try AtomicDirectory(path: dir.file("d"), overwrite: true)
        try tree.writeFile("new", [2])
        try tree.commit()
        #expect(try FileSystem.list(dir.file("d")) == ["new"])
        #expect(dir.names() == ["d"])
    }
}
