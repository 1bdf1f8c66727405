import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TestSupport

/// A tiny HTTP/1.1 server on 127.0.0.1 (ephemeral port) that answers like the Hugging Face Hub for a few fake
/// repositories: `/{org}/{name}/resolve/{revision}/{path}` with the Hub's headers, LFS files redirected to
/// `/lfs/{sha256}`, byte ranges, gated repos, and failure modes for the tests. The sockets are
/// `LoopbackHTTPListener`'s: one thread and one request per connection, at most `maxConnections` connections.
final class LoopbackHubServer: @unchecked Sendable {
    struct FileEntry {
        var data: Data
        var lfs: Bool
        /// What the server announces as the etag (sha256 of the content for LFS files on the real Hub).
        var etag: String
        /// What the server announces as the size (`X-Linked-Size` for LFS files); nil: the real size.
        var announcedSize: Int? = nil
    }

    struct Repo {
        var commit: String
        var files: [String: FileEntry]
        /// When set, requests must carry `Authorization: Bearer <token>` (a gated repository).
        var requiredToken: String? = nil
    }

    typealias Request = LoopbackHTTPListener.Request

    /// A hostile answer for the tests of the client's limits. Every one stops by itself: bodies end after
    /// `hostileByteLimit` bytes or `hostileSeconds` seconds, whichever comes first.
    enum Hostile {
        /// `status` with `headers`, then zeros without end (no Content-Length unless `headers` has one).
        case endlessBody(status: Int, headers: [String: String])
        /// The normal status and headers (with the real Content-Length), then the body one byte every `interval`.
        case dripBody(interval: Double)
        /// The status line and headers one byte every `interval` seconds.
        case dripHead(interval: Double)
        /// A 302 to `location`.
        case redirect(location: String)
        /// The status line and part of a header, then the connection is closed.
        case headCutShort
        /// The status line, then header lines without end.
        case endlessHead
    }

    static let hostileByteLimit = 128 << 20
    static let hostileSeconds = 4.0

    var port: UInt16 { listener.port }
    var baseURL: String { listener.baseURL }

    private let lock = NSLock()
    private var listener: LoopbackHTTPListener!

    // Behaviour, changed by the tests (always through `configure`).
    private var repos: [String: Repo] = [:]
    /// Old repository id → new one: `resolve` requests for the old id get a relative 307 to the new id.
    private var renamed: [String: String] = [:]
    /// LFS sha → (bytes to send before cutting the connection, how many more times to do it).
    private var cutOffs: [String: (bytes: Int, times: Int)] = [:]
    private var ignoreRange = false
    /// LFS redirects go to `localhost` (a different host for the client) instead of `127.0.0.1`.
    private var crossHostLFS = false
    /// Repo id → status answered to every request for it.
    private var failures: [String: Int] = [:]
    /// Seconds to wait before answering (nothing is sent meanwhile).
    private var stallSeconds: Double = 0
    /// Every revision is answered as if it were `main` (a server that would follow any `@revision`).
    private var anyRevision = false
    /// File path (or LFS sha) → (hostile answer, methods it applies to, how many more times).
    private var hostile: [String: (answer: Hostile, methods: Set<String>, times: Int)] = [:]
    /// File path → headers replacing (or, when nil, removing) the normal ones on every `resolve` answer for it.
    private var headerOverrides: [String: [String: String?]] = [:]
    private var hostileBytes = 0
    private var log: [Request] = []

    init(maxConnections: Int = 200) throws {
        listener = try LoopbackHTTPListener(maxConnections: maxConnections) { [weak self] request, fd in
            self?.handle(request, fd)
        }
    }

    deinit { stop() }

    /// Stops accepting connections and closes the listening socket; afterwards connections are refused.
    func stop() { listener.stop() }

    func configure(_ change: (LoopbackHubServer.State) -> Void) {
        lock.withLock { change(State(server: self)) }
    }

