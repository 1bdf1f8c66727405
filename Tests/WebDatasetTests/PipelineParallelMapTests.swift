import Foundation
import WebDataset
import XCTest

private struct Odd: Error, Equatable { var value: Int }

/// Uneven work, so that threads finish out of order.
private func work(_ x: Int) -> Int {
    var h = UInt64(x)
    for _ in 0..<((x * 37) % 13) * 2000 { h = h &* 6364136223846793005 &+ 1442695040888963407 }
    return x * 3 + (h == 42 ? 1 : 0)
}

final class PipelineParallelMapTests: XCTestCase {
    /// Order-preserving map: the same output as a serial map for every thread count and in-flight bound.
    func testParallelMapPreservesOrderAndEqualsSerial() throws {
        let serial = (0..<500).map(work)
        for threads in 0...4 {
            for inFlight in [1, 3, 16] {
                let out = try (0..<500).asPipeline().map(threads: threads, inFlight: inFlight) { work($0) }.collect()
                XCTAssertEqual(out, serial, "threads \(threads) inFlight \(inFlight)")
            }
        }
        let unordered = try (0..<500).asPipeline().map(threads: 4, ordered: false) { work($0) }.collect()
        XCTAssertEqual(unordered.sorted(), serial.sorted())
        XCTAssertTrue(waitForMapThreadsToExit())
    }

    /// At most `inFlight` elements are taken from upstream and not yet consumed (hence at most that many
    /// decoded and waiting), and at most `threads` transforms run at once; the map does run ahead.
    func testBackPressureBoundsInFlightItems() throws {
        let gauge = Gauge()
        let k = 6, threads = 3
        let upstream = (0..<80).lazy.map { x -> Int in _ = gauge.add("pulled", 1); return x }
        let stage = upstream.asPipeline().map(threads: threads, inFlight: k) { x -> Int in
            let running = gauge.add("running", 1)
            XCTAssertLessThanOrEqual(running, threads)
            Thread.sleep(forTimeInterval: 0.0005)
            _ = gauge.add("running", -1)
            let done = gauge.add("done", 1)
            gauge.observe("ahead", done - gauge.get("consumed"))
            return x
        }
        var it = stage.makeIterator()
        var consumed = 0
        while let x = try it.next() {
            XCTAssertEqual(x, consumed)
            _ = gauge.add("consumed", 1)
            consumed += 1
            gauge.observe("inFlight", gauge.get("pulled") - consumed)
            Thread.sleep(forTimeInterval: 0.002)  // a slow consumer
        }
        XCTAssertEqual(consumed, 80)
        XCTAssertLessThanOrEqual(gauge.maximum("inFlight"), k)
        XCTAssertLessThanOrEqual(gauge.maximum("ahead"), k, "decoded but unconsumed")
        XCTAssertGreaterThanOrEqual(gauge.maximum("ahead"), 2, "the map works ahead of the consumer")
        XCTAssertLessThanOrEqual(gauge.maximum("running"), threads)
        XCTAssertTrue(waitForMapThreadsToExit())
    }

    /// A consumer that stops early (drops the iterator, or cancels) leaves no thread running.
    func testEarlyStopLeavesNoThreads() throws {
        XCTAssertTrue(waitForMapThreadsToExit())
        do {
            let stage = (0..<10_000).asPipeline().map(threads: 4, inFlight: 8) { x -> Int in
                Thread.sleep(forTimeInterval: 0.01)
                return x
            }
            var it = stage.makeIterator()
            for expected in 0..<3 { XCTAssertEqual(try it.next(), expected) }
            XCTAssertEqual(PipelineDiagnostics.liveMapThreads, 4)
        }  // the iterator is released here, mid-stream, with transforms running
        XCTAssertTrue(waitForMapThreadsToExit(seconds: 10), "threads left: \(PipelineDiagnostics.liveMapThreads)")

        var it = (0..<10_000).asPipeline().map(threads: 3) { $0 + 1 }.makeIterator()
        XCTAssertEqual(try it.next(), 1)
        it.cancel()
        XCTAssertNil(try it.next())
        XCTAssertTrue(waitForMapThreadsToExit())

        // Threads idle-waiting on an exhausted, unconsumed stream also exit when released.
        do {
            var it2 = (0..<3).asPipeline().map(threads: 4, inFlight: 2) { $0 }.makeIterator()
            XCTAssertEqual(try it2.next(), 0)
        }
        XCTAssertTrue(waitForMapThreadsToExit())

        // Stopping early in a full pipeline (batches over a parallel map): nothing left either.
        do {
            let report = PipelineReport()
            var batches = try Synthetic.list().split(ReaderSlot()).samples(from: Synthetic.source(), report: report)
                .map(threads: 2) { $0.key }.batched(4).makeIterator()
            XCTAssertEqual(try batches.next()?.count, 4)
        }
        XCTAssertTrue(waitForMapThreadsToExit())
    }

