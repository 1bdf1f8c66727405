import Checkpoints
import Foundation
import Heads
import XCTest

/// Hostile head files (Tests/Fixtures/heads/malicious, see its manifest.json) are refused and nothing in
/// them runs: the marker file their payloads would create never appears.
final class SklearnMaliciousTests: XCTestCase {
    func testHostileFilesAreRefusedAndNothingRuns() throws {
        let folder = sklearnFixtures + "/malicious"
        let manifest = try readJSON(folder + "/manifest.json")
        let marker = try XCTUnwrap(manifest["marker"] as? String)
        let entries = try XCTUnwrap(manifest["files"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(entries.count, 12)
        try? FileManager.default.removeItem(atPath: marker)
        defer { XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "a payload ran: \(marker) exists") }

        for entry in entries {
            let file = try XCTUnwrap(entry["file"] as? String)
            let path = folder + "/" + file
            let expect = try XCTUnwrap(entry["expect"] as? [String: Any])
            do {
                let head = try Head(sklearnFile: path)
                XCTFail("\(file) was accepted as \(head.kind)")
            } catch {
                XCTAssertTrue(error.description.hasPrefix(path + ": "), "error names the file: \(error.description)")
                guard case let .unreadable(pickleError) = error.reason else { XCTFail("\(file): \(error)"); continue }
                if let forbidden = expect["forbidden"] as? [String] {
                    XCTAssertEqual(pickleError, .forbiddenGlobal(module: forbidden[0], name: forbidden[1]), file)
                    XCTAssertTrue(error.description.contains("\(forbidden[0]).\(forbidden[1])"), error.description)
                } else if let kind = expect["error"] as? String {
                    switch (kind, pickleError) {
                    case ("truncated", .truncated), ("malformed", .malformed): break
                    default: XCTFail("\(file): expected \(kind), got \(pickleError)")
                    }
                }
            }
            // The lower layer gives the same error, with the path.
            XCTAssertThrowsError(try Joblib.load(path: path)) { error in
                guard let e = error as? PickleError, case .inFile(path, _) = e else { return XCTFail("\(error)") }
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "after \(file)")
        }
    }

    /// The nested case: the allowed estimator class is accepted, the forbidden call inside its state is not.
    func testForbiddenGlobalInsideAnAllowedEstimator() {
        let path = sklearnFixtures + "/malicious/nested_forbidden.joblib"
        XCTAssertThrowsError(try Joblib.load(path: path)) { error in
            XCTAssertEqual((error as? PickleError)?.underlying, .forbiddenGlobal(module: "posix", name: "system"))
        }
    }

    /// Truncating real head files at many points gives errors, never a crash or a head.
    func testTruncatedHeadFiles() throws {
        let folder = try XCTUnwrap(sklearnFixtureFolders().first)
        for name in ["linear_tot_classifier_epoch-32.sav", "ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib", "knn_k5_cosine_distance_p5.pkl", "ocsvm_rbf_zlib.joblib"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            let step = max(1, bytes.count / 300)
            for n in stride(from: 0, to: bytes.count, by: step) {
                XCTAssertThrowsError(try Head(sklearnBytes: Array(bytes[0..<n]), name: name), "\(name) cut at \(n)")
            }
        }
    }
}
