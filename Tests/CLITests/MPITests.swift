// Data-parallel `ckpt train` under Open MPI's mpirun (tiny models, seconds
// each): 2 ranks equal one process accumulating 2 micro-batches bit for bit,
// a killed job resumes exactly, checkpoints move between 1 and 2 processes,
// a failing rank ends the job, and the binary needs no MPI to train alone.
// Skipped by name when mpirun is not installed (`make test` installs it).

import Formats
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

let mpirunPath: String? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { access($0, X_OK) == 0 }

/// What a root container needs: running as root, shared memory without
/// process_vm_readv, ranks that may outnumber cores and keep their threads.
let mpiEnvironment = [
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_btl": "self,vader", "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
    "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMPI_MCA_hwloc_base_binding_policy": "none",
]

/// Runs `mpirun -np n ckpt args` and captures its output.
func mpirun(_ n: Int, _ args: [String], environment: [String: String] = [:]) -> (status: Int32, out: String, err: String) {
    let scratch = ScratchDirectory()
    let settings = mpiEnvironment.merging(environment) { $1 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
    let quoted = (["env"] + settings + [mpirunPath ?? "mpirun", "-np", String(n), "--timeout", "120", ckptBinary] + args)
        .map { "'" + $0.replacingOccurrences("'", "'\\''") + "'" }.joined(separator: " ")
    let status = system("\(quoted) >\(scratch.file("out")) 2>\(scratch.file("err")) </dev/null")
    let out = String(decoding: (try? readFile(scratch.file("out"))) ?? [], as: UTF8.self)
    let err = String(decoding: (try? readFile(scratch.file("err"))) ?? [], as: UTF8.self)
    return ((status >> 8) & 0xFF, out, err)
}

@Suite(.enabled(if: mpirunPath != nil, "mpirun (Open MPI) is not installed"), .serialized)
struct MPITests {
    func args(_ out: String, batch: Int = 4, accum: Int = 1, steps: Int = 6) -> [String] {
        ["train", "--model", Fixtures.path("model-goldens/distilbert"), "--corpus", Fixtures.path("resize/domain-corpus.txt"),
         "--out", out, "--max-steps", String(steps), "--batch-size", String(batch), "--grad-accum", String(accum), "--threads", "1",
         "--save-steps", "2", "--lr", "1e-3", "--eval-ratio", "0.1", "--eval-steps", "3", "--logging-steps", "1", "--whole-word-mask"]
    }

    func bytes(_ path: String) -> [UInt8] { (try? readFile(path)) ?? [] }

    /// Whether two files hold the same bytes (and exist).
    func identical(_ a: String, _ b: String) -> Bool { let x = bytes(a); return !x.isEmpty && x == bytes(b) }

    /// The metrics log without the timing columns.
    func losses(_ dir: String) -> [String] {
        String(decoding: bytes(dir + "/metrics.jsonl"), as: UTF8.self).split(separator: "\n").map { line in
            line.split(separator: ",").filter { !$0.contains("tokens_per_s") && !$0.contains("allreduce_s") }.joined(separator: ",")
        }
    }

    func same(_ a: String, _ b: String, _ what: String) {
        #expect(identical(a + "/final/model.safetensors", b + "/final/model.safetensors"), "\(what): weights")
        #expect(identical(a + "/checkpoint-6/optimizer.safetensors", b + "/checkpoint-6/optimizer.safetensors"), "\(what): optimizer")
        #expect(losses(a) == losses(b) && losses(a).count > 6, "\(what): loss log")
    }

    @Test func twoRanksEqualOneProcessAccumulating() throws {
        let dir = ScratchDirectory()
        let a = mpirun(2, args(dir.file("np2")))
        #expect(a.status == 0, "\(a.err)")
        #expect(a.out.split(separator: "\n").filter { $0.hasPrefix("done: 6 steps") }.count == 1, "rank 0 alone prints: \(a.out)")
        let b = ckpt(args(dir.file("np1"), accum: 2))
        #expect(b.status == 0, "\(b.err)")
        same(dir.file("np2"), dir.file("np1"), "-np 2 against --grad-accum 2")
        let again = mpirun(2, args(dir.file("np2-again")))
        #expect(again.status == 0, "\(again.err)")
        same(dir.file("np2"), dir.file("np2-again"), "two -np 2 runs")
        let state = try JSONParser.parse(try readFile(dir.file("np2/checkpoint-6/trainer_state.json")), path: "state")
        #expect(state["world_size"]?.int == 2 && state["run"]?["global_batch"]?.int == 8)
        // Checkpoints move between 1 and 2 processes with the same global batch.
        for (from, resume) in [("np2", { (o: String) in ckpt(self.args(o, accum: 2) + ["--resume"]) }),
                               ("np1", { (o: String) in mpirun(2, self.args(o) + ["--resume"]) })] {
            let o = dir.file("moved-from-\(from)")
            try FileSystem.makeDirectories(o)
            _ = system("cp -r '\(dir.file(from))/checkpoint-2' '\(dir.file(from))/metrics.jsonl' '\(o)/'")
            let r = resume(o)
            #expect(r.status == 0 && r.out.contains("the same global batch"), "from \(from): \(r.out)\(r.err)")
            #expect(identical(o + "/final/model.safetensors", dir.file("np1/final/model.safetensors")), "resumed from \(from)")
        }
        // Another global batch is refused.
        let other = ckpt(args(dir.file("np2"), accum: 1) + ["--resume"])
        #expect(other.status == 1 && other.err.contains("global_batch"), "\(other.err)")
    }

    @Test func twoRanksMatchOneLargeMicroBatch() throws {
        let dir = ScratchDirectory()
        let a = mpirun(2, args(dir.file("np2"), steps: 3))
        #expect(a.status == 0, "\(a.err)")
        let b = ckpt(args(dir.file("big"), batch: 8, steps: 3))
        #expect(b.status == 0, "\(b.err)")
        // The same examples and masks, summed in another order: the documented tolerance.
        func values(_ d: String, _ key: String) -> [Double] {
            String(decoding: bytes(d + "/metrics.jsonl"), as: UTF8.self).split(separator: "\n")
                .compactMap { try? JSONParser.parse(String($0), path: d)[key]?.double }
        }
        let la = values(dir.file("np2"), "loss"), lb = values(dir.file("big"), "loss")
        #expect(la.count == 3 && lb.count == 3)
        for (x, y) in zip(la, lb) { #expect(abs(x - y) <= 1e-6 * abs(y), "loss \(x) against \(y)") }
        let wa = try SafeTensorsFile(path: dir.file("np2/final/model.safetensors")), wb = try SafeTensorsFile(path: dir.file("big/final/model.safetensors"))
        // AdamW moves a weight by about the learning rate whatever its gradient's
        // size, so a gradient near zero whose rounding differs can move its
        // weight by up to lr per step; the bulk of the weights agree to 1e-6.
        var worst: Float = 0, total = 0.0, count = 0
        for t in wa.tensors {
            for (x, y) in zip(try wa.data(t.name).floats(), try wb.data(t.name).floats()) {
                worst = max(worst, abs(x - y)); total += Double(abs(x - y)); count += 1
            }
        }
        #expect(worst <= 3 * 1e-3, "weights after 3 steps (lr 1e-3) differ by up to \(worst)")
        #expect(total / Double(count) <= 1e-6, "weights after 3 steps differ by \(total / Double(count)) on average")
    }

    @Test func aKilledJobResumesExactly() throws {
        let dir = ScratchDirectory()
        let straight = mpirun(2, args(dir.file("straight"), steps: 150))
        #expect(straight.status == 0, "\(straight.err)")
        // SIGKILL to the whole job (mpirun and both ranks) once checkpoint-4 exists, then resume.
        let settings = mpiEnvironment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let command = ([mpirunPath ?? "mpirun", "-np", "2", ckptBinary] + args(dir.file("killed"), steps: 150))
            .map { "'\($0)'" }.joined(separator: " ")
        let script = """
            env \(settings) setsid \(command) >/dev/null 2>&1 & pid=$!
            for i in $(seq 1 1200); do [ -d '\(dir.file("killed"))/checkpoint-4' ] && break; sleep 0.01; done
            kill -9 -$pid; pkill -9 -f '\(dir.file("killed"))'; wait $pid 2>/dev/null
            while pgrep -f '\(dir.file("killed"))' >/dev/null; do sleep 0.05; done; true
            """
        _ = system("bash -c '\(script.replacingOccurrences("'", "'\\''"))'")
        #expect(FileSystem.isDirectory(dir.file("killed/checkpoint-4")))
        #expect(!FileSystem.exists(dir.file("killed/final")), "killed before the end")
        let r = mpirun(2, args(dir.file("killed"), steps: 150) + ["--resume"])
        #expect(r.status == 0, "\(r.out.suffix(500))\(r.err)")
        #expect(identical(dir.file("killed/final/model.safetensors"), dir.file("straight/final/model.safetensors")))
    }

    /// SIGUSR1 to mpirun, which forwards it to every rank: they finish the step
    /// together, rank 0 saves one checkpoint, and the job ends with 130.
    @Test func aStopSignalSavesOneCheckpoint() throws {
        let dir = ScratchDirectory()
        let settings = mpiEnvironment.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let command = ([mpirunPath ?? "mpirun", "-np", "2", ckptBinary] + args(dir.file("o"), steps: 100000) + ["--save-steps", "100000"])
            .map { "'\($0)'" }.joined(separator: " ")
        let script = """
            env \(settings) \(command) >'\(dir.file("log"))' 2>&1 & pid=$!
            for i in $(seq 1 1200); do grep -q '"step":20,' '\(dir.file("o"))/metrics.jsonl' 2>/dev/null && break; sleep 0.01; done
            kill -USR1 $pid; wait $pid; echo "status $?" >>'\(dir.file("log"))'
            """
        _ = system("bash -c '\(script.replacingOccurrences("'", "'\\''"))'")
        let log = String(decoding: bytes(dir.file("log")), as: UTF8.self)
        #expect(log.contains("interrupted at step") && log.contains("status 130"), "\(log.suffix(800))")
        let saved = try FileSystem.list(dir.file("o")).filter { $0.hasPrefix("checkpoint-") }
        #expect(saved.count == 1, "one checkpoint: \(saved)")
        let r = mpirun(2, args(dir.file("o"), steps: 100000) + ["--save-steps", "100000", "--resume", "--max-steps", "100000"],
                       environment: ["CKPT_FAULT": "0:\(Int(saved.first?.dropFirst(11) ?? "0") ?? 0)"])
        #expect(r.err.contains("from step") || r.out.contains("from step") || r.err.contains("fault injected"), "the checkpoint resumes: \(r.err)")
    }

    @Test func aFailingRankEndsTheJob() throws {
        let dir = ScratchDirectory()
        let r = mpirun(2, args(dir.file("o")), environment: ["CKPT_FAULT": "1:3"])
        #expect(r.status != 0, "the job fails")
        #expect(r.err.contains("rank 1 of 2") && r.err.contains("fault injected at step 3"), "\(r.err)")
        #expect(FileSystem.isFile(dir.file("o/checkpoint-2/model.safetensors")) && !FileSystem.exists(dir.file("o/final")))
        let resumed = mpirun(2, args(dir.file("o")) + ["--resume"])
        #expect(resumed.status == 0 && resumed.out.contains("from step 2"), "the checkpoint is intact: \(resumed.err)")
    }

    @Test func aClassifierTrainsOnTwoRanks() throws {
        let dir = ScratchDirectory()
        var rows = "text,label\n"
        for i in 0..<40 { rows += "\(i % 2 == 0 ? "the locomotive" : "a signal") \(["stopped", "passed", "delayed"][i % 3]) the junction,\(i % 2 == 0 ? "engine" : "signal")\n" }
        dir.write("t.csv", Array(rows.utf8))
        let task = ["train", "--task", "classification", "--model", Fixtures.path("model-goldens/bert-gelu"), "--corpus", dir.file("t.csv"),
                    "--max-steps", "4", "--batch-size", "4", "--threads", "1", "--eval-ratio", "0.2", "--eval-steps", "2",
                    "--keep-best", "--metric", "f1_macro", "--lr", "1e-3"]
        let a = mpirun(2, task + ["--out", dir.file("np2")])
        #expect(a.status == 0, "\(a.err)")
        let b = ckpt(task + ["--out", dir.file("np1"), "--grad-accum", "2"])
        #expect(b.status == 0, "\(b.err)")
        #expect(identical(dir.file("np2/final/model.safetensors"), dir.file("np1/final/model.safetensors")))
        #expect(identical(dir.file("np2/best/model.safetensors"), dir.file("np1/best/model.safetensors")))
    }

    @Test func withoutTheLibrary() throws {
        let dir = ScratchDirectory()
        let r = mpirun(1, args(dir.file("o")), environment: ["CKPT_MPI_LIBRARY": "/nonexistent/libmpi.so.40"])
        #expect(r.status != 0 && r.err.contains("Open MPI's library cannot be loaded"), "\(r.err)")
        #expect(!FileSystem.exists(dir.file("o")))
    }
}

/// The ordinary binary links no MPI library and trains without one.
@Suite struct NoMPITests {
    /// Tasks of another launcher would each train alone into the same directory.
    @Test func otherLaunchersAreRefused() {
        let dir = ScratchDirectory()
        let r = ckpt(["train", "--model", Fixtures.path("model-goldens/distilbert"), "--corpus", Fixtures.path("resize/domain-corpus.txt"),
                      "--out", dir.file("o"), "--max-steps", "1"], environment: ["SLURM_NTASKS": "2"])
        #expect(r.status == 1 && r.err.contains("Open MPI's mpirun"), "\(r.err)")
        #expect(!FileSystem.exists(dir.file("o")))
    }

    @Test func theBinaryLinksNoMPI() {
        let r = system("ldd '\(ckptBinary)' | grep -q libmpi")
        #expect((r >> 8) & 0xFF == 1, "ckpt must not link libmpi")
    }
}
