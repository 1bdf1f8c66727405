import Foundation
import Hub
import XCTest
import TestSupport

let hubFixtures = Fixtures.path("hub")

/// The fake `org/model` repository of Tests/Fixtures/hub (see its manifest.json).
struct FixtureRepo {
    let id: String
    let commit: String
    let files: [String: LoopbackHubServer.FileEntry]

    static func load() throws -> FixtureRepo {
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: hubFixtures + "/manifest.json"))
        guard let manifest = try JSONSerialization.jsonObject(with: manifestData) as? [String: Any],
              let id = manifest["repo"] as? String, let commit = manifest["commit"] as? String,
              let files = manifest["files"] as? [String: [String: Any]] else {
            throw ServerError("bad manifest")
        }
        var entries: [String: LoopbackHubServer.FileEntry] = [:]
        for (path, info) in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(hubFixtures)/\(id)/\(path)"))
            guard let lfs = info["lfs"] as? Bool, let etag = info["etag"] as? String, let size = info["size"] as? Int,
                  size == data.count else {
                throw ServerError("manifest entry \(path) does not match the fixture file")
            }
            entries[path] = .init(data: data, lfs: lfs, etag: etag)
        }
        return FixtureRepo(id: id, commit: commit, files: entries)
    }

    var allPaths: [String] { ["config.json", "model.safetensors", "sklearn/head.sav"] }

    func data(_ path: String) -> Data { files[path]!.data }
    func etag(_ path: String) -> String { files[path]!.etag }

    var asServerRepo: LoopbackHubServer.Repo { .init(commit: commit, files: files) }
}

/// A client for the loopback server that never looks at the real environment (no HF_* variables, no real home).
func makeClient(
    server: LoopbackHubServer?, cacheRoot: String, token: String? = "", offline: Bool = false, maxRetries: Int = 3,
    timeout: TimeInterval = 5, port: UInt16? = nil, limits: HubDownloadLimits = HubDownloadLimits()
) -> HubClient {
    let endpoint = server?.baseURL ?? "http://127.0.0.1:\(port ?? 9)"
    return HubClient(endpoint: endpoint, token: token, offline: offline, cache: HubCache(root: cacheRoot),
                     metadataTimeout: timeout, downloadTimeout: timeout, maxRetries: maxRetries, retryDelay: 0.02,
                     limits: limits, environment: ["HOME": cacheRoot + "/home"])
}

func startServer(_ test: XCTestCase, with repo: FixtureRepo) throws -> LoopbackHubServer {
    let server = try LoopbackHubServer()
    server.configure { $0.addRepo(repo.id, repo.asServerRepo) }
    test.addTeardownBlock { server.stop() }
    return server
}

func readLink(_ path: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path)
}

func assertThrowsHubError(
    _ body: @autoclosure () throws -> Any, file: StaticString = #filePath, line: UInt = #line,
    _ check: (HubError) -> Void
) {
    do {
        _ = try body()
        XCTFail("expected a HubError", file: file, line: line)
    } catch let error as HubError {
        check(error)
    } catch {
        XCTFail("expected a HubError, got \(error)", file: file, line: line)
    }
}
