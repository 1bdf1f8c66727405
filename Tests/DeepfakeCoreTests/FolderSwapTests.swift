import DeepfakeCore
import Foundation
import TestSupport
import XCTest

/// `replaceFolderAtomically`: the folder is replaced by the staged one and is never missing meanwhile.
final class FolderSwapTests: XCTestCase {
    private func stage(_ path: String, content: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/heads", withIntermediateDirectories: true)
        try content.write(toFile: path + "/config.json", atomically: false, encoding: .utf8)
        try content.write(toFile: path + "/heads/linear.safetensors", atomically: false, encoding: .utf8)
    }

    /// A watcher polls the checkpoint folder's file while it is replaced 200 times: it must find it every time
    /// (the trainer used to delete the old checkpoint before moving the new one in).
    func testReplacedFolderIsNeverMissing() throws {
        let root = try temporaryFolder(self)
        let target = root + "/epoch-0003", staged = target + ".tmp"
        try stage(target, content: "v0")
        final class Watch: @unchecked Sendable {
            let lock = NSLock()
            var done = false, misses = 0, looks = 0
        }
        let watch = Watch()
        let watcher = Thread {
            while !watch.lock.withLock({ watch.done }) {
                let present = FileManager.default.fileExists(atPath: target + "/config.json")
                watch.lock.withLock { watch.looks += 1; if !present { watch.misses += 1 } }
            }
        }
        watcher.start()
        for round in 1...200 {
            try stage(staged, content: "v\(round)")
            try replaceFolderAtomically(target, with: staged)
        }
        watch.lock.withLock { watch.done = true }
        while !watcher.isFinished { usleep(1000) }
        watch.lock.withLock {
            XCTAssertEqual(watch.misses, 0, "the folder was missing \(watch.misses) times of \(watch.looks)")
            XCTAssertGreaterThan(watch.looks, 0)
        }
        XCTAssertEqual(try String(contentsOfFile: target + "/config.json", encoding: .utf8), "v200")
        XCTAssertEqual(try String(contentsOfFile: target + "/heads/linear.safetensors", encoding: .utf8), "v200")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), ["epoch-0003"], "the old content is removed")
    }

    /// Without a folder in place the staged one is renamed; a missing staged folder is an error naming the target.
    func testFirstPlacementAndErrors() throws {
        let root = try temporaryFolder(self)
        try stage(root + "/release.tmp", content: "new")
        try replaceFolderAtomically(root + "/release", with: root + "/release.tmp")
        XCTAssertEqual(try String(contentsOfFile: root + "/release/config.json", encoding: .utf8), "new")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/release.tmp"))
        XCTAssertThrowsError(try replaceFolderAtomically(root + "/release", with: root + "/absent.tmp")) {
            XCTAssertEqual(($0 as? FileError)?.path, root + "/release", "\($0)")
        }
        XCTAssertEqual(try String(contentsOfFile: root + "/release/config.json", encoding: .utf8), "new")
    }
}
