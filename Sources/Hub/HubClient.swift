import DeepfakeCore
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A small Hugging Face Hub client: downloads repository files into the shared Hub cache (see `HubCache`) and
/// answers from that cache when offline. Calls block until done; a client may be shared between threads.
public final class HubClient: Sendable {
    /// Download progress: the file's path in the repository, the bytes present so far (a resumed download starts at
    /// what was already on disk) and the file's announced size. Called on the downloading thread, only while bytes
    /// arrive.
    public typealias Progress = @Sendable (_ path: String, _ bytesDone: Int64, _ bytesTotal: Int64) -> Void

    /// The Hub's base address, without a trailing slash.
    public let endpoint: String
    /// When true, no request is ever made: everything comes from the cache.
    public let offline: Bool
    /// Where files are cached.
    public let cache: HubCache
    /// Seconds to wait for the metadata (HEAD) request.
    public let metadataTimeout: TimeInterval
    /// Seconds a download may stall (receive nothing) before it is abandoned, then retried; counted in whole
    /// seconds, rounded up. The overall time per file is bounded separately, by `limits`.
    public let downloadTimeout: TimeInterval
    /// How many times a broken download is resumed before giving up.
    public let maxRetries: Int
    /// Time, size and redirect bounds on each file.
    public let limits: HubDownloadLimits
    /// Whether requests carry a token.
    public var hasToken: Bool { token != nil }

    private let token: String?
    private let http: HTTPClient
    private static let logger = Logger(label: "deepfake.hub")
    private let retryDelay: TimeInterval

