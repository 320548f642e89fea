// The restricted unpickler on hand-made opcode streams: allowed state-dict
// constructs load, everything that could run code is refused by name.

import Testing
@testable import Formats

final class ArenaBox: @unchecked Sendable {
    var items: [PickleArena] = []
    deinit { for a in items { a.release() } }
}

@Suite struct PickleTests {
    /// Keeps the containers of the last load alive for inspection.
    let arenas = ArenaBox()

    func load(_ bytes: [UInt8]) throws -> PickleValue {
        try bytes.withUnsafeBytes { raw in
            var u = Unpickler(raw) { pid, _ in
                // A stand-in storage: ('storage', type, key, location, size).
                guard case let .tuple(t, _) = pid, let key = t[2].string, let n = t[4].int else { return .none }
                return .storage(StorageRef(key: key, dtype: .f32, count: n))
            }
            arenas.items.append(u.arena)
            return try u.load()
        }
    }

    func refused(_ bytes: [UInt8], _ text: String) {
        do {
            _ = try load(bytes)
            Issue.record("accepted: \(text)")
        } catch let e as PickleError {
            #expect(e.reason.contains(text), "\(e.reason)")
        } catch { Issue.record("\(error)") }
    }

    func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    func unicode(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
    let proto: [UInt8] = [0x80, 0x02]

    @Test func stateDictLoads() throws {
        // OrderedDict() ; MARK 'w' _rebuild_tensor_v2((storage pid), 0, (2,), (1,), False, OrderedDict()) SETITEMS STOP
        var b = proto + global("collections", "OrderedDict") + [0x29, 0x52]  // OrderedDict()
        b += [0x28] + unicode("w")
        b += global("torch._utils", "_rebuild_tensor_v2") + [0x28]
        b += [0x28] + unicode("storage") + global("torch", "FloatStorage") + unicode("0") + unicode("cpu") + [0x4B, 2, 0x74, 0x51]
        b += [0x4B, 0] + [0x4B, 2, 0x85] + [0x4B, 1, 0x85] + [0x89] + global("collections", "OrderedDict") + [0x29, 0x52]
        b += [0x74, 0x52]  // TUPLE, REDUCE
        b += [0x75, 0x2E]  // SETITEMS, STOP
        let v = try load(b)
        guard case let .orderedDict(d) = v, case let .tensor(t)? = d.items.first?.1 else {
            Issue.record("not a state dict"); return
        }
        #expect(d.items.first?.0.string == "w")
        #expect(t.shape == [2] && t.stride == [1] && t.storage.key == "0" && t.storage.count == 2)
    }

    @Test func codeRunningGlobalsAreRefused() {
        for (m, n) in [("os", "system"), ("posix", "system"), ("subprocess", "call"), ("builtins", "eval"),
                       ("builtins", "exec"), ("builtins", "getattr"), ("nt", "system")] {
            refused(proto + global(m, n) + unicode("touch /tmp/x") + [0x85, 0x52, 0x2E], "global \(m).\(n) is not allowed")
        }
        // STACK_GLOBAL too.
        refused([0x80, 0x04] + unicode("os") + unicode("system") + [0x93] + unicode("id") + [0x85, 0x52, 0x2E],
                "global os.system is not allowed")
    }

    @Test func instantiatingOpcodesAreRefused() {
        refused(Array("(S'touch /tmp/x'\nios\nsystem\n.".utf8), "INST is refused")
        refused(proto + [0x28] + global("collections", "OrderedDict") + [0x6F, 0x2E], "OBJ is refused")
        refused(proto + global("collections", "OrderedDict") + [0x29, 0x81, 0x2E], "NEWOBJ is refused")
        refused([0x80, 0x04] + global("collections", "OrderedDict") + [0x29, 0x7D, 0x92, 0x2E], "NEWOBJ_EX is refused")
        refused(proto + [0x82, 1, 0x2E], "EXT1")
        refused(Array("Pfoo\n.".utf8), "PERSID")
        refused([0x80, 0x05, 0x97, 0x2E], "NEXT_BUFFER")
    }

    @Test func buildOnlyOnOrderedDicts() {
        refused(proto + [0x5D] + [0x7D] + [0x62, 0x2E], "BUILD (__setstate__) on a list is refused")
    }

    @Test func memoAndLengthTricks() {
        refused(proto + [0x68, 7, 0x2E], "memo slot 7 was never set")
        refused(proto + [0x6A, 0, 0, 0, 0x80, 0x2E], "memo slot 2147483648 was never set")
        refused(proto + [0x8D] + [0, 0, 0, 0, 0, 0, 0, 0x10] + [0x2E], "runs past the end")
        refused(proto + [0x58, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E], "runs past the end")
        refused(proto + [0x8C, 5, 0x61], "runs past the end")
        refused(proto + [0xFF, 0x2E], "unknown opcode 0xff")
        refused(proto + [0x4B], "runs past the end")
        refused(proto + [0x5D], "truncated")
        refused(proto + [UInt8](repeating: 0x28, count: 20_000) + [0x2E], "nested MARKs")
    }

    @Test func duplicationStaysSmall() throws {
        // A list that appends itself doubling 60 times: references, not copies.
        var b = proto + [0x5D]
        for _ in 0..<60 { b += [0x32, 0x32, 0x61] }  // DUP DUP APPEND: list.append(list)
        b += [0x2E]
        guard case let .list(l) = try load(b) else { Issue.record("not a list"); return }
        #expect(l.items.count == 60)
    }

    @Test func sharedTupleChainsStayCheap() {
        // NONE, then 40 × (DUP, TUPLE2): a tuple DAG that doubles at each level.
        var b = proto + [0x4E]
        for _ in 0..<40 { b += [0x32, 0x86] }
        b += [0x2E]
        refused(b, "tuples nested deeper than 32")
    }

    @Test func tooManyDimensionsAreRefused() {
        var b = proto + global("torch._utils", "_rebuild_tensor_v2") + [0x28]
        b += [0x28] + unicode("storage") + global("torch", "FloatStorage") + unicode("0") + unicode("cpu") + [0x4B, 1, 0x74, 0x51]
        b += [0x4B, 0] + [0x28] + [UInt8](repeating: 0, count: 0) + Array(repeating: [0x4B, 1], count: 65).flatMap { $0 } + [0x74]
        b += [0x28] + Array(repeating: [0x4B, 1], count: 65).flatMap { $0 } + [0x74] + [0x89, 0x4E, 0x74, 0x52, 0x2E]
        refused(b, "more than 64 dimensions")
    }
}
