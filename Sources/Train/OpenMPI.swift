// Open MPI, reached at run time: under `mpirun` (OMPI_COMM_WORLD_SIZE set)
// ckpt loads libmpi.so.40 with dlopen and looks up the few functions and
// predefined handles it uses, so the ordinary binary links no MPI and needs
// none installed. Open MPI's handles are addresses of its predefined objects
// (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, `MPI_FLOAT` `&ompi_mpi_float`,
// …) and `MPI_IN_PLACE` is `(void *) 1`; the library's own header (mpi.h of
// Open MPI 4.x, the ABI of libmpi.so.40) defines them so.
//
// MPI is initialised with MPI_THREAD_FUNNELED: only the main thread calls it.

#if canImport(Glibc)
import Glibc
#endif

/// The ranks of an `mpirun` job, through Open MPI.
public final class OpenMPI: Communicator {
    public let rank: Int, size: Int, localRank: Int, localSize: Int

    private typealias Handle = UnsafeMutableRawPointer
    private typealias InitThread = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
    private typealias CommQuery = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    private typealias Allreduce = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int32, Handle, Handle, Handle) -> Int32
    private typealias Bcast = @convention(c) (UnsafeMutableRawPointer?, Int32, Handle, Int32, Handle) -> Int32
    private typealias Allgather = @convention(c) (UnsafeRawPointer?, Int32, Handle, UnsafeMutableRawPointer?, Int32, Handle, Handle) -> Int32
    private typealias Barrier = @convention(c) (Handle) -> Int32
    private typealias Abort = @convention(c) (Handle, Int32) -> Int32
    private typealias Finalize = @convention(c) () -> Int32

    private let allreduce: Allreduce, bcast: Bcast, allgather: Allgather, barrierFn: Barrier, abortFn: Abort, finalizeFn: Finalize
    private let world: Handle, float: Handle, double: Handle, byte: Handle, uint64: Handle, opSum: Handle
    private static var inPlace: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 1) }

    /// Elements per collective call: MPI counts are 32-bit, and fixed slices
    /// keep every call the same on every rank.
    static let slice = 1 << 24

    /// Whether this process was started by Open MPI's `mpirun`.
    public static var isLaunched: Bool { getenv("OMPI_COMM_WORLD_SIZE") != nil }

    /// Loads the library (`CKPT_MPI_LIBRARY`, default libmpi.so.40) and
    /// initialises MPI.
    ///
    /// - Throws: `CommunicatorError` when the library or one of its symbols
    ///   is missing, or MPI does not start.
    public init() throws {
        let name = getenv("CKPT_MPI_LIBRARY").map { String(cString: $0) } ?? "libmpi.so.40"
        // RTLD_GLOBAL: Open MPI's own plugins resolve their symbols in it.
        guard let lib = dlopen(name, RTLD_NOW | RTLD_GLOBAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "not found"
            throw CommunicatorError("launched by mpirun, but Open MPI's library cannot be loaded (\(why)); install Open MPI 4 (Debian: openmpi-bin), or set CKPT_MPI_LIBRARY")
        }
        func symbol(_ s: String) throws -> UnsafeMutableRawPointer {
            guard let p = dlsym(lib, s) else { throw CommunicatorError("\(name) has no \(s): not Open MPI 4 (libmpi.so.40)?") }
            return p
        }
        func function<F>(_ s: String, _: F.Type) throws -> F { unsafeBitCast(try symbol(s), to: F.self) }
        let initThread = try function("MPI_Init_thread", InitThread.self)
        let commRank = try function("MPI_Comm_rank", CommQuery.self)
        let commSize = try function("MPI_Comm_size", CommQuery.self)
        allreduce = try function("MPI_Allreduce", Allreduce.self)
        bcast = try function("MPI_Bcast", Bcast.self)
        allgather = try function("MPI_Allgather", Allgather.self)
        barrierFn = try function("MPI_Barrier", Barrier.self)
        abortFn = try function("MPI_Abort", Abort.self)
        finalizeFn = try function("MPI_Finalize", Finalize.self)
        world = try symbol("ompi_mpi_comm_world")
        float = try symbol("ompi_mpi_float")
        double = try symbol("ompi_mpi_double")
        byte = try symbol("ompi_mpi_byte")
        uint64 = try symbol("ompi_mpi_uint64_t")
        opSum = try symbol("ompi_mpi_op_sum")
        var provided: Int32 = 0
        guard initThread(nil, nil, 1 /* MPI_THREAD_FUNNELED */, &provided) == 0, provided >= 1 else {
            throw CommunicatorError("MPI_Init_thread failed (thread support \(provided))")
        }
        var r: Int32 = 0, s: Int32 = 0
        _ = commRank(world, &r)
        _ = commSize(world, &s)
        rank = Int(r)
        size = Int(s)
        func env(_ k: String) -> Int? { getenv(k).flatMap { Int(String(cString: $0)) } }
        localRank = env("OMPI_COMM_WORLD_LOCAL_RANK") ?? 0
        localSize = env("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1
    }

    private func check(_ code: Int32, _ what: String) throws {
        if code != 0 { throw CommunicatorError("\(what) failed on rank \(rank) (MPI error \(code))") }
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        var start = 0
        while start < values.count {
            let n = min(OpenMPI.slice, values.count - start)
            try check(allreduce(OpenMPI.inPlace, values.baseAddress! + start, Int32(n), float, opSum, world), "MPI_Allreduce")
            start += n
        }
    }

    public func sum(_ values: inout [Double]) throws {
        let (code, count) = values.withUnsafeMutableBufferPointer { p in
            (allreduce(OpenMPI.inPlace, p.baseAddress, Int32(p.count), double, opSum, world), p.count)
        }
        try check(code, "MPI_Allreduce of \(count) values")
    }

    public func broadcast(_ values: UnsafeMutableRawBufferPointer, root: Int) throws {
        var start = 0
        while start < values.count {
            let n = min(OpenMPI.slice * 4, values.count - start)
            try check(bcast(values.baseAddress! + start, Int32(n), byte, Int32(root), world), "MPI_Bcast")
            start += n
        }
    }

    public func gather(_ value: UInt64) throws -> [UInt64] {
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        let code = all.withUnsafeMutableBytes { out in allgather(&mine, 1, uint64, out.baseAddress, 1, uint64, world) }
        try check(code, "MPI_Allgather")
        return all
    }

    public func barrier() throws { try check(barrierFn(world), "MPI_Barrier") }

    public func abort(_ code: Int32) -> Never {
        _ = abortFn(world, code)
        exit(code)
    }

    /// Ends MPI (after the last collective, on success).
    public func finalize() { _ = finalizeFn() }
}
