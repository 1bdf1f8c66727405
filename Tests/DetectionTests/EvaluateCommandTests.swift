import Foundation
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
            XCTAssertEqual(r["n_real"] as? Int, e.n_real, key)
            XCTAssertEqual(r["n_fake"] as? Int, e.n_fake, key)
            let up = r["upstream"] as! [String: Any], m = r["metrics"] as! [String: Any]
            func value(_ d: [String: Any], _ k: String) -> Double { (d[k] as! NSNumber).doubleValue }
            XCTAssertEqual(value(up, "r_acc"), e.r_acc, accuracy: 1e-6, key)
            XCTAssertEqual(value(up, "f_acc"), e.f_acc, accuracy: 1e-6, key)
            XCTAssertEqual(value(up, "acc"), e.acc, accuracy: 1e-6, key)
            XCTAssertEqual(value(m, "average_precision"), e.average_precision, accuracy: 1e-6, key)
            XCTAssertEqual(value(m, "roc_auc"), e.roc_auc, accuracy: 1e-6, key)
        }
    }

    func testPairSourcesAreExclusiveAndMissingRootIsExit3() throws {
        XCTAssertEqual(try runDeepfake(["evaluate", "--model", tinyModel, "--real", images, "--fake", images, images]).status, 64)
        XCTAssertEqual(try runDeepfake(["evaluate", "--model", tinyModel, "/nonexistent-d3"]).status, 3)
    }
}
