import Foundation
import DeepfakeCore
import WebDataset
import XCTest

/// Source errors, resampling, epochs, and whole pipelines.
final class PipelineStreamTests: XCTestCase {
    // MARK: source errors

    private func failingSource() -> SyntheticSource {
        // 10 shards of 4; s3 fails after 2 samples, s6 cannot be opened.
        var s = SyntheticSource(counts: Dictionary(uniqueKeysWithValues: (0..<10).map { ("s\($0)", 4) }))
        s.failAfter = ["s3": 2, "s6": 0]
        return s
    }

    func testSourceErrorStopThrowsWithCounters() throws {
        let report = PipelineReport()
        var it = ShardList((0..<10).map { "s\($0)" }).samples(from: failingSource(), report: report).makeIterator()
        var keys: [String] = []
        XCTAssertThrowsError(try { while let s = try it.next() { keys.append(s.key) } }()) { error in
            let e = error as? WebDatasetError
            XCTAssertEqual(e?.shard, "s3")
            XCTAssertEqual(e?.offset, 2048)
        }
        XCTAssertEqual(keys.count, 3 * 4 + 2)
        XCTAssertNil(try it.next())
        let c = report.counts
        XCTAssertEqual(c.shardsOpened, 4)
        XCTAssertEqual(c.shardsCompleted, 3)
        XCTAssertEqual(c.shardsFailed, 1)
        XCTAssertEqual(c.samplesRead, 14)
        XCTAssertEqual(c.errors, ["s3 at byte 2048: synthetic failure"])
        XCTAssertTrue(c.description.contains("1 failed"), c.description)
    }

    func testSourceErrorSkipCountsAndContinues() throws {
        let report = PipelineReport()
        let keys = try ShardList((0..<10).map { "s\($0)" }).samples(from: failingSource(), report: report, onError: .skip)
            .collect().map(\.key)
        XCTAssertEqual(keys.count, 8 * 4 + 2)
        XCTAssertTrue(keys.contains("s3/1") && !keys.contains("s3/2") && !keys.contains { $0.hasPrefix("s6/") })
        XCTAssertTrue(keys.contains("s9/3"))
        let c = report.counts
        XCTAssertEqual(c.shardsOpened, 10)
        XCTAssertEqual(c.shardsCompleted, 8)
        XCTAssertEqual(c.shardsFailed, 2)
        XCTAssertEqual(c.samplesRead, 34)
        XCTAssertEqual(c.errors.count, 2)
        XCTAssertTrue(c.errors[1].hasPrefix("s6"))
        // The results() adapter, for for-in loops.
        var n = 0
        for r in ShardList(["s0", "s3"]).samples(from: failingSource(), report: PipelineReport()).results() {
            if case .failure(let e) = r { XCTAssertEqual((e as? WebDatasetError)?.shard, "s3") } else { n += 1 }
        }
        XCTAssertEqual(n, 6)
    }

    /// An endless resampled stream of unreadable shards does not spin forever under `.skip`.
    func testConsecutiveFailuresEndAnEndlessStream() throws {
        let report = PipelineReport(maxMessages: 3)
        let stream = ShardList(["x", "y"]).resampled(seed: 1).samples(from: SyntheticSource(counts: [:]),
                                                                      report: report, onError: .skip)
        XCTAssertThrowsError(try stream.collect())
        XCTAssertEqual(report.counts.shardsFailed, 100)
        XCTAssertEqual(report.counts.errors.count, 3)
    }

    // MARK: resampling

