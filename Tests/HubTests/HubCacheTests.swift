import Foundation
import DeepfakeCore
import Hub
import TestSupport
import XCTest

/// The cache layout and configuration, without a server.
final class HubCacheTests: XCTestCase {
    /// A cache laid out by hand exactly as huggingface_hub writes it is read, offline and online-pinned.
    func testReadsACacheWrittenInHuggingFaceHubLayout() throws {
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let commit = "0123456789abcdef0123456789abcdef01234567"
        let repoFolder = root + "/models--aimagelab--CoDE"
        let configBlob = "d7edf6bd2a681fb0175f7735299831ee1b22b812"
        let modelBlob = "403450e234d65943a7dcf7e05a771ce3c92faa84dd07db4ac20f592037a1e4bd"
        let headBlob = "7cb18dc9bafbfcf74629a4b760af1b160957a83e"
        let fm = FileManager.default
        try fm.createDirectory(atPath: repoFolder + "/blobs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: repoFolder + "/refs", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: repoFolder + "/snapshots/\(commit)/sklearn", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: repoFolder + "/blobs/" + configBlob))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: repoFolder + "/blobs/" + modelBlob))
        try Data([4, 5]).write(to: URL(fileURLWithPath: repoFolder + "/blobs/" + headBlob))
        try commit.write(toFile: repoFolder + "/refs/main", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: repoFolder + "/snapshots/\(commit)/config.json",
                                  withDestinationPath: "../../blobs/" + configBlob)
        try fm.createSymbolicLink(atPath: repoFolder + "/snapshots/\(commit)/model.safetensors",
                                  withDestinationPath: "../../blobs/" + modelBlob)
        try fm.createSymbolicLink(atPath: repoFolder + "/snapshots/\(commit)/sklearn/head.sav",
                                  withDestinationPath: "../../../blobs/" + headBlob)

        let cache = HubCache(root: root)
        XCTAssertEqual(cache.repoFolder("aimagelab/CoDE"), repoFolder)
        XCTAssertEqual(cache.commit(for: "main", repo: "aimagelab/CoDE"), commit)
        XCTAssertEqual(cache.commit(for: commit, repo: "aimagelab/CoDE"), commit)
        XCTAssertNil(cache.commit(for: "dev", repo: "aimagelab/CoDE"))
        XCTAssertEqual(cache.cachedFile(repo: "aimagelab/CoDE", path: "sklearn/head.sav"),
                       repoFolder + "/snapshots/\(commit)/sklearn/head.sav")
        XCTAssertNil(cache.cachedFile(repo: "aimagelab/CoDE", path: "README.md"))

        let files = ["config.json", "model.safetensors", "sklearn/head.sav"]
        let offline = HubClient(offline: true, cache: cache, environment: ["HOME": root])
        let folder = try offline.snapshot(repo: "aimagelab/CoDE", files: files)
        XCTAssertEqual(folder, repoFolder + "/snapshots/" + commit)
        XCTAssertEqual(FileManager.default.contents(atPath: folder + "/sklearn/head.sav"), Data([4, 5]))
        XCTAssertEqual(try resolveModelLocation("aimagelab/CoDE", client: offline, files: files), folder)
        XCTAssertEqual(try resolveModelLocation("aimagelab/CoDE@\(commit)", client: offline, files: files), folder)

        // Online but pinned to a cached commit: answered without any request (the endpoint is a closed port).
        let pinned = HubClient(endpoint: "http://127.0.0.1:9", token: "", offline: false, cache: cache,
                               metadataTimeout: 1, environment: ["HOME": root])
        XCTAssertEqual(try pinned.snapshot(repo: "aimagelab/CoDE", revision: commit, files: files), folder)

        // A dangling link (blob removed) is not a cached file.
        try fm.removeItem(atPath: repoFolder + "/blobs/" + headBlob)
        XCTAssertNil(cache.cachedFile(repo: "aimagelab/CoDE", path: "sklearn/head.sav"))
        assertThrowsHubError(try offline.snapshot(repo: "aimagelab/CoDE", files: files)) { error in
            guard case .notCached(_, _, ["sklearn/head.sav"], _, nil) = error else { return XCTFail("\(error)") }
        }
    }

    func testOfflineWithEmptyCacheExplainsHowToGetTheModel() throws {
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = HubClient(offline: true, cache: HubCache(root: root), environment: ["HOME": root])
        assertThrowsHubError(try resolveModelLocation(
            "aimagelab/CoDE", client: client, files: ["config.json", "model.safetensors"])) { error in
            XCTAssertEqual(error, .notCached(repo: "aimagelab/CoDE", revision: "main",
                                             missing: ["config.json", "model.safetensors"], cacheRoot: root,
                                             networkError: nil))
            let text = error.description
            for needle in ["aimagelab/CoDE", "HF_HUB_OFFLINE", "huggingface-cli download aimagelab/CoDE", "--model",
                           "network access", root, "config.json, model.safetensors"] {
                XCTAssertTrue(text.contains(needle), "'\(needle)' missing from: \(text)")
            }
        }
        // Nothing was created in the cache by looking.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [])
    }

    func testModelLocationArguments() throws {
        let root = try temporaryFolder(self, prefix: "hub-tests")
        let client = HubClient(offline: true, cache: HubCache(root: root), environment: ["HOME": root])
        let local = root + "/local-model"
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        XCTAssertEqual(try resolveModelLocation(local, client: client), local)
        try Data().write(to: URL(fileURLWithPath: local + "/file"))
        for argument in [local + "/file", "./no-such-dir", "/no/such/dir", "not a repo", "a/b/c", "org/name@", "org--x/y"] {
            assertThrowsHubError(try resolveModelLocation(argument, client: client)) { error in
                guard case .invalidModelLocation(argument, _) = error else { return XCTFail("\(argument): \(error)") }
            }
        }
        assertThrowsHubError(try client.snapshot(repo: "org/model", files: ["../escape"])) { error in
            XCTAssertEqual(error, .invalidPath("../escape"))
        }
        assertThrowsHubError(try client.snapshot(repo: "org/../x", files: ["a"])) { error in
            XCTAssertEqual(error, .invalidRepoID("org/../x"))
        }
    }

    func testEnvironmentFollowsHuggingFaceHub() throws {
        XCTAssertEqual(HubEnvironment.cacheRoot(["HOME": "/h"]), "/h/.cache/huggingface/hub")
        XCTAssertEqual(HubEnvironment.cacheRoot(["HOME": "/h", "XDG_CACHE_HOME": "/x"]), "/x/huggingface/hub")
        XCTAssertEqual(HubEnvironment.cacheRoot(["HOME": "/h", "HF_HOME": "/hf"]), "/hf/hub")
        XCTAssertEqual(HubEnvironment.cacheRoot(["HOME": "/h", "HF_HOME": "~/hf"]), "/h/hf/hub")
        XCTAssertEqual(HubEnvironment.cacheRoot(["HF_HOME": "/hf", "HF_HUB_CACHE": "/cache"]), "/cache")
        XCTAssertEqual(HubCache(environment: ["HF_HUB_CACHE": "/cache"]).root, "/cache")

        XCTAssertEqual(HubEnvironment.endpoint([:]), "https://huggingface.co")
        XCTAssertEqual(HubEnvironment.endpoint(["HF_ENDPOINT": "http://mirror.local:8080/"]), "http://mirror.local:8080")

        for value in ["1", "ON", "on", "YES", "yes", "TRUE", "True"] {
            XCTAssertTrue(HubEnvironment.isOffline(["HF_HUB_OFFLINE": value]), value)
        }
        for value in ["0", "OFF", "false", "", "2"] {
            XCTAssertFalse(HubEnvironment.isOffline(["HF_HUB_OFFLINE": value]), value)
        }
        XCTAssertFalse(HubEnvironment.isOffline([:]))

        let home = try temporaryFolder(self, prefix: "hub-tests")
        XCTAssertNil(HubEnvironment.token(["HF_HOME": home]))
        try "  hf_fromfile \n".write(toFile: home + "/token", atomically: true, encoding: .utf8)
        XCTAssertEqual(HubEnvironment.token(["HF_HOME": home]), "hf_fromfile")
        XCTAssertEqual(HubEnvironment.token(["HF_HOME": home, "HF_TOKEN": "hf_env"]), "hf_env")
        try "hf_other".write(toFile: home + "/other", atomically: true, encoding: .utf8)
        XCTAssertEqual(HubEnvironment.token(["HF_HOME": home, "HF_TOKEN_PATH": home + "/other"]), "hf_other")
        XCTAssertFalse(HubClient(token: "", cache: HubCache(root: home), environment: ["HF_TOKEN": "x"]).hasToken)
        XCTAssertTrue(HubClient(cache: HubCache(root: home), environment: ["HF_TOKEN": "x"]).hasToken)

        let client = HubClient(environment: ["HF_HOME": home, "HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "7.5",
                                             "HF_ENDPOINT": "http://127.0.0.1:9/"])
        XCTAssertEqual(client.cache.root, home + "/hub")
        XCTAssertEqual(client.endpoint, "http://127.0.0.1:9")
        XCTAssertEqual(client.metadataTimeout, 3)
        XCTAssertEqual(client.downloadTimeout, 7.5)
        XCTAssertFalse(client.offline)
    }

    func testSHA256() throws {
        XCTAssertEqual(SHA256.hex(of: Data()),
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Data("abc".utf8)),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Against `sha256sum` (the manifest's LFS etags), through the chunked file reader.
        let repo = try FixtureRepo.load()
        for path in ["model.safetensors", "sklearn/head.sav"] {
            XCTAssertEqual(try SHA256.hex(ofFileAt: "\(hubFixtures)/\(repo.id)/\(path)"), repo.etag(path))
        }
    }
}
