// Every committed fuzz input replayed through its harness: the seed corpora
// and every input a fuzzer ever crashed on (Tests/Fixtures/fuzz/regressions/).
// A crash here is a regression; reaching the end is the pass.

import Formats
import FuzzHarnesses
import Testing
import TestSupport

@Suite struct FuzzRegressionTests {
    @Test(arguments: Harness.allCases)
    func committedInputsRunToAResultOrAnError(harness: Harness) throws {
        let runner = try HarnessRunner(fixtures: Fixtures.path(""))
        var ran = 0
        for kind in ["seeds", "regressions"] {
            let dir = Fixtures.path("fuzz/\(kind)/\(harness.rawValue)")
            guard FileSystem.isDirectory(dir) else { continue }
            for name in try FileSystem.list(dir).sorted() {
                runner.run(harness, try readFile(FileSystem.join(dir, name)))
                ran += 1
            }
        }
        #expect(ran > 0, "no seeds for \(harness.rawValue)")
    }
}
