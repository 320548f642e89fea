// Casts against PyTorch's own outputs (Tests/Fixtures/casts.safetensors, written
// by tools/fixtures/make_fixtures.py with torch's `.to(dtype)`).

import Formats
import Testing
import TestSupport

@Suite struct CastTests {
    let file: SafeTensorsFile

    init() throws { file = try SafeTensorsFile(path: Fixtures.path("casts.safetensors")) }

    /// Casts `source` to the type of `expected` and compares every byte; on a
    /// mismatch reports the first differing element.
    func check(_ source: String, _ expected: String) throws {
        let src = try file.data(source)
        let want = try file.data(expected)
        let got = try src.converted(to: want.info.dtype)
        #expect(got.info.shape == want.info.shape)
        let size = want.info.dtype.size
        let gotBytes = got.byteArray
        let wantBytes = want.byteArray
        var mismatches = 0
        var first: String? = nil
        for i in 0..<want.info.elementCount {
            let g = gotBytes[(i * size)..<((i + 1) * size)]
            let w = wantBytes[(i * size)..<((i + 1) * size)]
            if !g.elementsEqual(w) {
                mismatches += 1
                if first == nil { first = "element \(i): got \(Array(g)) want \(Array(w))" }
            }
        }
        #expect(mismatches == 0, "\(source) → \(expected): \(mismatches) of \(want.info.elementCount) differ; first \(first ?? "")")
    }

    @Test func f32ToF16() throws { try check("f32_src", "f32_to_f16") }
    @Test func f32ToBF16() throws { try check("f32_src", "f32_to_bf16") }
    @Test func f32ToF64() throws { try check("f32_src", "f32_to_f64") }
    @Test func everyF16ToF32() throws { try check("f16_all", "f16_all_to_f32") }
    @Test func everyF16ToBF16() throws { try check("f16_all", "f16_all_to_bf16") }
    @Test func everyBF16ToF32() throws { try check("bf16_all", "bf16_all_to_f32") }
    @Test func everyBF16ToF16() throws { try check("bf16_all", "bf16_all_to_f16") }
    @Test func f64ToF32() throws { try check("f64_src", "f64_to_f32") }
    @Test func f64ToF16RoundsTwiceLikeTorch() throws { try check("f64_src", "f64_to_f16") }
    @Test func f64ToBF16RoundsTwiceLikeTorch() throws { try check("f64_src", "f64_to_bf16") }

    @Test func fixtureCoversTheHardCases() throws {
        // The generator promises specials; make sure they are really there.
        let src = try file.data("f32_src").floats()
        #expect(src.contains { $0.isNaN })
        #expect(src.contains(.infinity) && src.contains(-.infinity))
        #expect(src.contains { $0.isSubnormal })
        #expect(src.contains(65520) && src.contains(65504))
        #expect(src.contains(1 + 0x1p-11))  // an F16 tie
        #expect(src.count > 4000)
    }

    @Test func unaligned() throws {
        // Same values read from an odd address.
        let src = try file.data("f32_src")
        let n = 257
        var raw = [UInt8](repeating: 0, count: n * 4 + 1)
        let srcBytes = src.byteArray
        for i in 0..<(n * 4) { raw[i + 1] = srcBytes[i] }
        var out = [UInt8](repeating: 0, count: n * 2 + 1)
        try raw.withUnsafeBytes { r in
            try out.withUnsafeMutableBytes { o in
                try castElements(UnsafeRawBufferPointer(rebasing: r[1...]), from: .f32,
                                 into: UnsafeMutableRawBufferPointer(rebasing: o[1...]), to: .f16)
            }
        }
        let want = try file.data("f32_to_f16")
        #expect(out[1...].elementsEqual(want.byteArray[0..<(n * 2)]))
    }

    @Test func integerCastsAreRefused() throws {
        var out = [UInt8](repeating: 0, count: 8)
        let input: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: CastError.unsupported(from: .i64, to: .f32)) {
            try input.withUnsafeBytes { i in
                try out.withUnsafeMutableBytes { o in
                    try castElements(i, from: .i64, into: UnsafeMutableRawBufferPointer(rebasing: o[0..<4]), to: .f32)
                }
            }
        }
    }
}
