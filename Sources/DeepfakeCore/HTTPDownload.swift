// Resumable downloads on `HTTPClient`: one GET and its redirects per attempt; a transfer that breaks off is
// resumed with `Range: bytes=N-` from the bytes the sink holds, after a pause that grows with each failure, until
// the retries or the deadline run out. The body is never read past its announced size.

import Foundation
import Logging

/// Where a download's body goes. Called on the downloading thread.
package protocol HTTPDownloadSink: AnyObject {
    /// The bytes already held (from earlier attempts, or an earlier run): the next request asks for the rest.
    var received: Int64 { get }
    /// Whether what is held may be dropped to start again from byte 0 (a file can; a stream already read cannot).
    /// When false, a broken transfer is resumed only from a server that takes byte ranges.
    var canRestart: Bool { get }
    /// Drops what is held, because the server sends the body from its start again or cannot resume at `received`
    /// (`reason` says which). Throw when that is impossible: the download then ends with `.sink`.
    func restart(reason: String) throws
    /// A response's body starts, at `received`. Throw to refuse it (the download ends with `.sink`).
    func begin(_ head: HTTPResponseHead) throws
    /// The next piece of the body. Throw to stop (the download ends with `.sink`).
    func write(_ data: Data) throws
    /// Asked about once a second, also while no byte arrives: true stops the download (`.interrupted`, not
    /// retried). False unless a sink says otherwise.
    var isCancelled: Bool { get }
}

extension HTTPDownloadSink {
    package var isCancelled: Bool { false }
}

/// The bounds on one download.
package struct HTTPDownloadPolicy: Sendable {
    /// Broken attempts retried (a download that makes progress is not otherwise bounded in attempts).
    package var retries: Int
    /// The pause before retry k is `retryDelay · min(k, 8)` seconds (never past the deadline).
    package var retryDelay: TimeInterval
    /// Seconds without a byte before an attempt fails (counted in whole seconds, rounded up).
    package var stallTimeout: TimeInterval
    /// When the whole download, retries included, must be over.
    package var deadline: Date
    /// Redirects followed per attempt.
    package var maxRedirects: Int
    /// The body's size when known beforehand: a response announcing another size is refused, and no byte past it
    /// is read. Otherwise the first response's size is taken.
    package var expectedSize: Int64?

    /// A policy; the defaults suit a large file from a well-behaved server.
    package init(retries: Int = 3, retryDelay: TimeInterval = 1, stallTimeout: TimeInterval = 60,
                deadline: Date = .distantFuture, maxRedirects: Int = 10, expectedSize: Int64? = nil) {
        self.retries = max(0, retries); self.retryDelay = max(0, retryDelay); self.stallTimeout = stallTimeout
        self.deadline = deadline; self.maxRedirects = max(0, maxRedirects); self.expectedSize = expectedSize
    }
}

/// Why a download did not complete.
package enum HTTPDownloadError: Error {
    /// An HTTP status that is not retried (4xx other than 408, 416, 429); `body` is the start of the error page.
    case status(HTTPResponseHead, body: Data)
    /// A response announced `actual` bytes where `expected` were expected; nothing of it was kept.
    case sizeMismatch(expected: Int64, actual: Int64)
    /// The body ran past its announced size `limit`; reading stopped there.
    case bodyTooLong(limit: Int64)
    /// The transfer broke off and could not be resumed (retries spent, or a server without byte ranges);
    /// `detail` is the last failure.
    case interrupted(detail: String, received: Int64, total: Int64?)
    /// The policy's deadline passed.
    case deadline
    /// More than `maxRedirects` redirects from `url`.
    case tooManyRedirects(url: URL)
    /// A redirect from `from` without a usable Location.
    case badRedirect(from: URL)
    /// A redirect to a URL that is not http or https (`url` cleaned for messages), refused at once.
    case unsupportedRedirect(url: String, referrer: URL)
    /// The URL itself is not http or https.
    case unsupportedScheme(URL)
    /// The sink refused the head, the data or a restart: its error.
    case sink(Error)
}

extension HTTPClient {
    private static let logger = Logger(label: "deepfake.http")

