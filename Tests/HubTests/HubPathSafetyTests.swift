import Foundation
import Hub
import TestSupport
import XCTest

/// Names that become paths in the cache (revisions, repository ids, ref contents) never lead outside the
/// repository's cache folder (issue 11).
final class HubPathSafetyTests: XCTestCase {
    /// Revisions the Hub would never name (git's ref-name rules and the Hub's characters): each is refused before
    /// any request or any write, even by a server that answers every revision.
    func testRevisionsOutsideTheHubRulesAreRefusedBeforeAnything() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        server.configure { $0.setAnyRevision(true) }
        let home = try temporaryFolder(self, prefix: "hub-tests")
        let cache = home + "/hf/hub"
        let client = makeClient(server: server, cacheRoot: cache)
        let bad = [
            "../../../../some/dir/evilref", "x/../../../evil2", "..", ".", "/abs", "a//b", "main/", "a/./b", ".hidden",
            "a/.b", "ref.lock", "a/b.lock", "a.", "a b", "a\nb", "a\tb", "a:b", "a~1", "a^", "a?", "a*", "a[b", "a\\b",
            "@", "a@{1}", "a\u{0}b", "a\u{7F}b", "é", String(repeating: "a", count: 256),
        ]
        for revision in bad {
            assertThrowsHubError(try client.snapshot(repo: repo.id, revision: revision, files: ["config.json"])) {
                XCTAssertEqual($0, .invalidRevision(revision))
                XCTAssertTrue($0.description.contains("revision"), $0.description)
            }
            assertThrowsHubError(try resolveModelLocation("\(repo.id)@\(revision)", client: client, files: ["config.json"])) {
                guard case .invalidModelLocation(_, let detail) = $0 else { return XCTFail("\(revision): \($0)") }
                XCTAssertTrue(detail.contains("revision"), detail)
            }
            XCTAssertNil(HubCache(root: cache).commit(for: revision, repo: repo.id), revision)
        }
        XCTAssertEqual(server.requests.count, 0)
        XCTAssertEqual(allFiles(under: home), [])

        // What the Hub does name: branches, tags, pull-request refs (with '/'), commit hashes.
        for revision in ["main", "v1.0", "refs/pr/1", "refs/convert/parquet", "my-branch_2+x=y", repo.commit] {
            let folder = try client.snapshot(repo: repo.id, revision: revision, files: ["config.json"])
            XCTAssertEqual(folder, cache + "/models--org--model/snapshots/" + repo.commit, revision)
        }
        XCTAssertEqual(try String(contentsOfFile: cache + "/models--org--model/refs/refs/pr/1", encoding: .utf8), repo.commit)
        let written = allFiles(under: home)
        XCTAssertTrue(written.allSatisfy { $0.hasPrefix("hf/hub/models--org--model/") || $0.hasPrefix("hf/hub/.locks/") },
                      "\(written)")
    }

    func testRepositoryIdsOutsideTheHubRulesAreRefused() throws {
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: nil, cacheRoot: root + "/hub")
        for id in ["org/..", "../x", "..", "org/x..y", "org/x/../y", "/org/x", "org/", "org/x y", "org/x\u{0}", "org/.x",
                   "org/-x", "org--a/x", "org/x.git", "org\\x/y", "é/x", String(repeating: "a", count: 97)] {
            assertThrowsHubError(try client.snapshot(repo: id, files: ["config.json"])) {
                XCTAssertEqual($0, .invalidRepoID(id))
            }
        }
        XCTAssertEqual(allFiles(under: root), [])
    }

    /// A ref file is trusted only when it holds a commit hash: anything else would pick a snapshot folder outside
    /// the cache.
    func testRefFileThatIsNotACommitHashIsIgnored() throws {
        let home = try temporaryFolder(self, prefix: "hub-tests")
        let cache = home + "/hub"
        let outside = home + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: outside + "/config.json"))
        let refs = cache + "/models--org--model/refs"
        try FileManager.default.createDirectory(atPath: refs, withIntermediateDirectories: true)
        let commit = "0123456789abcdef0123456789abcdef01234567"
        for content in ["../../../outside", "../../../outside/../hub/models--org--model/snapshots/" + commit, "main", ""] {
            try content.write(toFile: refs + "/main", atomically: true, encoding: .utf8)
            XCTAssertNil(HubCache(root: cache).commit(for: "main", repo: "org/model"), content)
            XCTAssertNil(HubCache(root: cache).cachedFile(repo: "org/model", path: "config.json"), content)
            let offline = makeClient(server: nil, cacheRoot: cache, offline: true)
            assertThrowsHubError(try offline.snapshot(repo: "org/model", files: ["config.json"])) {
                guard case .notCached = $0 else { return XCTFail("\(content): \($0)") }
            }
        }
        // A file path that climbs out is refused by the read-only look-ups too.
        try commit.write(toFile: refs + "/main", atomically: true, encoding: .utf8)
        XCTAssertNil(HubCache(root: cache).cachedFile(repo: "org/model", path: "../../../../outside/config.json"))
        XCTAssertFalse(HubCache(root: cache).isKnownMissing(repo: "org/model", commit: commit,
                                                            path: "../../../../outside/config.json"))
    }

    /// Defence in depth: a folder inside the repository's cache folder that is a symlink to elsewhere is not written
    /// through.
    func testSymlinkedFolderInTheCacheIsNotWrittenThrough() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let home = try temporaryFolder(self, prefix: "hub-tests")
        let cache = home + "/hub"
        let outside = home + "/outside"
        let snapshots = cache + "/models--org--model/snapshots"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: snapshots + "/" + repo.commit, withDestinationPath: outside)
        assertThrowsHubError(try makeClient(server: server, cacheRoot: cache).snapshot(repo: repo.id, files: ["config.json"])) {
            guard case .fileSystem(let path, let detail) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(path.hasPrefix(snapshots), path)
            XCTAssertTrue(detail.contains("outside"), detail)
        }
        XCTAssertEqual(allFiles(under: outside), [])

        // The same for refs/ (the ref is written before the download).
        try FileManager.default.removeItem(atPath: snapshots + "/" + repo.commit)
        try FileManager.default.removeItem(atPath: cache + "/models--org--model/refs")
        try FileManager.default.createSymbolicLink(atPath: cache + "/models--org--model/refs", withDestinationPath: outside)
        assertThrowsHubError(try makeClient(server: server, cacheRoot: cache).snapshot(repo: repo.id, files: ["config.json"])) {
            guard case .fileSystem(_, let detail) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("outside"), detail)
        }
        XCTAssertEqual(allFiles(under: outside), [])
    }
}
