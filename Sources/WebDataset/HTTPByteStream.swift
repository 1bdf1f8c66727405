// HTTP(S) shards streamed through DeepfakeCore's HTTP client: a background thread runs the client's resumable
// download, whose body goes to a bounded in-memory queue that `read(into:)` drains; nothing goes to a temporary file.
//
// Bounding the queue. When the queue passes `bufferLimit` the download is stopped (the client's callbacks are
// synchronous: nothing more is read), and once the reader has drained it below half the limit, a new download
// continues with a `Range: bytes=N-` request from the exact offset reached. This needs a server that answers
// ranges (206); when the first response does not advertise `Accept-Ranges: bytes`, the stream cannot pause and the
// queue holds what the network delivers ahead of the reader. The client resumes the same way after a dropped
// connection (`retries` times per download, after `retryDelay`·k seconds), and refuses a server that does not
// continue at the byte asked for: what the reader already has cannot be taken back.

import DeepfakeCore
import Foundation

/// Settings for ``HTTPByteStream``.
public struct HTTPStreamOptions: Sendable, Hashable {
    /// Bytes held in memory ahead of the reader before the transfer pauses (see the file comment).
    public var bufferLimit: Int = 16 << 20
    /// Seconds without progress before a request fails.
    public var timeout: TimeInterval = 60
    /// Extra request headers (e.g. `Authorization`; that one, `Cookie` and `Proxy-Authorization` are sent only
    /// while redirects stay on the URL's scheme, host and port).
    public var headers: [String: String] = [:]
    /// How many times a dropped connection is resumed with a range request.
    public var retries: Int = 3
    /// The pause before the k-th retry is `retryDelay`·k seconds (0: at once).
    public var retryDelay: TimeInterval = 0

    /// Options with the defaults unless given.
    public init(bufferLimit: Int = 16 << 20, timeout: TimeInterval = 60, headers: [String: String] = [:],
                retries: Int = 3, retryDelay: TimeInterval = 0) {
        self.bufferLimit = bufferLimit; self.timeout = timeout; self.headers = headers; self.retries = retries
        self.retryDelay = retryDelay
    }
}

/// A shard downloaded as it is read.
public final class HTTPByteStream: ByteStream {
    /// How errors name the shard (the URL as given by default).
    public let name: String
    /// What is downloaded.
    public let url: URL
    /// Buffer bound, timeout, headers, retries.
    public let options: HTTPStreamOptions
    private let state: HTTPStreamState

    /// Sends the request and waits for the response head.
    /// - Throws: `WebDatasetError` for a connection failure or an HTTP status other than 200/206.
    public init(url: URL, name: String? = nil, options: HTTPStreamOptions = .init()) throws(WebDatasetError) {
        self.url = url
        self.name = name ?? url.absoluteString
        self.options = options
        state = HTTPStreamState(name: self.name, url: url, options: options)
        try state.open()
    }

    deinit { close() }

    /// The body's length from `Content-Length`, when the server sent it.
    public var totalSize: Int64? { state.totalSize }

    /// The most bytes the queue has held at once (for tests of the bound).
    public var peakBufferedBytes: Int { state.peakBuffered }

    /// Responses received so far (1 + resumptions).
    public var requestCount: Int { state.requestCount }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int {
        try state.read(into: buffer)
    }

    public func close() {
        state.close()
    }
}

/// The queue between the download thread (the client's sink) and the reader; every field is guarded by `condition`.
final class HTTPStreamState: HTTPDownloadSink, @unchecked Sendable {
    enum Phase {
        /// A download thread is running.
        case running
        /// Stopped because the queue was full; the next read below half the limit resumes from `received`.
        case paused
        case finished
        case failed(WebDatasetError)
        case closed
    }

    /// Thrown by the sink to stop a download that filled the queue.
    private struct Pause: Error {}
    /// Thrown by the sink once the stream is closed.
    private struct Closed: Error {}

    let name: String
    let url: URL
    let options: HTTPStreamOptions
    private let client = HTTPClient(userAgent: "deepfake/1.0 (Swift; WebDataset shard streaming)")
    private let condition = NSCondition()
    private var phase = Phase.running
    private var chunks: [Data] = []
    private var chunkIndex = 0
    private var chunkOffset = 0
    private var buffered = 0
    private var receivedBytes: Int64 = 0
    private var expectedEnd: Int64?
    private var canPause = false
    private var sawResponse = false
    private(set) var peakBuffered = 0
    private(set) var requestCount = 0

    init(name: String, url: URL, options: HTTPStreamOptions) {
        self.name = name
        self.url = url
        self.options = options
    }

    var totalSize: Int64? { condition.withLock { expectedEnd } }

    private func failure(_ reason: String, offset: Int64? = nil) -> WebDatasetError {
        WebDatasetError(.http, shard: name, offset: offset ?? receivedBytes, reason: reason)
    }

    /// Starts the download and waits for its first response head (or its failure).
    func open() throws(WebDatasetError) {
        condition.lock()
        defer { condition.unlock() }
        launch()
        while !sawResponse {
            switch phase {
            case .failed(let error): throw error
            case .finished, .closed: return
            case .running, .paused: condition.wait()
            }
        }
    }