    /// A client configured like huggingface_hub: every argument left nil is read from `environment`
    /// (`HF_ENDPOINT`, `HF_TOKEN` or the token file, `HF_HUB_OFFLINE`, `HF_HUB_CACHE`/`HF_HOME`,
    /// `HF_HUB_ETAG_TIMEOUT`, `HF_HUB_DOWNLOAD_TIMEOUT`). Pass `token: ""` to send no token whatever the
    /// environment says. `limits` bound each file's time, the size of `.json` files and the redirects followed
    /// (see `HubDownloadLimits`; the defaults suit the Hub).
    public init(
        endpoint: String? = nil,
        token: String? = nil,
        offline: Bool? = nil,
        cache: HubCache? = nil,
        metadataTimeout: TimeInterval? = nil,
        downloadTimeout: TimeInterval? = nil,
        maxRetries: Int = 5,
        retryDelay: TimeInterval = 1,
        limits: HubDownloadLimits = HubDownloadLimits(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        var endpoint = endpoint ?? HubEnvironment.endpoint(environment)
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        self.endpoint = endpoint
        let resolvedToken = token ?? HubEnvironment.token(environment)
        self.token = (resolvedToken?.isEmpty ?? true) ? nil : resolvedToken
        self.offline = offline ?? HubEnvironment.isOffline(environment)
        self.cache = cache ?? HubCache(environment: environment)
        self.metadataTimeout = metadataTimeout ?? HubEnvironment.metadataTimeout(environment)
        self.downloadTimeout = downloadTimeout ?? HubEnvironment.downloadTimeout(environment)
        self.maxRetries = max(0, maxRetries)
        self.retryDelay = max(0, retryDelay)
        self.limits = limits
        self.http = HTTPClient(userAgent: "deepfake-hub/1.0 (Swift; huggingface_hub-compatible cache)")
    }

    // MARK: - Public API

    /// Makes sure `files` of `repo` at `revision` are in the cache and returns the snapshot folder
    /// (`<cache>/models--org--name/snapshots/<commit>`) that holds them.
    ///
    /// Online, each file's commit, etag and size are asked from the Hub; files already in the cache are not
    /// downloaded again, others are downloaded (resuming a partial download), verified and linked. Offline, or when
    /// the Hub cannot be reached, the answer comes from the cache alone, and `HubError.notCached` says what is
    /// missing and how to get it. `files` must not be empty.
    ///
    /// What the server says is checked before it touches the disk: `repo`, `revision` and `files` must be names the
    /// Hub would use (`HubError.invalidRepoID`, `.invalidRevision`, `.invalidPath`, before any request); the commit
    /// and etag must be a commit hash and a plain file name; a file must have an announced size, and is never read
    /// past it. A download that fails verification leaves nothing behind; one that was cut off or ran out of time
    /// keeps its `.incomplete` file for the next run to resume.
    public func snapshot(
        repo: String, revision: String = "main", files: [String], repoType: HubRepoType = .model,
        progress: Progress? = nil
    ) throws -> String {
        try validateRepoID(repo)
        try validateRevision(revision)
        guard !files.isEmpty else { throw HubError.invalidPath("") }
        var unique: [String] = []
        for file in files where !unique.contains(file) {
            try validatePath(file)
            unique.append(file)
        }

        if offline {
            return try cachedSnapshot(repo: repo, revision: revision, files: unique, type: repoType, networkError: nil)
        }

        var commit: String? = isCommitHash(revision) ? revision : nil
        for file in unique {
            do {
                commit = try fetch(repo: repo, revision: revision, pinnedCommit: commit, path: file, type: repoType,
                                   progress: progress)
            } catch let error as HubError where error.allowsCacheFallback {
                Self.logger.info("\(repo): \(error.shortReason); answering from the cache")
                return try cachedSnapshot(repo: repo, revision: revision, files: unique, type: repoType,
                                          networkError: error.shortReason)
            }
        }
        guard let commit else { throw HubError.invalidPath("") }
        return cache.snapshotFolder(repo, commit: commit, type: repoType)
    }

    /// Makes sure one file is in the cache and returns its path inside the snapshot folder.
    public func file(
        repo: String, revision: String = "main", path: String, repoType: HubRepoType = .model,
        progress: Progress? = nil
    ) throws -> String {
        let folder = try snapshot(repo: repo, revision: revision, files: [path], repoType: repoType, progress: progress)
        return join(folder, path)
    }

    // MARK: - Cache-only resolution

    private func cachedSnapshot(
        repo: String, revision: String, files: [String], type: HubRepoType, networkError: String?
    ) throws -> String {
        guard let commit = cache.commit(for: revision, repo: repo, type: type) else {
            throw HubError.notCached(repo: repo, revision: revision, missing: files, cacheRoot: cache.root,
                                     networkError: networkError)
        }
        let folder = cache.snapshotFolder(repo, commit: commit, type: type)
        var missing: [String] = []
        for file in files where !isRegularFile(join(folder, file)) {
            if cache.isKnownMissing(repo: repo, commit: commit, path: file, type: type) {
                throw HubError.fileNotFound(repo: repo, revision: revision, path: file)
            }
            missing.append(file)
        }
        guard missing.isEmpty else {
            throw HubError.notCached(repo: repo, revision: revision, missing: missing, cacheRoot: cache.root,
                                     networkError: networkError)
        }
        return folder
    }

    // MARK: - One file

    /// The time budget of one file (`HubDownloadLimits`): it starts with the metadata request at the floor and
    /// becomes the size-based deadline once the size is known.
    struct FileClock {
        let start = Date()
        var limit: TimeInterval
        var deadline: Date { start.addingTimeInterval(limit) }
        var elapsed: TimeInterval { Date().timeIntervalSince(start) }
        var isOver: Bool { Date() >= deadline }
    }

    /// Brings one file into the cache; returns the commit it belongs to.
    private func fetch(
        repo: String, revision: String, pinnedCommit: String?, path: String, type: HubRepoType, progress: Progress?
    ) throws -> String {
        if let pinnedCommit, cache.cachedFile(repo: repo, revision: pinnedCommit, path: path, type: type) != nil {
            Self.logger.info("\(repo)/\(path) at \(pinnedCommit): in the cache")
            return pinnedCommit
        }
        var clock = FileClock(limit: limits.deadlineFloor)
        let metadata = try fetchMetadata(repo: repo, revision: pinnedCommit ?? revision, requestedRevision: revision,
                                         path: path, type: type, clock: clock)
        clock.limit = limits.deadline(forSize: metadata.size)
        let commit = metadata.commit
        if pinnedCommit == nil {
            try cache.writeRef(repo, revision: revision, commit: commit, type: type)
        }
        if cache.cachedFile(repo: repo, revision: commit, path: path, type: type) != nil {
            Self.logger.info("\(repo)/\(path) at \(commit): in the cache")
            return commit
        }
        let blob = cache.blobPath(repo, etag: metadata.etag, type: type)
        try cache.withBlobLock(repo, etag: metadata.etag, type: type) {
            if !isRegularFile(blob) {
                try download(repo: repo, path: path, metadata: metadata, to: blob, clock: clock, progress: progress)
            }
        }
        try cache.linkSnapshot(repo, commit: commit, path: path, etag: metadata.etag, type: type)
        return commit
    }

    struct FileMetadata {
        var commit: String
        var etag: String
        var size: Int64
        var downloadURL: URL
        var sendAuthorization: Bool
        var type: HubRepoType
    }

    private func resolveURL(repo: String, revision: String, path: String, type: HubRepoType) throws -> URL {
        let text = endpoint + "/" + type.urlPrefix + repo + "/resolve/" + percentEncode(revision, keepSlash: false)
            + "/" + percentEncode(path, keepSlash: true)
        guard let url = URL(string: text) else {
            throw HubError.missingMetadata(url: text, detail: "the endpoint does not make a valid URL")
        }
        guard isHTTP(url), url.host != nil else { throw HubError.unsupportedURL(url: url.absoluteString, referrer: nil) }
        return url
    }

    /// HEAD on the resolve URL: commit (`X-Repo-Commit`), etag (`X-Linked-Etag` for LFS files, else `ETag`) and size
    /// (`X-Linked-Size`, else `Content-Length`), all three required. Redirects are followed, except that an LFS
    /// redirect (which already carries all three) is not followed to the storage host: its target is where the
    /// content is fetched from. `requestedRevision` is the caller's revision, for messages (`revision` may be the
    /// commit it was pinned to).
    private func fetchMetadata(
        repo: String, revision: String, requestedRevision: String, path: String, type: HubRepoType, clock: FileClock
    ) throws -> FileMetadata {
        let start = try resolveURL(repo: repo, revision: revision, path: path, type: type)
        var url = start
        var sendAuthorization = true
        var commit: String?
        var etag: String?
        var size: Int64?
        for _ in 0...limits.maxRedirects {
            let request = HTTPRequest(url: url, method: "HEAD", headers: authorizationHeader(sendAuthorization),
                                      timeout: metadataTimeout, deadline: clock.deadline)
            let (head, body) = try perform(request, repo: repo, path: path, clock: clock)
            commit = commit ?? head.header("x-repo-commit")
            if let linked = head.header("x-linked-etag") {
                etag = normalizeETag(linked)
                size = parseSize(head.header("x-linked-size"))
            }
            if head.isRedirect {
                let next = try redirectTarget(head, from: url)
                sendAuthorization = sendAuthorization && isSameOrigin(next, start)
                if let commit, let etag, let size {
                    try checkMetadata(repo: repo, path: path, commit: commit, etag: etag, size: size, url: start)
                    return FileMetadata(commit: commit, etag: etag, size: size, downloadURL: next,
                                        sendAuthorization: sendAuthorization, type: type)
                }
                url = next
                continue
            }
            guard (200..<300).contains(head.status) else {
                throw statusError(head, body: body, repo: repo, revision: requestedRevision, path: path, type: type)
            }
            etag = etag ?? head.header("etag").map(normalizeETag)
            size = size ?? parseSize(head.header("x-linked-size")) ?? parseSize(head.header("content-length"))
            guard let commit else {
                throw HubError.missingMetadata(url: start.absoluteString, detail: "no X-Repo-Commit header")
            }
            guard let etag else {
                throw HubError.missingMetadata(url: start.absoluteString, detail: "no ETag header")
            }
            guard let size else {
                throw HubError.missingMetadata(url: start.absoluteString,
                                               detail: "no file size (X-Linked-Size or Content-Length header)")
            }
            try checkMetadata(repo: repo, path: path, commit: commit, etag: etag, size: size, url: start)
            // Fetch from the same URL again, pinned to the commit so that a moving branch cannot mix versions.
            let pinned = try resolveURL(repo: repo, revision: commit, path: path, type: type)
            return FileMetadata(commit: commit, etag: etag, size: size, downloadURL: pinned, sendAuthorization: true,
                                type: type)
        }
        throw HubError.tooManyRedirects(url: start.absoluteString)
    }

    /// The commit and etag become file names in the cache: accept only what the Hub sends (a 40-hex commit, an
    /// etag of letters, digits, `-`, `_`, `.`, not starting with `.`). A `.json` file must fit `jsonFileLimit`.
    private func checkMetadata(
        repo: String, path: String, commit: String, etag: String, size: Int64, url: URL
    ) throws {
        guard isCommitHash(commit) else {
            throw HubError.missingMetadata(url: url.absoluteString,
                                           detail: "X-Repo-Commit '\(cleanServerText(commit, limit: 80))' is not a commit hash")
        }
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard !etag.isEmpty, !etag.hasPrefix("."), etag.count <= 128,
              etag.unicodeScalars.allSatisfy({ allowed.contains($0) }) else {
            throw HubError.missingMetadata(url: url.absoluteString,
                                           detail: "unusable ETag '\(cleanServerText(etag, limit: 80))'")
        }
        if limits.isCapped(path), size > limits.jsonFileLimit {
            throw HubError.fileTooLarge(repo: repo, path: path, size: size, limit: limits.jsonFileLimit)
        }
    }

    // MARK: - Download

    /// Downloads into `<blob>.incomplete` (resuming what is there), checks size and sha256, then renames into place.
    /// The `.incomplete` file survives only the failures that a later run can resume (`keepsPartialDownload`).
    private func download(
        repo: String, path: String, metadata: FileMetadata, to blob: String, clock: FileClock, progress: Progress?
    ) throws {
        let incomplete = blob + ".incomplete"
        try cache.makeParent(of: blob, inside: cache.repoFolder(repo, type: metadata.type))
        if !FileManager.default.fileExists(atPath: incomplete) {
            guard FileManager.default.createFile(atPath: incomplete, contents: nil) else {
                throw HubError.fileSystem(path: incomplete, detail: "cannot create the file")
            }
        }
        do {
            try receive(repo: repo, path: path, metadata: metadata, into: incomplete, clock: clock, progress: progress)
            try verify(repo: repo, path: path, metadata: metadata, file: incomplete)
        } catch let error as HubError where !error.keepsPartialDownload {
            unlink(incomplete)
            throw error
        }
        if rename(incomplete, blob) != 0 {
            throw HubError.fileSystem(path: blob, detail: "cannot move the download into place: "
                                      + String(cString: strerror(errno)))
        }
    }

    /// Fills `incomplete` up to the announced size with the HTTP client's resumable download: it resumes what is
    /// on disk, follows redirects (the token only to the Hub's own origin) and retries broken transfers within the
    /// file's clock.
    private func receive(
        repo: String, path: String, metadata: FileMetadata, into incomplete: String, clock: FileClock,
        progress: Progress?
    ) throws {
        let already = fileSize(incomplete)
        if already > 0 && already < metadata.size {
            Self.logger.info("resuming the download of \(repo)/\(path) at byte \(already) of \(metadata.size)")
        }
        let sink = FileSink(path: incomplete, repoPath: path, size: metadata.size, progress: progress)
        defer { sink.close() }
        let origin = try resolveURL(repo: repo, revision: metadata.commit, path: path, type: metadata.type)
        let policy = HTTPDownloadPolicy(retries: maxRetries, retryDelay: retryDelay, stallTimeout: downloadTimeout,
                                        deadline: clock.deadline, maxRedirects: limits.maxRedirects,
                                        expectedSize: metadata.size)
        do {
            try http.download(metadata.downloadURL, credentials: authorizationHeader(metadata.sendAuthorization),
                              credentialOrigin: origin, policy: policy, into: sink)
        } catch {
            let host = metadata.downloadURL.host ?? "?"
            switch error {
            case .status(let head, let body):
                throw statusError(head, body: body, repo: repo, revision: metadata.commit, path: path, type: metadata.type)
            case .sizeMismatch(let expected, let actual):
                throw HubError.sizeMismatch(repo: repo, path: path, expected: expected, actual: actual)
            case .bodyTooLong(let limit):
                throw HubError.bodyLongerThanAnnounced(repo: repo, path: path, announced: limit)
            case .interrupted(let detail, let received, _):
                throw HubError.downloadInterrupted(repo: repo, path: path, bytesDone: received, bytesTotal: metadata.size,
                                                   detail: detail)
            case .deadline:
                throw HubError.deadlineExceeded(repo: repo, path: path, host: host, elapsed: clock.elapsed, limit: clock.limit)
            case .tooManyRedirects:
                throw HubError.tooManyRedirects(url: metadata.downloadURL.absoluteString)
            case .badRedirect(let from):
                throw HubError.missingMetadata(url: from.absoluteString, detail: "a redirect without a usable Location")
            case .unsupportedRedirect(let url, let referrer):
                throw HubError.unsupportedURL(url: url, referrer: referrer.absoluteString)
            case .unsupportedScheme(let url):
                throw HubError.unsupportedURL(url: url.absoluteString, referrer: nil)
            case .sink(let refusal):
                if let hubError = refusal as? HubError { throw hubError }
                throw HubError.fileSystem(path: incomplete, detail: "\(refusal)")
            }
        }
    }

    /// Size, then sha256 when the etag is one (LFS files).
    private func verify(repo: String, path: String, metadata: FileMetadata, file: String) throws {
        let actual = fileSize(file)
        if actual != metadata.size {
            throw HubError.sizeMismatch(repo: repo, path: path, expected: metadata.size, actual: actual)
        }
        if isSHA256Hex(metadata.etag) {
            let digest: String
            do { digest = try SHA256.hex(ofFileAt: file) } catch { throw HubError.fileSystem(path: error.path, detail: error.reason) }
            if digest != metadata.etag.lowercased() {
                throw HubError.checksumMismatch(repo: repo, path: path, expected: metadata.etag.lowercased(),
                                                actual: digest)
            }
        }
    }

    // MARK: - HTTP helpers

    /// A request whose body stays in memory (metadata, error pages), with failures as `HubError`.
    private func perform(
        _ request: HTTPRequest, repo: String, path: String, clock: FileClock
    ) throws -> (HTTPResponseHead, Data) {
        do {
            return try http.perform(request)
        } catch {
            switch error {
            case .failed(let kind, let detail, _, _):
                throw HubError.network(kind, url: request.url.absoluteString, detail: detail)
            case .sink(let error, _, _):
                throw HubError.network(.other, url: request.url.absoluteString, detail: "\(error)")
            case .noResponse(let detail):
                throw HubError.network(.other, url: request.url.absoluteString, detail: detail)
            case .deadline:
                throw HubError.deadlineExceeded(repo: repo, path: path, host: request.url.host ?? "?",
                                                elapsed: clock.elapsed, limit: clock.limit)
            case .unsupportedScheme(let url):
                throw HubError.unsupportedURL(url: url.absoluteString, referrer: nil)
            }
        }
    }

    private func authorizationHeader(_ send: Bool) -> [String: String] {
        guard send, let token else { return [:] }
        return ["Authorization": "Bearer \(token)"]
    }

    /// The Location of a redirect, resolved against `url`; only http and https targets are followed.
    private func redirectTarget(_ head: HTTPResponseHead, from url: URL) throws -> URL {
        guard let location = head.header("location"),
              let next = URL(string: location, relativeTo: url)?.absoluteURL else {
            throw HubError.missingMetadata(url: url.absoluteString, detail: "a redirect without a usable Location")
        }
        guard isHTTP(next), next.host != nil else {
            throw HubError.unsupportedURL(url: cleanServerText(next.absoluteString, limit: 500),
                                          referrer: url.absoluteString)
        }
        return next
    }

    private func statusError(
        _ head: HTTPResponseHead, body: Data, repo: String, revision: String, path: String, type: HubRepoType
    ) -> HubError {
        let code = head.header("x-error-code")
        var message = head.header("x-error-message")
        if message == nil, !body.isEmpty, body.count < 2048,
           let text = String(data: body, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
           !text.isEmpty, !text.hasPrefix("<") {
            message = text
        }
        message = message.map { cleanServerText($0, limit: 500) }
        switch code {
        case "RepoNotFound":
            return .repositoryNotFound(repo: repo, hasToken: hasToken)
        case "GatedRepo":
            return .gatedRepository(repo: repo, hasToken: hasToken, message: message)
        case "RevisionNotFound":
            return .revisionNotFound(repo: repo, revision: revision)
        case "EntryNotFound":
            if let commit = head.header("x-repo-commit"), isCommitHash(commit) {
                cache.markMissing(repo, commit: commit, path: path, type: type)
            }
            return .fileNotFound(repo: repo, revision: revision, path: path)
        default:
            break
        }
        switch head.status {
        case 401, 403:
            return .unauthorized(repo: repo, path: path, status: head.status, hasToken: hasToken, message: message)
        case 404:
            return .fileNotFound(repo: repo, revision: revision, path: path)
        default:
            return .httpStatus(status: head.status, url: head.url.absoluteString, message: message)
        }
    }
}

// MARK: - Streaming to the .incomplete file

/// The `.incomplete` file as the HTTP client's download sink: holds what the file holds, appends the body after it,
/// starts over (truncated to 0) when the server sends the file from its start again. Used on the thread that
/// performs the download.
private final class FileSink: HTTPDownloadSink {
    private let path: String
    private let repoPath: String
    private let size: Int64
    private let progress: HubClient.Progress?
    private var handle: FileHandle?
    private var done: Int64 = 0

    init(path: String, repoPath: String, size: Int64, progress: HubClient.Progress?) {
        self.path = path
        self.repoPath = repoPath
        self.size = size
        self.progress = progress
    }

    var received: Int64 { fileSize(path) }
    var canRestart: Bool { true }

    func restart(reason: String) throws {
        close()
        try truncateFile(path, to: 0)
    }

    func begin(_ head: HTTPResponseHead) throws {
        close()
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw HubError.fileSystem(path: path, detail: "cannot open the partial download for writing")
        }
        let start = fileSize(path)
        do {
            try handle.truncate(atOffset: UInt64(start))
            try handle.seek(toOffset: UInt64(start))
        } catch {
            throw HubError.fileSystem(path: path, detail: "cannot prepare the partial download: \(error)")
        }
        self.handle = handle
        done = start
    }

    func write(_ data: Data) throws {
        guard let handle else { return }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw HubError.fileSystem(path: path, detail: "cannot write the download (disk full?): \(error)")
        }
        done += Int64(data.count)
        progress?(repoPath, done, size)
    }

