import Foundation

/// The job of one process, without MPI: rank 0 of 1. A reduction over one rank leaves the buffer as it is
/// (the sum and the average of one value are that value), a broadcast or gather returns this rank's data.
/// Arguments are checked as `MPICollective` checks them, so that a mistake shows without a launcher too.
package final class SingleRankCollective: Collective {
    package let rank = 0
    package let size = 1
    package let localRank = 0
    package let localSize = 1
    private let state = FinalizeState()

    package init() {}

    package func allreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws {
        try state.check("allreduce", rank: rank)
        try checkScalar(Element.self, "allreduce", rank: rank)
    }

    package func startAllreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws -> any CollectiveRequest {
        try state.check("startAllreduce", rank: rank)
        try checkScalar(Element.self, "startAllreduce", rank: rank)
        return FinishedRequest()
    }

    package func broadcast<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, root: Int) throws {
        try state.check("broadcast", rank: rank)
        try checkScalar(Element.self, "broadcast", rank: rank)
        try checkRoot(root, operation: "broadcast", rank: rank, size: size)
    }

    package func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
        try state.check("broadcast", rank: rank)
        try checkRoot(root, operation: "broadcast", rank: rank, size: size)
        return bytes
    }

    package func allgather(bytes: [UInt8]) throws -> [[UInt8]] {
        try state.check("allgather", rank: rank)
        return [bytes]
    }

    package func barrier() throws {
        try state.check("barrier", rank: rank)
    }

    package func finalize() throws {
        try state.finalize(rank: rank)
    }

    package func abort(message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

/// The request of an operation that finished when it started.
final class FinishedRequest: CollectiveRequest {
    func test() throws -> Bool { true }
    func wait() throws {}
}
