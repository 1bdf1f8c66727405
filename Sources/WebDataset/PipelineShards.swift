// Shard-level stages: the shard list, its split over ranks × workers, and resampling with replacement.
//
// SPLITTING. Like webdataset's `split_by_node` / `split_by_worker` (`islice(src, rank, None, world)`,
// i.e. `shards[rank::world]`, then `[worker::workers]` of that), every (rank, worker) — a *slot* — reads
// a strided slice of the shard list, so that in one pass every shard is read exactly once across all
// slots. Two strided splits compose into one: with S = world · workers slots, the slot reads shards
// `offset, offset + S, offset + 2S, …` where
//   * `.rankThenWorker` (our default: split by rank first, then by worker inside the rank):
//     offset = rank + world · worker;
//   * `.workerThenRank` (upstream's `split_by_worker` before `split_by_node`; docs/upstream.md, Shard splitting order):
//     offset = worker + workers · rank.
// Both partition the list the same way; only which slot gets which residue class differs.
//
// REMAINDER (the shard count n is not a multiple of S):
//   * `.uneven` (default, webdataset's behaviour): the slots with offset < n mod S read one shard more.
//     Nothing is lost or repeated, but slots (and so ranks) see different numbers of shards and samples;
//     with distributed training that usually means one rank waits for the others at the end of an epoch.
//   * `.truncate`: every slot yields the same number of samples, the smallest slot total; the longer
//     slots stop early (their last shards are cut or not opened). LOSES samples (n mod S shards' worth and
//     the differences between shard sizes) in that pass.
//   * `.pad`: every slot yields the same number of samples, the largest slot total; a shorter slot, after
//     its own shards, continues reading the whole shard list cyclically, starting at shard `offset mod n`,
//     until it has the target. LOSES NOTHING (every sample is read at least once per pass) but REPEATS
//     some samples.
//   `.truncate` and `.pad` equalize *samples*, not shards (shards differ in size), so they need the
//   per-shard sample counts (`ShardList.sampleCounts`, e.g. from the dataset's metadata or from
//   `ShardList.countingSamples`). The counts are trusted: if a shard holds fewer samples than declared or
//   fails under `ErrorPolicy.skip`, that slot yields fewer.
//
// RESAMPLING (`resampled`, webdataset's `ResampledShards`, used by CoDE for training): an endless stream of
// shards drawn uniformly with replacement. Each slot draws its own stream from
// SplitMix64(derive(seed, epoch, rank, worker)), so it is not split further (upstream also applies the
// splitters to the resampled stream; with per-slot seeds that only thins each stream and is not done here).

import DeepfakeCore

/// Which share of the data a reader takes: its distributed rank among `worldSize` processes and its
/// loader worker among `workerCount` workers of that process.
public struct ReaderSlot: Sendable, Hashable, CustomStringConvertible {
    public var rank: Int
    public var worldSize: Int
    public var worker: Int
    public var workerCount: Int

    public init(rank: Int = 0, worldSize: Int = 1, worker: Int = 0, workerCount: Int = 1) {
        self.rank = rank; self.worldSize = worldSize; self.worker = worker; self.workerCount = workerCount
    }

    /// All slots of a configuration, rank-major: (rank 0, worker 0), (rank 0, worker 1), …
    public static func all(worldSize: Int, workerCount: Int) -> [ReaderSlot] {
        (0..<worldSize).flatMap { r in
            (0..<workerCount).map { w in ReaderSlot(rank: r, worldSize: worldSize, worker: w, workerCount: workerCount) }
        }
    }

    /// world · workers.
    public var slotCount: Int { worldSize * workerCount }

    public var description: String { "rank \(rank)/\(worldSize), worker \(worker)/\(workerCount)" }

    func validate() throws {
        guard worldSize >= 1, workerCount >= 1, (0..<worldSize).contains(rank), (0..<workerCount).contains(worker)
        else { throw PipelineConfigurationError("invalid reader slot (\(description))") }
    }

    /// Position of this slot's residue class (see the file header).
    func offset(_ order: SplitOrder) -> Int {
        switch order {
        case .rankThenWorker: return rank + worldSize * worker
        case .workerThenRank: return worker + workerCount * rank
        }
    }
}

/// In which order the two splits are applied (see the file header).
public enum SplitOrder: Sendable, Hashable {
    /// `split_by_node` then `split_by_worker`: our default.
    case rankThenWorker
    /// `split_by_worker` then `split_by_node`: CoDE's upstream loader (docs/upstream.md, Shard splitting order).
    case workerThenRank
}

/// What to do when the shards do not divide evenly over the slots (see the file header).
public enum RemainderPolicy: Sendable, Hashable {
    /// Some slots read one shard more (webdataset). Nothing lost or repeated; unequal lengths.
    case uneven
    /// Equal samples per slot = the minimum slot total. Loses samples; needs sample counts.
    case truncate
    /// Equal samples per slot = the maximum slot total, short slots repeat shards. Loses nothing; needs
    /// sample counts.
    case pad
}

/// The ordered list of shards of a dataset (one pass = every shard once, in order), optionally with how
/// many samples each holds.
public struct ShardList: PipelineSequence, Sendable, Hashable {
    public var shards: [String]
    /// Samples per shard, parallel to `shards`; needed by `.truncate` and `.pad`.
    public var sampleCounts: [Int]?

