// The processes of a run and what they exchange. One process alone is the
// default; under `mpirun` (Open MPI) the ranks sum gradients, broadcast
// weights and agree on decisions through OpenMPI.swift. The trainer sees only
// this protocol.

import Formats

/// The processes of a data-parallel run.
public protocol Communicator: AnyObject {
    /// This process's rank, 0 ..< size.
    var rank: Int { get }
    /// The number of processes.
    var size: Int { get }
    /// The processes on this machine, and this one's place among them.
    var localRank: Int { get }
    var localSize: Int { get }
    /// Sums `values` over the ranks, in place (every rank gets the sum).
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Sums `values` over the ranks, in place.
    func sum(_ values: inout [Double]) throws
    /// Copies rank `root`'s `values` to every rank.
    func broadcast(_ values: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Every rank's `value`, in rank order.
    func gather(_ value: UInt64) throws -> [UInt64]
    /// Waits until every rank arrives.
    func barrier() throws
    /// Ends the whole job at once with `code` (a rank's error).
    func abort(_ code: Int32) -> Never
}

extension Communicator {
    /// Rank 0: the process that writes checkpoints, logs and progress.
    public var isPrimary: Bool { rank == 0 }
}

/// One process: every collective is the identity.
public final class SingleProcess: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localRank: Int { 0 }
    public var localSize: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func sum(_ values: inout [Double]) throws {}
    public func broadcast(_ values: UnsafeMutableRawBufferPointer, root: Int) throws {}
    public func gather(_ value: UInt64) throws -> [UInt64] { [value] }
    public func barrier() throws {}
    public func abort(_ code: Int32) -> Never { exit(code) }
}

/// A collective operation that failed.
public struct CommunicatorError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

#if canImport(Glibc)
import Glibc
#endif
