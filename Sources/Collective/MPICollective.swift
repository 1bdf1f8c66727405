import CMPI
import Foundation

/// The ranks of a job started by an MPI launcher (`mpirun`, `mpiexec`, `srun`), one process each, talking
/// through MPI (Open MPI or MPICH: see README, "Building and running with a site's MPI").
/// Create it with `Collectives.start()`, once per process.
///
/// Failures: MPI's errors come back as `CollectiveError.mpi` naming the operation and the rank (the
/// communicator returns errors instead of ending the process). A rank that dies makes the launcher end every
/// rank (Open MPI's `mpirun` and MPICH's `mpiexec` within a second or two, exit status non-zero); a rank that
/// calls `exit` without `finalize()` ends the job itself, with status `collectiveAbortExitCode`. A rank that stays alive but never joins an operation (a deadlock, a stuck file system) would leave
/// the others waiting for ever: with a `timeout`, a watchdog thread ends the job when one blocking operation
/// (or one `wait()`) takes longer, writing which operation and rank to standard error, exit status
/// `collectiveAbortExitCode`.
package final class MPICollective: Collective, @unchecked Sendable {
    package let rank: Int
    package let size: Int
    package let localRank: Int
    package let localSize: Int
    /// Whether the library granted MPI_THREAD_MULTIPLE (any thread may call it, one operation at a time).
    package let threadMultiple: Bool
    /// The deadline of each blocking operation; nil: none.
    package let timeout: Duration?
    let comm: dfmpi_comm
    private let state = FinalizeState()
    private let watchdog: Watchdog?

    /// Starts MPI in this process (`MPI_Init_thread`). MPI starts once per process: a second call throws.
    init(timeout: Duration?) throws {
        var initialized: Int32 = 0, finalized: Int32 = 0
        guard dfmpi_state(&initialized, &finalized) == 0 else { throw CollectiveError.startup(reason: "MPI_Initialized failed") }
        if finalized != 0 { throw CollectiveError.startup(reason: "MPI was finalized in this process and cannot start again") }
        if initialized != 0 { throw CollectiveError.startup(reason: "MPI is already started in this process (start it once)") }
        var multiple: Int32 = 0
        let code = dfmpi_init(&multiple)
        guard code == 0 else { throw CollectiveError.startup(reason: "MPI_Init_thread failed: \(mpiErrorText(code))") }
        var comm = dfmpi_comm()
        var rank: Int32 = 0, size: Int32 = 0, localRank: Int32 = 0, localSize: Int32 = 0
        let worldCode = dfmpi_world(&comm, &rank, &size, &localRank, &localSize)
        guard worldCode == 0 else { throw CollectiveError.startup(reason: "cannot set up the ranks: \(mpiErrorText(worldCode))") }
        self.comm = comm
        self.rank = Int(rank)
        self.size = Int(size)
        self.localRank = Int(localRank)
        self.localSize = Int(localSize)
        self.threadMultiple = multiple != 0
        self.timeout = timeout
        atexit(abortUnlessFinalized)
        watchdog = timeout.map { timeout in
            Watchdog(timeout: timeout) { [rank, size] operation in
                let message = "deepfake: collective \(operation) on rank \(rank) of \(size) did not finish within \(timeout); "
                    + "another rank is stuck or gone. Ending the job (exit status \(collectiveAbortExitCode)).\n"
                FileHandle.standardError.write(Data(message.utf8))
                _ = dfmpi_abort(collectiveAbortExitCode)
                exit(collectiveAbortExitCode)
            }
        }
    }

    package func allreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws {
        let count = try mpiCount(buffer.count, "allreduce"), type = try mpiType(Element.self, "allreduce", rank: rank)
        try call("allreduce") { dfmpi_allreduce_sum(comm, buffer.baseAddress, count, type) }
        if operation == .average { divide(buffer, by: size) }
    }

    package func startAllreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws -> any CollectiveRequest {
        let count = try mpiCount(buffer.count, "startAllreduce"), type = try mpiType(Element.self, "startAllreduce", rank: rank)
        var request = dfmpi_request()
        try call("startAllreduce", guarded: false) { dfmpi_iallreduce_sum(comm, buffer.baseAddress, count, type, &request) }
        return MPIAllreduceRequest(owner: self, request: request, buffer: buffer, operation: operation)
    }

    package func broadcast<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, root: Int) throws {
        try checkRoot(root, operation: "broadcast", rank: rank, size: size)
        let count = try mpiCount(buffer.count, "broadcast"), type = try mpiType(Element.self, "broadcast", rank: rank)
        try call("broadcast") { dfmpi_bcast(comm, buffer.baseAddress, count, type, Int32(root)) }
    }

    package func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
        try checkRoot(root, operation: "broadcast", rank: rank, size: size)
        var length = Int64(bytes.count)
        try call("broadcast") { dfmpi_bcast(comm, &length, 8, DFMPI_BYTE, Int32(root)) }
        // Every rank learns the root's length, so every rank accepts or refuses it alike.
        let count = try mpiCount(Int(length), "broadcast")
        var result = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count))
        try result.withUnsafeMutableBytes { data in
            try call("broadcast") { dfmpi_bcast(comm, data.baseAddress, count, DFMPI_BYTE, Int32(root)) }
        }
        return result
    }

    package func allgather(bytes: [UInt8]) throws -> [[UInt8]] {
        var lengths = [Int64](repeating: 0, count: size)
        try call("allgather") { dfmpi_allgather_int64(comm, Int64(bytes.count), &lengths) }
        // Every rank sees the same lengths, so every rank accepts or refuses them alike.
        let total = lengths.reduce(0, +)  // each length is an array's count: no overflow on 64 bits for any real job
        _ = try mpiCount(Int(total), "allgather")
        let counts = lengths.map { Int32($0) }
        var offsets = [Int32](repeating: 0, count: size)
        for i in 1..<max(1, size) { offsets[i] = offsets[i - 1] + counts[i - 1] }
        var all = [UInt8](repeating: 0, count: Int(total))
        try bytes.withUnsafeBytes { mine in
            try all.withUnsafeMutableBytes { all in
                try call("allgather") {
                    dfmpi_allgatherv_bytes(comm, mine.baseAddress, Int32(bytes.count), all.baseAddress, counts, offsets)
                }
            }
        }
        return (0..<size).map { Array(all[Int(offsets[$0]) ..< Int(offsets[$0] + counts[$0])]) }
    }

    package func barrier() throws {
        try call("barrier") { dfmpi_barrier(comm) }
    }

    package func finalize() throws {
        try state.finalize(rank: rank)
        var comm = self.comm
        _ = dfmpi_comm_free(&comm)
        let code = watchdog.map { $0.guarding("finalize") { dfmpi_finalize() } } ?? dfmpi_finalize()
        guard code == 0 else {
            throw CollectiveError.mpi(operation: "finalize", rank: rank, size: size, code: code, message: mpiErrorText(code))
        }
    }

    package func abort(message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        _ = dfmpi_abort(code)
        exit(code)  // MPI_Abort does not return; this is in case the library does
    }

    /// Runs one MPI call (under the watchdog unless `guarded` is false) and turns its error code into a
    /// `CollectiveError` naming `operation` and this rank.
    func call(_ operation: String, guarded: Bool = true, _ body: () -> Int32) throws {
        try state.check(operation, rank: rank)
        let code = guarded ? (watchdog.map { $0.guarding(operation, body) } ?? body()) : body()
        guard code == 0 else {
            throw CollectiveError.mpi(operation: operation, rank: rank, size: size, code: code, message: mpiErrorText(code))
        }
    }

    /// `count` as MPI's element count (an Int32), or an error: MPI counts stop at 2^31 - 1.
    private func mpiCount(_ count: Int, _ operation: String) throws -> Int32 {
        guard let count = Int32(exactly: count) else {
            throw CollectiveError.invalidArgument(operation: operation, rank: rank,
                reason: "\(count) elements exceed MPI's limit of \(Int32.max) per operation; split the buffer")
        }
        return count
    }
}

