// Casts between the floating-point storage types, bit-compatible with PyTorch.
//
// All narrowing casts round to nearest, ties to even. Infinities are kept,
// values past a type's range become infinities, subnormals are produced and read
// exactly. NaN stays NaN with the bit pattern PyTorch 2.x writes on x86-64
// (checked against its output for every F16/BF16 pattern by the fixtures).
// F64 → F16/BF16 goes through F32, rounding twice, exactly as PyTorch does.

// MARK: - Scalar conversions

/// Rounds a `Float` to the nearest IEEE binary16 value (ties to even) and
/// returns its bits.
@inline(__always)
public func halfBits(fromFloat value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    let magnitude = bits & 0x7FFF_FFFF
    if magnitude >= 0x7F80_0000 {  // Inf or NaN
        // NaN keeps its sign and top payload bits and is made quiet, as
        // PyTorch (and the F16C instruction) convert it.
        return magnitude == 0x7F80_0000
            ? sign | 0x7C00
            : sign | 0x7E00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x03FF)
    }
    if magnitude >= 0x477F_F000 {  // >= 65520: rounds past the largest half
        return sign | 0x7C00
    }
    if magnitude >= 0x3880_0000 {  // >= 2^-14: normal half
        let rebased = magnitude &- 0x3800_0000
        let rounded = (rebased &+ 0x0FFF &+ ((rebased >> 13) & 1)) >> 13
        return sign | UInt16(truncatingIfNeeded: rounded)
    }
    if magnitude <= 0x3300_0000 {  // <= 2^-25: rounds to zero (2^-25 is a tie, to even)
        return sign
    }
    // Subnormal half: value / 2^-24, rounded to nearest even.
    let exponent = magnitude >> 23
    let mantissa = (magnitude & 0x007F_FFFF) | 0x0080_0000
    let shift = 126 &- exponent  // 14 ... 24
    let kept = mantissa >> shift
    let remainder = mantissa & ((1 << shift) &- 1)
    let half = UInt32(1) << (shift &- 1)
    let up: UInt32 = (remainder > half || (remainder == half && (kept & 1) == 1)) ? 1 : 0
    return sign | UInt16(truncatingIfNeeded: kept &+ up)
}