    /// GETs `url` into `sink`, resuming from `sink.received` (the bytes a sink already holds are asked for no
    /// more), following redirects, and retrying broken transfers within `policy`. `credentials` (e.g.
    /// `Authorization`) are sent only while every hop stays on `credentialOrigin`'s scheme, host and port
    /// (`url`'s by default); `headers` always.
    ///
    /// A 206 must start at the byte asked for; a 200 to a range request makes the sink restart. 416 (the range
    /// refused) restarts and retries; 408, 429 and 5xx are retried; other statuses end the download (`.status`).
    package func download(
        _ url: URL, headers: [String: String] = [:], credentials: [String: String] = [:], credentialOrigin: URL? = nil,
        policy: HTTPDownloadPolicy, into sink: HTTPDownloadSink
    ) throws(HTTPDownloadError) {
        let state = DownloadState(expected: policy.expectedSize)
        var failures = 0
        while true {
            if let expected = state.expected, sink.received > expected {
                try restart(sink, "it holds more than the \(expected) bytes announced")
            }
            if let expected = state.expected, expected > 0, sink.received == expected { return }
            if Date() >= policy.deadline { throw .deadline }
            let offset = sink.received
            do {
                try attempt(url, from: offset, headers: headers, credentials: credentials,
                            origin: credentialOrigin ?? url, policy: policy, state: state, sink: sink)
                guard let expected = state.expected, sink.received != expected else { return }
                throw Retry(detail: "the body ended after \(sink.received) of \(expected) bytes")
            } catch let retry as Retry {
                failures += 1
                let resumable = sink.canRestart || state.acceptsRanges || sink.received == 0
                guard failures <= policy.retries, resumable, !sink.isCancelled else {
                    throw .interrupted(detail: retry.detail, received: sink.received, total: state.expected)
                }
                if retry.restart { try restart(sink, retry.detail) }
                Self.logger.info("retrying \(url.absoluteString) from byte \(sink.received) (retry \(failures) of \(policy.retries)): \(retry.detail)")
                let pause = policy.retryDelay * Double(min(failures, 8))
                Thread.sleep(forTimeInterval: min(pause, max(0, policy.deadline.timeIntervalSinceNow)))
            } catch let error as HTTPDownloadError {
                throw error
            } catch {
                throw .sink(error)
            }
        }
    }

    private func restart(_ sink: HTTPDownloadSink, _ reason: String) throws(HTTPDownloadError) {
        do { try sink.restart(reason: reason) } catch { throw .sink(error) }
    }

    /// One GET and its redirects from `offset`. Throws `Retry` for failures worth another attempt,
    /// `HTTPDownloadError` otherwise.
    private func attempt(
        _ start: URL, from offset: Int64, headers: [String: String], credentials: [String: String], origin: URL,
        policy: HTTPDownloadPolicy, state: DownloadState, sink: HTTPDownloadSink
    ) throws {
        var url = start
        var sendCredentials = isSameOrigin(start, origin)
        for _ in 0...policy.maxRedirects {
            var fields = headers
            if sendCredentials { fields.merge(credentials) { _, credential in credential } }
            if offset > 0 { fields["Range"] = "bytes=\(offset)-" }
            let request = HTTPRequest(url: url, method: "GET", headers: fields, timeout: policy.stallTimeout,
                                      deadline: policy.deadline, isCancelled: { sink.isCancelled })
            let counter = BodyCounter(sink: sink, state: state)
            let head: HTTPResponseHead, body: Data
            do {
                (head, body) = try perform(request, sinkFor: { head in try counter.begin(head, offset: offset) })
            } catch {
                switch error {
                case .failed(_, let detail, _, _): throw Retry(detail: detail)
                case .noResponse(let detail): throw Retry(detail: detail)
                case .deadline: throw HTTPDownloadError.deadline
                case .unsupportedScheme(let bad): throw HTTPDownloadError.unsupportedScheme(bad)
                case .sink(let refusal, _, _):
                    if let mismatch = refusal as? RangeMismatch { throw Retry(detail: mismatch.detail, restart: true) }
                    if let refusal = refusal as? HTTPDownloadError { throw refusal }
                    throw HTTPDownloadError.sink(refusal)
                }
            }
            if head.isRedirect {
                guard let location = head.header("location"), let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw HTTPDownloadError.badRedirect(from: url)
                }
                guard isHTTP(next), next.host != nil else {
                    throw HTTPDownloadError.unsupportedRedirect(url: cleanServerText(next.absoluteString, limit: 500), referrer: url)
                }
                sendCredentials = sendCredentials && isSameOrigin(next, origin)
                url = next
                continue
            }
            switch head.status {
            case 200, 206: return
            case 416: throw Retry(detail: "the server refused the byte range", restart: true)
            case 500...599, 408, 429: throw Retry(detail: "HTTP \(head.status) from \(url.absoluteString)")
            default: throw HTTPDownloadError.status(head, body: body)
            }
        }
        throw HTTPDownloadError.tooManyRedirects(url: start)
    }
}

