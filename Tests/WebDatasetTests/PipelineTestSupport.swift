import Foundation
import WebDataset
import XCTest
import TestSupport

/// In-memory shards for the pipeline tests: shard `name` holds `counts[name]` samples with keys
/// "name/0", "name/1", … and one field "idx.txt" holding the index. A shard listed in `failAfter` ends with
/// an error after that many samples (0: it cannot be opened); an unknown shard fails at once.
struct SyntheticSource: SampleSource {
    var counts: [String: Int]
    var failAfter: [String: Int] = [:]

    func samples(of shard: String) -> AnyIterator<Result<Sample, WebDatasetError>> {
        guard let n = counts[shard] else {
            var done = false
            return AnyIterator {
                if done { return nil }
                done = true
                return .failure(WebDatasetError(.unreadable, shard: shard, reason: "no such shard"))
            }
        }
        let failAt = failAfter[shard]
        var i = 0
        return AnyIterator {
            if let failAt, i == failAt {
                i = Int.max
                return .failure(WebDatasetError(.corrupt, shard: shard, offset: Int64(failAt) * 1024, reason: "synthetic failure"))
            }
            guard i < n else { return nil }
            defer { i += 1 }
            return .success(Sample(key: "\(shard)/\(i)", shard: shard, fields: [(name: "idx.txt", bytes: Array("\(i)".utf8))]))
        }
    }
}

/// 37 shards of 3 to 13 samples.
enum Synthetic {
    static func shardNames(_ n: Int) -> [String] { (0..<n).map { String(format: "shard-%03d.tar", $0) } }
    static func count(_ i: Int) -> Int { 3 + (i * 7) % 11 }
    static func list(_ n: Int = 37, withCounts: Bool = true) -> ShardList {
        let names = shardNames(n)
        return ShardList(names, sampleCounts: withCounts ? (0..<n).map(count) : nil)
    }
    static func source(_ n: Int = 37) -> SyntheticSource {
        let names = shardNames(n)
        return SyntheticSource(counts: Dictionary(uniqueKeysWithValues: (0..<n).map { (names[$0], count($0)) }))
    }
    static func allKeys(_ n: Int = 37) -> [String] {
        let names = shardNames(n)
        return (0..<n).flatMap { i in (0..<count(i)).map { "\(names[i])/\($0)" } }
    }
}

/// Thread-safe counters for instrumented transforms.
final class Gauge: @unchecked Sendable {
    // @unchecked Sendable: every property is read and written under `lock`.
    private let lock = NSLock()
    private var values: [String: Int] = [:]
    private var maxima: [String: Int] = [:]

    func add(_ name: String, _ d: Int) -> Int {
        lock.lock(); defer { lock.unlock() }
        let v = values[name, default: 0] + d
        values[name] = v
        maxima[name] = max(maxima[name, default: Int.min], v)
        return v
    }
    func get(_ name: String) -> Int { lock.lock(); defer { lock.unlock() }; return values[name, default: 0] }
    func maximum(_ name: String) -> Int { lock.lock(); defer { lock.unlock() }; return maxima[name, default: 0] }
    func observe(_ name: String, _ v: Int) {
        lock.lock(); maxima[name] = max(maxima[name, default: Int.min], v); lock.unlock()
    }
}

let pipelineFixtures = Fixtures.url("pipeline")

func loadPipelineFixture<T: Decodable>(_ name: String, as: T.Type) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(contentsOf: pipelineFixtures.appendingPathComponent(name)))
}

/// Waits up to `seconds` for the map threads of the process to exit.
func waitForMapThreadsToExit(seconds: Double = 10) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while PipelineDiagnostics.liveMapThreads > 0 {
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.005)
    }
    return true
}
