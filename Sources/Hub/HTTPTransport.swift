import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange as the client needs it: no automatic redirects (the caller follows them, deciding which headers
/// travel), the body either streamed to a sink chosen from the response head or kept in memory up to a small cap.
struct HTTPRequest: Sendable {
    var url: URL
    var method: String
    var headers: [String: String]
    var timeout: TimeInterval
}

struct HTTPResponseHead: Sendable {
    let status: Int
    let url: URL
    /// Header names lowercased.
    let headers: [String: String]

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    var isRedirect: Bool { [301, 302, 303, 307, 308].contains(status) && header("location") != nil }
}

/// Receives a streamed body. Called on one queue, in order.
protocol BodySink: AnyObject, Sendable {
    func write(_ data: Data) throws
}

enum TransportFailure: Error {
    /// URLSession reported an error before or during the transfer; `bytesStreamed` tells how far a sink got.
    case url(URLError, head: HTTPResponseHead?, bytesStreamed: Int64)
    /// The sink refused data (disk full, ...).
    case sink(Error, head: HTTPResponseHead?, bytesStreamed: Int64)
    case noResponse(String)
}

/// Performs single requests with URLSession (FoundationNetworking on Linux), blocking the caller until done.
struct HTTPTransport: Sendable {
    let userAgent: String

    /// Non-streamed bodies (error pages, redirect bodies) are kept up to this many bytes.
    static let memoryBodyCap = 64 * 1024

    /// Sends `request`. When `sinkFor` returns a sink for the response head, the body goes there and the returned
    /// body is empty; otherwise the body is returned (truncated at `memoryBodyCap`).
    func perform(
        _ request: HTTPRequest, sinkFor: (@Sendable (HTTPResponseHead) throws -> BodySink?)? = nil
    ) throws(TransportFailure) -> (HTTPResponseHead, Data) {
        var urlRequest = URLRequest(url: request.url, cachePolicy: .reloadIgnoringLocalCacheData,
                                    timeoutInterval: request.timeout)
        urlRequest.httpMethod = request.method
        urlRequest.setValue(userAgent, forHTTPHeaderField: "User-Agent")
        // Sizes and byte ranges refer to the stored bytes: never let a compressing proxy or server change them.
        urlRequest.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }

        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = request.timeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false

        let delegate = TransferDelegate(sinkFor: sinkFor)
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        queue.name = "Hub.HTTPTransport"
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: queue)
        let task = session.dataTask(with: urlRequest)
        task.resume()
        delegate.finished.wait()
        session.finishTasksAndInvalidate()
        return try delegate.result(task: task, url: request.url)
    }
}

/// Collects one task's events. URLSession calls it on the session's serial delegate queue; the waiting caller reads
/// the results only after `finished` is signalled, and every access goes through `lock`.
private final class TransferDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private let sinkFor: (@Sendable (HTTPResponseHead) throws -> BodySink?)?
    private var head: HTTPResponseHead?
    private var sink: BodySink?
    private var body = Data()
    private var streamed: Int64 = 0
    private var sinkError: Error?
    private var taskError: Error?
    private var completed = false

    init(sinkFor: (@Sendable (HTTPResponseHead) throws -> BodySink?)?) {
        self.sinkFor = sinkFor
    }

    func result(task: URLSessionTask, url: URL) throws(TransportFailure) -> (HTTPResponseHead, Data) {
        lock.lock()
        defer { lock.unlock() }
        if head == nil, let response = task.response as? HTTPURLResponse {
            head = makeHead(response, fallbackURL: url)
        }
        if let sinkError { throw .sink(sinkError, head: head, bytesStreamed: streamed) }
        if let taskError {
            let urlError = (taskError as? URLError) ?? URLError(.unknown, userInfo: [NSUnderlyingErrorKey: taskError])
            throw .url(urlError, head: head, bytesStreamed: streamed)
        }
        guard let head else { throw .noResponse("no HTTP response from \(url.absoluteString)") }
        return (head, body)
    }

    private func makeHead(_ response: HTTPURLResponse, fallbackURL: URL) -> HTTPResponseHead {
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            guard let name = key as? String else { continue }
            headers[name.lowercased()] = (value as? String) ?? "\(value)"
        }
        return HTTPResponseHead(status: response.statusCode, url: response.url ?? fallbackURL, headers: headers)
    }

    /// Records the response head and asks for a sink, once. Called with the lock held, from the response callback
    /// or, should that callback not be delivered, from the first body chunk.
    private func prepare(_ response: URLResponse?, task: URLSessionTask) {
        guard head == nil, let http = response as? HTTPURLResponse else { return }
        let newHead = makeHead(http, fallbackURL: task.originalRequest?.url ?? URL(fileURLWithPath: "/"))
        head = newHead
        guard let sinkFor else { return }
        do {
            sink = try sinkFor(newHead)
        } catch {
            sinkError = error
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        lock.lock()
        prepare(response, task: dataTask)
        let failed = sinkError != nil
        lock.unlock()
        if failed {
            completionHandler(.cancel)
            dataTask.cancel()
        } else {
            completionHandler(.allow)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        defer { lock.unlock() }
        prepare(dataTask.response, task: dataTask)
        guard sinkError == nil else {
            dataTask.cancel()
            return
        }
        if let sink {
            do {
                try sink.write(data)
                streamed += Int64(data.count)
            } catch {
                sinkError = error
                dataTask.cancel()
            }
        } else if body.count < HTTPTransport.memoryBodyCap {
            body.append(data.prefix(HTTPTransport.memoryBodyCap - body.count))
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        // The caller follows redirects itself (it must drop credentials when the host changes).
        completionHandler(nil)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.lock()
        let alreadyCompleted = completed
        completed = true
        if let error, sinkError == nil { taskError = error }
        lock.unlock()
        if !alreadyCompleted { finished.signal() }
    }
}
