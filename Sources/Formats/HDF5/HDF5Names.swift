// Mapping between Hugging Face tensor names and HDF5 dataset paths in a
// ckpt-hdf5 store: dots become groups.
//
// `bert.encoder.layer.0.attention.self.query.weight` is stored at
// `/tensors/bert/encoder/layer/0/attention/self/query/weight`. Within a segment,
// `%` is written `%25` and `/` is written `%2F`; an empty segment (from `a..b`
// or a leading/trailing dot) is written `%`. A name whose path would collide
// with another tensor's (`a.b` beside `a.b.c`) is stored flat, as one link
// `%%` + the escaped name with dots as `%2E`. Every dataset also carries the
// original name in its `name` attribute, which readers prefer.

enum HDF5Names {
    /// The path under `/tensors` for `name`, split into link names.
    static func segments(of name: String) -> [String] {
        name.split(separator: ".", omittingEmptySubsequences: false).map { escapeSegment(String($0)) }
    }

    /// The single flat link name used when a name's grouped path collides.
    static func flatLink(of name: String) -> String {
        "%%" + escapeSegment(name).replacingAll(".", with: "%2E")
    }

    static func escapeSegment(_ s: String) -> String {
        if s.isEmpty { return "%" }
        return s.replacingAll("%", with: "%25").replacingAll("/", with: "%2F")
    }

    /// The tensor name for a path below `/tensors` (`a/b/c` → `a.b.c`), used when
    /// a dataset has no `name` attribute.
    static func name(fromRelativePath path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 1, parts[0].hasPrefix("%%") {
            return unescape(String(parts[0].dropFirst(2)))
        }
        return parts.map { $0 == "%" ? "" : unescape($0) }.joined(separator: ".")
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count,
               let v = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                out.append(v); i += 3
            } else {
                out.append(b[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    /// Replaces every occurrence of `target` (non-empty) with `replacement`,
    /// left to right (Foundation-free `replacingOccurrences`).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        let t = Array(target.utf8)
        let b = Array(utf8)
        guard !t.isEmpty, b.count >= t.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if i + t.count <= b.count && b[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.utf8)
                i += t.count
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