    func close() {
        try? handle?.close()
        handle = nil
    }
}

// MARK: - Small helpers

extension HubError {
    /// Failures after which the cache may answer instead (the Hub was unreachable or misbehaving), as opposed to
    /// answers that settle the question (not found, no access).
    var allowsCacheFallback: Bool {
        switch self {
        case .network, .httpStatus, .missingMetadata, .tooManyRedirects: return true
        default: return false
        }
    }

    /// Failures after which the `.incomplete` file is kept for the next run to resume: what arrived is good so far.
    var keepsPartialDownload: Bool {
        switch self {
        case .downloadInterrupted, .deadlineExceeded: return true
        default: return false
        }
    }

    /// The cause in a few words, for `notCached`.
    var shortReason: String {
        switch self {
        case .network(let kind, let url, let detail):
            let host = URL(string: url)?.host ?? url
            switch kind {
            case .dns: return "cannot resolve \(host): \(detail)"
            case .timeout: return "\(host) did not answer in time"
            case .connection: return "cannot connect to \(host): \(detail)"
            case .tls: return "secure connection to \(host) failed: \(detail)"
            case .other: return "request to \(host) failed: \(detail)"
            }
        case .httpStatus(let status, let url, _):
            return "HTTP \(status) from \(URL(string: url)?.host ?? url)"
        default:
            return description
        }
    }
}