/// A failure worth another attempt; `restart`: drop what the sink holds first.
private struct Retry: Error {
    var detail: String
    var restart = false
}

/// A 206 that does not continue at the byte asked for: the attempt is retried from byte 0.
private struct RangeMismatch: Error {
    var detail: String
}

/// What one download learns as it goes.
private final class DownloadState {
    /// The body's size, once announced (or given).
    var expected: Int64?
    /// Whether the server has shown that it takes byte ranges (`Accept-Ranges: bytes`, or a 206).
    var acceptsRanges = false
    init(expected: Int64?) { self.expected = expected }
}

/// Checks a 200/206 head against the offset and the size, then passes the body to the sink, never past the size.
private final class BodyCounter: HTTPBodySink {
    let sink: HTTPDownloadSink
    let state: DownloadState

    init(sink: HTTPDownloadSink, state: DownloadState) {
        self.sink = sink
        self.state = state
    }

    /// The sink for `head`'s body, nil for the other statuses (their body is an error page or a redirect's).
    func begin(_ head: HTTPResponseHead, offset: Int64) throws -> HTTPBodySink? {
        if (head.header("accept-ranges") ?? "").lowercased().contains("bytes") { state.acceptsRanges = true }
        switch head.status {
        case 206:
            state.acceptsRanges = true
            guard let range = head.header("content-range").flatMap(parseContentRange) else {
                throw RangeMismatch(detail: "a partial answer without a usable Content-Range")
            }
            guard range.start == offset else {
                throw RangeMismatch(detail: "the server resumed at byte \(range.start) instead of \(offset)")
            }
            if let total = range.total { try announce(total) }
        case 200:
            if let length = parseSize(head.header("content-length")) { try announce(length) }
            if offset > 0 { try sink.restart(reason: "the server sent the whole body again (HTTP 200 to a range request)") }
        default:
            return nil
        }
        try sink.begin(head)
        return self
    }

    private func announce(_ size: Int64) throws {
        if let expected = state.expected, expected != size {
            throw HTTPDownloadError.sizeMismatch(expected: expected, actual: size)
        }
        state.expected = size
    }

    func write(_ data: Data) throws {
        let (after, overflow) = sink.received.addingReportingOverflow(Int64(data.count))
        if let limit = state.expected, overflow || after > limit { throw HTTPDownloadError.bodyTooLong(limit: limit) }
        try sink.write(data)
    }
}

/// `bytes START-END/TOTAL` → (START, TOTAL); TOTAL may be `*`.
package func parseContentRange(_ value: String) -> (start: Int64, total: Int64?)? {
    let trimmed = value.trimmingCharacters(in: .whitespaces)
    guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
    let spec = trimmed.dropFirst(6)
    let parts = spec.split(separator: "/", maxSplits: 1)
    guard let rangePart = parts.first, let dash = rangePart.firstIndex(of: "-"),
          let start = parseSize(String(rangePart[..<dash])) else { return nil }
    let total = parts.count == 2 ? parseSize(String(parts[1])) : nil
    return (start, total)
}

/// A byte count from a header: decimal digits only, within Int64 (nil otherwise, or when absent).
package func parseSize(_ value: String?) -> Int64? {
    guard let text = value?.trimmingCharacters(in: .whitespaces), !text.isEmpty, text.utf8.count <= 19,
          text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int64(text)
}

/// Same scheme, host and port: the only case where credentials follow a redirect.
package func isSameOrigin(_ a: URL, _ b: URL) -> Bool {
    func port(_ url: URL) -> Int? { url.port ?? (url.scheme?.lowercased() == "https" ? 443 : url.scheme?.lowercased() == "http" ? 80 : nil) }
    return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
        && port(a) == port(b)
}