/// Widens IEEE binary16 bits to a `Float` (exact; a signalling NaN is quieted).
@inline(__always)
public func float(fromHalfBits h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0x1F {
        if mantissa == 0 { return Float(bitPattern: sign | 0x7F80_0000) }
        // NaN: payload kept, made quiet (as PyTorch and F16C widen it).
        return Float(bitPattern: sign | 0x7FC0_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24, exact in Float.
        let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    return Float(bitPattern: sign | ((exponent &+ 112) << 23) | (mantissa << 13))
}

/// Rounds a `Float` to the nearest bfloat16 value (ties to even) and returns its
/// bits. Every NaN becomes `0xFFFF`, as PyTorch's vectorised F32 → BF16
/// conversion writes it.
@inline(__always)
public func bfloat16Bits(fromFloat value: Float) -> UInt16 {
    let bits = value.bitPattern
    if (bits & 0x7FFF_FFFF) > 0x7F80_0000 { return 0xFFFF }
    let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: rounded >> 16)
}

/// Widens bfloat16 bits to a `Float` (exact).
@inline(__always)
public func float(fromBFloat16Bits b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

// MARK: - Buffer conversions

/// Errors from `castElements`.
public enum CastError: Error, Equatable, CustomStringConvertible {
    /// The source or target type is not one of F64, F32, F16, BF16.
    case unsupported(from: DType, to: DType)
    /// The buffers do not hold the same number of elements.
    case sizeMismatch(sourceBytes: Int, targetBytes: Int)
    /// The bytes supplied for a tensor have another shape than the one planned.
    case shapeMismatch(tensor: String, planned: [Int], supplied: [Int])

    public var description: String {
        switch self {
        case let .unsupported(from, to):
            return "cannot cast \(from.rawValue) to \(to.rawValue): only F64, F32, F16 and BF16 are cast"
        case let .sizeMismatch(s, t):
            return "cast buffers disagree: \(s) source bytes, \(t) target bytes"
        case let .shapeMismatch(name, planned, supplied):
            return "tensor '\(name)': \(supplied) supplied where \(planned) was planned"
        }
    }
}

/// Converts every element of `source` (of type `from`) into `target` (of type
/// `to`). Both buffers may be unaligned. When the types are equal the bytes are
/// copied.
///
/// - Throws: `CastError` when a type is not a float type or the sizes disagree.
public func castElements(
    _ source: UnsafeRawBufferPointer, from: DType,
    into target: UnsafeMutableRawBufferPointer, to: DType
) throws {
    guard source.count % from.size == 0,
          source.count / from.size * to.size == target.count
    else { throw CastError.sizeMismatch(sourceBytes: source.count, targetBytes: target.count) }
    if from == to {
        if source.count > 0 { target.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: source.count) }
        return
    }
    guard from.isCastableFloat, to.isCastableFloat else { throw CastError.unsupported(from: from, to: to) }
    let n = source.count / from.size
    if n == 0 { return }
    let src = source.baseAddress!
    let dst = target.baseAddress!

    // Reads element i of the source as Float (exact for F16/BF16/F32).
    @inline(__always) func loadFloat(_ i: Int) -> Float {
        switch from {
        case .f32: return src.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
        case .f16: return float(fromHalfBits: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        case .bf16: return float(fromBFloat16Bits: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self))
        default: return Float(src.loadUnaligned(fromByteOffset: i &* 8, as: Double.self))
        }
    }

    switch (from, to) {
    case (.f32, .f16):
        for i in 0..<n {
            dst.storeBytes(of: halfBits(fromFloat: src.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)),
                           toByteOffset: i &* 2, as: UInt16.self)
        }
    case (.f32, .bf16):
        for i in 0..<n {
            dst.storeBytes(of: bfloat16Bits(fromFloat: src.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)),
                           toByteOffset: i &* 2, as: UInt16.self)
        }
    case (.f16, .f32):
        for i in 0..<n {
            dst.storeBytes(of: float(fromHalfBits: src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)),
                           toByteOffset: i &* 4, as: Float.self)
        }
    case (.bf16, .f32):
        for i in 0..<n {
            dst.storeBytes(of: UInt32(src.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) << 16,
                           toByteOffset: i &* 4, as: UInt32.self)
        }
    case (_, .f64):
        if from == .f32 {
            for i in 0..<n {
                dst.storeBytes(of: Double(src.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)),
                               toByteOffset: i &* 8, as: Double.self)
            }
        } else {
            for i in 0..<n { dst.storeBytes(of: Double(loadFloat(i)), toByteOffset: i &* 8, as: Double.self) }
        }
    case (_, .f32):  // from F64
        for i in 0..<n { dst.storeBytes(of: loadFloat(i), toByteOffset: i &* 4, as: Float.self) }
    case (_, .f16):  // from BF16 or F64, through Float as PyTorch does
        for i in 0..<n { dst.storeBytes(of: halfBits(fromFloat: loadFloat(i)), toByteOffset: i &* 2, as: UInt16.self) }
    case (.f16, .bf16):  // through Float; PyTorch writes NaN as 0x7FC0 on this path
        for i in 0..<n {
            let x = loadFloat(i)
            dst.storeBytes(of: x.isNaN ? 0x7FC0 : bfloat16Bits(fromFloat: x), toByteOffset: i &* 2, as: UInt16.self)
        }
    case (_, .bf16):  // from F64, through Float (rounding twice, as PyTorch does)
        for i in 0..<n { dst.storeBytes(of: bfloat16Bits(fromFloat: loadFloat(i)), toByteOffset: i &* 2, as: UInt16.self) }
    default:
        throw CastError.unsupported(from: from, to: to)
    }
}