/// An `MPI_Iallreduce` in flight. `test()` and `wait()` finish it (dividing by the number of ranks for an
/// average); dropping it unfinished waits for it, so that MPI never writes into a freed buffer.
final class MPIAllreduceRequest<Element: CollectiveScalar>: CollectiveRequest {
    private let owner: MPICollective
    private var request: dfmpi_request
    private let buffer: UnsafeMutableBufferPointer<Element>
    private let operation: ReduceOperation
    private var finished = false

    init(owner: MPICollective, request: dfmpi_request, buffer: UnsafeMutableBufferPointer<Element>, operation: ReduceOperation) {
        self.owner = owner
        self.request = request
        self.buffer = buffer
        self.operation = operation
    }

    func test() throws -> Bool {
        if finished { return true }
        var done: Int32 = 0
        try owner.call("allreduce test", guarded: false) { dfmpi_testall(1, &request, &done) }
        if done != 0 { finish() }
        return finished
    }

    func wait() throws {
        if finished { return }
        try owner.call("allreduce wait") { dfmpi_waitall(1, &request) }
        finish()
    }

    private func finish() {
        finished = true
        if operation == .average { divide(buffer, by: owner.size) }
    }

    deinit {
        if finished { return }
        do { try wait() } catch {
            FileHandle.standardError.write(Data("deepfake: an allreduce request dropped before it finished failed: \(error)\n".utf8))
        }
    }
}

