import Foundation
import XCTest

/// Runs the built `deepfake` executable, or another of the package's (`executable`); they sit beside the test
/// bundle in the build folder. `environment` adds to (or replaces entries of) the test process's environment.
func runDeepfake(_ arguments: [String], environment: [String: String] = [:],
                 executable: String = "deepfake") throws -> (status: Int32, stdout: String, stderr: String) {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if !FileManager.default.fileExists(atPath: folder.appendingPathComponent(executable).path) {
        folder = Bundle.main.bundleURL
    }
    let process = Process()
    process.executableURL = folder.appendingPathComponent(executable)
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

final class CommandLineTests: XCTestCase {
    func testEmbedPrintsOneLinePerInputInOrderAndFailsWithStatusOne() throws {
        let reference = try referenceEmbeddings()
        let names = Array(reference.keys.sorted().prefix(3))
        let args = ["embed", "--model", tinyModel, "--batch-size", "2",
                    images + "/" + names[0], images + "/bad/empty.jpg", images + "/" + names[1], images + "/" + names[2]]
        let (status, stdout, _) = try runDeepfake(args)
        XCTAssertEqual(status, 1)
        let lines = stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines.map { $0["path"] as! String }, Array(args[5...]))
        XCTAssertNotNil(lines[1]["error"])
        for (k, i) in [0, 2, 3].enumerated() {
            let values = (lines[i]["embedding"] as! [NSNumber]).map(\.floatValue)
            let diff = zip(values, reference[names[k]]!).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            XCTAssertLessThanOrEqual(diff, 1e-4)
        }
    }

    func testNpyOutputHasOneRowPerInput() throws {
        let reference = try referenceEmbeddings()
        let name = reference.keys.sorted().first!
        let out = NSTemporaryDirectory() + "/emb-\(UUID().uuidString).npy"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, stdout, _) = try runDeepfake(["embed", "--model", tinyModel, "--format", "npy", "--output", out,
                                                   images + "/" + name, images + "/" + name])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(stdout.split(separator: "\n").count, 2)
        let size = (try FileManager.default.attributesOfItem(atPath: out)[.size] as! NSNumber).intValue
        XCTAssertEqual(size, 128 + 2 * 192 * 4)
    }

    func testMissingModelExitsWithStatusTwo() throws {
        let (status, _, stderr) = try runDeepfake(["embed", "--model", "/nonexistent-model", images])
        XCTAssertEqual(status, 2)
        XCTAssertTrue(stderr.contains("/nonexistent-model"), stderr)
    }

    func testUnknownInstructionSetNameIsAUsageError() throws {
        let (status, stdout, stderr) = try runDeepfake(["embed", "--model", tinyModel, images], environment: ["DEEPFAKE_ISA": "avx-512"])
        XCTAssertEqual(status, 64)
        XCTAssertEqual(stdout, "")
        XCTAssertTrue(stderr.contains("DEEPFAKE_ISA=avx-512 names no instruction set"), stderr)
    }

    func testUsageErrorsExitWith64() throws {
        XCTAssertEqual(try runDeepfake(["embed", "--model", tinyModel, "--batch-size", "0", images]).status, 64)
        XCTAssertEqual(try runDeepfake(["embed", "--model", tinyModel, "--format", "npy", images]).status, 64)
    }

    /// deepfake-bench once ignored a value it could not read (`--threads abc` ran with 2 threads).
    func testBenchRefusesValuesItCannotRead() throws {
        for (arguments, expected) in [(["--threads", "abc"], "'abc' is invalid for '--threads"), (["--case", "nope"], "'nope' is invalid for '--case"),
                                      (["--batch", "0"], "--batch must be at least 1")] {
            let (status, stdout, stderr) = try runDeepfake(arguments, executable: "deepfake-bench")
            XCTAssertEqual(status, 64, "\(arguments)")
            XCTAssertEqual(stdout, "", "\(arguments)")
            XCTAssertTrue(stderr.contains(expected), "\(arguments): \(stderr)")
        }
    }
}
