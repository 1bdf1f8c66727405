/// The operations that a data-parallel job needs between its processes (ranks): each rank trains on its own
/// part of the data, the ranks average their gradients with `allreduce` after every backward pass, and rank 0
/// alone writes checkpoints and reports.
///
/// Two implementations: `SingleRankCollective` (one process, every operation a no-op or a copy) and
/// `MPICollective` (ranks started by `mpirun` or `srun`). `Collectives.start()` picks one at run time.
///
/// Rules shared by every implementation (as in MPI):
/// - every rank calls the same collective operations in the same order, with buffers of the same length
///   (`allgather` and the byte `broadcast` excepted: their lengths may differ between ranks);
/// - one operation at a time: call from one thread, or serialise the callers;
/// - a failed operation throws a `CollectiveError` naming the operation and the rank. After such an error the
///   ranks may disagree about what happened: end the job with `abort(message:code:)`, not with `exit`.
/// - a rank ends with `finalize()` on success and `abort(message:code:)` on failure. A process that exits
///   otherwise ends the whole job: a crash or a signal through the launcher, `exit` without `finalize()`
///   through the MPI backend itself (status `collectiveAbortExitCode`, whatever status `exit` was given).
package protocol Collective: AnyObject, Sendable {
    /// This process's index among all ranks, 0 ..< `size`.
    var rank: Int { get }
    /// The number of ranks in the job (1 without a launcher).
    var size: Int { get }
    /// This process's index among the ranks on the same host, 0 ..< `localSize`.
    var localRank: Int { get }
    /// The number of ranks on this host: give each rank `threadsPerRank(cores:)` threads.
    var localSize: Int { get }

    /// Replaces `buffer` on every rank by the element-wise sum (or average) of all ranks' buffers.
    func allreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws

    /// Starts the same reduction as `allreduce` and returns at once, so that the caller can compute meanwhile
    /// (e.g. the next gradient bucket of the backward pass). `buffer` must stay alive and untouched until the
    /// returned request's `wait()` has returned. Calling the request's `test()` now and then lets the
    /// library make progress while the caller computes.
    func startAllreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws -> any CollectiveRequest

    /// Copies rank `root`'s `buffer` into every other rank's `buffer` (all of the same length).
    func broadcast<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, root: Int) throws

    /// Returns rank `root`'s `bytes` on every rank; the other ranks' `bytes` are ignored and may be empty.
    func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8]

    /// Returns every rank's `bytes` (of any length, empty included), in rank order, on every rank.
    func allgather(bytes: [UInt8]) throws -> [[UInt8]]

    /// Returns when every rank has called `barrier()`.
    func barrier() throws

    /// Ends this rank's part of the job after its last collective operation. Further operations throw.
    func finalize() throws

    /// Ends the whole job, every rank, with exit status `code`, after writing `message` to standard error.
    func abort(message: String, code: Int32) -> Never
}

/// How `allreduce` combines the ranks' values.
package enum ReduceOperation: Sendable {
    /// The element-wise sum over all ranks.
    case sum
    /// The element-wise sum divided by the number of ranks (gradient averaging).
    case average
}

/// An allreduce started by `Collective.startAllreduce`: the result is in the buffer once `wait()` returns
/// (or `test()` returned true). A request dropped before it finished waits for it, so that the library never
/// writes into a buffer that the caller has freed.
package protocol CollectiveRequest: AnyObject {
    /// Lets the operation progress and says whether it has finished (its result is then in the buffer).
    func test() throws -> Bool
    /// Returns when the operation has finished and its result is in the buffer.
    func wait() throws
}

/// The element types the reductions and broadcasts work on: `Float` and `Double` (MPI_FLOAT, MPI_DOUBLE).
/// Another type declared conforming is refused with `CollectiveError.invalidArgument`.
package protocol CollectiveScalar: BinaryFloatingPoint, Sendable {}

extension Float: CollectiveScalar {}
extension Double: CollectiveScalar {}

/// Exit status of a job ended by the collective layer itself: a deadline passed, or a rank exited without
/// `finalize()` (see `MPICollective`).
package let collectiveAbortExitCode: Int32 = 70

extension Collective {
    /// Whether this rank is rank 0, the one that writes checkpoints, logs and results.
    package var isRoot: Bool { rank == 0 }

    /// The threads each rank of this host should use so that the host's ranks together use its `cores`
    /// (at least 1).
    package func threadsPerRank(cores: Int) -> Int { max(1, cores / max(1, localSize)) }

    /// `allreduce` on an array.
    package func allreduce<Element: CollectiveScalar>(_ values: inout [Element], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }

    /// `broadcast` of an array (of the same length on every rank).
    package func broadcast<Element: CollectiveScalar>(_ values: inout [Element], root: Int) throws {
        try values.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }
}

/// A collective operation that failed, naming the operation and the rank where it failed.
package enum CollectiveError: Error, CustomStringConvertible, Equatable {
    /// The MPI library returned error `code` (its text: `message`).
    case mpi(operation: String, rank: Int, size: Int, code: Int32, message: String)
    /// The arguments cannot be used (e.g. a root outside 0 ..< size).
    case invalidArgument(operation: String, rank: Int, reason: String)
    /// MPI could not be started, or was already started or finalized in this process.
    case startup(reason: String)
    /// An operation after `finalize()`.
    case finalized(operation: String, rank: Int)

    package var description: String {
        switch self {
        case let .mpi(operation, rank, size, code, message):
            return "collective \(operation) failed on rank \(rank) of \(size): \(message) (MPI error \(code)); "
                + "the ranks may disagree about the operation or its buffer lengths"
        case let .invalidArgument(operation, rank, reason):
            return "collective \(operation) on rank \(rank): \(reason)"
        case let .startup(reason):
            return "cannot start MPI: \(reason)"
        case let .finalized(operation, rank):
            return "collective \(operation) on rank \(rank) after finalize()"
        }
    }
}
