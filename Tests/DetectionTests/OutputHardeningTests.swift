import DeepfakeCore
import Detection
import Foundation
import XCTest

/// Output handling of `embed` and `detect` found by the attack run (issue 11).
final class OutputHardeningTests: XCTestCase {
    private var tmp: String!

    override func setUp() {
        tmp = NSTemporaryDirectory() + "/output-hardening-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: tmp) }

    /// `embed --output` into a missing folder used to fail only after every image was embedded; it is now a
    /// usage error before any work, naming the path.
    func testEmbedRefusesAnUnwritableOutputBeforeWorking() throws {
        let output = tmp + "/missing/emb.npy"
        let (status, stdout, stderr) = try runDeepfake(["embed", "--model", tinyModel, "--format", "npy", "--output", output, images])
        XCTAssertEqual(status, 64, stderr)
        XCTAssertEqual(stdout, "", "no image may be embedded")
        XCTAssertTrue(stderr.contains(output), stderr)
        XCTAssertTrue(stderr.contains("does not exist"), stderr)
        // A directory in the way is refused too; a writable path leaves no probe file behind.
        XCTAssertEqual(try runDeepfake(["embed", "--model", tinyModel, "--format", "npy", "--output", tmp, images]).status, 64)
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: images).sorted().first { $0.hasSuffix(".png") })
        XCTAssertEqual(try runDeepfake(["embed", "--model", tinyModel, "--format", "npy", "--output", tmp + "/ok.npy", images + "/" + name]).status, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), ["ok.npy"])
    }

    /// A newline in a file name broke table rows (and made CSV rows span lines): control characters are
    /// escaped in both; jsonl escapes them as JSON does.
    func testControlCharactersInFileNamesStayOnOneRow() throws {
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: images).sorted().first { $0.hasSuffix(".png") })
        let hostile = tmp + "/fake\nFAKE    0.9999  forged\u{1B}[2J.png"
        try FileManager.default.copyItem(atPath: images + "/" + name, toPath: hostile)
        let broken = tmp + "/broken\r\n.png"
        XCTAssertTrue(FileManager.default.createFile(atPath: broken, contents: Data([1, 2, 3])))

        let table = try runDeepfake(["detect", "--model", tinyModel, hostile, broken])
        XCTAssertEqual(table.status, 1, table.stderr)
        let rows = table.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        XCTAssertEqual(rows.count, 3, table.stdout)  // two images, then the summary line
        XCTAssertTrue(rows[0].hasSuffix("/fake\\nFAKE    0.9999  forged\\u001b[2J.png"), String(rows[0]))
        XCTAssertTrue(rows[1].hasPrefix("ERROR") && rows[1].contains("broken\\r\\n.png"), String(rows[1]))
        XCTAssertFalse(table.stdout.contains("\u{1B}"))

        let csv = try runDeepfake(["detect", "--model", tinyModel, "--format", "csv", hostile, broken])
        let lines = csv.stdout.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 3, csv.stdout)  // header and two rows
        XCTAssertTrue(lines[1].hasPrefix(tmp + "/fake\\nFAKE    0.9999  forged\\u001b[2J.png,"), String(lines[1]))
        XCTAssertFalse(csv.stdout.contains("\r"))

        let jsonl = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", hostile, broken])
        let objects = jsonl.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objects.map { $0["path"] as? String }, [hostile, broken])
    }

    func testSingleLineEscapesAreUnambiguous() {
        XCTAssertEqual(CSV.singleLine("plain/é.png"), "plain/é.png")
        XCTAssertEqual(CSV.singleLine("a\\nb"), "a\\\\nb")
        XCTAssertEqual(CSV.singleLine("a\nb\tc\u{7F}\u{85}\u{2028}\""), "a\\nb\\tc\\u007f\\u0085\\u2028\"")
        // JSON keeps the same escapes and reads back the original.
        let text = "q\"\u{1B}\u{85}\u{2029}\\"
        let decoded = try? JSONSerialization.jsonObject(with: Data(("[" + JSONText.string(text) + "]").utf8)) as? [String]
        XCTAssertEqual(decoded, [text])
    }
}
