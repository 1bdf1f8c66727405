import DeepfakeCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kind of Hub repository; it picks the cache folder prefix and the URL prefix.
public enum HubRepoType: String, Sendable, CaseIterable {
    /// A model repository (`models--…` in the cache, no URL prefix).
    case model
    /// A dataset repository (`datasets--…`, URLs under `datasets/`).
    case dataset
    /// A Space (`spaces--…`, URLs under `spaces/`).
    case space

    /// `models`, `datasets` or `spaces`: the prefix of the repository's cache folder.
    public var cachePrefix: String { rawValue + "s" }

    /// The prefix of the repository in Hub URLs: nothing for models, `datasets/` or `spaces/` otherwise.
    public var urlPrefix: String { self == .model ? "" : rawValue + "s/" }
}

/// The Hugging Face Hub cache, in the layout huggingface_hub (Python) reads and writes:
///
///     <root>/models--<org>--<name>/refs/<revision>            commit hash the revision pointed to
///     <root>/models--<org>--<name>/blobs/<etag>               file contents (sha256 for LFS files, git sha1 otherwise)
///     <root>/models--<org>--<name>/snapshots/<commit>/<path>  relative symlink to ../../blobs/<etag>
///     <root>/models--<org>--<name>/.no_exist/<commit>/<path>  empty marker: the file does not exist at that commit
///     <root>/.locks/models--<org>--<name>/<etag>.lock         lock held while a blob is downloaded
///
/// A cache filled by Python works here, and one filled here works in Python.
public struct HubCache: Sendable, Equatable {
    /// The cache directory (the folder that holds the `models--…` folders).
    public let root: String

    /// A cache at `root`.
    public init(root: String) {
        self.root = root
    }