    /// A finished stream stops its threads without waiting for the iterator to be released.
    func testThreadsStopAtTheEndOfTheStream() throws {
        var it = (0..<20).asPipeline().map(threads: 4) { $0 }.makeIterator()
        while try it.next() != nil {}
        XCTAssertTrue(waitForMapThreadsToExit())
        XCTAssertNil(try it.next())
    }

    /// Transform errors: `.stop` throws at the failing element's position after delivering the earlier
    /// ones, for every thread count; `.skip` counts and goes on; compactMap's nil is a filter, not an error.
    func testTransformErrorPolicies() throws {
        for threads in 0...4 {
            let report = PipelineReport()
            var it = (0..<100).asPipeline().map(threads: threads, report: report) { x -> Int in
                if x == 37 || x == 61 { throw Odd(value: x) }
                return x
            }.makeIterator()
            var got: [Int] = []
            XCTAssertThrowsError(try { while let x = try it.next() { got.append(x) } }()) {
                XCTAssertEqual($0 as? Odd, Odd(value: 37))
            }
            XCTAssertEqual(got, Array(0..<37), "threads \(threads)")
            XCTAssertNil(try it.next(), "finished after the error")
            XCTAssertEqual(report.counts.samplesFailed, 1)

            let skipReport = PipelineReport()
            let skipped = try (0..<100).asPipeline().map(threads: threads, onError: .skip, report: skipReport) { x -> Int in
                if x % 10 == 3 { throw Odd(value: x) }
                return x
            }.collect()
            XCTAssertEqual(skipped, (0..<100).filter { $0 % 10 != 3 })
            XCTAssertEqual(skipReport.counts.samplesSkipped, 10)
            XCTAssertEqual(skipReport.counts.errors.count, 10)
            XCTAssertTrue(skipReport.counts.errors[0].contains("Odd(value: 3)"), skipReport.counts.errors[0])

            let filterReport = PipelineReport()
            let evens = try (0..<100).asPipeline().compactMap(threads: threads, report: filterReport) {
                $0 % 2 == 0 ? $0 : nil
            }.collect()
            XCTAssertEqual(evens, Array(stride(from: 0, to: 100, by: 2)))
            XCTAssertEqual(filterReport.counts.samplesFiltered, 50)
        }
        XCTAssertTrue(waitForMapThreadsToExit())
    }

    /// An upstream error is thrown after the elements taken before it have been delivered, in order.
    func testUpstreamErrorThroughTheMap() throws {
        let source = SyntheticSource(counts: ["a": 5, "b": 5, "c": 5], failAfter: ["b": 3])
        for threads in [0, 1, 3] {
            let report = PipelineReport()
            var it = ShardList(["a", "b", "c"]).samples(from: source, report: report)
                .map(threads: threads, inFlight: 4) { $0.key }.makeIterator()
            var keys: [String] = []
            XCTAssertThrowsError(try { while let k = try it.next() { keys.append(k) } }()) {
                XCTAssertEqual(($0 as? WebDatasetError)?.shard, "b")
            }
            XCTAssertEqual(keys, ["a/0", "a/1", "a/2", "a/3", "a/4", "b/0", "b/1", "b/2"])
            XCTAssertEqual(report.counts.shardsFailed, 1)
        }
        XCTAssertTrue(waitForMapThreadsToExit())
    }
}