    /// Starts a download thread from `receivedBytes`. Called with the lock held.
    private func launch() {
        if receivedBytes > 0 { shardLogger.debug("\(name): resuming the download at byte \(receivedBytes)") }
        phase = .running
        let thread = Thread { [self] in download() }
        thread.name = "WebDataset.HTTPByteStream"
        thread.start()
    }

    /// The download thread: the client's resumable GET into this sink, then the phase it ends in.
    private func download() {
        let credentialNames: Set<String> = ["authorization", "cookie", "proxy-authorization"]
        let credentials = options.headers.filter { credentialNames.contains($0.key.lowercased()) }
        let headers = options.headers.filter { !credentialNames.contains($0.key.lowercased()) }
        let policy = HTTPDownloadPolicy(retries: options.retries, retryDelay: options.retryDelay,
                                        stallTimeout: options.timeout, maxRedirects: 10,
                                        expectedSize: condition.withLock { expectedEnd })
        var outcome: Phase
        do {
            try client.download(url, headers: headers, credentials: credentials, policy: policy, into: self)
            outcome = .finished
        } catch {
            outcome = .failed(streamError(error))
            if case .sink(let refusal) = error {
                if refusal is Pause { outcome = .paused }
                if refusal is Closed { return }
                if let stop = refusal as? WebDatasetError { outcome = .failed(stop) }
            }
        }
        condition.withLock {
            if case .closed = phase { return }
            if case .paused = outcome {
                shardLogger.debug("\(name): download paused at byte \(receivedBytes), \(buffered) bytes queued ahead of the reader")
            }
            phase = outcome
            condition.broadcast()
        }
    }

    private func streamError(_ error: HTTPDownloadError) -> WebDatasetError {
        condition.withLock {
            switch error {
            case .status(let head, _): return WebDatasetError(.http, shard: name, reason: "HTTP status \(head.status)")
            case .sizeMismatch(let expected, let actual):
                return failure("the server announced \(actual) bytes where the shard has \(expected)")
            case .bodyTooLong(let limit): return failure("the server sent more than the \(limit) bytes it announced")
            case .interrupted(let detail, let received, _): return failure("transfer failed: \(detail)", offset: received)
            case .deadline: return failure("the download ran out of time")
            case .tooManyRedirects: return failure("too many redirects")
            case .badRedirect: return failure("a redirect without a usable Location")
            case .unsupportedRedirect(let target, _): return failure("a redirect to \(target), which is not http or https")
            case .unsupportedScheme(let bad): return failure("\(bad.absoluteString) is not an http or https URL")
            case .sink(let refusal): return failure("\(refusal)")
            }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int {
        guard buffer.count > 0 else { return 0 }
        condition.lock()
        defer { condition.unlock() }
        while true {
            if chunkIndex < chunks.count {
                var copied = 0
                while copied < buffer.count && chunkIndex < chunks.count {
                    let chunk = chunks[chunkIndex]
                    let take = min(buffer.count - copied, chunk.count - chunkOffset)
                    chunk.withUnsafeBytes { raw in
                        (buffer.baseAddress! + copied).copyMemory(from: raw.baseAddress! + chunkOffset, byteCount: take)
                    }
                    copied += take
                    chunkOffset += take
                    if chunkOffset == chunk.count {
                        chunks[chunkIndex] = Data()
                        chunkIndex += 1
                        chunkOffset = 0
                    }
                }
                if chunkIndex > 64 && chunkIndex * 2 > chunks.count {
                    chunks.removeFirst(chunkIndex)
                    chunkIndex = 0
                }
                buffered -= copied
                if case .paused = phase, buffered <= options.bufferLimit / 2 { launch() }
                return copied
            }
            switch phase {
            case .finished: return 0
            case .failed(let error): throw error
            case .closed: throw failure("stream closed")
            case .paused: launch()
            case .running: condition.wait()
            }
        }
    }

    func close() {
        condition.withLock {
            chunks = []
            chunkIndex = 0
            buffered = 0
            phase = .closed
            condition.broadcast()
        }
    }

    // MARK: The client's sink (download thread)

    var received: Int64 { condition.withLock { receivedBytes } }

    /// The reader may already hold the bytes: never start over.
    var canRestart: Bool { false }

    var isCancelled: Bool { condition.withLock { if case .closed = phase { return true } else { return false } } }

    func restart(reason: String) throws {
        throw condition.withLock { failure("the server did not resume at byte \(receivedBytes): \(reason)") }
    }

    func begin(_ head: HTTPResponseHead) throws {
        try condition.withLock {
            if case .closed = phase { throw Closed() }
            if requestCount == 0 {
                canPause = (head.header("accept-ranges") ?? "").lowercased().contains("bytes")
                expectedEnd = head.status == 206 ? head.header("content-range").flatMap(parseContentRange)?.total
                    : parseSize(head.header("content-length"))
            }
            requestCount += 1
            sawResponse = true
            condition.broadcast()
        }
    }

    func write(_ data: Data) throws {
        try condition.withLock {
            if case .closed = phase { throw Closed() }
            chunks.append(data)
            buffered += data.count
            receivedBytes += Int64(data.count)
            peakBuffered = max(peakBuffered, buffered)
            condition.broadcast()
            if canPause, buffered > options.bufferLimit, receivedBytes != expectedEnd { throw Pause() }
        }
    }
}