    public init(_ shards: [String], sampleCounts: [Int]? = nil) {
        if let sampleCounts {
            precondition(sampleCounts.count == shards.count, "one sample count per shard")
            precondition(sampleCounts.allSatisfy { $0 >= 0 }, "sample counts must not be negative")
        }
        self.shards = shards; self.sampleCounts = sampleCounts
    }

    public var count: Int { shards.count }

    public func makeIterator() -> SequenceStage<[String]>.Iterator { shards.asPipeline().makeIterator() }

    /// The list in a seeded order (webdataset's `SimpleShardList(urls, seed=…)`, with our generator): a
    /// Fisher–Yates shuffle from SplitMix64(derive(seed, epoch)); counts follow their shards. Every slot
    /// must use the same seed and epoch so that the split still partitions the list.
    public func shuffled(seed: UInt64, epoch: Int = 0) -> ShardList {
        var order = Array(shards.indices)
        var rng = SplitMix64(seed: SplitMix64.derive(seed, seedPart(epoch)))
        order.pipelineShuffle(using: &rng)
        return ShardList(order.map { shards[$0] }, sampleCounts: sampleCounts.map { c in order.map { c[$0] } })
    }

    /// The shards `slot` reads in one pass (see the file header for the order and remainder choices).
    public func split(_ slot: ReaderSlot, order: SplitOrder = .rankThenWorker,
                      remainder: RemainderPolicy = .uneven) throws -> ShardSplit {
        try slot.validate()
        let n = shards.count, slots = slot.slotCount
        let offset = slot.offset(order)
        let own = Array(stride(from: offset, to: n, by: slots))
        guard remainder != .uneven else {
            return ShardSplit(slot: slot, indices: own, shards: own.map { shards[$0] }, ownShardCount: own.count,
                              sampleLimit: nil)
        }
        guard let counts = sampleCounts else {
            throw PipelineConfigurationError("remainder policy \(remainder) needs the per-shard sample counts")
        }
        // Samples of every slot's own shards; the target is their minimum or maximum.
        var totals = [Int](repeating: 0, count: slots)
        for i in 0..<n { totals[i % slots] += counts[i] }
        let target = remainder == .truncate ? totals.min() ?? 0 : totals.max() ?? 0
        var indices: [Int] = []
        var have = 0
        for i in own where have < target { indices.append(i); have += counts[i] }
        let ownUsed = indices.count
        if have < target {  // .pad: continue through the whole list cyclically from `offset mod n`
            var i = offset % n  // n > 0 here: target > 0 needs a shard
            while have < target { indices.append(i); have += counts[i]; i = (i + 1) % n }
        }
        return ShardSplit(slot: slot, indices: indices, shards: indices.map { shards[$0] }, ownShardCount: ownUsed,
                          sampleLimit: target)
    }

    /// An endless (or `count`-long) stream of shards drawn uniformly with replacement for `slot`
    /// (webdataset's `ResampledShards`). Deterministic in (seed, epoch, rank, worker); independent of
    /// world size and worker count.
    public func resampled(seed: UInt64, epoch: Int = 0, slot: ReaderSlot = ReaderSlot(),
                          count: Int? = nil) -> ResampledShards {
        ResampledShards(shards: shards,
                        seed: SplitMix64.derive(seed, seedPart(epoch), seedPart(slot.rank), seedPart(slot.worker)),
                        count: count)
    }

    /// The list with `sampleCounts` filled by reading every shard through `source` (a full pass over the
    /// data: prefer counts from the dataset's metadata). Throws the first shard error.
    public static func countingSamples(_ shards: [String], source: any SampleSource) throws -> ShardList {
        var counts: [Int] = []
        for shard in shards {
            var n = 0
            let it = source.samples(of: shard)
            while let r = it.next() {
                if case .failure(let e) = r { throw e }
                n += 1
            }
            counts.append(n)
        }
        return ShardList(shards, sampleCounts: counts)
    }
}

/// The shards one slot reads in one pass, in order, and (for `.truncate` / `.pad`) how many samples it
/// yields.
public struct ShardSplit: PipelineSequence, Sendable, Hashable {
    public var slot: ReaderSlot
    /// Positions in the `ShardList`, in reading order.
    public var indices: [Int]
    public var shards: [String]
    /// `indices.prefix(ownShardCount)` are the slot's own shards; the rest are `.pad` repeats.
    public var ownShardCount: Int
    /// Samples per pass (`.truncate` / `.pad`); nil reads the shards to their end.
    public var sampleLimit: Int?

    public func makeIterator() -> SequenceStage<[String]>.Iterator { shards.asPipeline().makeIterator() }
}

/// Shards drawn uniformly with replacement from a seeded SplitMix64 (see `ShardList.resampled`).
public struct ResampledShards: PipelineSequence, Sendable, Hashable {
    public var shards: [String]
    public var seed: UInt64
    /// Draws per pass; nil = endless.
    public var count: Int?

    public func makeIterator() -> Iterator { Iterator(shards: shards, rng: SplitMix64(seed: seed), remaining: count) }

    public struct Iterator: PipelineIterator {
        let shards: [String]
        var rng: SplitMix64
        var remaining: Int?
        public mutating func next() throws -> String? {
            guard !shards.isEmpty else { return nil }
            if let r = remaining {
                guard r > 0 else { return nil }
                remaining = r - 1
            }
            return shards[rng.index(below: shards.count)]
        }
    }
}