    /// Mutable view of the behaviour, valid only inside `configure`.
    struct State {
        fileprivate let server: LoopbackHubServer
        func addRepo(_ id: String, _ repo: Repo) { server.repos[id] = repo }
        func updateFile(_ repo: String, _ path: String, _ change: (inout FileEntry) -> Void) {
            change(&server.repos[repo]!.files[path]!)
        }
        func rename(_ old: String, to new: String) { server.renamed[old] = new }
        func cutOff(sha: String, afterBytes: Int, times: Int = 1) { server.cutOffs[sha] = (afterBytes, times) }
        func setIgnoreRange(_ value: Bool) { server.ignoreRange = value }
        func setCrossHostLFS(_ value: Bool) { server.crossHostLFS = value }
        func fail(_ repo: String, status: Int) { server.failures[repo] = status }
        func setStall(seconds: Double) { server.stallSeconds = seconds }
        func setAnyRevision(_ value: Bool) { server.anyRevision = value }
        /// `key` is the file's path in the repository, or its sha for requests to the LFS storage (`/lfs/`).
        func hostile(_ key: String, _ answer: Hostile, methods: Set<String> = ["GET"], times: Int = .max) {
            server.hostile[key] = (answer, methods, times)
        }
        func overrideHeaders(_ path: String, _ headers: [String: String?]) { server.headerOverrides[path] = headers }
    }

    // MARK: - Hostile answers

    /// Body bytes the hostile answers managed to send (what the client accepted into its socket).
    var hostileBytesSent: Int { lock.withLock { hostileBytes } }

    /// The hostile answer for `key` and `method`, counting it as used.
    private func takeHostile(_ key: String, method: String) -> Hostile? {
        lock.withLock {
            guard let rule = hostile[key], rule.methods.contains(method), rule.times > 0 else { return nil }
            hostile[key]?.times = rule.times - 1
            return rule.answer
        }
    }

    /// Sends one hostile answer; `normal` are the headers the normal answer would carry, `data` its body.
    private func sendHostile(_ answer: Hostile, fd: Int32, method: String, normal: [String: String], data: Data) {
        let started = Date()
        let inTime = { Date().timeIntervalSince(started) < Self.hostileSeconds }
        /// Sends `piece` until the byte or time bound, or until the client is gone; counts what went out.
        func repeatSending(_ piece: Data) {
            var sent = 0
            while sent < Self.hostileByteLimit, inTime(), LoopbackHTTPListener.writeAll(fd, piece) {
                sent += piece.count
                lock.withLock { hostileBytes += piece.count }
            }
        }
        /// Sends `bytes` one at a time, `interval` seconds apart, until the time bound; counts what went out.
        func drip(_ bytes: Data, interval: Double) {
            for byte in bytes {
                guard inTime(), LoopbackHTTPListener.writeAll(fd, Data([byte])) else { return }
                lock.withLock { hostileBytes += 1 }
                Thread.sleep(forTimeInterval: interval)
            }
        }
        let normalHead = Data((["HTTP/1.1 200 OK"] + normal.map { "\($0.key): \($0.value)" }
            + ["Content-Length: \(data.count)", "Connection: close", "", ""]).joined(separator: "\r\n").utf8)
        switch answer {
        case .redirect(let location):
            send(fd, status: 302, headers: ["Location": location], body: Data(), method: method)
        case .endlessBody(let status, let headers):
            let head = (["HTTP/1.1 \(status) \(reason(status))"] + headers.map { "\($0.key): \($0.value)" }
                + ["Connection: close", "", ""]).joined(separator: "\r\n")
            guard LoopbackHTTPListener.writeAll(fd, Data(head.utf8)), method != "HEAD" else { return }
            repeatSending(Data(count: 64 * 1024))
        case .dripBody(let interval):
            guard LoopbackHTTPListener.writeAll(fd, normalHead), method != "HEAD" else { return }
            drip(data, interval: interval)
        case .dripHead(let interval):
            drip(normalHead, interval: interval)
        case .headCutShort:
            _ = LoopbackHTTPListener.writeAll(fd, Data("HTTP/1.1 200 OK\r\nETag: \"ab".utf8))
        case .endlessHead:
            guard LoopbackHTTPListener.writeAll(fd, Data("HTTP/1.1 200 OK\r\n".utf8)) else { return }
            repeatSending(Data(("X-Padding: " + String(repeating: "a", count: 1000) + "\r\n").utf8))
        }
    }

