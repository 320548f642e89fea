// PyTorchFile — a `torch.save` state dict (zip or legacy format) read without
// executing any pickle code: the restricted unpickler yields tensor views of
// named storages, which are checked against the storages' real sizes and read
// from a memory map.

/// A PyTorch state-dict file.
public final class PyTorchFile: TensorStore {
    public let path: String
    /// Tensors in state-dict order; names that are identical views of an
    /// earlier tensor are left out (see `sharedViews`).
    public let tensors: [TensorInfo]
    /// (alias, target): names whose tensors are the same view of one storage
    /// (tied weights), stored once.
    public let sharedViews: [(alias: String, target: String)]
    /// True for the legacy (pre-1.6, non-zip) format.
    public let isLegacy: Bool

    private struct Located {
        let info: TensorInfo
        let view: TensorRef
        let storageOffset: Int  // file offset of the storage's bytes
        let bigEndian: Bool
    }
    private let map: MappedFile
    private let located: [String: Located]

    /// The zip format's magic bytes; anything else starting with a pickle
    /// PROTO opcode is read as the legacy format.
    public init(path: String) throws {
        let map = try MappedFile(path: path)
        self.map = map
        self.path = path
        let bytes = map.bytes
        var storages: [String: (offset: Int, bytes: Int)] = [:]
        var refs: [String: StorageRef] = [:]
        var root: PickleValue
        var bigEndian = false

        var arenas: [PickleArena] = []
        defer { for a in arenas { a.release() } }
        func load(_ data: UnsafeRawBufferPointer, start: Int = 0) throws -> (PickleValue, Int) {
            var u = Unpickler(data, start: start) { pid, at in
                guard case let .tuple(t, _) = pid, t.count >= 5, t[0].string == "storage",
                      case let .global(_, typeName) = t[1], let key = t[2].string, let count = t[4].int, count >= 0 else {
                    throw PickleError(offset: at, reason: "persistent id is not a ('storage', type, key, location, size) tuple")
                }
                guard let dtype = Unpickler.storageTypes[typeName] else {
                    throw PickleError(offset: at, reason: "storage type torch.\(typeName) is not supported")
                }
                if t.count > 5, !(t[5].isNone) {
                    throw PickleError(offset: at, reason: "legacy storage views (view_metadata) are not supported")
                }
                let ref = StorageRef(key: key, dtype: dtype, count: count)
                if let old = refs[key], old != ref {
                    throw PickleError(offset: at, reason: "storage \(key) is declared twice with different types or sizes")
                }
                refs[key] = ref
                return .storage(ref)
            }
            arenas.append(u.arena)
            do {
                let v = try u.load()
                return (v, u.pos)
            } catch let e as PickleError {
                throw PyTorchError.pickle(path: path, reason: e.description)
            }
        }

        if bytes.count >= 4, bytes[0] == 0x50, bytes[1] == 0x4B {
            isLegacy = false
            let zip = try ZipArchive(bytes, path: path)
            let entryByName = Dictionary(zip.entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            guard let pkl = zip.entries.first(where: { $0.name.hasSuffix("/data.pkl") || $0.name == "data.pkl" }) else {
                throw PyTorchError.layout(path: path, reason: "zip archive without data.pkl: not a torch.save file")
            }
            let prefix = String(pkl.name.dropLast("data.pkl".count))
            if let bo = entryByName[prefix + "byteorder"] {
                let text = String(decoding: bytes[bo.offset..<(bo.offset + bo.size)], as: UTF8.self)
                guard text == "little" || text == "big" else {
                    throw PyTorchError.layout(path: path, reason: "byteorder record says \"\(text.prefix(20))\"")
                }
                bigEndian = text == "big"
            }
            (root, _) = try load(UnsafeRawBufferPointer(rebasing: bytes[pkl.offset..<(pkl.offset + pkl.size)]))
            for (key, _) in refs {
                guard let e = entryByName[prefix + "data/" + key] else {
                    throw PyTorchError.layout(path: path, reason: "storage \(key) named by the pickle is not in the archive")
                }
                storages[key] = (e.offset, e.size)
            }
        } else {
            isLegacy = true
            // Legacy: magic number, protocol version, sys_info, the object,
            // the storage keys, then each storage as an 8-byte count and raw bytes.
            let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
            guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
                throw PyTorchError.layout(path: path, reason: "neither a PyTorch zip archive nor a legacy torch.save file (bad magic number)")
            }
            var pos = magic.count
            let (version, p1) = try load(bytes, start: pos)
            guard version.int == 1001 else { throw PyTorchError.layout(path: path, reason: "legacy protocol version \(Unpickler.kind(version)) is not 1001") }
            // sys_info; torch writes legacy storages little-endian whatever the host.
            let (_, p2) = try load(bytes, start: p1)
            let (object, p3) = try load(bytes, start: p2)
            root = object
            let (keysValue, p4) = try load(bytes, start: p3)
            guard case let .list(keyList) = keysValue else { throw PyTorchError.layout(path: path, reason: "storage key list missing") }
            pos = p4
            for k in keyList.items {
                guard let key = k.string, let ref = refs[key] else {
                    throw PyTorchError.layout(path: path, reason: "storage key \(Unpickler.kind(k)) is not one the pickle named")
                }
                guard pos + 8 <= bytes.count else { throw PyTorchError.layout(path: path, reason: "storage \(key): file ends before its size") }
                var n: UInt64 = 0
                for i in (0..<8).reversed() { n = n << 8 | UInt64(bytes[pos + i]) }
                pos += 8
                let (size, o) = Int(clamping: n).multipliedReportingOverflow(by: ref.dtype.size)
                guard !o, n == UInt64(ref.count), size <= bytes.count - pos else {
                    throw PyTorchError.layout(path: path, reason: "storage \(key) claims \(n) elements (\(ref.count) declared) and runs past the end of the file")
                }
                storages[key] = (pos, size)
                pos += size
            }
        }

        // The state dict: string keys to tensors, in order.
        guard let dict = Unpickler.dictOf(root) else {
            throw PyTorchError.layout(path: path, reason: "the pickled object is a \(Unpickler.kind(root)), not a state dict")
        }
        var tensors: [TensorInfo] = []
        var located: [String: Located] = [:]
        var shared: [(String, String)] = []
        var firstView: [String: String] = [:]  // view signature → first name
        for (k, v) in dict.items {
            guard let name = k.string else { throw PyTorchError.layout(path: path, reason: "state dict key is a \(Unpickler.kind(k)), not a string") }
            guard case let .tensor(view) = v else {
                throw PyTorchError.layout(path: path, reason: "state dict value of '\(name)' is a \(Unpickler.kind(v)), not a tensor")
            }
            guard located[name] == nil else { throw PyTorchError.layout(path: path, reason: "state dict repeats '\(name)'") }
            guard let st = storages[view.storage.key] else {
                throw PyTorchError.storage(path: path, tensor: name, reason: "storage \(view.storage.key) has no bytes")
            }
            let s = view.storage
            let (needed, o) = s.count.multipliedReportingOverflow(by: s.dtype.size)
            guard !o, needed == st.bytes else {
                throw PyTorchError.storage(path: path, tensor: name,
                    reason: "storage \(s.key) declares \(s.count) \(s.dtype.rawValue) elements but holds \(st.bytes) bytes")
            }
            guard let info = TensorInfo(name: name, dtype: s.dtype, shape: view.shape) else {
                throw PyTorchError.storage(path: path, tensor: name, reason: "shape \(view.shape) is invalid or too large")
            }
            try PyTorchFile.checkView(view, info: info, path: path)
            // Overlapping views (stride 0) can address more elements than the
            // storage holds; materialising one must stay within the file's size.
            guard info.byteCount <= max(st.bytes, bytes.count) else {
                throw PyTorchError.storage(path: path, tensor: name,
                    reason: "view of \(info.elementCount) elements over a \(s.count)-element storage is larger than the file")
            }
            let signature = "\(s.key)|\(view.offset)|\(view.shape)|\(view.stride)"
            if let target = firstView[signature] {
                shared.append((name, target))
                located[name] = Located(info: info, view: view, storageOffset: st.offset, bigEndian: bigEndian)
                continue
            }
            firstView[signature] = name
            tensors.append(info)
            located[name] = Located(info: info, view: view, storageOffset: st.offset, bigEndian: bigEndian)
        }
        self.tensors = tensors
        self.located = located
        self.sharedViews = shared
    }

