import Foundation
import WebDataset
import XCTest

final class PipelineSplitTests: XCTestCase {
    private let configurations = [(1, 1), (1, 3), (2, 1), (2, 3), (3, 4), (4, 3), (8, 5), (5, 8), (37, 1), (6, 7)]

    /// Every shard is read exactly once per pass across all ranks × workers, for both orders, and the
    /// uneven remainder gives the slots with the lowest offsets one more shard.
    func testEveryShardReadExactlyOnceAcrossSlots() throws {
        let list = Synthetic.list()
        let source = Synthetic.source()
        for (world, workers) in configurations {
            for order in [SplitOrder.rankThenWorker, .workerThenRank] {
                var seenShards: [String] = []
                var seenKeys: [String] = []
                let report = PipelineReport()
                for slot in ReaderSlot.all(worldSize: world, workerCount: workers) {
                    let split = try list.split(slot, order: order)
                    XCTAssertNil(split.sampleLimit)
                    let slots = world * workers
                    let own = 37 / slots + (split.indices.first.map { $0 < 37 % slots } ?? false ? 1 : 0)
                    XCTAssertEqual(split.shards.count, own, "\(slot) \(order)")
                    XCTAssertEqual(split.indices, split.indices.sorted())
                    seenShards += split.shards
                    seenKeys += try split.samples(from: source, report: report).collect().map(\.key)
                }
                XCTAssertEqual(seenShards.sorted(), list.shards, "world \(world) workers \(workers) \(order)")
                XCTAssertEqual(seenKeys.sorted(), Synthetic.allKeys().sorted())
                XCTAssertEqual(Set(seenKeys).count, seenKeys.count)
                XCTAssertEqual(report.counts.shardsCompleted, 37)
                XCTAssertEqual(report.counts.samplesRead, Synthetic.allKeys().count)
            }
        }
    }

    func testRankThenWorkerAndWorkerThenRankOffsets() throws {
        let list = Synthetic.list()
        // rank-then-worker: shards[rank::world][worker::workers] = rank + world·(worker + workers·k)
        let a = try list.split(ReaderSlot(rank: 1, worldSize: 4, worker: 2, workerCount: 3))
        XCTAssertEqual(a.indices, [9, 21, 33])
        // worker-then-rank (CoDE): shards[worker::workers][rank::world] = worker + workers·(rank + world·k)
        let b = try list.split(ReaderSlot(rank: 1, worldSize: 4, worker: 2, workerCount: 3), order: .workerThenRank)
        XCTAssertEqual(b.indices, [5, 17, 29])
    }

    private struct SplitFixture: Decodable {
        struct Case: Decodable {
            var shards: Int, world: Int, workers: Int, order: String
            var slots: [Slot]
        }
        struct Slot: Decodable { var rank: Int, worker: Int, shards: [Int] }
        var versions: [String: String]
        var cases: [Case]
    }

    /// The same shards per (rank, worker) as webdataset's split_by_node / split_by_worker (fixture made
    /// with webdataset 1.0.2 by tools/reference/make_pipeline_fixtures.py).
    func testSplitMatchesWebdataset() throws {
        let fixture = try loadPipelineFixture("split.json", as: SplitFixture.self)
        XCTAssertEqual(fixture.versions["webdataset"], "1.0.2")
        XCTAssertEqual(fixture.cases.count, 20)
        for c in fixture.cases {
            let list = ShardList(Synthetic.shardNames(c.shards))
            let order: SplitOrder = c.order == "rank_then_worker" ? .rankThenWorker : .workerThenRank
            XCTAssertEqual(c.slots.count, c.world * c.workers)
            for s in c.slots {
                let slot = ReaderSlot(rank: s.rank, worldSize: c.world, worker: s.worker, workerCount: c.workers)
                let split = try list.split(slot, order: order)
                XCTAssertEqual(split.indices, s.shards, "\(c.shards) shards, \(slot), \(c.order)")
                XCTAssertEqual(split.shards, s.shards.map { list.shards[$0] })
            }
        }
    }

    private struct BraceFixture: Decodable {
        struct Case: Decodable { var spec: String, urls: [String] }
        var cases: [Case]
    }

    /// Shard specs expand in webdataset's order (`expand_urls`: "::" lists, then braceexpand), so a split
    /// of the expanded list gives every slot the shards webdataset would.
    func testShardSpecExpansionOrderMatchesWebdataset() throws {
        let fixture = try loadPipelineFixture("braceexpand.json", as: BraceFixture.self)
        for c in fixture.cases {
            XCTAssertEqual(try ShardSpec.expand(c.spec), c.urls, c.spec)
        }
    }

