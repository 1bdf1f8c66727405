import Foundation
import TestSupport
import WebDataset
import XCTest

final class ExtractTests: XCTestCase {
    func testExtractsRegularFiles() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let shard = fixturePath("python_tarfile/pax.tar")
        let report = try extract(shard: shard, to: folder + "/out")
        let expected = try XCTUnwrap(try loadJSON("python_tarfile/pax.tar.expected.json")["members"] as? [[String: Any]])
        let files = expected.filter { $0["type"] as? String == "file" }
        XCTAssertEqual(report.files, files.map { $0["name"] as! String })
        XCTAssertEqual(report.skippedEntries, expected.count - files.count)
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/out/" + (file["name"] as! String)))
            XCTAssertEqual(sha256Hex(Array(data)), file["sha256"] as? String)
        }
        // Links in the archive are not created.
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/out/dir/link-to-s1"))
        // No temporary files remain.
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: folder + "/out").filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    /// A symbolic link inside the target folder cannot redirect writes outside it.
    func testSymlinkInTargetIsNotFollowed() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let outside = folder + "/outside"
        let target = folder + "/target"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: target + "/sub", withDestinationPath: outside)
        let writer = TarWriter()
        try writer.addFile(name: "sub/evil.txt", bytes: Array("evil".utf8))
        try writer.finish()
        let shard = folder + "/link.tar"
        _ = FileManager.default.createFile(atPath: shard, contents: Data(writer.archiveBytes))
        XCTAssertThrowsError(try extract(shard: shard, to: target)) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("symbolic link"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside + "/evil.txt"))

        // A symbolic link where the file goes is replaced by the file, not written through.
        try FileManager.default.createSymbolicLink(atPath: target + "/file.txt", withDestinationPath: outside + "/victim.txt")
        let second = TarWriter()
        try second.addFile(name: "file.txt", bytes: Array("safe".utf8))
        try second.addFile(name: "./nested//deep/x.txt", bytes: Array("x".utf8))
        try second.finish()
        _ = FileManager.default.createFile(atPath: shard, contents: Data(second.archiveBytes))
        let report = try extract(shard: shard, to: target)
        XCTAssertEqual(report.files.count, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: outside + "/victim.txt"))
        XCTAssertEqual(try String(contentsOfFile: target + "/file.txt", encoding: .utf8), "safe")
        XCTAssertEqual(try String(contentsOfFile: target + "/nested/deep/x.txt", encoding: .utf8), "x")
        let attributes = try FileManager.default.attributesOfItem(atPath: target + "/file.txt")
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeRegular)
    }
}