    /// Every element the view can address lies inside its storage.
    static func checkView(_ v: TensorRef, info: TensorInfo, path: String) throws {
        guard v.offset >= 0, v.stride.allSatisfy({ $0 >= 0 }) else {
            throw PyTorchError.storage(path: path, tensor: info.name, reason: "negative offset or stride")
        }
        if info.elementCount == 0 {
            guard v.offset <= v.storage.count else {
                throw PyTorchError.storage(path: path, tensor: info.name, reason: "offset \(v.offset) is past the storage (\(v.storage.count) elements)")
            }
            return
        }
        var last = v.offset
        for (d, st) in zip(v.shape, v.stride) {
            let (m, o1) = (d - 1).multipliedReportingOverflow(by: st)
            let (s, o2) = last.addingReportingOverflow(m)
            guard !o1, !o2 else { throw PyTorchError.storage(path: path, tensor: info.name, reason: "view overflows") }
            last = s
        }
        guard last < v.storage.count else {
            throw PyTorchError.storage(path: path, tensor: info.name,
                reason: "view reaches element \(last) of a storage with \(v.storage.count) elements")
        }
    }

    /// The tensor's bytes, little-endian and contiguous: a view of the file when
    /// the tensor is contiguous and little-endian, else gathered and copied.
    public func data(_ name: String) throws -> TensorData {
        guard let l = located[name] else { throw PyTorchError.layout(path: path, reason: "no tensor named '\(name)'") }
        let info = l.info.name == name ? l.info : l.info.renamed(name)
        let size = info.dtype.size
        var contiguous = true
        var expected = 1
        for (d, s) in zip(info.shape, l.view.stride).reversed() where d != 1 {
            if s != expected { contiguous = false; break }
            expected *= d
        }
        let base = l.storageOffset + l.view.offset * size
        if contiguous && !l.bigEndian {
            return TensorData(info: info, file: map, offset: base)
        }
        let src = map.bytes
        return TensorData(info: info) { dst in
            let n = info.elementCount
            guard n > 0 else { return }
            var index = [Int](repeating: 0, count: info.shape.count)
            for e in 0..<n {
                var off = l.view.offset
                for (i, st) in zip(index, l.view.stride) { off += i * st }
                let from = l.storageOffset + off * size
                for b in 0..<size {
                    dst[e * size + b] = src[from + (l.bigEndian ? size - 1 - b : b)]
                }
                // Next multi-index, last dimension fastest.
                var k = index.count - 1
                while k >= 0 {
                    index[k] += 1
                    if index[k] < info.shape[k] { break }
                    index[k] = 0
                    k -= 1
                }
            }
        }
    }
}
