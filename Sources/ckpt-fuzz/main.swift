// ckpt-fuzz HARNESS [FILE|DIR]... — runs one harness of Sources/FuzzHarnesses.
//
// Built by `make fuzz` with -sanitize=fuzzer,address (and CKPT_LIBFUZZER
// defined), it is a libFuzzer binary: the arguments after the harness are
// libFuzzer's (corpus directories, -max_total_time=…, -dict=…). Built normally,
// it replays files (or every file of directories) through the harness, one
// after the other, and prints how many ran: the way a crash found by the fuzzer
// is reproduced and debugged (CKPT_FUZZ_VERBOSE=1 prints each input's error).

import CFuzz
import Formats
import FuzzHarnesses
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, status: Int32) -> Never {
    _ = (message + "\n").withCString { write(2, $0, strlen($0)) }
    exit(status)
}

let arguments = CommandLine.arguments
let named = arguments.count >= 2 ? Harness(rawValue: arguments[1]) : nil
#if CKPT_LIBFUZZER
// libFuzzer runs the program again for -merge, -fork and -jobs, with its own
// arguments only: those runs find the harness in CKPT_FUZZ_HARNESS, set here.
let inherited = getenv("CKPT_FUZZ_HARNESS").flatMap { Harness(rawValue: String(cString: $0)) }
#else
let inherited: Harness? = nil
#endif
guard let harness = named ?? inherited else {
    let names = Harness.allCases.map(\.rawValue).joined(separator: ", ")
    fail("usage: ckpt-fuzz HARNESS [FILE|DIR | libFuzzer flags]...\nharnesses: \(names)", status: 64)
}
let rest = Array(arguments.dropFirst(named == nil ? 1 : 2))
let fixtures = getenv("CKPT_FUZZ_FIXTURES").map { String(cString: $0) } ?? "Tests/Fixtures"
let runner: HarnessRunner
do { runner = try HarnessRunner(fixtures: fixtures) } catch { fail("ckpt-fuzz: \(error)", status: 1) }
let selected = harness

#if CKPT_LIBFUZZER
// libFuzzer sees the program name and everything after the harness.
setenv("CKPT_FUZZ_HARNESS", harness.rawValue, 1)
var argv: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + rest).map { strdup($0) } + [nil]
var argc = Int32(argv.count - 1)
let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var base = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &base) { data, size in
        runner.run(selected, Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
exit(status)
#else
runner.reportErrors = getenv("CKPT_FUZZ_VERBOSE") != nil
var count = 0
for path in rest {
    let files = FileSystem.isDirectory(path)
        ? ((try? FileSystem.list(path)) ?? []).sorted().map { FileSystem.join(path, $0) } : [path]
    for file in files {
        guard let bytes = try? readFile(file) else { runner.removeScratch(); fail("ckpt-fuzz: cannot read \(file)", status: 1) }
        runner.run(selected, bytes)
        count += 1
    }
}
runner.removeScratch()
print("\(harness.rawValue): \(count) inputs ran")
#endif
