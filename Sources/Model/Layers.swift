// Element-wise and row-wise layers: layer norm, GELU variants, softmax.
// Each forward keeps what a backward pass needs (mean, rstd) when asked.

import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The activation functions BERT-family configs name.
public enum Activation: String, Sendable {
    /// `gelu`: x · Φ(x) with the exact error function.
    case gelu
    /// `gelu_new` / `gelu_pytorch_tanh` / `gelu_fast`: the tanh approximation.
    case geluTanh
    case relu

    /// Parses `hidden_act` / `activation`.
    public init?(configName: String) {
        switch configName {
        case "gelu", "gelu_python": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_accurate": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }
}

/// erf(x) as a rational function of x on [−4, 4] (±1 beyond, where Float's
/// erf is ±1): the approximation XLA and Eigen use for float, within 4e-7
/// of libm's `erff` (a test checks it), and branch-free so the loops over it
/// vectorise.
@inline(__always)
func fastErf(_ a: Float) -> Float {
    let x = min(max(a, -4), 4)
    let x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 - 2.10102402082508e-06
    p = p * x2 - 5.69250639462346e-05
    p = p * x2 - 7.34990630326855e-04
    p = p * x2 - 2.95459980854025e-03
    p = p * x2 - 1.60960333262415e-02
    var q: Float = -1.45660718464996e-05
    q = q * x2 - 2.13374055278905e-04
    q = q * x2 - 1.68282697438203e-03
    q = q * x2 - 7.37332916720468e-03
    q = q * x2 - 1.42647390514189e-02
    return x * p / q
}

/// exp(x) for x ≤ 0, branch-free so the loops over it vectorise (libm's
/// `expf` is a call per value): x = n·ln 2 + r with |r| ≤ ln 2 / 2, a degree-6
/// polynomial for eʳ (Cephes' `expf` coefficients), and 2ⁿ put in the
/// exponent bits. n is rounded by adding 1.5 · 2²³, which leaves it in the low
/// mantissa bits (no float-to-integer conversion, which would check its
/// range). Within 1 ulp of libm's `expf` (a test checks it); 0 below −87
/// (libm gives at most 2e-38 there).
@inline(__always)
func fastExpNegative(_ a: Float) -> Float {
    let x = max(min(a, 0), -87)
    let shifted = x * 1.44269504088896341 + 12582912
    let n = shifted - 12582912
    let r = x - n * 0.693359375 + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    let scale = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) << 23)
    return a < -87 ? 0 : y * scale
}

/// Applies `act` in place to `count` values.
func activationForward(_ x: UnsafeMutablePointer<Float>, count: Int, _ act: Activation) {
    switch act {
    case .gelu:
        let invSqrt2: Float = 0.7071067811865476
        for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + fastErf(v * invSqrt2)) }
    case .geluTanh:
        let c: Float = 0.7978845608028654  // sqrt(2/pi)
        for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v))) }
    case .relu:
        for i in 0..<count where x[i] < 0 { x[i] = 0 }
    }
}

/// Layer norm over the last dimension: `out = (x − mean) · rstd · weight + bias`
/// for each of `rows` rows of `cols`. `out` may alias `input`. Statistics are
/// computed in Double; `mean`/`rstd` (rows) are filled when given.
func layerNormForward(out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>?, rstd: UnsafeMutablePointer<Float>?,
                      input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                      rows: Int, cols: Int, eps: Float) {
    for r in 0..<rows {
        let x = input + r * cols
        var s = 0.0
        for c in 0..<cols { s += Double(x[c]) }
        let m = s / Double(cols)
        var v = 0.0
        for c in 0..<cols { let d = Double(x[c]) - m; v += d * d }
        let rs = 1.0 / (v / Double(cols) + Double(eps)).squareRoot()
        let o = out + r * cols
        let mf = Float(m), rsf = Float(rs)
        for c in 0..<cols { o[c] = (x[c] - mf) * rsf * weight[c] + bias[c] }
        mean?[r] = mf
        rstd?[r] = rsf
    }
}

/// Softmax of each row in place (max-subtracted).
func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int) {
    for r in 0..<rows {
        let row = x + r * ld
        var mx = -Float.infinity
        for c in 0..<cols where row[c] > mx { mx = row[c] }
        var sum: Float = 0
        for c in 0..<cols { let e = expf(row[c] - mx); row[c] = e; sum += e }
        let inv = 1 / sum
        for c in 0..<cols { row[c] *= inv }
    }
}

/// Splits `0..<count` into up to `threads` contiguous ranges of at least
/// `minimumChunk` and runs `body` on each concurrently. The split depends on
/// the arguments only.
public func parallelRanges(_ count: Int, _ threads: Int, minimumChunk: Int = 16, _ body: @Sendable (Range<Int>) -> Void) {
    let n = max(1, min(threads, count / max(1, minimumChunk)))
    if n == 1 { body(0..<count); return }
    let block = (count + n - 1) / n
    DispatchQueue.concurrentPerform(iterations: n) { i in
        let lo = i * block, hi = min(count, lo + block)
        if lo < hi { body(lo..<hi) }
    }
}

// MARK: - Backward

/// The derivative of `act` at the pre-activation values `x`, multiplied into
/// `grad` in place: `grad[i] *= act'(x[i])`.
func activationBackward(_ grad: UnsafeMutablePointer<Float>, input x: UnsafePointer<Float>, count: Int, _ act: Activation) {
    switch act {
    case .gelu:
        let invSqrt2: Float = 0.7071067811865476, invSqrt2Pi: Float = 0.3989422804014327
        for i in 0..<count {
            let v = x[i]
            let cdf = 0.5 * (1 + fastErf(v * invSqrt2))
            let pdf = fastExpNegative(-0.5 * v * v) * invSqrt2Pi
            grad[i] *= cdf + v * pdf
        }
    case .geluTanh:
        let c: Float = 0.7978845608028654
        for i in 0..<count {
            let v = x[i]
            let t = tanhf(c * (v + 0.044715 * v * v * v))
            grad[i] *= 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
        }
    case .relu:
        for i in 0..<count where x[i] <= 0 { grad[i] = 0 }
    }
}

/// Layer-norm backward for `rows` rows of `cols`, from the forward's input and
/// statistics: writes `dInput` (may alias `dOut`) and adds into `dWeight` and
/// `dBias`. Runs in one thread, rows in order, so the parameter gradients
/// are the same bits on every run.
func layerNormBackward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                       mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    let invCols = 1 / Float(cols)
    for r in 0..<rows {
        let x = input + r * cols, dy = dOut + r * cols, dx = dInput + r * cols
        let m = mean[r], rs = rstd[r]
        var sumG: Float = 0, sumGX: Float = 0
        for c in 0..<cols {
            let xhat = (x[c] - m) * rs
            let g = dy[c] * weight[c]
            sumG += g
            sumGX += g * xhat
            dWeight[c] += dy[c] * xhat
            dBias[c] += dy[c]
        }
        let meanG = sumG * invCols, meanGX = sumGX * invCols
        for c in 0..<cols {
            let xhat = (x[c] - m) * rs
            dx[c] = rs * (dy[c] * weight[c] - meanG - xhat * meanGX)
        }
    }
}

/// Adds the column sums of `(rows, cols)` into `out (cols)`, rows in order.
func addColumnSums(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int) {
    for r in 0..<rows {
        let row = x + r * ld
        for c in 0..<cols { out[c] += row[c] }
    }
}
