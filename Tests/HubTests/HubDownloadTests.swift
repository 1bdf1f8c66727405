import Foundation
import DeepfakeCore
import Hub
import TestSupport
import XCTest

/// Downloads from the loopback Hub: cache layout, resume, offline use, verification, errors.
final class HubDownloadTests: XCTestCase {
    func testDownloadWritesHuggingFaceLayoutThenWorksOffline() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: server, cacheRoot: root)

        let progressLog = ProgressLog()
        let folder = try client.snapshot(repo: repo.id, files: repo.allPaths, progress: progressLog.record)

        let repoFolder = root + "/models--org--model"
        XCTAssertEqual(folder, repoFolder + "/snapshots/" + repo.commit)
        XCTAssertEqual(try String(contentsOfFile: repoFolder + "/refs/main", encoding: .utf8), repo.commit)
        for path in repo.allPaths {
            let blob = repoFolder + "/blobs/" + repo.etag(path)
            XCTAssertEqual(FileManager.default.contents(atPath: blob), repo.data(path), path)
            let depth = path.split(separator: "/").count + 1
            XCTAssertEqual(readLink(folder + "/" + path), String(repeating: "../", count: depth) + "blobs/" + repo.etag(path))
            XCTAssertEqual(FileManager.default.contents(atPath: folder + "/" + path), repo.data(path), path)
        }
        let blobs = try FileManager.default.contentsOfDirectory(atPath: repoFolder + "/blobs").sorted()
        XCTAssertEqual(blobs, repo.allPaths.map(repo.etag).sorted(), "no .incomplete left behind")
        XCTAssertTrue(FileManager.default.fileExists(
            atPath: root + "/.locks/models--org--model/" + repo.etag("model.safetensors") + ".lock"))

        // Progress for the LFS file: increasing, ending at its size, with the size as total.
        let model = progressLog.events.filter { $0.path == "model.safetensors" }
        XCTAssertFalse(model.isEmpty)
        XCTAssertEqual(model.last?.done, Int64(repo.data("model.safetensors").count))
        XCTAssertTrue(model.allSatisfy { $0.total == Int64(repo.data("model.safetensors").count) })
        XCTAssertEqual(model.map(\.done), model.map(\.done).sorted())

        // LFS metadata came from the 302 (not the storage host); content from /lfs/.
        let requests = server.requests
        XCTAssertEqual(requests.filter { $0.method == "HEAD" }.count, 3)
        XCTAssertEqual(requests.filter { $0.method == "GET" && $0.path.hasPrefix("/lfs/") }.count, 2)

        // Second online call: only metadata requests, no downloads.
        let before = server.requests.count
        XCTAssertEqual(try client.snapshot(repo: repo.id, files: repo.allPaths), folder)
        XCTAssertEqual(server.requests.dropFirst(before).filter { $0.method == "GET" }.count, 0)

        // Offline by argument: no request at all.
        let countBeforeOffline = server.requests.count
        let offline = makeClient(server: server, cacheRoot: root, offline: true)
        XCTAssertEqual(try offline.snapshot(repo: repo.id, files: repo.allPaths), folder)
        XCTAssertEqual(try offline.file(repo: repo.id, path: "sklearn/head.sav"), folder + "/sklearn/head.sav")

        // Offline through the environment (HF_HUB_OFFLINE, HF_HUB_CACHE, HF_ENDPOINT).
        for value in ["1", "ON", "yes", "True"] {
            let fromEnvironment = HubClient(environment: [
                "HF_HUB_OFFLINE": value, "HF_HUB_CACHE": root, "HF_ENDPOINT": server.baseURL, "HOME": root + "/home",
            ])
            XCTAssertTrue(fromEnvironment.offline)
            XCTAssertEqual(try fromEnvironment.snapshot(repo: repo.id, files: repo.allPaths), folder)
        }
        // Pinned to the commit while online: the snapshot answers without a request.
        XCTAssertEqual(try client.snapshot(repo: repo.id, revision: repo.commit, files: repo.allPaths), folder)
        XCTAssertEqual(server.requests.count, countBeforeOffline)

        // Server gone: an online client falls back to the cache.
        server.stop()
        let online = makeClient(server: server, cacheRoot: root, timeout: 2)
        XCTAssertEqual(try online.snapshot(repo: repo.id, files: repo.allPaths), folder)
        XCTAssertEqual(try resolveModelLocation(repo.id, client: online, files: repo.allPaths), folder)
        // ...but a file it never had is reported as such, with the network failure.
        assertThrowsHubError(try online.snapshot(repo: repo.id, files: ["other.bin"])) { error in
            guard case .notCached(_, _, let missing, _, let networkError) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(missing, ["other.bin"])
            XCTAssertNotNil(networkError)
            XCTAssertTrue(error.description.contains("could not be reached"), error.description)
        }
    }

    func testResumesCutOffDownloadOnTheNextRun() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let sha = repo.etag("model.safetensors")
        server.configure { $0.cutOff(sha: sha, afterBytes: 100_000) }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let blob = root + "/models--org--model/blobs/" + sha

        let noRetry = makeClient(server: server, cacheRoot: root, maxRetries: 0)
        assertThrowsHubError(try noRetry.snapshot(repo: repo.id, files: repo.allPaths)) { error in
            guard case .downloadInterrupted(_, let path, let done, let total, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "model.safetensors")
            XCTAssertEqual(done, 100_000)
            XCTAssertEqual(total, Int64(repo.data("model.safetensors").count))
            XCTAssertTrue(error.description.contains("resume"), error.description)
        }
        XCTAssertEqual(FileManager.default.contents(atPath: blob + ".incomplete"), repo.data("model.safetensors").prefix(100_000))
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob))
        XCTAssertNil(readLink(root + "/models--org--model/snapshots/\(repo.commit)/model.safetensors"))

        let folder = try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: repo.allPaths)
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/model.safetensors"), repo.data("model.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob + ".incomplete"))
        let gets = server.requests.filter { $0.method == "GET" && $0.path == "/lfs/" + sha }
        XCTAssertEqual(gets.count, 2)
        XCTAssertNil(gets[0].headers["range"])
        XCTAssertEqual(gets[1].headers["range"], "bytes=100000-")
    }

    func testRetriesWithinOneCallUsingRange() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let sha = repo.etag("model.safetensors")
        server.configure { $0.cutOff(sha: sha, afterBytes: 65_536, times: 2) }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let path = try makeClient(server: server, cacheRoot: root).file(repo: repo.id, path: "model.safetensors")
        XCTAssertEqual(FileManager.default.contents(atPath: path), repo.data("model.safetensors"))
        let ranges = server.requests.filter { $0.path == "/lfs/" + sha }.map { $0.headers["range"] }
        XCTAssertEqual(ranges, [nil, "bytes=65536-", "bytes=131072-"])
    }

    func testRestartsWhenTheServerIgnoresTheRange() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let sha = repo.etag("model.safetensors")
        server.configure {
            $0.cutOff(sha: sha, afterBytes: 50_000)
            $0.setIgnoreRange(true)
        }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let path = try makeClient(server: server, cacheRoot: root).file(repo: repo.id, path: "model.safetensors")
        XCTAssertEqual(FileManager.default.contents(atPath: path), repo.data("model.safetensors"))
        let ranges = server.requests.filter { $0.path == "/lfs/" + sha }.map { $0.headers["range"] }
        XCTAssertEqual(ranges, [nil, "bytes=50000-"])
    }

    func testSizeMismatchIsRefused() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        server.configure { $0.updateFile(repo.id, "model.safetensors") { $0.announcedSize = $0.data.count + 10 } }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root, maxRetries: 0)
            .snapshot(repo: repo.id, files: ["model.safetensors"])) { error in
            guard case .sizeMismatch(_, "model.safetensors", let expected, let actual) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(expected, Int64(repo.data("model.safetensors").count + 10))
            XCTAssertEqual(actual, Int64(repo.data("model.safetensors").count))
        }
        try assertNothingCached(root: root, repo: repo, path: "model.safetensors")
    }

    func testChecksumMismatchIsRefused() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let wrong = SHA256.hex(of: Data("something else".utf8))
        server.configure { $0.updateFile(repo.id, "sklearn/head.sav") { $0.etag = wrong } }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root)
            .snapshot(repo: repo.id, files: ["sklearn/head.sav"])) { error in
            guard case .checksumMismatch(_, "sklearn/head.sav", let expected, let actual) = error else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(expected, wrong)
            XCTAssertEqual(actual, repo.etag("sklearn/head.sav"))
        }
        try assertNothingCached(root: root, repo: repo, path: "sklearn/head.sav")
    }

    private func assertNothingCached(root: String, repo: FixtureRepo, path: String,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let snapshot = root + "/models--org--model/snapshots/" + repo.commit
        XCTAssertNil(readLink(snapshot + "/" + path), file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: snapshot + "/" + path), file: file, line: line)
        let blobs = (try? FileManager.default.contentsOfDirectory(atPath: root + "/models--org--model/blobs")) ?? []
        XCTAssertEqual(blobs, [], file: file, line: line)
    }

    func testGatedRepositoryNeedsTheToken() throws {
        var repo = try FixtureRepo.load().asServerRepo
        repo.requiredToken = "hf_secret"
        let server = try LoopbackHubServer()
        addTeardownBlock { server.stop() }
        server.configure { $0.addRepo("org/gated", repo) }
        let root = try temporaryFolder(self, prefix: "hub-tests")

        for token in ["", "hf_wrong"] {
            assertThrowsHubError(try makeClient(server: server, cacheRoot: root, token: token)
                .snapshot(repo: "org/gated", files: ["config.json"])) { error in
                guard case .gatedRepository("org/gated", let hasToken, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(hasToken, !token.isEmpty)
                XCTAssertTrue(error.description.contains("HF_TOKEN"), error.description)
            }
        }
        // A token from the environment's token file is used.
        let home = root + "/hf-home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        try "hf_secret\n".write(toFile: home + "/token", atomically: true, encoding: .utf8)
        let client = HubClient(endpoint: server.baseURL, cache: HubCache(root: root), retryDelay: 0,
                               environment: ["HF_HOME": home])
        XCTAssertTrue(client.hasToken)
        let folder = try client.snapshot(repo: "org/gated", files: ["config.json", "model.safetensors"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/model.safetensors"))
        let heads = server.requests.filter { $0.method == "HEAD" && $0.headers["authorization"] == "Bearer hf_secret" }
        XCTAssertEqual(heads.count, 2)
        // Same-host LFS redirect: the credentials travel with it.
        let lfs = server.requests.filter { $0.path.hasPrefix("/lfs/") }
        XCTAssertEqual(lfs.count, 1)
        XCTAssertEqual(lfs.first?.headers["authorization"], "Bearer hf_secret")
    }

    func testAuthorizationIsNotSentToAnotherHost() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        server.configure { $0.setCrossHostLFS(true) }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: server, cacheRoot: root, token: "hf_secret")
        let folder = try client.snapshot(repo: repo.id, files: repo.allPaths)
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/model.safetensors"), repo.data("model.safetensors"))
        let hub = server.requests.filter { $0.path.contains("/resolve/") }
        XCTAssertFalse(hub.isEmpty)
        XCTAssertTrue(hub.allSatisfy { $0.headers["authorization"] == "Bearer hf_secret" })
        let lfs = server.requests.filter { $0.path.hasPrefix("/lfs/") }
        XCTAssertEqual(lfs.count, 2)
        XCTAssertTrue(lfs.allSatisfy { $0.headers["host"]?.hasPrefix("localhost:") == true }, "\(lfs.map(\.headers))")
        XCTAssertTrue(lfs.allSatisfy { $0.headers["authorization"] == nil })
    }

    func testRenamedRepositoryRedirectIsFollowed() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        server.configure { $0.rename("old-org/old-model", to: repo.id) }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: server, cacheRoot: root, token: "hf_secret")
        let folder = try client.snapshot(repo: "old-org/old-model", files: ["config.json", "model.safetensors"])
        XCTAssertEqual(folder, root + "/models--old-org--old-model/snapshots/" + repo.commit)
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/config.json"), repo.data("config.json"))
        // The GET of the regular file went through the 307 too, keeping the token on the same host.
        let gets = server.requests.filter { $0.method == "GET" && $0.path.hasSuffix("/config.json") }
        XCTAssertEqual(gets.map(\.path), ["/old-org/old-model/resolve/\(repo.commit)/config.json",
                                          "/org/model/resolve/\(repo.commit)/config.json"])
        XCTAssertTrue(gets.allSatisfy { $0.headers["authorization"] == "Bearer hf_secret" })
    }

    func testNotFoundErrorsNameTheRepoAndFile() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: server, cacheRoot: root)
        assertThrowsHubError(try client.snapshot(repo: repo.id, files: ["config.json", "nope.bin"])) { error in
            XCTAssertEqual(error, .fileNotFound(repo: repo.id, revision: "main", path: "nope.bin"))
            XCTAssertTrue(error.description.contains("nope.bin") && error.description.contains(repo.id))
        }
        // Recorded as missing (huggingface_hub's .no_exist marker), so offline mode knows too.
        XCTAssertTrue(HubCache(root: root).isKnownMissing(repo: repo.id, commit: repo.commit, path: "nope.bin"))
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root, offline: true)
            .snapshot(repo: repo.id, files: ["nope.bin"])) { error in
            XCTAssertEqual(error, .fileNotFound(repo: repo.id, revision: "main", path: "nope.bin"))
        }
        assertThrowsHubError(try client.snapshot(repo: "org/none", files: ["config.json"])) { error in
            XCTAssertEqual(error, .repositoryNotFound(repo: "org/none", hasToken: false))
            XCTAssertTrue(error.description.contains("org/none"))
        }
        assertThrowsHubError(try client.snapshot(repo: repo.id, revision: "v9", files: ["config.json"])) { error in
            XCTAssertEqual(error, .revisionNotFound(repo: repo.id, revision: "v9"))
        }
    }

    func testServerErrorFallsBackToTheCacheOrSaysWhy() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: server, cacheRoot: root)
        let folder = try client.snapshot(repo: repo.id, files: ["config.json"])
        server.configure { $0.fail(repo.id, status: 503) }
        XCTAssertEqual(try client.snapshot(repo: repo.id, files: ["config.json"]), folder)
        assertThrowsHubError(try client.snapshot(repo: repo.id, files: ["model.safetensors"])) { error in
            guard case .notCached(_, _, ["model.safetensors"], _, let reason?) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("503"), reason)
        }
    }

    func testTimeoutIsReported() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        server.configure { $0.setStall(seconds: 3) }
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let started = Date()
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root, timeout: 1)
            .snapshot(repo: repo.id, files: ["config.json"])) { error in
            guard case .notCached(_, _, _, _, let reason?) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("did not answer in time"), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.9)
    }

    func testConnectionRefusedWithEmptyCache() throws {
        let server = try LoopbackHubServer()
        let port = server.port
        server.stop()
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = makeClient(server: nil, cacheRoot: root, timeout: 2, port: port)
        assertThrowsHubError(try client.snapshot(repo: "aimagelab/CoDE", files: ["config.json"])) { error in
            guard case .notCached(_, _, _, _, let reason?) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("cannot connect to 127.0.0.1"), reason)
            XCTAssertTrue(error.description.contains("huggingface-cli download aimagelab/CoDE"), error.description)
        }
    }
}

final class ProgressLog: @unchecked Sendable {
    struct Event { var path: String; var done: Int64; var total: Int64 }
    private let lock = NSLock()
    private var storage: [Event] = []
    var events: [Event] { lock.withLock { storage } }
    var record: HubClient.Progress {
        { [self] path, done, total in lock.withLock { storage.append(Event(path: path, done: done, total: total)) } }
    }
}
