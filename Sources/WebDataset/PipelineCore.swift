import Foundation

// The streaming pipeline: composable stages in the spirit of webdataset's `DataPipeline`.
//
//     shard list → split by rank, then by worker (or resample) → samples (through a SampleSource)
//     → seeded shuffle buffer → map on N threads (bounded, order-preserving) → batches → epochs
//
// Swift's `IteratorProtocol.next()` cannot throw, and a pipeline must be able to stop on a broken shard,
// so the stages are written against two small protocols that mirror `Sequence` / `IteratorProtocol`
// with a throwing `next()`. `results()` turns any stage into a plain `Sequence` of `Result`s for
// `for`-loops; `Sequence.asPipeline()` goes the other way.

/// An iterator whose `next()` may throw. After it has thrown once it is finished: later calls return nil.
public protocol PipelineIterator<Element> {
    associatedtype Element
    mutating func next() throws -> Element?
}

/// A pipeline stage: a description that makes iterators. Making an iterator starts a fresh pass.
public protocol PipelineSequence<Element> {
    associatedtype Element
    associatedtype Iterator: PipelineIterator where Iterator.Element == Element
    func makeIterator() -> Iterator
}

/// What a stage does with an error it meets: `stop` throws it to the consumer (the stream ends there);
/// `skip` counts it in the `PipelineReport`, remembers the message and goes on (a failed shard: with the
/// next shard; a failed transform: with the next sample).
public enum ErrorPolicy: Sendable, Hashable {
    case stop
    case skip
}

/// A pipeline that cannot be built as asked (e.g. `.truncate` without per-shard sample counts).
public struct PipelineConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "pipeline configuration: \(reason)" }
}

/// Counters one pipeline (or several, sharing it) reports to its caller, so that nothing is skipped
/// silently. Safe to read from any thread while the pipeline runs; print `counts` at the end.
public final class PipelineReport: @unchecked Sendable {
    // @unchecked Sendable: `state` is only read or written while holding `lock`.
    private let lock = NSLock()
    private var state = Counts()
    /// How many error messages `Counts.errors` keeps (the counters count all of them).
    public let maxMessages: Int

    public init(maxMessages: Int = 20) { self.maxMessages = maxMessages }

    public struct Counts: Sendable, Equatable, CustomStringConvertible {
        /// Shards whose reading began.
        public var shardsOpened = 0
        /// Shards read to their end without an error.
        public var shardsCompleted = 0
        /// Shards that ended with an error (whether the pipeline stopped or skipped to the next shard).
        /// Samples a failed shard yielded before its error were delivered and are counted in `samplesRead`.
        public var shardsFailed = 0
        /// Samples the source yielded (before shuffle, map and batching).
        public var samplesRead = 0
        /// Samples whose transform (`map`) threw and were skipped (`ErrorPolicy.skip`).
        public var samplesSkipped = 0
        /// Transform errors met under `ErrorPolicy.stop` (0 or 1: the first one ends the stream).
        public var samplesFailed = 0
        /// Samples a `compactMap` transform dropped on purpose (returned nil); not errors.
        public var samplesFiltered = 0
        /// The first `maxMessages` error messages, in the order they were met.
        public var errors: [String] = []

        public init() {}

        public var description: String {
            var s = "shards: \(shardsOpened) opened, \(shardsCompleted) completed, \(shardsFailed) failed; "
                + "samples: \(samplesRead) read, \(samplesSkipped) skipped, \(samplesFailed) failed, "
                + "\(samplesFiltered) filtered"
            for e in errors { s += "\n  error: \(e)" }
            return s
        }
    }

    /// A consistent copy of the counters.
    public var counts: Counts { lock.lock(); defer { lock.unlock() }; return state }

    func update(_ body: (inout Counts) -> Void) { lock.lock(); body(&state); lock.unlock() }

    func recordError(_ message: String, _ body: (inout Counts) -> Void) {
        lock.lock()
        body(&state)
        if state.errors.count < maxMessages { state.errors.append(message) }
        lock.unlock()
    }
}

// MARK: - Adapters

/// Any Swift `Sequence` as a pipeline stage (its iterator never throws).
public struct SequenceStage<Base: Sequence>: PipelineSequence {
    public let base: Base
    public init(_ base: Base) { self.base = base }
    public func makeIterator() -> Iterator { Iterator(base: base.makeIterator()) }
    public struct Iterator: PipelineIterator {
        var base: Base.Iterator
        public mutating func next() throws -> Base.Element? { base.next() }
    }
}

extension SequenceStage: Sendable where Base: Sendable {}

extension Sequence {
    /// This sequence as the source of a pipeline.
    public func asPipeline() -> SequenceStage<Self> { SequenceStage(self) }
}

/// A type-erased iterator.
public struct AnyPipelineIterator<Element>: PipelineIterator {
    private let nextElement: () throws -> Element?
    public init<I: PipelineIterator>(_ base: I) where I.Element == Element {
        let box = IteratorBox(base)
        nextElement = { try box.iterator.next() }
    }
    public mutating func next() throws -> Element? { try nextElement() }
}

private final class IteratorBox<I: PipelineIterator> {
    var iterator: I
    init(_ iterator: I) { self.iterator = iterator }
}

/// A type-erased stage, for pipelines assembled differently depending on options (train vs eval).
public struct AnyPipelineSequence<Element>: PipelineSequence {
    private let make: () -> AnyPipelineIterator<Element>
    public init<S: PipelineSequence>(_ base: S) where S.Element == Element {
        make = { AnyPipelineIterator(base.makeIterator()) }
    }
    public func makeIterator() -> AnyPipelineIterator<Element> { make() }
}

/// A stage as a plain `Sequence` of results: the elements as `.success`, then at most one `.failure`
/// (the error that ended the stream), then the end. For `for r in stage.results() { let x = try r.get() }`.
public struct PipelineResults<Base: PipelineSequence>: Sequence {
    public let base: Base
    public func makeIterator() -> Iterator { Iterator(base: base.makeIterator()) }
    public struct Iterator: IteratorProtocol {
        var base: Base.Iterator
        var done = false
        public mutating func next() -> Result<Base.Element, any Error>? {
            if done { return nil }
            do {
                guard let x = try base.next() else { done = true; return nil }
                return .success(x)
            } catch {
                done = true
                return .failure(error)
            }
        }
    }
}

extension PipelineSequence {
    /// Type-erased copy of this stage.
    public func eraseToAnyPipelineSequence() -> AnyPipelineSequence<Element> { AnyPipelineSequence(self) }

    /// This stage as a `Sequence` of `Result`s (see `PipelineResults`).
    public func results() -> PipelineResults<Self> { PipelineResults(base: self) }

    /// Runs one pass, calling `body` on every element; rethrows the first error of the stream or of `body`.
    public func forEach(_ body: (Element) throws -> Void) throws {
        var it = makeIterator()
        while let x = try it.next() { try body(x) }
    }

    /// All elements of one pass (the stage must be finite).
    public func collect() throws -> [Element] {
        var it = makeIterator()
        return try it.collect()
    }
}

extension PipelineIterator {
    /// The remaining elements (the iterator must be finite).
    public mutating func collect() throws -> [Element] {
        var out: [Element] = []
        while let x = try next() { out.append(x) }
        return out
    }
}
