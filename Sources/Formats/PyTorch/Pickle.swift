// A pickle reader that never imports or calls anything: opcodes are
// interpreted into plain values, and the only callables are the few that
// `torch.load(weights_only=True)` allows for state dicts, implemented here as
// data constructors. Every other global, and every opcode that could run code,
// is refused by name.

/// A reference-typed list (pickle lists and dicts are mutated after creation
/// and shared through the memo).
final class PickleList { var items: [PickleValue] = [] }
final class PickleDict { var items: [(PickleValue, PickleValue)] = [] }

/// Every container an unpickler made, kept alive until `release()` empties
/// them all in one flat pass. A hostile pickle can nest containers 10^5 deep;
/// releasing such a chain link by link would recurse once per level and
/// overflow the stack.
final class PickleArena {
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []

    func list() -> PickleList { let l = PickleList(); lists.append(l); return l }
    func dict() -> PickleDict { let d = PickleDict(); dicts.append(d); return d }

    /// Empties every container (none is freed while doing so: the arena still
    /// holds them), so they are then freed one by one without recursion.
    func release() {
        for l in lists { l.items.removeAll() }
        for d in dicts { d.items.removeAll() }
        lists.removeAll()
        dicts.removeAll()
    }

    deinit { release() }
}

/// A tensor as `_rebuild_tensor_v2` describes it: a view of a storage.
struct TensorRef {
    let storage: StorageRef
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// A storage named by a persistent id: its key in the archive, element type
/// and element count.
struct StorageRef: Hashable {
    let key: String
    let dtype: DType
    let count: Int
}

/// Values a restricted pickle can produce. Not `indirect`, as `JSONValue`.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A tuple and its nesting depth (1 for a tuple of non-tuples).
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed global, not yet called.
    case global(String, String)
    case storage(StorageRef)
    case tensor(TensorRef)
    /// What `OrderedDict()` makes.
    case orderedDict(PickleDict)

    var int: Int? { if case let .int(v) = self { return v }; return nil }
    var isNone: Bool { if case .none = self { return true }; return false }
    var string: String? { if case let .string(s) = self { return s }; return nil }
}

/// A pickle that is refused or malformed.
public struct PickleError: Error, Equatable, CustomStringConvertible {
    /// Byte offset of the opcode (in the pickle stream).
    public let offset: Int
    public let reason: String
    public var description: String { "pickle byte \(offset): \(reason)" }
}

/// The restricted unpickler.
struct Unpickler {
    /// Limits against hostile files.
    static let maxMemo = 1 << 20
    static let maxStack = 1 << 20
    static let maxMarks = 10_000
    static let maxOpcodes = 100_000_000
    static let maxContainerItems = 50_000_000