/// The C shim's code of `element`, or an error for a type that is neither Float nor Double.
func mpiType<Element: CollectiveScalar>(_ element: Element.Type, _ operation: String, rank: Int) throws -> Int32 {
    try checkScalar(element, operation, rank: rank)
    return element == Float.self ? DFMPI_FLOAT : DFMPI_DOUBLE
}

/// Divides every element of `buffer` by `ranks` (the sum of all ranks becomes their average), through the
/// concrete element type so that the loop is compiled for it even when called generically from another module.
func divide<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, by ranks: Int) {
    guard ranks > 1, let base = buffer.baseAddress else { return }
    let raw = UnsafeMutableRawPointer(base)
    if Element.self == Float.self {
        let values = UnsafeMutableBufferPointer(start: raw.assumingMemoryBound(to: Float.self), count: buffer.count)
        let divisor = Float(ranks)
        for i in values.indices { values[i] /= divisor }
    } else if Element.self == Double.self {
        let values = UnsafeMutableBufferPointer(start: raw.assumingMemoryBound(to: Double.self), count: buffer.count)
        let divisor = Double(ranks)
        for i in values.indices { values[i] /= divisor }
    } else {
        let divisor = Element(ranks)
        for i in buffer.indices { buffer[i] /= divisor }
    }
}

/// Registered with `atexit` when MPI starts: a rank that exits without `finalize()` (an `exit` on an error
/// path) ends the whole job with status `collectiveAbortExitCode`. Launchers do not all do it themselves:
/// MPICH's Hydra ends such a job with status 0 when that rank exited with 0, although the others never finished.
private func abortUnlessFinalized() {
    var initialized: Int32 = 0, finalized: Int32 = 0, rank: Int32 = -1
    guard dfmpi_state(&initialized, &finalized) == 0, initialized != 0, finalized == 0 else { return }
    _ = dfmpi_world_rank(&rank)
    let message = "deepfake: rank \(rank) exited without finalize(); ending the job (exit status \(collectiveAbortExitCode)).\n"
    FileHandle.standardError.write(Data(message.utf8))
    _ = dfmpi_abort(collectiveAbortExitCode)
}

/// MPI's text for error `code`.
func mpiErrorText(_ code: Int32) -> String {
    var text = [CChar](repeating: 0, count: 1024)
    text.withUnsafeMutableBufferPointer { dfmpi_error_text(code, $0.baseAddress, Int32($0.count)) }
    return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
