// DType — element types of checkpoint tensors, named as safetensors names them.

/// The element type of a tensor.
///
/// Raw values are the names safetensors uses in its header (`"F32"`, `"BF16"`, …).
/// `F8_E4M3` and `F8_E5M2` are carried through conversions unchanged; they are
/// never cast.
public enum DType: String, Sendable, CaseIterable, Codable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// Position in the safetensors reference implementation's `Dtype` enum.
    /// Its writer orders tensors by this rank, largest first, then by name.
    var safetensorsRank: Int {
        switch self {
        case .bool: return 0
        case .u8: return 1
        case .i8: return 2
        case .f8e5m2: return 3
        case .f8e4m3: return 4
        case .i16: return 5
        case .u16: return 6
        case .f16: return 7
        case .bf16: return 8
        case .i32: return 9
        case .u32: return 10
        case .f32: return 11
        case .f64: return 12
        case .i64: return 13
        case .u64: return 14
        }
    }

    /// True for the floating-point types ckpt can cast between (F64, F32, F16, BF16).
    public var isCastableFloat: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16: return true
        default: return false
        }
    }

    /// The name PyTorch gives this type (`torch.float32` → `"float32"`).
    public var torchName: String {
        switch self {
        case .bool: return "bool"
        case .u8: return "uint8"
        case .i8: return "int8"
        case .f8e5m2: return "float8_e5m2"
        case .f8e4m3: return "float8_e4m3fn"
        case .i16: return "int16"
        case .u16: return "uint16"
        case .f16: return "float16"
        case .bf16: return "bfloat16"
        case .i32: return "int32"
        case .u32: return "uint32"
        case .f32: return "float32"
        case .f64: return "float64"
        case .i64: return "int64"
        case .u64: return "uint64"
        }
    }

    /// Parses a user-facing type name: safetensors names (`F16`), PyTorch names
    /// (`float16`) and the short forms `f32`, `f16`, `bf16` are all accepted.
    public init?(name: String) {
        if let d = DType(rawValue: name.uppercased()) { self = d; return }
        let lower = name.lowercased()
        if let d = DType.allCases.first(where: { $0.torchName == lower }) { self = d; return }
        switch lower {
        case "half": self = .f16
        case "float": self = .f32
        case "double": self = .f64
        default: return nil
        }
    }
}