    func testResampledShardsAreWithReplacementAndDeterministic() throws {
        let list = Synthetic.list()
        let slot = ReaderSlot(rank: 1, worldSize: 4, worker: 2, workerCount: 3)
        var it = list.resampled(seed: 11, epoch: 0, slot: slot).makeIterator()
        var draws: [String] = []
        for _ in 0..<3700 { draws.append(try it.next()!) }
        XCTAssertTrue(Set(draws).isSubset(of: Set(list.shards)))
        XCTAssertEqual(Set(draws).count, 37, "every shard drawn")
        XCTAssertLessThan(Set(draws.prefix(37)).count, 37, "with replacement: repeats among 37 draws")
        var histogram: [String: Int] = [:]
        for d in draws { histogram[d, default: 0] += 1 }
        XCTAssertTrue(histogram.values.allSatisfy { (50...150).contains($0) }, "\(histogram.values.sorted())")
        // Deterministic per (seed, epoch, rank, worker); independent of world size / worker count.
        let again = try list.resampled(seed: 11, epoch: 0, slot: slot, count: 3700).collect()
        XCTAssertEqual(again, draws)
        let wider = ReaderSlot(rank: 1, worldSize: 8, worker: 2, workerCount: 5)
        XCTAssertEqual(try list.resampled(seed: 11, slot: wider, count: 50).collect(), Array(draws.prefix(50)))
        for other in [ReaderSlot(rank: 0, worldSize: 4, worker: 2, workerCount: 3),
                      ReaderSlot(rank: 1, worldSize: 4, worker: 1, workerCount: 3)] {
            XCTAssertNotEqual(try list.resampled(seed: 11, slot: other, count: 50).collect(), Array(draws.prefix(50)))
        }
        XCTAssertNotEqual(try list.resampled(seed: 12, slot: slot, count: 50).collect(), Array(draws.prefix(50)))
        XCTAssertNotEqual(try list.resampled(seed: 11, epoch: 1, slot: slot, count: 50).collect(), Array(draws.prefix(50)))
        XCTAssertEqual(try ShardList([]).resampled(seed: 1).collect(), [])
    }

    // MARK: epochs

    private struct EpochFixture: Decodable {
        struct Case: Decodable { var source: Int, length: Int, epochs: [[Int]] }
        var cases: [Case]
    }

