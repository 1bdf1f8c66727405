import Foundation

/// The job of one process, without MPI: rank 0 of 1. A reduction over one rank leaves the buffer as it is
/// (the sum and the average of one value are that value), a broadcast or gather returns this rank's data.
/// Arguments are checked as `MPICollective` checks them, so that a mistake shows without a launcher too.
public final class SingleRankCollective: Collective {
    public let rank = 0
    public let size = 1
    public let localRank = 0
    public let localSize = 1
    private let state = FinalizeState()

    public init() {}

    public func allreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws {
        try state.check("allreduce", rank: rank)
        try checkScalar(Element.self, "allreduce", rank: rank)
    }

    public func startAllreduce<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, _ operation: ReduceOperation) throws -> any CollectiveRequest {
        try state.check("startAllreduce", rank: rank)
        try checkScalar(Element.self, "startAllreduce", rank: rank)
        return FinishedRequest()
    }

    public func broadcast<Element: CollectiveScalar>(_ buffer: UnsafeMutableBufferPointer<Element>, root: Int) throws {
        try state.check("broadcast", rank: rank)
        try checkScalar(Element.self, "broadcast", rank: rank)
        try checkRoot(root, operation: "broadcast", rank: rank, size: size)
    }

    public func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
        try state.check("broadcast", rank: rank)
        try checkRoot(root, operation: "broadcast", rank: rank, size: size)
        return bytes
    }

    public func allgather(bytes: [UInt8]) throws -> [[UInt8]] {
        try state.check("allgather", rank: rank)
        return [bytes]
    }

    public func barrier() throws {
        try state.check("barrier", rank: rank)
    }

    public func finalize() throws {
        try state.finalize(rank: rank)
    }

    public func abort(message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
}

/// The request of an operation that finished when it started.
final class FinishedRequest: CollectiveRequest {
    func test() throws -> Bool { true }
    func wait() throws {}
}
