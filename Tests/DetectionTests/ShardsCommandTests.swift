import Foundation
import XCTest

/// `deepfake shards create|ls|verify|cat` and shards as detect inputs, on a D3 download layout built from
/// fixture images.
final class ShardsCommandTests: XCTestCase {
    func testCreateListVerifyCatAndDetectFromShards() throws {
        let fm = FileManager.default
        let tmp = NSTemporaryDirectory() + "/shards-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: tmp) }
        let pictures = try referenceEmbeddings().keys.sorted().filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }
        XCTAssertGreaterThanOrEqual(pictures.count, 15)
        // Three complete records in nested folders and one without its url.txt.
        for r in 0..<4 {
            let dir = tmp + "/d3/job-\(r % 2)/\(r)"
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let id = "12345678\(r)"
            for k in 0..<5 {
                let source = pictures[r * 5 + k], ext = (source as NSString).pathExtension
                let target = dir + "/" + id + (k < 4 ? "_gen\(k)." : "_real.") + ext
                try fm.copyItem(atPath: images + "/" + source, toPath: target)
            }
            try "a prompt \(r)".write(toFile: dir + "/\(id)_prompt.txt", atomically: true, encoding: .utf8)
            if r != 3 { try "https://example.org/\(r)".write(toFile: dir + "/\(id)_url.txt", atomically: true, encoding: .utf8) }
        }
        let create = try runDeepfake(["shards", "create", "--from", tmp + "/d3", "--out", tmp + "/out", "--per-shard", "2", "--split", "test"])
        XCTAssertEqual(create.status, 1, "an incomplete record is reported: \(create.stderr)")
        XCTAssertTrue(try String(contentsOfFile: tmp + "/out/incomplete.txt", encoding: .utf8).contains("123456783"))
        XCTAssertTrue(fm.fileExists(atPath: tmp + "/out/elsa_v2-000000.tar"))
        XCTAssertTrue(fm.fileExists(atPath: tmp + "/out/elsa_v2-000001.tar"))

        let spec = tmp + "/out/elsa_v2-{000000..000001}.tar"
        let ls = try runDeepfake(["shards", "ls", "--format", "jsonl", spec])
        XCTAssertEqual(ls.status, 0, ls.stderr)
        let rows = ls.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(rows.map { $0["key"] as! String }, ["elsa_v2__test__123456780", "elsa_v2__test__123456781", "elsa_v2__test__123456782"])
        let fields = (rows[0]["fields"] as! [String: Any]).keys.sorted()
        XCTAssertEqual(fields.count, 7)
        XCTAssertEqual(fields.first, "caption.txt"); XCTAssertEqual(fields.last, "url.txt")

        XCTAssertEqual(try runDeepfake(["shards", "verify", spec]).status, 0)
        // several specs, like every other command's inputs; a spec that does not resolve is reported, the rest go on
        let single = tmp + "/out/elsa_v2-000000.tar"
        let lsMany = try runDeepfake(["shards", "ls", "--format", "jsonl", single, tmp + "/out/missing-{0..1}.tar", spec])
        XCTAssertEqual(lsMany.status, 1)
        XCTAssertTrue(lsMany.stderr.contains("missing-0.tar"), lsMany.stderr)
        XCTAssertEqual(lsMany.stdout.split(separator: "\n").map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["key"] as! String },
                       ["elsa_v2__test__123456780", "elsa_v2__test__123456781",
                        "elsa_v2__test__123456780", "elsa_v2__test__123456781", "elsa_v2__test__123456782"])
        let verifyMany = try runDeepfake(["shards", "verify", single, spec])
        XCTAssertEqual(verifyMany.status, 0, verifyMany.stdout)
        XCTAssertTrue(verifyMany.stdout.hasSuffix("5 samples, 25 images, 0 failures\n"), verifyMany.stdout)
        let cat = try runDeepfake(["shards", "cat", spec, "elsa_v2__test__123456781", "caption.txt"])
        XCTAssertEqual(cat.stdout, "a prompt 1")
        let gen0 = (fields.first { $0.hasPrefix("gen_0.") })!
        let catImage = try runDeepfake(["shards", "cat", spec, "elsa_v2__test__123456780", gen0])
        XCTAssertEqual(catImage.status, 0)
        XCTAssertEqual(try runDeepfake(["shards", "cat", spec, "elsa_v2__test__123456780", "nothing.txt"]).status, 1)

        // detect on the shards gives, member by member, what it gives on the original files.
        let fromShards = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", spec])
        XCTAssertEqual(fromShards.status, 0, fromShards.stderr)
        let shardRows = fromShards.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(shardRows.count, 15)
        XCTAssertTrue((shardRows[0]["path"] as! String).hasSuffix("elsa_v2-000000.tar#elsa_v2__test__123456780." + gen0))
        let fromFiles = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", images + "/" + pictures[0]])
        let fileRow = try JSONSerialization.jsonObject(with: Data(fromFiles.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(shardRows[0]["score"] as? Double, fileRow["score"] as? Double)
    }
}