    var requests: [Request] { lock.withLock { log } }

    // MARK: - Requests

    private func handle(_ request: Request, _ fd: Int32) {
        let stall: Double = lock.withLock {
            log.append(request)
            return stallSeconds
        }
        if stall > 0 {
            Thread.sleep(forTimeInterval: stall)
            return
        }
        respond(to: request, fd: fd)
    }

    // MARK: - Routing

    private func respond(to request: Request, fd: Int32) {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        if path.hasPrefix("/lfs/") {
            let sha = String(path.dropFirst(5))
            let found: (Data, Int?)? = lock.withLock {
                for repo in repos.values {
                    for entry in repo.files.values where entry.lfs && entry.etag == sha {
                        return (entry.data, entry.announcedSize)
                    }
                }
                return nil
            }
            guard let (data, _) = found else {
                send(fd, status: 404, headers: [:], body: Data("no such object".utf8), method: request.method)
                return
            }
            if let answer = takeHostile(sha, method: request.method) {
                sendHostile(answer, fd: fd, method: request.method, normal: ["ETag": "\"s3-\(sha.prefix(16))\""], data: data)
                return
            }
            serveContent(data, key: sha, request: request, headers: ["ETag": "\"s3-\(sha.prefix(16))\""], fd: fd)
            return
        }
        guard let resolveRange = path.range(of: "/resolve/") else {
            send(fd, status: 404, headers: [:], body: Data("not found".utf8), method: request.method)
            return
        }
        let repoID = String(path[path.index(after: path.startIndex)..<resolveRange.lowerBound])
        let rest = path[resolveRange.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else {
            send(fd, status: 404, headers: [:], body: Data(), method: request.method)
            return
        }
        let revision = String(rest[..<slash]).removingPercentEncoding ?? String(rest[..<slash])
        let filePath = String(rest[rest.index(after: slash)...]).removingPercentEncoding ?? ""

        let (repo, failure, newID, crossHost) = lock.withLock {
            (repos[repoID], failures[repoID], renamed[repoID], crossHostLFS)
        }
        let anyRevision: Bool = lock.withLock { self.anyRevision }
        let overrides: [String: String?] = lock.withLock { headerOverrides[filePath] ?? [:] }
        /// Answers carry the test's header overrides for this file.
        func reply(_ fd: Int32, status: Int, headers: [String: String], body: Data, method: String) {
            send(fd, status: status, headers: headers, body: body, method: method, overrides: overrides)
        }
        if let newID {
            let location = "/\(newID)/resolve/\(rest)"
            reply(fd, status: 307, headers: ["Location": location], body: Data("Temporary Redirect.".utf8),
                  method: request.method)
            return
        }
        if let failure {
            reply(fd, status: failure, headers: [:], body: Data("Internal Error - We're working hard to fix this".utf8),
                  method: request.method)
            return
        }
        guard let repo else {
            reply(fd, status: 404, headers: ["X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"],
                  body: Data("Repository not found".utf8), method: request.method)
            return
        }
        if let token = repo.requiredToken, request.headers["authorization"] != "Bearer \(token)" {
            reply(fd, status: 401, headers: [
                "X-Error-Code": "GatedRepo",
                "X-Error-Message": "Access to model \(repoID) is restricted. You must have access to it and be authenticated to access it. Please log in.",
            ], body: Data(), method: request.method)
            return
        }
        guard anyRevision || revision == "main" || revision == repo.commit else {
            reply(fd, status: 404, headers: ["X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id: \(revision)"],
                  body: Data(), method: request.method)
            return
        }
        guard let entry = repo.files[filePath] else {
            reply(fd, status: 404, headers: [
                "X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found", "X-Repo-Commit": repo.commit,
            ], body: Data("Entry not found".utf8), method: request.method)
            return
        }
        if let answer = takeHostile(filePath, method: request.method) {
            sendHostile(answer, fd: fd, method: request.method,
                        normal: ["ETag": "\"\(entry.etag)\"", "X-Repo-Commit": repo.commit], data: entry.data)
            return
        }
        if entry.lfs {
            let host = crossHost ? "http://localhost:\(port)" : ""
            let location = "\(host)/lfs/\(entry.etag)"
            reply(fd, status: 302, headers: [
                "Location": location,
                "X-Repo-Commit": repo.commit,
                "X-Linked-Etag": "\"\(entry.etag)\"",
                "X-Linked-Size": "\(entry.announcedSize ?? entry.data.count)",
                "ETag": "\"\(String(entry.etag.prefix(40)))\"",
            ], body: Data("Found. Redirecting to \(location)".utf8), method: request.method)
            return
        }
        serveContent(entry.data, key: filePath, request: request,
                     headers: ["ETag": "\"\(entry.etag)\"", "X-Repo-Commit": repo.commit], fd: fd, overrides: overrides)
    }

    /// 200 with the whole body, or 206 for `Range: bytes=N-`; honours the cut-off mode.
    private func serveContent(_ data: Data, key: String, request: Request, headers: [String: String], fd: Int32,
                              overrides: [String: String?] = [:]) {
        var headers = headers
        headers["Accept-Ranges"] = "bytes"
        var status = 200
        var body = data
        let ignore = lock.withLock { ignoreRange }
        if let range = request.headers["range"], !ignore, range.hasPrefix("bytes="), range.hasSuffix("-"),
           let start = Int(range.dropFirst(6).dropLast()) {
            if start >= data.count {
                send(fd, status: 416, headers: ["Content-Range": "bytes */\(data.count)"], body: Data(), method: request.method,
                     overrides: overrides)
                return
            }
            status = 206
            body = data.subdata(in: start..<data.count)
            headers["Content-Range"] = "bytes \(start)-\(data.count - 1)/\(data.count)"
        }
        var cut: Int? = nil
        if request.method == "GET" {
            lock.withLock {
                if let rule = cutOffs[key], rule.times > 0 {
                    cut = rule.bytes
                    cutOffs[key] = (rule.bytes, rule.times - 1)
                }
            }
        }
        send(fd, status: status, headers: headers, body: body, method: request.method, cutAfter: cut, overrides: overrides)
    }

    /// `overrides` replace headers (the Content-Length too), or remove them where the value is nil.
    private func send(_ fd: Int32, status: Int, headers: [String: String], body: Data, method: String,
                      cutAfter: Int? = nil, overrides: [String: String?] = [:]) {
        var all = headers
        all["Content-Length"] = "\(body.count)"
        for (name, value) in overrides { all[name] = value }
        var text = "HTTP/1.1 \(status) \(reason(status))\r\n"
        for (name, value) in all { text += "\(name): \(value)\r\n" }
        text += "Connection: close\r\n\r\n"
        guard LoopbackHTTPListener.writeAll(fd, Data(text.utf8)) else { return }
        guard method != "HEAD" else { return }
        if let cutAfter {
            _ = LoopbackHTTPListener.writeAll(fd, body.prefix(cutAfter))
            Thread.sleep(forTimeInterval: 0.05)
            shutdown(fd, Int32(SHUT_RDWR))
            return
        }
        _ = LoopbackHTTPListener.writeAll(fd, body)
    }

    private func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 206: return "Partial Content"
        case 302: return "Found"
        case 307: return "Temporary Redirect"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 416: return "Range Not Satisfiable"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}

typealias ServerError = LoopbackServerError