    /// The cache huggingface_hub would use: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.root = HubEnvironment.cacheRoot(environment)
    }

    /// The folder of a repository: `<root>/models--org--name`.
    public func repoFolder(_ repo: String, type: HubRepoType = .model) -> String {
        join(root, type.cachePrefix + "--" + repo.replacingOccurrences(of: "/", with: "--"))
    }

    /// The snapshot folder of a commit: `<repo folder>/snapshots/<commit>`.
    public func snapshotFolder(_ repo: String, commit: String, type: HubRepoType = .model) -> String {
        join(repoFolder(repo, type: type), "snapshots", commit)
    }

    /// The commit a revision stands for, from the cache alone: a 40-hex commit hash is returned as is, a branch or
    /// tag name is looked up in `refs/`. Nil when the cache does not know the revision, when the repository id or
    /// the revision is not one the Hub would name, or when the ref file does not hold a commit hash.
    public func commit(for revision: String, repo: String, type: HubRepoType = .model) -> String? {
        if isCommitHash(revision) { return revision }
        guard (try? validateRepoID(repo)) != nil, (try? validateRevision(revision)) != nil else { return nil }
        let refPath = join(repoFolder(repo, type: type), "refs", revision)
        guard let text = try? String(contentsOfFile: refPath, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return isCommitHash(commit) ? commit : nil
    }

    /// The path of a cached file (inside `snapshots/<commit>/`), or nil when the revision or the file is not cached
    /// (a snapshot link whose blob is gone counts as not cached) or `path` is not a relative path inside the
    /// repository.
    public func cachedFile(repo: String, revision: String = "main", path: String, type: HubRepoType = .model) -> String? {
        guard (try? validatePath(path)) != nil, let commit = commit(for: revision, repo: repo, type: type) else {
            return nil
        }
        let file = join(snapshotFolder(repo, commit: commit, type: type), path)
        return isRegularFile(file) ? file : nil
    }

    /// Whether the cache records that `path` does not exist in the repository at `commit` (`.no_exist/` marker).
    public func isKnownMissing(repo: String, commit: String, path: String, type: HubRepoType = .model) -> Bool {
        guard isCommitHash(commit), (try? validateRepoID(repo)) != nil, (try? validatePath(path)) != nil else {
            return false
        }
        return FileManager.default.fileExists(atPath: join(repoFolder(repo, type: type), ".no_exist", commit, path))
    }

    // MARK: - Writing (internal)

    func blobPath(_ repo: String, etag: String, type: HubRepoType) -> String {
        join(repoFolder(repo, type: type), "blobs", etag)
    }

    func lockPath(_ repo: String, etag: String, type: HubRepoType) -> String {
        join(root, ".locks", type.cachePrefix + "--" + repo.replacingOccurrences(of: "/", with: "--"), etag + ".lock")
    }

    /// Records `revision → commit` in `refs/` (nothing to do when the revision is the commit itself).
    func writeRef(_ repo: String, revision: String, commit: String, type: HubRepoType) throws {
        guard revision != commit else { return }
        let path = join(repoFolder(repo, type: type), "refs", revision)
        if let existing = try? String(contentsOfFile: path, encoding: .utf8), existing == commit { return }
        try makeParent(of: path, inside: repoFolder(repo, type: type))
        do { try writeFileAtomically(path, bytes: Array(commit.utf8)) } catch {
            throw HubError.fileSystem(path: path, detail: "cannot write: \(error.reason)")
        }
    }

    /// Points `snapshots/<commit>/<path>` at `blobs/<etag>` with a relative symlink (a copy where the file system
    /// has no symlinks), replacing whatever was there.
    @discardableResult
    func linkSnapshot(_ repo: String, commit: String, path: String, etag: String, type: HubRepoType) throws -> String {
        let destination = join(snapshotFolder(repo, commit: commit, type: type), path)
        try makeParent(of: destination, inside: repoFolder(repo, type: type))
        let depth = 2 + path.split(separator: "/").count - 1
        let target = String(repeating: "../", count: depth) + "blobs/" + etag
        let temporary = destination + ".tmp-" + UUID().uuidString
        if symlink(target, temporary) != 0 {
            // No symlinks here: fall back to a copy, as huggingface_hub does on such file systems.
            do {
                try FileManager.default.copyItem(atPath: blobPath(repo, etag: etag, type: type), toPath: temporary)
            } catch {
                throw HubError.fileSystem(path: destination, detail: "cannot link or copy the blob: \(error.localizedDescription)")
            }
        }
        if rename(temporary, destination) != 0 {
            let detail = String(cString: strerror(errno))
            unlink(temporary)
            throw HubError.fileSystem(path: destination, detail: "cannot create the snapshot entry: \(detail)")
        }
        return destination
    }

    /// Writes the `.no_exist/<commit>/<path>` marker.
    func markMissing(_ repo: String, commit: String, path: String, type: HubRepoType) {
        let marker = join(repoFolder(repo, type: type), ".no_exist", commit, path)
        guard (try? makeParent(of: marker, inside: repoFolder(repo, type: type))) != nil else { return }
        _ = FileManager.default.createFile(atPath: marker, contents: Data())
    }

    /// Runs `body` while holding the blob's lock file (`flock`, the same lock Python's filelock takes), so that two
    /// processes never write the same blob at once.
    func withBlobLock<T>(_ repo: String, etag: String, type: HubRepoType, _ body: () throws -> T) throws -> T {
        let path = lockPath(repo, etag: etag, type: type)
        try makeParent(of: path, inside: join(root, ".locks"))
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw HubError.fileSystem(path: path, detail: "cannot open the lock file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR {
                throw HubError.fileSystem(path: path, detail: "cannot lock: \(String(cString: strerror(errno)))")
            }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Creates the folders above `path`, a file the cache is about to write, after checking that it lies inside
    /// `base` (the repository's cache folder, or the lock folder): lexically (no empty, `.` or `..` component
    /// after `base`) and, once the folders exist, with symlinks resolved. The names that make up cache paths are
    /// validated before they get here; this is the last line of defence.
    func makeParent(of path: String, inside base: String) throws {
        let outside = HubError.fileSystem(path: path, detail: "refusing to write outside \(base), the cache folder "
                                          + "it belongs in (a folder on the way is a symlink, or a name climbs out)")
        let prefix = base.hasSuffix("/") ? base : base + "/"
        guard path.hasPrefix(prefix),
              path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
                  .allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { throw outside }
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw HubError.fileSystem(path: parent, detail: "cannot create the directory: \(error.localizedDescription)")
        }
        guard let realBase = realPath(base), let realParent = realPath(parent),
              realParent == realBase || realParent.hasPrefix(realBase.hasSuffix("/") ? realBase : realBase + "/") else {
            throw outside
        }
    }

}

/// Whether `text` is a full commit hash (40 lowercase hex digits), as huggingface_hub decides it.
func isCommitHash(_ text: String) -> Bool {
    text.utf8.count == 40 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
}

/// Whether `text` is a sha256 in hex (64 hex digits): the form of the Hub's etag for Git LFS files.
func isSHA256Hex(_ text: String) -> Bool {
    text.utf8.count == 64 && text.utf8.allSatisfy {
        ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || ($0 >= 0x41 && $0 <= 0x46)
    }
}

/// Whether `path` exists and is (or, through symlinks, leads to) a regular file.
func isRegularFile(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
}

/// `path` with every symlink resolved (`realpath`), or nil when it does not exist.
func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

func join(_ base: String, _ parts: String...) -> String {
    var result = base
    for part in parts {
        if result.hasSuffix("/") { result += part } else { result += "/" + part }
    }
    return result
}
