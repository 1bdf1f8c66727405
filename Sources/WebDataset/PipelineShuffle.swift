import DeepfakeCore

/// A shuffle buffer with the structure of webdataset's `shuffle(bufsize, initial)`:
///   * `initial` is clamped to `bufferSize`;
///   * for every element taken from upstream: append it; if the buffer is then below `bufferSize`, append
///     one more (so the buffer fills at up to two elements per output); once the buffer holds at least
///     `initial` elements, output one picked at random;
///   * when upstream ends, output the rest in random order.
/// Picking draws k = `index(below: buffer.count)`, outputs element k and moves the last element into its
/// place. Given the same draws, the output is webdataset's exactly (tests replay its recorded draws); the
/// draws themselves come from SplitMix64, not Python's Mersenne Twister.
///
/// The mixing is local: a buffer only mixes elements that are near each other upstream, so a shard's
/// samples stay clustered unless the buffer is large compared with a shard.
public struct ShuffleBuffer<Upstream: PipelineSequence, Generator: RandomIndexGenerator>: PipelineSequence {
    public let upstream: Upstream
    public let bufferSize: Int
    public let initial: Int
    public let generator: Generator

    public init(_ upstream: Upstream, bufferSize: Int, initial: Int, generator: Generator) {
        precondition(bufferSize >= 1, "shuffle buffer size must be at least 1")
        self.upstream = upstream
        self.bufferSize = bufferSize
        self.initial = max(0, min(initial, bufferSize))
        self.generator = generator
    }

    public func makeIterator() -> Iterator {
        Iterator(upstream: upstream.makeIterator(), bufferSize: bufferSize, initial: initial, rng: generator)
    }

    public struct Iterator: PipelineIterator {
        var upstream: Upstream.Iterator
        let bufferSize: Int
        let initial: Int
        var rng: Generator
        var buffer: [Upstream.Element] = []
        var upstreamDone = false
        var failed = false

        init(upstream: Upstream.Iterator, bufferSize: Int, initial: Int, rng: Generator) {
            self.upstream = upstream; self.bufferSize = bufferSize; self.initial = initial; self.rng = rng
            buffer.reserveCapacity(min(bufferSize, 4096))
        }

        public mutating func next() throws -> Upstream.Element? {
            guard !failed else { return nil }
            do {
                while !upstreamDone {
                    guard let x = try upstream.next() else { upstreamDone = true; break }
                    buffer.append(x)
                    if buffer.count < bufferSize {
                        if let y = try upstream.next() { buffer.append(y) } else { upstreamDone = true }
                    }
                    if buffer.count >= initial { return pick() }
                }
            } catch {
                failed = true
                buffer.removeAll()
                throw error
            }
            return buffer.isEmpty ? nil : pick()
        }

        private mutating func pick() -> Upstream.Element {
            let k = rng.index(below: buffer.count)
            buffer.swapAt(k, buffer.count - 1)
            return buffer.removeLast()
        }
    }
}

extension PipelineSequence {
    /// Shuffles through a buffer (see `ShuffleBuffer`) with SplitMix64 seeded `seed &+ epoch`, as
    /// webdataset's `detshuffle` seeds with `seed + epoch`: each epoch a different, reproducible order.
    /// Defaults are webdataset's (`bufsize=1000, initial=100`; CoDE's training uses `shuffle(1000)`).
    public func shuffled(bufferSize: Int = 1000, initial: Int = 100, seed: UInt64,
                         epoch: Int = 0) -> ShuffleBuffer<Self, SplitMix64> {
        ShuffleBuffer(self, bufferSize: bufferSize, initial: initial,
                      generator: SplitMix64(seed: seed &+ seedPart(epoch)))
    }

    /// Shuffles through a buffer drawing from `generator`.
    public func shuffled<G: RandomIndexGenerator>(bufferSize: Int = 1000, initial: Int = 100,
                                                  generator: G) -> ShuffleBuffer<Self, G> {
        ShuffleBuffer(self, bufferSize: bufferSize, initial: initial, generator: generator)
    }
}
