import Foundation
import WebDataset
import XCTest
final class ZZBenchTests: XCTestCase {
    func testThroughput() throws {
        guard let path = ProcessInfo.processInfo.environment["WDS_BENCH"] else { return }
        var best = Double.infinity; var count = 0; var bytes = 0
        for run in 0..<5 {
            let start = Date()
            count = 0; bytes = 0
            for result in TarShardSource().samples(of: path) {
                let sample = try result.get()
                count += 1; bytes += sample.fields.reduce(0) { $0 + $1.bytes.count }
            }
            let elapsed = Date().timeIntervalSince(start)
            best = min(best, elapsed)
            print("run \(run): \(count) samples in \(elapsed)s")
        }
        print(String(format: "swift TarShardSource: %.0f samples/s, %.0f MB/s (best of 5)", Double(count) / best, Double(bytes) / best / 1e6))
    }
}