/// Strips the weak-validator prefix and the quotes of an ETag header value.
func normalizeETag(_ value: String) -> String {
    var etag = value.trimmingCharacters(in: .whitespaces)
    if etag.hasPrefix("W/") { etag.removeFirst(2) }
    return etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
}

func percentEncode(_ text: String, keepSlash: Bool) -> String {
    var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    if keepSlash { allowed.insert("/") }
    return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
}

func fileSize(_ path: String) -> Int64 {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return Int64(info.st_size)
}

func truncateFile(_ path: String, to size: Int64) throws {
    if truncate(path, off_t(size)) != 0 {
        throw HubError.fileSystem(path: path, detail: "cannot truncate: \(String(cString: strerror(errno)))")
    }
}

/// `name` or `org/name`: letters, digits, `-`, `_`, `.`; no `--` or `..`; at most 96 characters.
func validateRepoID(_ repo: String) throws {
    let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
    let wordChars = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
    let allowed = wordChars.union(CharacterSet(charactersIn: "-."))
    let ok = (1...2).contains(parts.count) && repo.count <= 96 && !repo.contains("--") && !repo.contains("..")
        && !repo.hasSuffix(".git")
        && parts.allSatisfy { part in
            guard let first = part.unicodeScalars.first, let last = part.unicodeScalars.last else { return false }
            return part.unicodeScalars.allSatisfy { allowed.contains($0) } && wordChars.contains(first)
                && wordChars.contains(last)
        }
    if !ok { throw HubError.invalidRepoID(repo) }
}

/// A revision as the Hub names them (`HubError.revisionRule`): a 40-hex commit hash, or a branch or tag name under
/// git's ref-name rules restricted to the characters the Hub uses; `/` separates components (`refs/pr/1`). The
/// revision becomes a path under `refs/`, so nothing that could climb out or hide passes.
func validateRevision(_ revision: String) throws {
    let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+=/")
    let components = revision.split(separator: "/", omittingEmptySubsequences: false)
    let ok = !revision.isEmpty && revision.utf8.count <= 255
        && revision.unicodeScalars.allSatisfy { allowed.contains($0) }
        && !revision.contains("..")
        && components.allSatisfy { !$0.isEmpty && !$0.hasPrefix(".") && !$0.hasSuffix(".lock") && !$0.hasSuffix(".") }
    if !ok { throw HubError.invalidRevision(revision) }
}

/// A relative path inside a repository, without `.`/`..` components or empty ones.
func validatePath(_ path: String) throws {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    let ok = !path.isEmpty && !path.hasPrefix("/") && !path.contains("\\") && !path.contains("\0")
        && parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    if !ok { throw HubError.invalidPath(path) }
}
