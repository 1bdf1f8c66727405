import Checkpoints
import Foundation
import Heads
import Tensor
import XCTest

/// Saving and loading heads in our safetensors head format (docs/head-format.md).
final class HeadStoreTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("headstore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// Saves, loads, and checks the loaded head is equal and predicts bit-identically.
    func assertRoundTrip(_ head: Head, _ name: String, on inputs: [[Float]], file: StaticString = #filePath, line: UInt = #line) throws {
        let p = path(name)
        try HeadStore.save(head, to: p, extraMetadata: ["source": "unit test"])
        let loaded = try HeadStore.load(from: p)
        XCTAssertEqual(loaded, head, file: file, line: line)
        for x in inputs {
            let a = head.predict(x), b = loaded.predict(x)
            XCTAssertEqual(a.isFake, b.isFake, file: file, line: line)
            XCTAssertEqual(a.score.bitPattern, b.score.bitPattern, file: file, line: line)
            XCTAssertEqual(a.decision?.bitPattern, b.decision?.bitPattern, file: file, line: line)
        }
        let raw = try SafeTensorsFile(path: p)
        XCTAssertEqual(raw.metadata["format"], "deepfake-head")
        XCTAssertEqual(raw.metadata["version"], "1")
        XCTAssertEqual(raw.metadata["kind"], head.kind.rawValue)
        XCTAssertEqual(raw.metadata["source"], "unit test")
    }

    func testFittedHeadsRoundTripExactly() throws {
        let ds = try FitFixtures.dataset("offset")
        let inputs = Array(ds.heldOut.prefix(60))
        let linear = try LogisticRegressionHead.fit(ds.train).head
        try assertRoundTrip(.linear(linear), "linear.safetensors", on: inputs)
        let knn = try KNNHead.fit(ds.train)
        try assertRoundTrip(.knn(knn), "knn.safetensors", on: Array(inputs.prefix(10)))
        let poly = try OneClassSVMHead.fit(ds.train).head
        try assertRoundTrip(.svm(poly), "svm-poly.safetensors", on: inputs)
        let rbf = try OneClassSVMHead.fit(ds.train, options: OneClassSVMFitOptions(kernel: .rbf, gamma: .scale)).head
        try assertRoundTrip(.svm(rbf), "svm-rbf.safetensors", on: inputs)
        // saving over an existing file replaces it
        try assertRoundTrip(.svm(poly), "svm-rbf.safetensors", on: inputs)
    }

    func testEveryKernelAndKNNOptionRoundTrips() throws {
        let sv: [Double] = [0.1, -0.2, 1.0 / 3, 7, 1e-300, -2.5]
        for kernel in [OneClassSVMHead.Kernel.linear, .poly(gamma: 1.0 / 3, coef0: -0.1, degree: 5),
                       .rbf(gamma: 0.1 + 0.2), .sigmoid(gamma: 1e-7, coef0: .pi)] {
            let head = OneClassSVMHead(supportVectors: sv, features: 3, dualCoefficients: [0.25, 1.0 / 7],
                                       intercept: -.ulpOfOne, kernel: kernel)
            try assertRoundTrip(.svm(head), "k.safetensors", on: [[1, 2, 3], [-0.5, 0, 1e-3]])
        }
        let knn = KNNHead(vectors: [1, 2, 3, 4, 5, .leastNonzeroMagnitude], features: 2, labels: [true, false, true],
                          k: 3, metric: .euclidean, weights: .distance)
        try assertRoundTrip(.knn(knn), "knn.safetensors", on: [[0, 1], [5, 0]])
        try assertRoundTrip(.linear(LogisticRegressionHead(coefficients: [-0.0, Double.leastNormalMagnitude / 4, 3], intercept: -1e300)),
                            "lin.safetensors", on: [[1, 2, 3]])
    }

    // MARK: refused files

    /// Loading `p` fails with an error whose message names the file and contains `fragment`.
    func assertRefused(_ p: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try HeadStore.load(from: p), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(p), "message does not name the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(fragment), "expected '\(fragment)' in: \(message)", file: file, line: line)
        }
    }

    /// A linear head file with its metadata and tensors edited.
    func writeLinear(
        _ name: String, metadata edit: (inout [String: String]) -> Void = { _ in },
        doubles: [(name: String, shape: [Int], data: [Double])]? = nil,
        floats: [(name: String, tensor: Tensor)] = []
    ) throws -> String {
        var metadata = ["format": "deepfake-head", "version": "1", "kind": "linear", "features": "3"]
        edit(&metadata)
        let p = path(name)
        try SafeTensorsWriter.write(doubles: doubles ?? [("coef", [3], [1, 2, 3]), ("intercept", [1], [0.5])],
                                    floats: floats, to: p, metadata: metadata)
        return p
    }

    func testTheBaselineEditedFileLoads() throws {
        let loaded = try HeadStore.load(from: try writeLinear("ok.safetensors"))
        XCTAssertEqual(loaded, .linear(LogisticRegressionHead(coefficients: [1, 2, 3], intercept: 0.5)))
    }

    func testRefusesFilesThatAreNotHeads() throws {
        assertRefused(path("missing.safetensors"), "missing.safetensors")
        let garbage = path("garbage.safetensors")
        try Data((0..<100).map { UInt8($0 * 37 % 251) }).write(to: URL(fileURLWithPath: garbage))
        assertRefused(garbage, "not a valid file")
        let plain = path("plain.safetensors")
        try SafeTensorsWriter.write([("w", Tensor(shape: [2], data: [1, 2]))], to: plain)
        assertRefused(plain, "no \"format\" key")
        assertRefused(try writeLinear("other.safetensors") { $0["format"] = "pt" }, "format is \"pt\"")
        assertRefused(try writeLinear("v2.safetensors") { $0["version"] = "2" }, "version \"2\" is not supported")
        assertRefused(try writeLinear("kind.safetensors") { $0["kind"] = "tree" }, "\"kind\" is \"tree\"")
        assertRefused(try writeLinear("nofeat.safetensors") { $0["features"] = nil }, "no \"features\"")
        assertRefused(try writeLinear("badfeat.safetensors") { $0["features"] = "-3" }, "not a non-negative integer")
    }

    func testRefusesTruncatedFiles() throws {
        let good = try writeLinear("good.safetensors")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = path("cut.safetensors")
        try bytes.prefix(bytes.count - 5).write(to: URL(fileURLWithPath: cut))
        assertRefused(cut, "outside the")
        let header = path("header.safetensors")
        try bytes.prefix(20).write(to: URL(fileURLWithPath: header))
        assertRefused(header, "header length")
    }

    func testRefusesMismatchedTensors() throws {
        assertRefused(try writeLinear("noint.safetensors", doubles: [("coef", [3], [1, 2, 3])]), "missing tensor 'intercept'")
        assertRefused(try writeLinear("extra.safetensors", doubles: [("coef", [3], [1, 2, 3]), ("intercept", [1], [0]),
                                                                      ("bias", [1], [0])]), "unexpected tensor 'bias'")
        assertRefused(try writeLinear("shape.safetensors", doubles: [("coef", [2], [1, 2]), ("intercept", [1], [0])]),
                      "tensor 'coef' has shape [2], expected [3]")
        assertRefused(try writeLinear("dtype.safetensors", doubles: [("intercept", [1], [0])],
                                      floats: [("coef", Tensor(shape: [3], data: [1, 2, 3]))]),
                      "tensor 'coef' is F32; the head format stores it as F64")
        assertRefused(try writeLinear("nan.safetensors", doubles: [("coef", [3], [1, .nan, 3]), ("intercept", [1], [0])]),
                      "NaN or infinite value at element 1")
    }

    func testRefusesInvalidKNNAndSVMFiles() throws {
        func knn(_ name: String, labels: [Float] = [0, 1], edit: (inout [String: String]) -> Void = { _ in }) throws -> String {
            var metadata = ["format": "deepfake-head", "version": "1", "kind": "knn", "features": "2", "count": "2",
                            "k": "1", "metric": "cosine", "weights": "uniform"]
            edit(&metadata)
            let p = path(name)
            try SafeTensorsWriter.write(doubles: [], floats: [("vectors", Tensor(shape: [2, 2], data: [1, 2, 3, 4])),
                                                              ("labels", Tensor(shape: [2], data: labels))], to: p, metadata: metadata)
            return p
        }
        XCTAssertNoThrow(try HeadStore.load(from: try knn("knn-ok.safetensors")))
        assertRefused(try knn("label.safetensors", labels: [0, 2]), "label 1 is 2.0")
        assertRefused(try knn("k.safetensors") { $0["k"] = "3" }, "k = 3 exceeds the 2 stored vectors")
        assertRefused(try knn("metric.safetensors") { $0["metric"] = "manhattan" }, "\"metric\" is \"manhattan\"")
        assertRefused(try knn("weights.safetensors") { $0["weights"] = nil }, "\"weights\" is missing")
        assertRefused(try knn("count.safetensors") { $0["count"] = "3" }, "tensor 'vectors' has shape [2, 2], expected [3, 2]")

        func svm(_ name: String, edit: (inout [String: String]) -> Void) throws -> String {
            var metadata = ["format": "deepfake-head", "version": "1", "kind": "svm", "features": "2", "count": "1",
                            "kernel": "poly", "gamma": "0.5", "coef0": "0", "degree": "3"]
            edit(&metadata)
            let p = path(name)
            try SafeTensorsWriter.write(doubles: [("support_vectors", [1, 2], [1, 2]), ("dual_coef", [1], [1]),
                                                  ("intercept", [1], [-1])], to: p, metadata: metadata)
            return p
        }
        XCTAssertNoThrow(try HeadStore.load(from: try svm("svm-ok.safetensors") { _ in }))
        assertRefused(try svm("kernel.safetensors") { $0["kernel"] = "laplace" }, "\"kernel\" is \"laplace\"")
        assertRefused(try svm("gamma.safetensors") { $0["gamma"] = "fast" }, "\"gamma\" is \"fast\", not a finite number")
        assertRefused(try svm("gammainf.safetensors") { $0["gamma"] = "inf" }, "not a finite number")
        assertRefused(try svm("degree.safetensors") { $0["degree"] = nil }, "no \"degree\"")
    }

    func testSaveRefusesUnsavableHeads() throws {
        let p = path("never.safetensors")
        let nan = Head.linear(LogisticRegressionHead(coefficients: [1, .nan], intercept: 0))
        XCTAssertThrowsError(try HeadStore.save(nan, to: p)) { error in
            XCTAssertTrue("\(error)".contains(p) && "\(error)".contains("NaN"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: p))
        let head = Head.linear(LogisticRegressionHead(coefficients: [1, 2], intercept: 0))
        XCTAssertThrowsError(try HeadStore.save(head, to: p, extraMetadata: ["kind": "svm"])) { error in
            XCTAssertTrue("\(error)".contains("reserved"), "\(error)")
        }
        XCTAssertThrowsError(try HeadStore.save(head, to: directory + "/no/such/dir/h.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("h.safetensors"), "\(error)")
        }
    }
}
