/// Consecutive elements in arrays of `size` (webdataset's `batched(size, partial=…)` without collation):
/// the last, shorter batch is kept when `partial` is true (webdataset's default) and dropped otherwise.
/// A full batch is handed out as soon as it is full (webdataset waits for the next element first; the
/// batches are the same).
public struct Batched<Upstream: PipelineSequence>: PipelineSequence {
    public let upstream: Upstream
    public let size: Int
    public let partial: Bool

    public init(_ upstream: Upstream, size: Int, partial: Bool = true) {
        precondition(size >= 1, "batch size must be at least 1")
        self.upstream = upstream; self.size = size; self.partial = partial
    }

    public func makeIterator() -> Iterator { Iterator(upstream: upstream.makeIterator(), size: size, partial: partial) }

    public struct Iterator: PipelineIterator {
        var upstream: Upstream.Iterator
        let size: Int
        let partial: Bool
        var done = false

        public mutating func next() throws -> [Upstream.Element]? {
            guard !done else { return nil }
            var batch: [Upstream.Element] = []
            batch.reserveCapacity(size)
            do {
                while batch.count < size {
                    guard let x = try upstream.next() else {
                        done = true
                        return batch.isEmpty || !partial ? nil : batch
                    }
                    batch.append(x)
                }
            } catch {
                done = true  // the elements of the unfinished batch are dropped with the error
                throw error
            }
            return batch
        }
    }
}

extension PipelineSequence {
    /// Arrays of `size` consecutive elements; the last partial one kept if `partial` (see `Batched`).
    public func batched(_ size: Int, partial: Bool = true) -> Batched<Self> { Batched(self, size: size, partial: partial) }

    /// Exact-length epochs over this stage (webdataset's `with_epoch`); every pass rebuilds the same
    /// stage, so use it for endless streams (resampled shards). For finite data whose shuffles depend on
    /// the pass, build with `EpochStream(length:mode:firstPass:_:)` and a pass-aware factory.
    public func withEpoch(_ length: Int, mode: EpochStream<Self>.Mode = .continuing) -> EpochStream<Self> {
        EpochStream(length: length, mode: mode) { _ in self }
    }
}

/// Epochs of exactly `length` elements (samples, or batches when built over `batched`) cut from a stream,
/// like webdataset's `with_epoch(n)`. The stream is built by `make(pass)`: pass 0, 1, 2 … are successive
/// passes over the data, so the factory can shuffle each pass with its own epoch seed
/// (`shuffled(seed:epoch: pass)`, `ShardList.shuffled(seed:epoch:)`, `resampled(seed:epoch:)`).
///
/// * `.continuing` (default): an epoch starts where the previous one stopped; when a finite pass runs out
///   mid-epoch the next pass starts (`make(pass + 1)`) and fills the epoch. Over an endless stream
///   (resampled shards) there is a single pass and epochs are consecutive slices of it; over finite data
///   every element is seen before any is repeated. Elements an epoch's consumer did not take (stopping
///   early) are not lost: the next epoch starts with them.
/// * `.restarting`: webdataset's behaviour: every epoch starts a new pass (`make(pass + 1)`) from its
///   beginning, and repeats passes to fill an epoch longer than a pass. Over a deterministic finite
///   stream every epoch is then the same first `length` elements.
///
/// A pass that yields nothing ends the epoch early (as webdataset does), instead of looping forever.
/// One consumer at a time: not thread-safe.
public final class EpochStream<Stream: PipelineSequence> {
    public enum Mode: Sendable, Hashable {
        case continuing
        case restarting
    }

    public let length: Int
    public let mode: Mode
    private let make: (Int) throws -> Stream
    private var current: Stream.Iterator?
    private var yieldedInPass = 0
    /// The pass the next element comes from.
    public private(set) var pass: Int
    /// Epochs handed out so far.
    public private(set) var epoch = 0

    public init(length: Int, mode: Mode = .continuing, firstPass: Int = 0, _ make: @escaping (Int) throws -> Stream) {
        precondition(length >= 0, "epoch length must not be negative")
        self.length = length; self.mode = mode; self.pass = firstPass; self.make = make
    }

    /// The next epoch: an iterator of (at most, see the empty-pass rule) `length` elements.
    public func nextEpoch() -> EpochIterator {
        if mode == .restarting && (current != nil || epoch > 0) {
            current = nil
            pass += 1
        }
        epoch += 1
        return EpochIterator(owner: self, remaining: length)
    }

    public struct EpochIterator: PipelineIterator {
        let owner: EpochStream
        var remaining: Int
        public mutating func next() throws -> Stream.Element? {
            guard remaining > 0 else { return nil }
            let element: Stream.Element?
            do { element = try owner.pull() } catch { remaining = 0; throw error }
            guard let x = element else { remaining = 0; return nil }
            remaining -= 1
            return x
        }
    }

    private func pull() throws -> Stream.Element? {
        while true {
            if current == nil {
                current = try make(pass).makeIterator()
                yieldedInPass = 0
            }
            if let x = try current!.next() {
                yieldedInPass += 1
                return x
            }
            current = nil
            if yieldedInPass == 0 { return nil }  // an empty pass: stop instead of spinning
            pass += 1
        }
    }
}
