// `ckpt train` under mpirun: the job's processes, their output and errors.

import ArgumentParser
import Formats
import Train

#if canImport(Glibc)
import Glibc
#endif

extension TrainCommand {
    /// The processes of this run: Open MPI's ranks under mpirun, else one.
    /// Only rank 0 prints to standard output; errors name their rank.
    func startWorld() throws -> Communicator {
        guard OpenMPI.isLaunched else {
            // Another launcher's tasks would each train alone into the same --out.
            func count(_ k: String) -> Int { getenv(k).flatMap { Int(String(cString: $0)) } ?? 1 }
            if count("PMI_SIZE") > 1 || count("SLURM_NTASKS") > 1 || count("PMIX_SIZE") > 1 || count("MPI_LOCALNRANKS") > 1 {
                printError("ckpt: error: started as one of several tasks by a launcher other than Open MPI's mpirun; "
                           + "launch data-parallel training with Open MPI's mpirun (or run a single task)")
                throw ExitCode.failure
            }
            return SingleProcess()
        }
        let world: OpenMPI
        do {
            world = try OpenMPI()
        } catch {
            printError("ckpt: error: " + printable("\(error)"))
            throw ExitCode.failure
        }
        if !world.isPrimary {
            // Standard output of the other ranks goes nowhere (file descriptor 1 onto /dev/null).
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, 1); close(null) }
        }
        return world
    }
}

/// `reportingErrors`, with the rank named when the job has several processes.
func reportingErrors<T>(_ world: Communicator, _ body: () throws -> T) throws -> T {
    guard world.size > 1 else { return try reportingErrors(body) }
    do {
        return try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        printError("ckpt: error (rank \(world.rank) of \(world.size)): " + printable("\(error)"))
        throw ExitCode.failure
    }
}
