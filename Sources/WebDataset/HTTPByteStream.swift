// HTTP(S) shards streamed through URLSession (FoundationNetworking on Linux): the delegate appends the body's
// chunks to a bounded in-memory queue that `read(into:)` drains; nothing goes to a temporary file.
//
// Bounding the queue. URLSession has no receive-side flow control (a blocked delegate only makes its queue of
// pending callbacks grow, and suspending a running task restarts it on Linux), so when the queue passes
// `bufferLimit` the transfer is cancelled and, once the reader has drained it below half the limit, resumed with
// a `Range: bytes=N-` request from the exact offset reached. This needs a server that answers ranges (206);
// when the first response does not advertise `Accept-Ranges: bytes`, the stream cannot pause and the queue holds
// what the network delivers ahead of the reader. The same mechanism resumes after a dropped connection
// (`retries` times).

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Settings for ``HTTPByteStream``.
public struct HTTPStreamOptions: Sendable, Hashable {
    /// Bytes held in memory ahead of the reader before the transfer pauses (see the file comment).
    public var bufferLimit: Int = 16 << 20
    /// Seconds without progress before a request fails.
    public var timeout: TimeInterval = 60
    /// Extra request headers (e.g. `Authorization`).
    public var headers: [String: String] = [:]
    /// How many times a dropped connection is resumed with a range request.
    public var retries: Int = 3

    /// Options with the defaults unless given.
    public init(bufferLimit: Int = 16 << 20, timeout: TimeInterval = 60, headers: [String: String] = [:],
                retries: Int = 3) {
        self.bufferLimit = bufferLimit; self.timeout = timeout; self.headers = headers; self.retries = retries
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
    private let session: URLSession

    /// Sends the request and waits for the response head.
    /// - Throws: `WebDatasetError` for a connection failure or an HTTP status other than 200/206.
    public init(url: URL, name: String? = nil, options: HTTPStreamOptions = .init()) throws(WebDatasetError) {
        self.url = url
        self.name = name ?? url.absoluteString
        self.options = options
        let state = HTTPStreamState(name: self.name, options: options)
        self.state = state
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = options.timeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        queue.name = "WebDataset.HTTPByteStream"
        session = URLSession(configuration: configuration, delegate: HTTPStreamDelegate(state: state),
                             delegateQueue: queue)
        state.start = { [session, url, options] offset in
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData,
                                     timeoutInterval: options.timeout)
            // Offsets are those of the stored bytes: no transparent decompression.
            request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
            if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
            for (field, value) in options.headers { request.setValue(value, forHTTPHeaderField: field) }
            let task = session.dataTask(with: request)
            task.resume()
            return task
        }
        try state.open()
    }

    deinit { close() }

    /// The body's length from `Content-Length`, when the server sent it.
    public var totalSize: Int64? { state.totalSize }

    /// The most bytes the queue has held at once (for tests of the bound).
    public var peakBufferedBytes: Int { state.peakBuffered }

    /// Requests sent so far (1 + resumptions).
    public var requestCount: Int { state.requestCount }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int {
        try state.read(into: buffer)
    }

    public func close() {
        state.close()
        session.invalidateAndCancel()
    }
}

/// Shared between the reader's thread and the delegate queue; every field is guarded by `condition`.
final class HTTPStreamState: @unchecked Sendable {
    enum Phase {
        case starting
        case running
        /// Cancelled on purpose (queue full) or dropped; waiting for the task's completion callback.
        case stopping(retry: Bool)
        /// No task running; the next read resumes from `received`.
        case paused
        case finished
        case failed(WebDatasetError)
        case closed
    }

    let name: String
    let options: HTTPStreamOptions
    var start: ((Int64) -> URLSessionDataTask)?
    private let condition = NSCondition()
    private var phase = Phase.starting
    private var task: URLSessionDataTask?
    private var chunks: [Data] = []
    private var chunkIndex = 0
    private var chunkOffset = 0
    private var buffered = 0
    private(set) var peakBuffered = 0
    private var received: Int64 = 0
    private var delivered: Int64 = 0
    private var expectedEnd: Int64?
    private var canResume = false
    private var retriesLeft: Int
    private(set) var requestCount = 0
    private var sawResponse = false
    private var lastProgress = Date()

    init(name: String, options: HTTPStreamOptions) {
        self.name = name
        self.options = options
        retriesLeft = options.retries
    }

    var totalSize: Int64? { condition.withLock { expectedEnd } }

    private func failure(_ reason: String) -> WebDatasetError {
        WebDatasetError(shard: name, offset: received, reason: reason)
    }