    /// `.restarting` is webdataset's with_epoch over a finite pipeline (fixture); `.continuing` carries on.
    func testWithEpochModes() throws {
        let fixture = try loadPipelineFixture("with_epoch.json", as: EpochFixture.self)
        for c in fixture.cases {
            let epochs = (0..<c.source).asPipeline().withEpoch(c.length, mode: .restarting)
            let got = try c.epochs.indices.map { _ in try { var e = epochs.nextEpoch(); return try e.collect() }() }
            XCTAssertEqual(got, c.epochs, "length \(c.length)")
        }
        let continuing = (0..<10).asPipeline().withEpoch(4)
        var got: [[Int]] = []
        for _ in 0..<5 { var e = continuing.nextEpoch(); got.append(try e.collect()) }
        XCTAssertEqual(got, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]])
        XCTAssertEqual(continuing.epoch, 5)
        // An empty source ends every epoch at once instead of spinning.
        let empty = (0..<0).asPipeline().withEpoch(3)
        var e = empty.nextEpoch()
        XCTAssertEqual(try e.collect(), [])
    }

    /// Continuing epochs over finite data: each pass is reshuffled with its own epoch seed, every element is
    /// seen once per pass, and an epoch a consumer left early resumes where it stopped.
    func testContinuingEpochsOverPassesWithPerPassShuffles() throws {
        let epochs = EpochStream(length: 7) { pass in (0..<10).asPipeline().shuffled(bufferSize: 4, initial: 2, seed: 3, epoch: pass) }
        var all: [Int] = []
        for _ in 0..<10 { var e = epochs.nextEpoch(); all += try e.collect() }
        XCTAssertEqual(all.count, 70)
        for p in 0..<7 {
            let pass = Array(all[(p * 10)..<(p * 10 + 10)])
            XCTAssertEqual(pass.sorted(), Array(0..<10))
            XCTAssertEqual(pass, try (0..<10).asPipeline().shuffled(bufferSize: 4, initial: 2, seed: 3, epoch: p).collect())
        }
        XCTAssertEqual(epochs.pass, 6, "pass 6 was used up but its end not yet seen")

        let partial = (0..<100).asPipeline().withEpoch(10)
        var first = partial.nextEpoch()
        XCTAssertEqual(try first.next(), 0)
        var second = partial.nextEpoch()
        XCTAssertEqual(try second.collect(), Array(1...10))
    }

    // MARK: whole pipelines

    /// Training as CoDE builds it: resampled shards → samples → shuffle → decode on N threads → batches,
    /// cut into epochs of exactly `n` batches that continue the same stream.
    private func trainingEpochs(slot: ReaderSlot, seed: UInt64, threads: Int, report: PipelineReport)
        -> EpochStream<Batched<ParallelMap<ShuffleBuffer<SampleReader<ResampledShards>, SplitMix64>, String>>> {
        EpochStream(length: 7) { pass in
            Synthetic.list().resampled(seed: seed, epoch: pass, slot: slot)
                .samples(from: Synthetic.source(), report: report, onError: .skip)
                .shuffled(bufferSize: 20, initial: 5, seed: seed, epoch: pass)
                .map(threads: threads, inFlight: 8) { "decoded:" + $0.key }
                .batched(5, partial: false)
        }
    }

    func testTrainingStreamEpochLengthsAndDeterminism() throws {
        let slot = ReaderSlot(rank: 1, worldSize: 2, worker: 0, workerCount: 3)
        var reference: [[String]] = []
        for threads in 0...4 {
            let epochs = trainingEpochs(slot: slot, seed: 99, threads: threads, report: PipelineReport())
            var batches: [[String]] = []
            for _ in 0..<4 {
                var e = epochs.nextEpoch()
                let epoch = try e.collect()
                XCTAssertEqual(epoch.count, 7)
                XCTAssertTrue(epoch.allSatisfy { $0.count == 5 })
                batches += epoch
            }
            XCTAssertEqual(epochs.pass, 0, "an endless stream is never restarted")
            if threads == 0 { reference = batches } else { XCTAssertEqual(batches, reference, "threads \(threads)") }
        }
        // The epochs are consecutive slices of one stream.
        let one = EpochStream(length: 28) { _ in
            Synthetic.list().resampled(seed: 99, slot: slot).samples(from: Synthetic.source(), report: PipelineReport())
                .shuffled(bufferSize: 20, initial: 5, seed: 99).map { "decoded:" + $0.key }.batched(5, partial: false)
        }
        var e = one.nextEpoch()
        XCTAssertEqual(try e.collect(), reference)
        // Another seed, another stream.
        do {
            var other = trainingEpochs(slot: slot, seed: 100, threads: 2, report: PipelineReport()).nextEpoch()
            XCTAssertNotEqual(try other.collect(), Array(reference.prefix(7)))
            XCTAssertGreaterThan(PipelineDiagnostics.liveMapThreads, 0, "an endless stream keeps its threads")
        }  // releasing the epoch iterator releases the stream and its threads
        XCTAssertTrue(waitForMapThreadsToExit())
    }

    /// Evaluation: every (rank, worker) reads its split in order (no shuffle); across slots every sample
    /// once; independent of the decode thread count; the shard-list shuffle and the sample shuffle are
    /// reproducible per seed and epoch.
    func testEvaluationPipelineAcrossSlots() throws {
        func run(world: Int, workers: Int, threads: Int, seed: UInt64?, epoch: Int) throws -> [[String]] {
            var list = Synthetic.list()
            if let seed { list = list.shuffled(seed: seed, epoch: epoch) }
            return try ReaderSlot.all(worldSize: world, workerCount: workers).map { slot in
                let samples = try list.split(slot).samples(from: Synthetic.source(), report: PipelineReport())
                let keys: AnyPipelineSequence<String>
                if let seed {
                    keys = samples.shuffled(bufferSize: 16, initial: 4, seed: seed, epoch: epoch)
                        .map(threads: threads) { $0.key }.eraseToAnyPipelineSequence()
                } else {
                    keys = samples.map(threads: threads) { $0.key }.eraseToAnyPipelineSequence()
                }
                return try keys.collect()
            }
        }
        for (world, workers) in [(1, 1), (2, 3), (4, 3), (3, 4)] {
            let plain = try run(world: world, workers: workers, threads: 0, seed: nil, epoch: 0)
            XCTAssertEqual(plain.flatMap { $0 }.sorted(), Synthetic.allKeys().sorted())
            let shuffled = try run(world: world, workers: workers, threads: 0, seed: 5, epoch: 2)
            XCTAssertEqual(shuffled.flatMap { $0 }.sorted(), Synthetic.allKeys().sorted())
            XCTAssertNotEqual(shuffled, plain)
            for threads in 1...4 {
                XCTAssertEqual(try run(world: world, workers: workers, threads: threads, seed: 5, epoch: 2), shuffled)
            }
            XCTAssertNotEqual(try run(world: world, workers: workers, threads: 2, seed: 5, epoch: 3), shuffled)
        }
        // One slot: the CLI's "all samples of a shard list, in order".
        XCTAssertEqual(try Synthetic.list().samples(from: Synthetic.source(), report: PipelineReport()).collect().map(\.key),
                       Synthetic.allKeys())
        XCTAssertTrue(waitForMapThreadsToExit())
    }
}