    /// Globals the state-dict reader accepts, as `weights_only=True` does.
    static let allowedGlobals: Set<String> = [
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "torch.Size", "_codecs.encode",
        "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.BFloat16Storage",
        "torch.LongStorage", "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage",
        "torch.ByteStorage", "torch.BoolStorage", "torch.UntypedStorage",
        "torch.float32", "torch.float64", "torch.float16", "torch.bfloat16", "torch.int64", "torch.int32",
        "torch.int16", "torch.int8", "torch.uint8", "torch.bool",
    ]

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool, "UntypedStorage": .u8,
    ]

    let data: UnsafeRawBufferPointer
    var pos: Int
    /// The containers this unpickler made; `release()` it once the result is used.
    let arena = PickleArena()
    /// Turns a persistent id into a value (a storage).
    let persistentLoad: (PickleValue, Int) throws -> PickleValue

    init(_ data: UnsafeRawBufferPointer, start: Int = 0, persistentLoad: @escaping (PickleValue, Int) throws -> PickleValue) {
        self.data = data
        self.pos = start
        self.persistentLoad = persistentLoad
    }

    // MARK: - Reading bytes

    private mutating func byte(_ at: Int) throws -> UInt8 {
        guard pos < data.count else { throw PickleError(offset: at, reason: "truncated pickle") }
        defer { pos += 1 }
        return data[pos]
    }

    private mutating func bytes(_ n: Int, _ at: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= data.count - pos else {
            throw PickleError(offset: at, reason: "length \(n) runs past the end of the pickle (\(data.count - pos) bytes left)")
        }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: data[pos..<(pos + n)])
    }

    private mutating func uint(_ width: Int, _ at: Int) throws -> UInt64 {
        let b = try bytes(width, at)
        var v: UInt64 = 0
        for i in (0..<width).reversed() { v = v << 8 | UInt64(b[i]) }
        return v
    }

    private mutating func line(_ at: Int) throws -> String {
        var end = pos
        while end < data.count && data[end] != 0x0A { end += 1 }
        guard end < data.count else { throw PickleError(offset: at, reason: "truncated pickle (unterminated text argument)") }
        let s = String(decoding: data[pos..<end], as: UTF8.self)
        pos = end + 1
        return s
    }

    private mutating func length(_ width: Int, _ at: Int) throws -> Int {
        let v = try uint(width, at)
        guard v <= UInt64(data.count - pos) else {
            throw PickleError(offset: at, reason: "length \(v) runs past the end of the pickle (\(data.count - pos) bytes left)")
        }
        return Int(v)
    }

    // MARK: - Running

    /// Runs until STOP and returns the value on the stack.
    mutating func load() throws -> PickleValue {
        var stack: [PickleValue] = []
        var marks: [Int] = []
        var memo: [Int: PickleValue] = [:]
        var opcodes = 0
        var containerItems = 0

        func pop(_ at: Int) throws -> PickleValue {
            guard let v = stack.popLast() else { throw PickleError(offset: at, reason: "stack underflow") }
            return v
        }
        func popMark(_ at: Int) throws -> [PickleValue] {
            guard let m = marks.popLast(), m <= stack.count else { throw PickleError(offset: at, reason: "no MARK on the stack") }
            let items = Array(stack[m...])
            stack.removeSubrange(m...)
            return items
        }
        func push(_ v: PickleValue, _ at: Int) throws {
            guard stack.count < Unpickler.maxStack else { throw PickleError(offset: at, reason: "stack deeper than \(Unpickler.maxStack)") }
            stack.append(v)
        }
        func grow(_ n: Int, _ at: Int) throws {
            containerItems += n
            guard containerItems <= Unpickler.maxContainerItems else {
                throw PickleError(offset: at, reason: "more than \(Unpickler.maxContainerItems) container items")
            }
        }
        func remember(_ key: Int, _ at: Int) throws {
            guard let top = stack.last else { throw PickleError(offset: at, reason: "memo store with an empty stack") }
            guard key >= 0, memo.count < Unpickler.maxMemo || memo[key] != nil else {
                throw PickleError(offset: at, reason: "memo larger than \(Unpickler.maxMemo) entries")
            }
            memo[key] = top
        }
        func recall(_ key: Int, _ at: Int) throws {
            guard let v = memo[key] else { throw PickleError(offset: at, reason: "memo slot \(key) was never set") }
            try push(v, at)
        }

        while true {
            let at = pos
            opcodes += 1
            guard opcodes <= Unpickler.maxOpcodes else { throw PickleError(offset: at, reason: "more than \(Unpickler.maxOpcodes) opcodes") }
            let op = try byte(at)
            switch op {
            case 0x80: // PROTO
                let p = try byte(at)
                guard p <= 5 else { throw PickleError(offset: at, reason: "unsupported pickle protocol \(p)") }
            case 0x95: // FRAME
                _ = try uint(8, at)
            case 0x2E: // STOP
                return try pop(at)
            case 0x28: // MARK
                guard marks.count < Unpickler.maxMarks else { throw PickleError(offset: at, reason: "more than \(Unpickler.maxMarks) nested MARKs") }
                marks.append(stack.count)
            case 0x30: _ = try pop(at) // POP
            case 0x31: _ = try popMark(at) // POP_MARK
            case 0x32: // DUP
                guard let top = stack.last else { throw PickleError(offset: at, reason: "DUP on an empty stack") }
                try push(top, at)
            case 0x4E: try push(.none, at) // NONE
            case 0x88: try push(.bool(true), at) // NEWTRUE
            case 0x89: try push(.bool(false), at) // NEWFALSE
            case 0x4B: try push(.int(Int(try uint(1, at))), at) // BININT1
            case 0x4D: try push(.int(Int(try uint(2, at))), at) // BININT2
            case 0x4A: try push(.int(Int(Int32(bitPattern: UInt32(try uint(4, at))))), at) // BININT
            case 0x8A, 0x8B: // LONG1, LONG4
                let n = op == 0x8A ? Int(try uint(1, at)) : try length(4, at)
                guard n <= 8 else { throw PickleError(offset: at, reason: "integer of \(n) bytes is too large") }
                let b = try bytes(n, at)
                var v: UInt64 = 0
                for i in (0..<n).reversed() { v = v << 8 | UInt64(b[i]) }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) }
                try push(.int(Int(Int64(bitPattern: v))), at)
            case 0x49: // INT (text)
                let s = try line(at)
                if s == "01" { try push(.bool(true), at) } else if s == "00" { try push(.bool(false), at) } else {
                    guard let v = Int(s) else { throw PickleError(offset: at, reason: "bad INT \"\(s)\"") }
                    try push(.int(v), at)
                }
            case 0x4C: // LONG (text)
                var s = try line(at)
                if s.hasSuffix("L") { s.removeLast() }
                guard let v = Int(s) else { throw PickleError(offset: at, reason: "LONG \"\(s.prefix(40))\" does not fit 64 bits") }
                try push(.int(v), at)
            case 0x47: // BINFLOAT (big-endian)
                let b = try bytes(8, at)
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(b[i]) }
                try push(.float(Double(bitPattern: v)), at)
            case 0x46: // FLOAT (text)
                let s = try line(at)
                guard let v = Double(s) else { throw PickleError(offset: at, reason: "bad FLOAT \"\(s.prefix(40))\"") }
                try push(.float(v), at)
            case 0x58, 0x8C, 0x8D: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                let n = try length(op == 0x58 ? 4 : (op == 0x8C ? 1 : 8), at)
                let b = try bytes(n, at)
                try push(.string(String(decoding: b, as: UTF8.self)), at)
            case 0x56: // UNICODE (text, raw-unicode-escape)
                try push(.string(try line(at)), at)
            case 0x54, 0x55: // BINSTRING, SHORT_BINSTRING
                let n = try length(op == 0x54 ? 4 : 1, at)
                try push(.string(String(decoding: try bytes(n, at), as: UTF8.self)), at)
            case 0x53: // STRING (text, quoted)
                var s = try line(at)
                if s.count >= 2, let f = s.first, f == "'" || f == "\"" { s = String(s.dropFirst().dropLast()) }
                try push(.string(s), at)
            case 0x42, 0x43, 0x8E, 0x96: // BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
                let n = try length(op == 0x42 ? 4 : (op == 0x43 ? 1 : 8), at)
                try push(.bytes(Array(try bytes(n, at))), at)
            case 0x29: try push(.tuple([], depth: 1), at) // EMPTY_TUPLE
            case 0x85, 0x86, 0x87: // TUPLE1..3
                let n = Int(op - 0x84)
                guard stack.count >= n else { throw PickleError(offset: at, reason: "stack underflow") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                try push(try Unpickler.tuple(items, at), at)
            case 0x74: try push(try Unpickler.tuple(try popMark(at), at), at) // TUPLE
            case 0x5D: try push(.list(arena.list()), at) // EMPTY_LIST
            case 0x6C: // LIST
                let l = arena.list(); l.items = try popMark(at); try grow(l.items.count, at); try push(.list(l), at)
            case 0x7D: try push(.dict(arena.dict()), at) // EMPTY_DICT
            case 0x64: // DICT
                let items = try popMark(at)
                guard items.count % 2 == 0 else { throw PickleError(offset: at, reason: "DICT with an odd number of items") }
                let d = arena.dict()
                for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
                try grow(d.items.count, at)
                try push(.dict(d), at)
            case 0x8F: try push(.list(arena.list()), at) // EMPTY_SET (as a list)
            case 0x90, 0x91: // ADDITEMS, FROZENSET
                let items = try popMark(at)
                if op == 0x91 { let l = arena.list(); l.items = items; try push(.list(l), at); break }
                guard case let .list(l)? = stack.last else { throw PickleError(offset: at, reason: "ADDITEMS on a non-set") }
                l.items += items
                try grow(items.count, at)
            case 0x61: // APPEND
                let v = try pop(at)
                guard case let .list(l)? = stack.last else { throw PickleError(offset: at, reason: "APPEND to a non-list") }
                l.items.append(v); try grow(1, at)
            case 0x65: // APPENDS
                let items = try popMark(at)
                guard case let .list(l)? = stack.last else { throw PickleError(offset: at, reason: "APPENDS to a non-list") }
                l.items += items; try grow(items.count, at)
            case 0x73: // SETITEM
                let v = try pop(at), k = try pop(at)
                guard let d = Unpickler.dictOf(stack.last) else { throw PickleError(offset: at, reason: "SETITEM on a non-dict") }
                d.items.append((k, v)); try grow(1, at)
            case 0x75: // SETITEMS
                let items = try popMark(at)
                guard items.count % 2 == 0 else { throw PickleError(offset: at, reason: "SETITEMS with an odd number of items") }
                guard let d = Unpickler.dictOf(stack.last) else { throw PickleError(offset: at, reason: "SETITEMS on a non-dict") }
                for i in stride(from: 0, to: items.count, by: 2) { d.items.append((items[i], items[i + 1])) }
                try grow(items.count / 2, at)
            case 0x67: try recall(Int(try line(at)) ?? -1, at) // GET
            case 0x68: try recall(Int(try uint(1, at)), at) // BINGET
            case 0x6A: try recall(Int(try uint(4, at)), at) // LONG_BINGET
            case 0x70: try remember(Int(try line(at)) ?? -1, at) // PUT
            case 0x71: try remember(Int(try uint(1, at)), at) // BINPUT
            case 0x72: try remember(Int(try uint(4, at)), at) // LONG_BINPUT
            case 0x94: try remember(memo.count, at) // MEMOIZE
            case 0x63: // GLOBAL "module\nname\n"
                let module = try line(at), name = try line(at)
                try push(try Unpickler.global(module, name, at), at)
            case 0x93: // STACK_GLOBAL
                let name = try pop(at), module = try pop(at)
                guard let m = module.string, let n = name.string else { throw PickleError(offset: at, reason: "STACK_GLOBAL needs two strings") }
                try push(try Unpickler.global(m, n, at), at)
            case 0x52: // REDUCE
                let args = try pop(at), callable = try pop(at)
                guard case let .tuple(a, _) = args else { throw PickleError(offset: at, reason: "REDUCE arguments are not a tuple") }
                try push(try Unpickler.call(callable, a, at, arena: arena), at)
            case 0x62: // BUILD: only an OrderedDict's state (e.g. `_metadata`) is accepted, and ignored.
                let state = try pop(at)
                guard let top = stack.last else { throw PickleError(offset: at, reason: "BUILD on an empty stack") }
                switch top {
                case .orderedDict, .tensor: _ = state
                default: throw PickleError(offset: at, reason: "BUILD (__setstate__) on a \(Unpickler.kind(top)) is refused")
                }
            case 0x51: // BINPERSID
                let pid = try pop(at)
                try push(try persistentLoad(pid, at), at)
            case 0x50: // PERSID (text)
                throw PickleError(offset: at, reason: "opcode PERSID (text persistent id) is refused")
            case 0x69: throw PickleError(offset: at, reason: "opcode INST is refused (it instantiates a class)")
            case 0x6F: throw PickleError(offset: at, reason: "opcode OBJ is refused (it instantiates a class)")
            case 0x81: throw PickleError(offset: at, reason: "opcode NEWOBJ is refused (it instantiates a class)")
            case 0x92: throw PickleError(offset: at, reason: "opcode NEWOBJ_EX is refused (it instantiates a class)")
            case 0x82, 0x83, 0x84: throw PickleError(offset: at, reason: "opcode EXT\(op == 0x82 ? 1 : (op == 0x83 ? 2 : 4)) (extension registry) is refused")
            case 0x97: throw PickleError(offset: at, reason: "opcode NEXT_BUFFER (out-of-band buffer) is refused")
            case 0x98: throw PickleError(offset: at, reason: "opcode READONLY_BUFFER is refused")
            default:
                throw PickleError(offset: at, reason: "unknown opcode 0x\(String(op, radix: 16))")
            }
        }
    }

    /// Tuples are values (freed recursively), so their nesting is capped.
    static let maxTupleDepth = 32

    static func tuple(_ items: [PickleValue], _ at: Int) throws -> PickleValue {
        // Depth from the direct children only: shared children are not walked again.
        var depth = 1
        for case let .tuple(_, d) in items { depth = max(depth, d + 1) }
        guard depth <= maxTupleDepth else {
            throw PickleError(offset: at, reason: "tuples nested deeper than \(maxTupleDepth)")
        }
        return .tuple(items, depth: depth)
    }

    static func dictOf(_ v: PickleValue?) -> PickleDict? {
        switch v {
        case let .dict(d)?, let .orderedDict(d)?: return d
        default: return nil
        }
    }

    static func kind(_ v: PickleValue) -> String {
        switch v {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(m, n): return "\(m).\(n)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        case .orderedDict: return "OrderedDict"
        }
    }

    static func global(_ module: String, _ name: String, _ at: Int) throws -> PickleValue {
        let full = "\(module).\(name)"
        guard allowedGlobals.contains(full) else {
            throw PickleError(offset: at, reason: "global \(full) is not allowed (only state-dict types are)")
        }
        return .global(module, name)
    }

    /// The allowed callables, as data constructors.
    static func call(_ callable: PickleValue, _ args: [PickleValue], _ at: Int, arena: PickleArena) throws -> PickleValue {
        guard case let .global(module, name) = callable else {
            throw PickleError(offset: at, reason: "REDUCE on a \(kind(callable)), not a callable")
        }
        switch "\(module).\(name)" {
        case "collections.OrderedDict":
            guard args.isEmpty else { throw PickleError(offset: at, reason: "OrderedDict with arguments is refused") }
            return .orderedDict(arena.dict())
        case "torch.Size":
            if case let .tuple(t, d)? = args.first { return .tuple(t, depth: d) }
            return .tuple([], depth: 1)
        case "_codecs.encode":
            // Bytes objects (protocol 2) are never read by a state dict: keep no copy.
            guard case .string? = args.first else { throw PickleError(offset: at, reason: "_codecs.encode needs a string") }
            return .bytes([])
        case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
            guard args.count >= 4, case let .storage(s) = args[0], let offset = args[1].int,
                  case let .tuple(size, _) = args[2], case let .tuple(stride, _) = args[3] else {
                throw PickleError(offset: at, reason: "\(name) arguments are not (storage, offset, size, stride, …)")
            }
            guard size.count <= 64, stride.count <= 64 else {
                throw PickleError(offset: at, reason: "\(name): more than 64 dimensions")
            }
            let shape = size.compactMap(\.int), strides = stride.compactMap(\.int)
            guard shape.count == size.count, strides.count == stride.count, shape.count == strides.count else {
                throw PickleError(offset: at, reason: "\(name): size and stride must be integer tuples of one length")
            }
            return .tensor(TensorRef(storage: s, offset: offset, shape: shape, stride: strides))
        case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
            guard case .tensor? = args.first else { throw PickleError(offset: at, reason: "\(name) of a non-tensor") }
            return args[0]
        default:
            throw PickleError(offset: at, reason: "\(module).\(name) cannot be called")
        }
    }
}
