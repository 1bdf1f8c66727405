import Foundation
import DeepfakeCore
import WebDataset
import XCTest

/// Replays webdataset's recorded random draws and logs the bounds it is asked for.
private final class DrawLog { var bounds: [Int] = [] }

private struct ScriptedIndices: RandomIndexGenerator {
    let draws: [[Int]]  // [bound, index]
    let log: DrawLog
    var position = 0
    mutating func index(below n: Int) -> Int {
        log.bounds.append(n)
        defer { position += 1 }
        return position < draws.count ? draws[position][1] : 0
    }
}

final class PipelineShuffleTests: XCTestCase {
    func testSplitMix64ReferenceValues() {
        var g = SplitMix64(seed: 0)
        XCTAssertEqual(g.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(g.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(g.next(), 0x06C4_5D18_8009_454F)
        var h = SplitMix64(seed: 1234567)  // the reference algorithm (splitmix64.c) from seed 1234567
        XCTAssertEqual(h.next(), 6_457_827_717_110_365_317)
        XCTAssertEqual(h.next(), 3_203_168_211_198_807_973)
        XCTAssertNotEqual(SplitMix64.derive(1, 2), SplitMix64.derive(2, 1))
        XCTAssertEqual(SplitMix64.derive(1, 2, 3), SplitMix64.derive(1, 2, 3))
    }

    func testIndexBelowIsUniformAndInRange() {
        var g = SplitMix64(seed: 42)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[g.index(below: 10)] += 1 }
        var chi2 = 0.0
        for c in counts { chi2 += Double((c - 10_000) * (c - 10_000)) / 10_000 }
        XCTAssertLessThan(chi2, 27.9, "\(counts)")  // χ²(9) at p = 0.001
        for n in [1, 2, 3, 7, 1 << 40, Int.max] {
            for _ in 0..<1000 { XCTAssertTrue((0..<n).contains(g.index(below: n))) }
        }
    }

    private struct ShuffleFixture: Decodable {
        struct Case: Decodable { var n: Int, bufsize: Int, initial: Int, draws: [[Int]], output: [Int] }
        var versions: [String: String]
        var cases: [Case]
    }

    /// Fed webdataset's own random draws, the buffer outputs exactly what webdataset's `_shuffle` did.
    func testShuffleBufferMatchesWebdatasetGivenTheSameDraws() throws {
        let fixture = try loadPipelineFixture("shuffle.json", as: ShuffleFixture.self)
        XCTAssertEqual(fixture.cases.count, 8)
        for c in fixture.cases {
            let log = DrawLog()
            let stage = (0..<c.n).asPipeline().shuffled(bufferSize: c.bufsize, initial: c.initial,
                                                        generator: ScriptedIndices(draws: c.draws, log: log))
            XCTAssertEqual(try stage.collect(), c.output, "n \(c.n) bufsize \(c.bufsize) initial \(c.initial)")
            // The buffer had the same length at every draw.
            XCTAssertEqual(log.bounds, c.draws.map { $0[0] })
        }
    }

    /// A permutation of the input (nothing lost or duplicated) that really moves elements.
    func testShuffleIsAPermutationAndShuffles() throws {
        for (n, size, initial) in [(1000, 100, 10), (1000, 1000, 100), (500, 7, 7), (10, 100, 3), (0, 5, 2), (1, 1, 1)] {
            let out = try (0..<n).asPipeline().shuffled(bufferSize: size, initial: initial, seed: 3).collect()
            XCTAssertEqual(out.sorted(), Array(0..<n), "n \(n) buffer \(size)")
        }
        let out = try (0..<1000).asPipeline().shuffled(bufferSize: 100, initial: 10, seed: 3).collect()
        let displacement = zip(out.indices, out).map { abs($0 - $1) }
        let mean = Double(displacement.reduce(0, +)) / 1000
        XCTAssertGreaterThan(mean, 20, "mean displacement")
        XCTAssertLessThan(displacement.filter { $0 == 0 }.count, 50, "fixed points")
        // Inversions: a sorted list has none, a uniform shuffle about n²/4.
        let big = try (0..<400).asPipeline().shuffled(bufferSize: 1000, initial: 1000, seed: 9).collect()
        var inversions = 0
        for i in 0..<big.count { for j in (i + 1)..<big.count where big[i] > big[j] { inversions += 1 } }
        XCTAssertEqual(Double(inversions), 400.0 * 399 / 4, accuracy: 400 * 399 / 4 * 0.15)
        // A buffer of one does not shuffle (as webdataset).
        XCTAssertEqual(try (0..<50).asPipeline().shuffled(bufferSize: 1, initial: 1, seed: 1).collect(), Array(0..<50))
    }

    /// Same seed and epoch → same order; another seed or epoch (detshuffle's seed + epoch) → another order.
    func testShuffleDeterminism() throws {
        let run = { (seed: UInt64, epoch: Int) in
            try (0..<300).asPipeline().shuffled(bufferSize: 50, initial: 10, seed: seed, epoch: epoch).collect()
        }
        XCTAssertEqual(try run(5, 0), try run(5, 0))
        XCTAssertNotEqual(try run(5, 0), try run(6, 0))
        XCTAssertNotEqual(try run(5, 0), try run(5, 1))
        XCTAssertEqual(try run(5, 1), try run(6, 0), "seed + epoch, as detshuffle")
    }

    private struct BatchedFixture: Decodable {
        struct Case: Decodable { var n: Int, size: Int, partial: Bool, batches: [[Int]] }
        var cases: [Case]
    }

    func testBatchedMatchesWebdataset() throws {
        let fixture = try loadPipelineFixture("batched.json", as: BatchedFixture.self)
        for c in fixture.cases {
            XCTAssertEqual(try (0..<c.n).asPipeline().batched(c.size, partial: c.partial).collect(), c.batches,
                           "n \(c.n) size \(c.size) partial \(c.partial)")
        }
    }
}
