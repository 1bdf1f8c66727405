import CCurl
import Foundation

/// One HTTP exchange as the client needs it: no automatic redirects (the caller follows them, deciding which headers
/// travel), the body either streamed to a sink chosen from the response head or kept in memory up to a small cap,
/// and two clocks: `timeout` (seconds without a byte) and `deadline` (when the whole exchange must be over).
package struct HTTPRequest {
    package var url: URL
    package var method: String
    package var headers: [String: String]
    package var timeout: TimeInterval
    package var deadline: Date
    /// Asked about once a second during the exchange (on the performing thread); true stops it
    /// (`HTTPFailure.failed(.other, "cancelled")`).
    package var isCancelled: (() -> Bool)?

    /// A request; `timeout` is the stall clock, `deadline` the end of the whole exchange.
    package init(url: URL, method: String, headers: [String: String], timeout: TimeInterval, deadline: Date,
                isCancelled: (() -> Bool)? = nil) {
        self.url = url; self.method = method; self.headers = headers; self.timeout = timeout; self.deadline = deadline
        self.isCancelled = isCancelled
    }
}

/// A final response head (informational 1xx heads are skipped).
package struct HTTPResponseHead: Sendable {
    package let status: Int
    /// The URL that answered.
    package let url: URL
    /// Header names lowercased.
    package let headers: [String: String]

    /// The value of header `name` (any case).
    package func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// A redirect status with a Location.
    package var isRedirect: Bool { [301, 302, 303, 307, 308].contains(status) && header("location") != nil }
}

/// Receives a streamed body, in order, on the thread that called `perform`. A throw stops the transfer at once.
package protocol HTTPBodySink: AnyObject {
    func write(_ data: Data) throws
}

/// What kind of network failure happened.
public enum HTTPFailureKind: String, Sendable, Equatable {
    /// The host name could not be resolved.
    case dns
    /// The server did not answer in time.
    case timeout
    /// The connection was refused, reset or lost.
    case connection
    /// TLS failed (certificate, handshake).
    case tls
    /// Anything else the HTTP stack reported.
    case other
}

/// Why `HTTPClient.perform` gave no response.
package enum HTTPFailure: Error {
    /// The transfer failed (name resolution, connection, TLS, stall, a malformed answer...); `bytesStreamed` tells
    /// how far a sink got.
    case failed(HTTPFailureKind, detail: String, head: HTTPResponseHead?, bytesStreamed: Int64)
    /// The sink refused the head or data (size, disk full, ...); nothing more was read.
    case sink(Error, head: HTTPResponseHead?, bytesStreamed: Int64)
    /// The connection ended before a complete response head.
    case noResponse(String)
    /// `deadline` passed first; the transfer was stopped.
    case deadline(head: HTTPResponseHead?, bytesStreamed: Int64)
    /// The URL is not http or https; nothing was sent.
    case unsupportedScheme(URL)
}

/// Whether `url` is http or https, the only schemes the client fetches.
package func isHTTP(_ url: URL) -> Bool {
    ["http", "https"].contains(url.scheme?.lowercased() ?? "")
}

