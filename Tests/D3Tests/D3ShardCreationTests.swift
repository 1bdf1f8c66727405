import Foundation
import D3
import TestSupport
import WebDataset
import XCTest

/// `createD3Shards` (what `deepfake shards create` runs): option values that would leave the output folder,
/// resuming after an interruption to the bytes of an uninterrupted run, and refusing to resume into shards
/// this run would not write.
final class D3ShardCreationTests: XCTestCase {
    /// Records `ids` under `folder/src`, parts of `size` bytes; `without` maps an id to the parts it lacks.
    private func source(_ folder: String, ids: [String], size: Int = 200, without: [String: [String]] = [:]) throws -> String {
        let src = folder + "/src"
        for (n, id) in ids.enumerated() {
            let dir = src + "/job-\(n % 3)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var parts = (0..<4).map { ("gen\($0)", "_gen\($0).jpg") } + [("real", "_real.png"), ("prompt", "_prompt.txt"), ("url", "_url.txt")]
            parts.removeAll { without[id]?.contains($0.0) == true }
            for (k, part) in parts.enumerated() {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 7 + n * 13 + k) }
                try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + id + part.1))
            }
        }
        return src
    }

    private func files(_ folder: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            out[name] = FileManager.default.contents(atPath: folder + "/" + name)
        }
        return out
    }

    func testKeyPartsAreCheckedBeforeAnythingIsWritten() throws {
        XCTAssertNil(sampleKeyPartProblem("elsa_v2"))
        XCTAssertNil(sampleKeyPartProblem("train-2%"))
        for bad in ["", ".", "..", "../x", "a/b", "a.b", "nul\u{0}byte", "line\nbreak", "del\u{7F}", String(repeating: "x", count: 101)] {
            XCTAssertNotNil(sampleKeyPartProblem(bad), bad.debugDescription)
        }
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let src = try source(folder, ids: ["1"])
        var options = D3ShardOptions(source: src, output: folder + "/out")
        options.prefix = "../evil"
        XCTAssertThrowsError(try createD3Shards(options)) { error in
            XCTAssertTrue((error as! D3ShardsError).isUsageError)
            XCTAssertTrue("\(error)".contains("--prefix"), "\(error)")
        }
        options.prefix = "elsa_v2"; options.split = "x\u{0}y"
        XCTAssertThrowsError(try createD3Shards(options)) { XCTAssertTrue("\($0)".contains("--split"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/out"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/evil-000000.tar"))

        // A '%' in the prefix is a character of the name, not a pattern conversion.
        options.split = "train"; options.prefix = "p%d"
        let summary = try createD3Shards(options)
        XCTAssertEqual(summary.shards, [folder + "/out/p%d-000000.tar"])
        let keys = Array(TarShardSource().samples(of: folder + "/out/p%d-000000.tar")).map { try? $0.get().key }
        XCTAssertEqual(keys, ["p%d__train__1"])
    }

    /// An interrupted run is simulated by removing the later shards of a finished one and leaving a partial
    /// `.tmp` (and, in another round, a damaged last shard): resuming gives the uninterrupted run's bytes,
    /// incomplete.txt included (an incomplete record, and one whose file is over the size limit, both before and
    /// after the point of interruption).
    func testResumeEqualsAnUninterruptedRun() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let ids = (0..<23).map { String(format: "%04d", $0) }
        let src = try source(folder, ids: ids, without: ["0003": ["url"], "0017": ["gen2"]])
        // Over the size limit: one record early, one late.
        for id in ["0001", "0020"] {
            let path = try XCTUnwrap(FileManager.default.enumerator(atPath: src)?.allObjects.compactMap { $0 as? String }
                .first { $0.hasSuffix(id + "_real.png") })
            try Data(repeating: 1, count: 5000).write(to: URL(fileURLWithPath: src + "/" + path))
        }
        var options = D3ShardOptions(source: src, output: folder + "/whole")
        options.perShard = 3
        options.maxFileBytes = 4096
        let whole = try createD3Shards(options)
        XCTAssertEqual(whole.records, 19)
        XCTAssertEqual(whole.shards.count, 7)
        XCTAssertEqual(whole.problems.count, 4, "\(whole.problems)")
        XCTAssertTrue(whole.problems[0].hasPrefix("record 0001: ") && whole.problems[0].contains("more than the 4096 bytes"),
                      whole.problems[0])
        XCTAssertTrue(whole.problems[1].hasPrefix("record 0003: incomplete record: missing url.txt"), whole.problems[1])
        let expected = files(folder + "/whole")
        XCTAssertEqual(expected.keys.sorted(), (0..<7).map { String(format: "elsa_v2-%06d.tar", $0) } + ["incomplete.txt"])

        for (kept, damage) in [(0, false), (2, false), (4, true), (7, false)] {
            let out = folder + "/resume-\(kept)-\(damage)"
            try FileManager.default.copyItem(atPath: folder + "/whole", toPath: out)
            try FileManager.default.removeItem(atPath: out + "/incomplete.txt")
            for n in kept..<7 { try FileManager.default.removeItem(atPath: out + String(format: "/elsa_v2-%06d.tar", n)) }
            if kept < 7 { try Data(repeating: 9, count: 700).write(to: URL(fileURLWithPath: out + String(format: "/elsa_v2-%06d.tar.tmp", kept))) }
            if damage {
                // The last kept shard cut short: it is written again.
                let last = out + String(format: "/elsa_v2-%06d.tar", kept - 1)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: last))
                try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: last))
            }
            options.output = out
            options.existing = .refuse
            if kept > 0 { XCTAssertThrowsError(try createD3Shards(options)) { XCTAssertTrue(($0 as! D3ShardsError).isUsageError) } }
            options.existing = .resume
            let resumed = try createD3Shards(options)
            XCTAssertEqual(resumed.keptShards, damage ? kept - 1 : kept, "kept \(kept)")
            XCTAssertEqual(resumed.records, 19)
            XCTAssertEqual(resumed.shards, whole.shards.map { $0.replacingOccurrences(of: "/whole/", with: "/resume-\(kept)-\(damage)/") })
            XCTAssertEqual(resumed.problems, whole.problems, "kept \(kept)")
            XCTAssertEqual(files(out), expected, "kept \(kept), damaged \(damage): differs from the uninterrupted run")
        }

        // Resuming with other settings is refused and changes nothing.
        let finished = files(folder + "/resume-2-false")
        options.output = folder + "/resume-2-false"
        for change in ["per-shard", "split", "source"] {
            var other = options
            switch change {
            case "per-shard": other.perShard = 2
            case "split": other.split = "val"
            default: other.source = try self.source(folder + "/other", ids: ["0000", "0001", "0005"])
            }
            XCTAssertThrowsError(try createD3Shards(other), change) { error in
                guard case .cannotResume = error as! D3ShardsError else { return XCTFail("\(change): \(error)") }
                XCTAssertTrue("\(error)".contains("--overwrite"), "\(error)")
            }
            XCTAssertEqual(files(options.output), finished, change)
        }
    }
}