    /// `.truncate`: every slot yields the minimum slot total, no sample twice; the loss is exactly the
    /// excess. `.pad`: every slot yields the maximum slot total, every sample at least once; the
    /// repeats are exactly the padding.
    func testEqualSampleRemainders() throws {
        let list = Synthetic.list()
        let source = Synthetic.source()
        let all = Synthetic.allKeys()
        for (world, workers) in configurations + [(12, 4)] {  // 12 × 4 = 48 slots > 37 shards
            let slots = ReaderSlot.all(worldSize: world, workerCount: workers)
            let totals = try slots.map { slot -> Int in
                try list.split(slot).indices.reduce(0) { $0 + Synthetic.count($1) }
            }
            var truncated: [String] = []
            var padded: [String] = []
            for slot in slots {
                let report = PipelineReport()
                let t = try list.split(slot, remainder: .truncate)
                XCTAssertEqual(t.sampleLimit, totals.min())
                let tk = try t.samples(from: source, report: report).collect().map(\.key)
                XCTAssertEqual(tk.count, totals.min(), "truncate \(slot)")
                truncated += tk
                let p = try list.split(slot, remainder: .pad)
                XCTAssertEqual(p.sampleLimit, totals.max())
                let pk = try p.samples(from: source, report: report).collect().map(\.key)
                XCTAssertEqual(pk.count, totals.max(), "pad \(slot)")
                XCTAssertEqual(Array(p.indices.prefix(p.ownShardCount)), try list.split(slot).indices)
                padded += pk
            }
            XCTAssertEqual(Set(truncated).count, truncated.count, "truncate repeats nothing")
            XCTAssertTrue(Set(truncated).isSubset(of: Set(all)))
            XCTAssertEqual(all.count - truncated.count, all.count - slots.count * totals.min()!, "truncate loses the excess")
            XCTAssertEqual(Set(padded), Set(all), "pad loses nothing (\(world)×\(workers))")
            XCTAssertEqual(padded.count - all.count, slots.count * totals.max()! - all.count)
        }
    }

    func testUnevenDefaultAndConfigurationErrors() throws {
        let noCounts = Synthetic.list(withCounts: false)
        XCTAssertThrowsError(try noCounts.split(ReaderSlot(rank: 0, worldSize: 2), remainder: .truncate)) {
            XCTAssertTrue($0 is PipelineConfigurationError)
        }
        XCTAssertThrowsError(try noCounts.split(ReaderSlot(rank: 2, worldSize: 2)))
        XCTAssertThrowsError(try noCounts.split(ReaderSlot(worker: 0, workerCount: 0)))
        // 10 shards over 12 slots: the last two slots get nothing under .uneven.
        let ten = Synthetic.list(10)
        let sizes = try ReaderSlot.all(worldSize: 4, workerCount: 3).map { try ten.split($0).shards.count }
        XCTAssertEqual(sizes.reduce(0, +), 10)
        XCTAssertEqual(sizes.filter { $0 == 0 }.count, 2)
        // The empty list splits into nothing, with every policy.
        let empty = ShardList([], sampleCounts: [])
        for policy in [RemainderPolicy.uneven, .truncate, .pad] {
            let s = try empty.split(ReaderSlot(rank: 1, worldSize: 2), remainder: policy)
            XCTAssertEqual(s.shards, [])
            XCTAssertEqual(try s.samples(from: Synthetic.source(), report: PipelineReport()).collect().count, 0)
        }
    }

    /// Counting the samples through the source gives the counts the remainders need.
    func testCountingSamples() throws {
        let counted = try ShardList.countingSamples(Synthetic.shardNames(37), source: Synthetic.source())
        XCTAssertEqual(counted, Synthetic.list())
        XCTAssertThrowsError(try ShardList.countingSamples(["missing.tar"], source: Synthetic.source()))
    }

    /// A seeded shard order: a permutation, reproducible, different per seed and per epoch, counts kept
    /// with their shards; the split of the shuffled list still covers every shard once.
    func testShuffledShardList() throws {
        let list = Synthetic.list()
        let a = list.shuffled(seed: 7, epoch: 0)
        XCTAssertEqual(a, list.shuffled(seed: 7, epoch: 0))
        XCTAssertNotEqual(a.shards, list.shards)
        XCTAssertNotEqual(a.shards, list.shuffled(seed: 8, epoch: 0).shards)
        XCTAssertNotEqual(a.shards, list.shuffled(seed: 7, epoch: 1).shards)
        XCTAssertEqual(a.shards.sorted(), list.shards)
        for (i, name) in a.shards.enumerated() {
            XCTAssertEqual(a.sampleCounts![i], Synthetic.count(list.shards.firstIndex(of: name)!))
        }
        let covered = try ReaderSlot.all(worldSize: 3, workerCount: 2).flatMap { try a.split($0).shards }
        XCTAssertEqual(covered.sorted(), list.shards)
    }
}