/// The project's HTTP client (the Hub client and shard streaming both use it): single requests with libcurl's easy
/// interface, blocking the caller until done, and resumable downloads on top (`download`, HTTPDownload.swift).
/// libcurl (rather than URLSession) because its callbacks run synchronously: a sink that refuses data stops the
/// reading at once, whereas URLSession on Linux keeps reading into an unbounded queue after a cancel, and aborts the
/// whole process when a server closes the connection in the middle of the response head.
package struct HTTPClient: Sendable {
    /// The User-Agent header sent.
    package let userAgent: String

    /// A client announcing itself as `userAgent`.
    package init(userAgent: String) { self.userAgent = userAgent }

    /// Non-streamed bodies (error pages, redirect bodies) are kept up to this many bytes; the rest is not read.
    static let memoryBodyCap = 64 * 1024
    /// Response heads larger than this are refused (the Hub's are a few kilobytes).
    static let headCap = 256 * 1024

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Sends `request`. When `sinkFor` returns a sink for the response head, the body goes there and the returned
    /// body is empty; otherwise the body is returned, cut at `memoryBodyCap`.
    package func perform(
        _ request: HTTPRequest, sinkFor: ((HTTPResponseHead) throws -> HTTPBodySink?)? = nil
    ) throws(HTTPFailure) -> (HTTPResponseHead, Data) {
        guard isHTTP(request.url) else { throw .unsupportedScheme(request.url) }
        guard Self.globalInit, let handle = curl_easy_init() else {
            throw .failed(.other, detail: "libcurl could not be initialised", head: nil, bytesStreamed: 0)
        }
        defer { curl_easy_cleanup(handle) }

        var headerLines = [
            "User-Agent: \(userAgent)",
            // Sizes and byte ranges refer to the stored bytes: never let a compressing proxy or server change them.
            "Accept-Encoding: identity",
        ]
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) { headerLines.append("\(name): \(value)") }
        var list: UnsafeMutablePointer<curl_slist>?
        for line in headerLines { list = curl_slist_append(list, line) }
        defer { curl_slist_free_all(list) }

        let transfer = Transfer(url: request.url, sinkFor: sinkFor, isCancelled: request.isCancelled)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        let remaining = request.deadline.timeIntervalSinceNow
        guard remaining > 0 else { throw .deadline(head: nil, bytesStreamed: 0) }
        let stall = max(1, Int(request.timeout.rounded(.up)))

        var ok = deepfake_curl_set_string(handle, CURLOPT_URL, request.url.absoluteString) == CURLE_OK
        ok = ok && deepfake_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
        ok = ok && deepfake_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0) == CURLE_OK
        ok = ok && deepfake_curl_set_long(handle, CURLOPT_NOSIGNAL, 1) == CURLE_OK
        ok = ok && deepfake_curl_set_list(handle, CURLOPT_HTTPHEADER, list) == CURLE_OK
        if request.method == "HEAD" {
            ok = ok && deepfake_curl_set_long(handle, CURLOPT_NOBODY, 1) == CURLE_OK
        } else if request.method != "GET" {
            ok = ok && deepfake_curl_set_string(handle, CURLOPT_CUSTOMREQUEST, request.method) == CURLE_OK
        }
        // The stall clock: connecting, and then fewer than 1 byte per second for `stall` seconds, fail the request.
        ok = ok && deepfake_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, stall * 1000) == CURLE_OK
        ok = ok && deepfake_curl_set_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1) == CURLE_OK
        ok = ok && deepfake_curl_set_long(handle, CURLOPT_LOW_SPEED_TIME, stall) == CURLE_OK
        // The deadline clock: the whole exchange, whatever arrives meanwhile.
        let remainingMS = Int((min(remaining, 30 * 24 * 3600) * 1000).rounded(.up))
        ok = ok && deepfake_curl_set_long(handle, CURLOPT_TIMEOUT_MS, max(1, remainingMS)) == CURLE_OK
        ok = ok && deepfake_curl_set_callback(handle, CURLOPT_HEADERFUNCTION, transferHeaderCallback) == CURLE_OK
        ok = ok && deepfake_curl_set_pointer(handle, CURLOPT_HEADERDATA, context) == CURLE_OK
        ok = ok && deepfake_curl_set_callback(handle, CURLOPT_WRITEFUNCTION, transferWriteCallback) == CURLE_OK
        ok = ok && deepfake_curl_set_pointer(handle, CURLOPT_WRITEDATA, context) == CURLE_OK
        if request.isCancelled != nil {
            ok = ok && deepfake_curl_set_long(handle, CURLOPT_NOPROGRESS, 0) == CURLE_OK
            ok = ok && deepfake_curl_set_progress(handle, transferProgressCallback) == CURLE_OK
            ok = ok && deepfake_curl_set_pointer(handle, CURLOPT_XFERINFODATA, context) == CURLE_OK
        }
        guard ok else {
            throw .failed(.other, detail: "libcurl refused the request options", head: nil, bytesStreamed: 0)
        }

        let code = withExtendedLifetime(transfer) { curl_easy_perform(handle) }
        if code == CURLE_ABORTED_BY_CALLBACK, transfer.cancelled {
            throw .failed(.other, detail: "cancelled", head: transfer.head, bytesStreamed: transfer.streamed)
        }
        if let headError = transfer.headError {
            throw .failed(.other, detail: headError, head: nil, bytesStreamed: 0)
        }
        if let sinkError = transfer.sinkError {
            throw .sink(sinkError, head: transfer.head, bytesStreamed: transfer.streamed)
        }
        if code == CURLE_WRITE_ERROR, transfer.bodyCapped, let head = transfer.head {
            return (head, transfer.body)
        }
        // libcurl's clock may run a little ahead of ours; either way the timeout that fired is the deadline's.
        if code == CURLE_OPERATION_TIMEDOUT, Date() >= request.deadline.addingTimeInterval(-0.05) {
            throw .deadline(head: transfer.head, bytesStreamed: transfer.streamed)
        }
        if code != CURLE_OK {
            throw .failed(failureKind(code), detail: curlMessage(code), head: transfer.head,
                          bytesStreamed: transfer.streamed)
        }
        guard let head = transfer.head else {
            throw .noResponse("no complete HTTP response from \(request.url.absoluteString)")
        }
        return (head, transfer.body)
    }
}

