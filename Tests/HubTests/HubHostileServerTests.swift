import Foundation
import Hub
import TestSupport
import XCTest

/// The client against hostile answers (issue 11): bodies longer than announced or without end, slow drips,
/// redirects to other schemes or in a loop, header values meant to become paths. Every hostile answer of the
/// loopback server stops by itself within `LoopbackHubServer.hostileSeconds`; deadlines are shrunk through
/// `HubDownloadLimits`.
final class HubHostileServerTests: XCTestCase {
    /// More than the socket buffers of both ends can hold, far less than the server offers (128 MiB): a client
    /// that stops reading at the announced size makes the server stop well before this.
    private let socketSlack = 32 << 20

    func testBodyLongerThanAnnouncedIsCutOffAndDiscarded() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        // A regular file: the HEAD announces 146 bytes, the GET streams zeros without a Content-Length.
        server.configure {
            $0.hostile("config.json", .endlessBody(status: 200, headers: ["ETag": "\"\(repo.etag("config.json"))\"",
                                                                          "X-Repo-Commit": repo.commit]))
        }
        let started = Date()
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"])) {
            XCTAssertEqual($0, .bodyLongerThanAnnounced(repo: repo.id, path: "config.json", announced: 146))
            XCTAssertTrue($0.description.contains("config.json") && $0.description.contains("146"), $0.description)
        }
        XCTAssertLessThan(server.hostileBytesSent, socketSlack)
        XCTAssertLessThan(Date().timeIntervalSince(started), LoopbackHubServer.hostileSeconds)
        XCTAssertEqual(server.requests.filter { $0.method == "GET" }.count, 1, "a body longer than announced is not retried")
        assertNoDownloadLeft(root: root, repo: repo)

        // An LFS file: X-Linked-Size announces its size, the storage host streams without end.
        let sha = repo.etag("model.safetensors")
        server.configure { $0.hostile(sha, .endlessBody(status: 200, headers: [:])) }
        let sentBefore = server.hostileBytesSent
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root)
            .snapshot(repo: repo.id, files: ["model.safetensors"])) {
            XCTAssertEqual($0, .bodyLongerThanAnnounced(repo: repo.id, path: "model.safetensors",
                                                        announced: Int64(repo.data("model.safetensors").count)))
        }
        XCTAssertLessThan(server.hostileBytesSent - sentBefore, socketSlack)
        assertNoDownloadLeft(root: root, repo: repo)

        // A Content-Length that contradicts the announced size is refused before the body is read.
        server.configure {
            $0.hostile(sha, .endlessBody(status: 200, headers: ["Content-Length": "10000000000"]))
        }
        let sentBefore2 = server.hostileBytesSent
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root)
            .snapshot(repo: repo.id, files: ["model.safetensors"])) {
            XCTAssertEqual($0, .sizeMismatch(repo: repo.id, path: "model.safetensors",
                                             expected: Int64(repo.data("model.safetensors").count), actual: 10_000_000_000))
        }
        XCTAssertLessThan(server.hostileBytesSent - sentBefore2, socketSlack)
        assertNoDownloadLeft(root: root, repo: repo)
    }

    func testFileWithoutAnnouncedSizeIsNotDownloaded() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        // No size on the HEAD, and a body without end: nothing may be cached as config.json.
        server.configure {
            $0.overrideHeaders("config.json", ["Content-Length": nil])
            $0.hostile("config.json", .endlessBody(status: 200, headers: ["ETag": "\"\(repo.etag("config.json"))\"",
                                                                          "X-Repo-Commit": repo.commit]))
        }
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"])) {
            guard case .notCached(_, _, ["config.json"], _, let reason?) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("no file size"), reason)
        }
        XCTAssertEqual(server.requests.filter { $0.method == "GET" }.count, 0)
        XCTAssertEqual(server.hostileBytesSent, 0)
        assertNoDownloadLeft(root: root, repo: repo)
    }

    func testJSONFilesAreCappedWhateverTheServerAnnounces() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        XCTAssertEqual(HubDownloadLimits().jsonFileLimit, 16 << 20)
        let announced = Int64(16 << 20) + 1
        server.configure { $0.overrideHeaders("config.json", ["Content-Length": "\(announced)"]) }
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"])) {
            XCTAssertEqual($0, .fileTooLarge(repo: repo.id, path: "config.json", size: announced, limit: 16 << 20))
            XCTAssertTrue($0.description.contains("config.json") && $0.description.contains("\(announced)"), $0.description)
        }
        XCTAssertEqual(server.requests.filter { $0.method == "GET" }.count, 0)
        XCTAssertEqual(allFiles(under: root), [], "nothing written, not even the ref")

        // The cap is an option: 100 bytes refuses the real 146-byte config.json (any *.json file).
        server.configure { $0.overrideHeaders("config.json", [:]) }
        let small = makeClient(server: server, cacheRoot: root, limits: HubDownloadLimits(jsonFileLimit: 100))
        assertThrowsHubError(try small.snapshot(repo: repo.id, files: ["config.json"])) {
            XCTAssertEqual($0, .fileTooLarge(repo: repo.id, path: "config.json", size: 146, limit: 100))
        }
        XCTAssertEqual(try small.snapshot(repo: repo.id, files: ["sklearn/head.sav"]),
                       root + "/models--org--model/snapshots/" + repo.commit, "other files are not capped")
    }

    func testSlowDripBodyHitsTheDeadlineAndResumesLater() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        server.configure { $0.hostile("config.json", .dripBody(interval: 0.05), times: 1) }
        let limits = HubDownloadLimits(deadlineFloor: 1, minimumRate: 1e12)
        let started = Date()
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root, limits: limits)
            .snapshot(repo: repo.id, files: ["config.json"])) { error in
            guard case .deadlineExceeded(repo.id, "config.json", "127.0.0.1", let elapsed, 1) = error else {
                return XCTFail("\(error)")
            }
            // libcurl's timer and Date are different clocks: a few milliseconds apart at most.
            XCTAssertGreaterThanOrEqual(elapsed, 0.99)
            XCTAssertLessThan(elapsed, 2)
            for needle in ["config.json", "127.0.0.1", "resume"] {
                XCTAssertTrue(error.description.contains(needle), "'\(needle)' missing from: \(error.description)")
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)
        let blob = root + "/models--org--model/blobs/" + repo.etag("config.json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: blob))
        XCTAssertNil(readLink(root + "/models--org--model/snapshots/\(repo.commit)/config.json"))
        // What arrived stays for the next run, which resumes it from a well-behaved server.
        let partial = FileManager.default.contents(atPath: blob + ".incomplete") ?? Data()
        XCTAssertGreaterThan(partial.count, 0)
        XCTAssertEqual(partial, repo.data("config.json").prefix(partial.count))
        let folder = try makeClient(server: server, cacheRoot: root, limits: limits)
            .snapshot(repo: repo.id, files: ["config.json"])
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/config.json"), repo.data("config.json"))
        XCTAssertEqual(server.requests.last?.headers["range"], "bytes=\(partial.count)-")
    }

    func testSlowDripHeadHitsTheDeadline() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        server.configure { $0.hostile("config.json", .dripHead(interval: 0.05), methods: ["HEAD"]) }
        let limits = HubDownloadLimits(deadlineFloor: 1, minimumRate: 1e12)
        let started = Date()
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root, limits: limits)
            .snapshot(repo: repo.id, files: ["config.json"])) { error in
            guard case .deadlineExceeded(repo.id, "config.json", "127.0.0.1", _, 1) = error else {
                return XCTFail("\(error)")
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2.5)
        XCTAssertEqual(allFiles(under: root), [])
    }

    /// URLSession on Linux aborted the whole process (`fatalError` in FoundationNetworking) on such an answer.
    func testHeadCutShortIsAnErrorNotACrash() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        server.configure { $0.hostile("config.json", .headCutShort, methods: ["HEAD"]) }
        assertNotCached(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"]),
                        becauseOf: "no complete HTTP response")
        server.configure { $0.hostile("config.json", .headCutShort, methods: ["GET"]) }
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root, maxRetries: 2)
            .snapshot(repo: repo.id, files: ["config.json"])) {
            guard case .downloadInterrupted(repo.id, "config.json", 0, 146, let detail) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(detail.contains("no complete HTTP response"), detail)
        }
        XCTAssertEqual(server.requests.filter { $0.method == "GET" }.count, 3, "retried like any broken transfer")
    }

    func testEndlessHeadIsRefused() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        server.configure { $0.hostile("config.json", .endlessHead, methods: ["HEAD"]) }
        let started = Date()
        assertNotCached(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"]),
                        becauseOf: "response head larger than")
        XCTAssertLessThan(server.hostileBytesSent, socketSlack)
        XCTAssertLessThan(Date().timeIntervalSince(started), LoopbackHubServer.hostileSeconds)
        XCTAssertEqual(allFiles(under: root), [])
    }

    func testDeadlineGrowsWithTheSize() {
        let limits = HubDownloadLimits()
        XCTAssertEqual(limits.deadlineFloor, 600)
        XCTAssertEqual(limits.minimumRate, 100_000)
        XCTAssertEqual(limits.maxRedirects, 10)
        XCTAssertEqual(limits.deadline(forSize: 0), 600)
        XCTAssertEqual(limits.deadline(forSize: 60_000_000), 600)
        XCTAssertEqual(limits.deadline(forSize: 100_000_000), 1000)
        XCTAssertEqual(limits.deadline(forSize: Int64.max), Double(Int64.max) / 100_000)
    }

    func testRedirectToAnotherSchemeIsRefusedAtOnce() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let secret = root + "/secret.txt"
        try Data("local secret".utf8).write(to: URL(fileURLWithPath: secret))
        let sha = repo.etag("model.safetensors")
        let cases: [(key: String, path: String, methods: Set<String>, location: String)] = [
            ("config.json", "config.json", ["GET"], "file://" + secret),
            (sha, "model.safetensors", ["GET"], "ftp://127.0.0.1/model"),
            ("config.json", "config.json", ["HEAD"], "file://" + secret),
        ]
        for (key, path, methods, location) in cases {
            server.configure { $0.hostile(key, .redirect(location: location), methods: methods, times: 1) }
            let before = server.requests.count
            assertThrowsHubError(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: [path])) {
                guard case .unsupportedURL(location, let referrer?) = $0 else { return XCTFail("\($0)") }
                XCTAssertTrue(referrer.hasPrefix(server.baseURL), referrer)
                XCTAssertTrue($0.description.contains(location) && $0.description.contains("http"), $0.description)
            }
            let redirected = server.requests.dropFirst(before).filter { methods.contains($0.method) }
            XCTAssertEqual(redirected.count, 1, "\(location): not retried")
            assertNoDownloadLeft(root: root, repo: repo)
        }
    }

    func testRedirectLoopIsCapped() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let loop = "/\(repo.id)/resolve/main/config.json"
        server.configure { $0.hostile("config.json", .redirect(location: loop), methods: ["HEAD"]) }
        for limit in [10, 3] {
            let before = server.requests.count
            let client = makeClient(server: server, cacheRoot: root, limits: HubDownloadLimits(maxRedirects: limit))
            assertNotCached(try client.snapshot(repo: repo.id, files: ["config.json"]), becauseOf: "Too many redirects")
            XCTAssertEqual(server.requests.count - before, limit + 1)
        }
        // The download's own redirects too (the HEAD answered normally): no retry, nothing left.
        server.configure { $0.hostile("config.json", .redirect(location: "/\(repo.id)/resolve/\(repo.commit)/config.json")) }
        let before = server.requests.count
        assertNotCached(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"]),
                        becauseOf: "Too many redirects")
        XCTAssertEqual(server.requests.dropFirst(before).filter { $0.method == "GET" }.count, 11)
        assertNoDownloadLeft(root: root, repo: repo)
    }

    func testEndlessRedirectBodyIsNotReadToTheEnd() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let location = "/\(repo.id)/resolve/\(repo.commit)/config.json"
        server.configure {
            $0.hostile("config.json", .endlessBody(status: 302, headers: ["Location": location]), times: 1)
        }
        let folder = try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"])
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/config.json"), repo.data("config.json"))
        XCTAssertLessThan(server.hostileBytesSent, socketSlack)
    }

    func testEndpointMustBeHTTP() throws {
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = HubClient(endpoint: "file://" + root, token: "", cache: HubCache(root: root + "/hub"),
                               environment: ["HOME": root])
        assertThrowsHubError(try client.snapshot(repo: "org/model", files: ["config.json"])) {
            guard case .unsupportedURL(let url, nil) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(url.hasPrefix("file://"), url)
            XCTAssertTrue($0.description.contains("HF_ENDPOINT"), $0.description)
        }
        XCTAssertEqual(allFiles(under: root), [])
    }

    // MARK: - Values from the server that become paths

    func testHostileCommitAndETagHeadersWriteNothing() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let cache = root + "/hf/hub"
        let hostile: [[String: String?]] = [
            ["X-Repo-Commit": "../../../../evil"],
            ["X-Repo-Commit": nil],
            ["ETag": "\"../../../../evil\""],
            ["ETag": "\"a/b\""],
            ["ETag": "\"..\""],
            ["ETag": nil],
        ]
        for headers in hostile {
            server.configure { $0.overrideHeaders("config.json", headers) }
            assertThrowsHubError(try makeClient(server: server, cacheRoot: cache)
                .snapshot(repo: repo.id, files: ["config.json"])) {
                guard case .notCached(_, _, _, _, let reason?) = $0 else { return XCTFail("\(headers): \($0)") }
                XCTAssertTrue(reason.contains("Hugging Face Hub"), reason)
            }
            XCTAssertEqual(allFiles(under: root), [], "\(headers)")
        }
        // A 404 whose X-Repo-Commit is not a commit hash leaves no .no_exist marker.
        server.configure { $0.overrideHeaders("nope.bin", ["X-Repo-Commit": "../../../../evil"]) }
        assertThrowsHubError(try makeClient(server: server, cacheRoot: cache).snapshot(repo: repo.id, files: ["nope.bin"])) {
            XCTAssertEqual($0, .fileNotFound(repo: repo.id, revision: "main", path: "nope.bin"))
        }
        XCTAssertEqual(allFiles(under: root), [])
    }

    func testErrorMessagesFromTheServerAreCleaned() throws {
        let repo = try FixtureRepo.load()
        let server = try startServer(self, with: repo)
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let message = "bad\u{1B}[2J\u{1B}]0;title\u{07}" + String(repeating: "x", count: 5000)
        server.configure {
            $0.fail(repo.id, status: 401)
            $0.overrideHeaders("config.json", ["X-Error-Code": "GatedRepo", "X-Error-Message": message])
        }
        assertThrowsHubError(try makeClient(server: server, cacheRoot: root).snapshot(repo: repo.id, files: ["config.json"])) {
            guard case .gatedRepository(_, _, let said?) = $0 else { return XCTFail("\($0)") }
            XCTAssertFalse(said.unicodeScalars.contains { $0.properties.generalCategory == .control }, said)
            XCTAssertTrue(said.hasPrefix("bad"), said)
            XCTAssertLessThanOrEqual(said.count, 500)
        }
    }

    // MARK: - Helpers

    /// `body` fails with `notCached` (the Hub's answer was unusable and the cache had nothing), for a reason that
    /// contains `cause`.
    private func assertNotCached(_ body: @autoclosure () throws -> Any, becauseOf cause: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        assertThrowsHubError(try body(), file: file, line: line) { error in
            guard case .notCached(_, _, _, _, let reason?) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(reason.contains(cause), reason, file: file, line: line)
        }
    }

    /// Neither a blob, nor a partial download, nor a snapshot entry exists for any file of the repository.
    private func assertNoDownloadLeft(root: String, repo: FixtureRepo, file: StaticString = #filePath, line: UInt = #line) {
        let left = allFiles(under: root + "/models--org--model").filter { $0.hasPrefix("blobs/") || $0.hasPrefix("snapshots/") }
        XCTAssertEqual(left, [], file: file, line: line)
    }
}

/// Every file and symlink under `folder` (not the folders themselves), relative to it, sorted.
func allFiles(under folder: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: folder) else { return [] }
    var files: [String] = []
    while let path = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let full = folder + "/" + path
        let exists = FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory)
        if readLink(full) != nil || (exists && !isDirectory.boolValue) {
            files.append(path)
        }
    }
    return files.sorted()
}
