import Foundation
import WebDataset
import XCTest

/// `deepfake evaluate` end to end on a D3-style layout of the fixture images, against scikit-learn's
/// accuracy_score / average_precision_score / roc_auc_score on scikit-learn's own head outputs
/// (tools/reference/make_detect_fixtures.py writes the layout and the figures).
final class EvaluateCommandTests: XCTestCase {
    struct Expected: Decodable {
        struct Result: Decodable {
            let n_real: Int, n_fake: Int
            let r_acc: Double, f_acc: Double, acc: Double, average_precision: Double, roc_auc: Double
        }
        let layout: [String: String]
        let results: [String: Result]
    }

    /// One result of evaluation.json against scikit-learn's figures (counts exact, metrics to 1e-6).
    static func assertResult(_ r: [String: Any], equals e: Expected.Result, _ key: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r["n_real"] as? Int, e.n_real, key, file: file, line: line)
        XCTAssertEqual(r["n_fake"] as? Int, e.n_fake, key, file: file, line: line)
        let up = r["upstream"] as! [String: Any], m = r["metrics"] as! [String: Any]
        func value(_ d: [String: Any], _ k: String) -> Double { (d[k] as! NSNumber).doubleValue }
        XCTAssertEqual(value(up, "r_acc"), e.r_acc, accuracy: 1e-6, key, file: file, line: line)
        XCTAssertEqual(value(up, "f_acc"), e.f_acc, accuracy: 1e-6, key, file: file, line: line)
        XCTAssertEqual(value(up, "acc"), e.acc, accuracy: 1e-6, key, file: file, line: line)
        XCTAssertEqual(value(m, "average_precision"), e.average_precision, accuracy: 1e-6, key, file: file, line: line)
        XCTAssertEqual(value(m, "roc_auc"), e.roc_auc, accuracy: 1e-6, key, file: file, line: line)
    }

    func testD3ProtocolMatchesScikitLearn() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: tinyModel + "/expected_evaluate.json")))
        let fm = FileManager.default
        let tmp = NSTemporaryDirectory() + "/evaluate-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: tmp) }
        let root = tmp + "/d3_test"
        for (name, folder) in expected.layout {
            try fm.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: root + "/" + folder + "/" + name, withDestinationPath: images + "/" + name)
        }
        let out = tmp + "/results"
        let (status, stdout, stderr) = try runDeepfake(["evaluate", "--model", tinyModel, "--output", out, root])
        XCTAssertEqual(status, 0, stderr)
        XCTAssertTrue(stdout.contains("augm_gen0_and_real"), stdout)
        for file in ["evaluation.json", "scores.csv", "acc0_linear.txt", "acc0_knn.txt", "acc0_svm.txt",
                     "roc_linear.svg", "pr_svm.svg"] {
            XCTAssertTrue(fm.fileExists(atPath: out + "/" + file), file)
        }
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/evaluation.json"))) as! [String: Any]
        let results = report["results"] as! [[String: Any]]
        XCTAssertEqual(results.count, expected.results.count)
        for r in results {
            let key = "\(r["pair"] as! String)/\(r["head"] as! String)"
            guard let e = expected.results[key] else { XCTFail("unexpected result \(key)"); continue }
            Self.assertResult(r, equals: e, key)
        }
    }

    /// The same layout as D3 records in shards (one sample per image: `real.EXT` or `gen_K.EXT`), one shard
    /// per subset, evaluated with `--subset`: the same figures as scikit-learn's. A corrupt image and a field
    /// that is neither real nor gen_K are reported, not scored.
    func testShardsMatchScikitLearn() throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: tinyModel + "/expected_evaluate.json")))
        let fm = FileManager.default
        let tmp = NSTemporaryDirectory() + "/evaluate-shards-\(UUID().uuidString)"
        try fm.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: tmp) }
        var checked = 0
        for subset in ["augm", "no_augm"] {
            let shard = tmp + "/\(subset).tar"
            let writer = try TarWriter(path: shard)
            for (i, (name, folder)) in expected.layout.sorted(by: { $0.key < $1.key }).enumerated() where folder.hasPrefix(subset + "/") {
                let field = String(folder.dropFirst(subset.count + 1))  // real or gen_K
                let ext = (name as NSString).pathExtension.lowercased()
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: images + "/" + name)))
                _ = try writer.write(Sample(key: String(format: "d3.v1/rec_%04d", i), shard: shard, fields: [("\(field).\(ext)", bytes)]))
            }
            _ = try writer.write(Sample(key: "broken", shard: shard, fields: [("gen_1.png", [0x89, 0x50, 0x4E, 0x47, 1, 2, 3])]))
            _ = try writer.write(Sample(key: "other", shard: shard, fields: [("mask.png", [UInt8](try Data(contentsOf: URL(fileURLWithPath: images + "/" + expected.layout.keys.sorted()[0]))))]))
            try writer.finish()

            let out = tmp + "/results-\(subset)"
            let (status, stdout, stderr) = try runDeepfake(["evaluate", "--model", tinyModel, "--output", out, "--subset", subset, shard])
            XCTAssertEqual(status, 0, stderr)
            XCTAssertTrue(stdout.contains("\(subset)_gen0_and_real"), stdout)
            XCTAssertTrue(stderr.contains("#broken.gen_1.png"), "the corrupt image is reported: \(stderr)")
            XCTAssertTrue(stderr.contains("1 image fields are neither real nor gen_K"), stderr)
            let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/evaluation.json"))) as! [String: Any]
            for r in report["results"] as! [[String: Any]] {
                let key = "\(r["pair"] as! String)/\(r["head"] as! String)"
                guard let e = expected.results[key] else { XCTFail("unexpected result \(key)"); continue }
                Self.assertResult(r, equals: e, key)
                checked += 1
            }
        }
        XCTAssertEqual(checked, expected.results.count, "every pair × head of both subsets")
    }

    func testPairSourcesAreExclusiveAndMissingRootIsExit3() throws {
        XCTAssertEqual(try runDeepfake(["evaluate", "--model", tinyModel, "--real", images, "--fake", images, images]).status, 64)
        XCTAssertEqual(try runDeepfake(["evaluate", "--model", tinyModel, "/nonexistent-d3"]).status, 3)
    }
}