/// The state of one `perform`, reached from libcurl's callbacks (on the caller's thread) through the context pointer.
private final class Transfer {
    let url: URL
    let sinkFor: ((HTTPResponseHead) throws -> HTTPBodySink?)?
    var lines: [String] = []
    var headBytes = 0
    var head: HTTPResponseHead?
    var sink: HTTPBodySink?
    var body = Data()
    var bodyCapped = false
    var streamed: Int64 = 0
    var sinkError: Error?
    /// Why the response head was refused (too large, malformed).
    var headError: String?
    let isCancelled: (() -> Bool)?
    var cancelled = false

    init(url: URL, sinkFor: ((HTTPResponseHead) throws -> HTTPBodySink?)?, isCancelled: (() -> Bool)?) {
        self.url = url
        self.sinkFor = sinkFor
        self.isCancelled = isCancelled
    }

    /// Whether to stop now (the request's cancellation check).
    func shouldStop() -> Bool {
        if isCancelled?() == true { cancelled = true }
        return cancelled
    }

    /// One header line (with its CRLF). A blank line ends a head; an informational (1xx) head is skipped. Returns
    /// false to stop the transfer.
    func header(_ line: String) -> Bool {
        headBytes += line.utf8.count
        guard headBytes <= HTTPClient.headCap else {
            headError = "a response head larger than \(HTTPClient.headCap) bytes"
            return false
        }
        let text = line.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
        guard text.isEmpty else {
            if text.hasPrefix("HTTP/") { lines = [] }
            lines.append(text)
            return true
        }
        guard let statusLine = lines.first else { return true }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]), (100...999).contains(status) else {
            headError = "a malformed status line '\(cleanServerText(statusLine, limit: 80))'"
            return false
        }
        if status < 200 {
            lines = []
            return true
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let newHead = HTTPResponseHead(status: status, url: url, headers: headers)
        head = newHead
        lines = []
        do {
            sink = try sinkFor?(newHead)
        } catch {
            sinkError = error
            return false
        }
        return true
    }

    /// A piece of the body. Returns false to stop the transfer.
    func write(_ data: Data) -> Bool {
        if let sink {
            do {
                try sink.write(data)
                streamed += Int64(data.count)
                return true
            } catch {
                sinkError = error
                return false
            }
        }
        body.append(data.prefix(HTTPClient.memoryBodyCap - body.count))
        if body.count >= HTTPClient.memoryBodyCap {
            bodyCapped = true
            return false
        }
        return true
    }
}

private let transferHeaderCallback: deepfake_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let length = size * count
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    return transfer.header(line) ? length : 0
}

private let transferWriteCallback: deepfake_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let length = size * count
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.write(Data(bytes: data, count: length)) ? length : 0
}

private let transferProgressCallback: deepfake_curl_progress_callback = { context, _, _, _, _ in
    guard let context else { return 0 }
    return Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue().shouldStop() ? 1 : 0
}

private func failureKind(_ code: CURLcode) -> HTTPFailureKind {
    switch code {
    case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .dns
    case CURLE_OPERATION_TIMEDOUT: return .timeout
    case CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE:
        return .connection
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
         CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return .tls
    default: return .other
    }
}

private func curlMessage(_ code: CURLcode) -> String {
    "libcurl error \(code.rawValue): " + (curl_easy_strerror(code).map { String(cString: $0) } ?? "unknown")
}

/// Text from a server, fit for a message: control characters (terminal escapes included) become spaces, and
/// at most `limit` characters are kept.
package func cleanServerText(_ text: String, limit: Int) -> String {
    let scalars = text.unicodeScalars.map { scalar -> Character in
        scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format ? " " : Character(scalar)
    }
    let cleaned = String(scalars)
    return cleaned.count <= limit ? cleaned : String(cleaned.prefix(limit - 1)) + "…"
}