    /// Starts the first request and waits for its response head.
    func open() throws(WebDatasetError) {
        condition.lock()
        defer { condition.unlock() }
        launch(from: 0)
        while !sawResponse {
            if case .failed(let error) = phase { throw error }
            if case .finished = phase { break }
            if !condition.wait(until: Date().addingTimeInterval(options.timeout + 5)) && !sawResponse {
                if case .failed(let error) = phase { throw error }
                task?.cancel()
                phase = .failed(failure("no response within \(Int(options.timeout)) s"))
                if case .failed(let error) = phase { throw error }
            }
        }
    }

    /// Called with the lock held.
    private func launch(from offset: Int64) {
        guard let start else { return }
        sawResponse = offset > 0 ? sawResponse : false
        phase = .running
        requestCount += 1
        lastProgress = Date()
        task = start(offset)
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
                delivered += Int64(copied)
                if case .paused = phase, buffered <= options.bufferLimit / 2 { launch(from: received) }
                return copied
            }
            switch phase {
            case .finished: return 0
            case .failed(let error): throw error
            case .closed: throw failure("stream closed")
            case .paused: launch(from: received)
            case .starting, .running, .stopping:
                if !condition.wait(until: Date().addingTimeInterval(1)) {
                    if case .running = phase, Date().timeIntervalSince(lastProgress) > options.timeout + 5 {
                        task?.cancel()
                        phase = .failed(failure("no data for \(Int(options.timeout)) s"))
                    }
                }
            }
        }
    }

    func close() {
        condition.withLock {
            task?.cancel()
            task = nil
            start = nil
            chunks = []
            chunkIndex = 0
            buffered = 0
            phase = .closed
            condition.broadcast()
        }
    }

    // MARK: Delegate events (delegate queue)

    func response(_ response: URLResponse, task: URLSessionDataTask) -> Bool {
        condition.lock()
        defer { condition.broadcast(); condition.unlock() }
        guard task === self.task else { return false }
        guard let http = response as? HTTPURLResponse else {
            phase = .failed(failure("not an HTTP response"))
            return false
        }
        let status = http.statusCode
        let resuming = received > 0
        if !resuming {
            guard status == 200 || status == 206 else {
                phase = .failed(WebDatasetError(shard: name, reason: "HTTP status \(status)"))
                return false
            }
            if http.expectedContentLength >= 0 { expectedEnd = http.expectedContentLength }
            let ranges = (http.value(forHTTPHeaderField: "Accept-Ranges") ?? "").lowercased()
            canResume = ranges.contains("bytes")
        } else {
            // A resumed transfer must continue exactly where the queue ended.
            let contentRange = http.value(forHTTPHeaderField: "Content-Range") ?? ""
            guard status == 206, contentRange.hasPrefix("bytes \(received)-") else {
                phase = .failed(failure("the server did not resume at byte \(received) (HTTP \(status), "
                                        + "Content-Range '\(contentRange)')"))
                return false
            }
        }
        sawResponse = true
        lastProgress = Date()
        return true
    }

    func data(_ data: Data, task: URLSessionDataTask) {
        condition.lock()
        defer { condition.broadcast(); condition.unlock() }
        // Chunks of a task stopped on purpose still arrive in order and continue the stream.
        guard task === self.task else { return }
        switch phase {
        case .running, .stopping: break
        default: return
        }
        chunks.append(data)
        buffered += data.count
        received += Int64(data.count)
        peakBuffered = max(peakBuffered, buffered)
        lastProgress = Date()
        if case .running = phase, canResume, buffered > options.bufferLimit {
            phase = .stopping(retry: true)
            task.cancel()
        }
    }

    func completed(task: URLSessionTask, error: Error?) {
        condition.lock()
        defer { condition.broadcast(); condition.unlock() }
        guard task === self.task else { return }
        self.task = nil
        switch phase {
        case .stopping:
            phase = received == expectedEnd ? .finished : .paused
            return
        case .running, .starting:
            break
        default:
            return
        }
        if let error {
            if canResume && retriesLeft > 0 && sawResponse {
                retriesLeft -= 1
                phase = .paused
            } else {
                phase = .failed(failure("transfer failed: \(error.localizedDescription)"))
            }
            return
        }
        if let expectedEnd, received != expectedEnd {
            if canResume && retriesLeft > 0 && received < expectedEnd {
                retriesLeft -= 1
                phase = .paused
            } else {
                phase = .failed(failure("the connection closed after \(received) of \(expectedEnd) bytes"))
            }
            return
        }
        phase = .finished
    }
}

/// Forwards URLSession's callbacks to the state (the session keeps its delegate alive until invalidated).
private final class HTTPStreamDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let state: HTTPStreamState
    init(state: HTTPStreamState) { self.state = state }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        completionHandler(state.response(response, task: dataTask) ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        state.data(data, task: dataTask)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        state.completed(task: task, error: error)
    }
}
