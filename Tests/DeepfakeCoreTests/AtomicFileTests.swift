import DeepfakeCore
import Foundation
import TestSupport
import XCTest

/// `AtomicFile` and its helpers: a reader never sees a partial file, failures leave the old file and no leftover.
final class AtomicFileTests: XCTestCase {
    /// Until `commit()` the path holds the old bytes; afterwards the new ones, and no temporary file is left.
    func testCommitReplacesAndAbandonKeepsTheOldFile() throws {
        let folder = try temporaryFolder(self)
        let path = folder + "/scores.csv"
        try writeFileAtomically(path, bytes: Array("old\n".utf8))
        let file = try AtomicFile(path: path)
        try file.write(Array("new".utf8))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old\n")
        try file.write(Array(" rows\n".utf8))
        try file.commit()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new rows\n")

        let dropped = try AtomicFile(path: path)
        try dropped.write(Array("half".utf8))
        dropped.abandon()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "new rows\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["scores.csv"])
    }

    /// A writer that throws leaves the old file, and its error comes out as the caller's type.
    func testFailedWriteLeavesTheOldFile() throws {
        struct Refused: Error {}
        let folder = try temporaryFolder(self)
        let path = folder + "/state.json"
        try writeFileAtomically(path, bytes: Array("{}".utf8))
        XCTAssertThrowsError(try writeFileAtomically(path, error: { $0 as Error }) { append in
            try append(Array(repeating: 7, count: 3 << 20))
            throw Refused()
        }) { XCTAssertTrue($0 is Refused, "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "{}")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["state.json"])
        XCTAssertThrowsError(try writeFileAtomically(folder + "/missing/x.json", bytes: [1])) {
            XCTAssertTrue("\($0)".contains("missing/x.json: cannot create: No such file or directory"), "\($0)")
        }
    }

    /// A copy larger than the copy buffer arrives whole, over an existing file.
    func testCopyReplacesTheTarget() throws {
        let folder = try temporaryFolder(self)
        let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: URL(fileURLWithPath: folder + "/model.safetensors"))
        try Data("old".utf8).write(to: URL(fileURLWithPath: folder + "/copy.safetensors"))
        try copyFileAtomically(from: folder + "/model.safetensors", to: folder + "/copy.safetensors")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/copy.safetensors")), Data(bytes))
        XCTAssertThrowsError(try copyFileAtomically(from: folder + "/nope", to: folder + "/copy.safetensors"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["copy.safetensors", "model.safetensors"])
    }
}
