import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TestSupport

/// A small HTTP/1.1 file server on 127.0.0.1 (ephemeral port) for the streaming tests: `GET /NAME` answers the
/// bytes registered under NAME, with single byte ranges (`bytes=N-` / `bytes=N-M` → 206) unless the file is
/// registered without range support, and can cut a response short once. The sockets are `LoopbackHTTPListener`'s
/// (one thread and one request per connection).
final class LoopbackFileServer: @unchecked Sendable {
    struct File {
        var bytes: [UInt8]
        var ranges = true
        /// Close the connection after this many body bytes, for the next `cutTimes` responses.
        var cutAfter: Int? = nil
        var cutTimes = 0
        var status = 200
        /// Pause this many microseconds after each 64 KiB sent (a network slower than loopback).
        var delayPerChunk: UInt32 = 0
    }

    var port: UInt16 { listener.port }
    var baseURL: String { listener.baseURL }
    private let lock = NSLock()
    private var files: [String: File] = [:]
    private var requests: [(path: String, range: String?)] = []
    private var listener: LoopbackHTTPListener!

    init() throws {
        listener = try LoopbackHTTPListener(maxConnections: 100_000) { [weak self] request, fd in
            self?.serve(request, fd)
        }
    }

    func stop() { listener.stop() }

    func add(_ name: String, _ file: File) { lock.withLock { files[name] = file } }
    var log: [(path: String, range: String?)] { lock.withLock { requests } }

    private func serve(_ request: LoopbackHTTPListener.Request, _ client: Int32) {
        let path = String(request.path.dropFirst())
        let range = request.headers["range"]
        var file: File?
        lock.withLock {
            requests.append((path, range))
            file = files[path]
            if var registered = files[path], registered.cutTimes > 0 {
                registered.cutTimes -= 1
                files[path] = registered
            } else {
                file?.cutAfter = nil
            }
        }
        guard let file, file.status == 200 else {
            send(client, "HTTP/1.1 \(file?.status ?? 404) Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        }
        var start = 0, end = file.bytes.count - 1
        var status = "200 OK"
        if file.ranges, let range, range.hasPrefix("bytes=") {
            let bounds = range.dropFirst(6).split(separator: "-", omittingEmptySubsequences: false)
            start = Int(bounds[0]) ?? 0
            if bounds.count > 1, let last = Int(bounds[1]) { end = min(end, last) }
            guard start < file.bytes.count else {
                send(client, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            }
            status = "206 Partial Content"
        }
        var headers = "HTTP/1.1 \(status)\r\nContent-Length: \(end - start + 1)\r\nContent-Type: application/x-tar\r\n"
        if file.ranges { headers += "Accept-Ranges: bytes\r\n" }
        if status.hasPrefix("206") { headers += "Content-Range: bytes \(start)-\(end)/\(file.bytes.count)\r\n" }
        headers += "Connection: close\r\n\r\n"
        send(client, headers)
        var body = Array(file.bytes[start...end])
        if let cut = file.cutAfter { body = Array(body.prefix(cut)) }
        var sent = 0
        while sent < body.count {
            let chunk = min(65536, body.count - sent)
            guard LoopbackHTTPListener.writeAll(client, Data(body[sent..<(sent + chunk)])) else { return }
            sent += chunk
            if file.delayPerChunk > 0 { usleep(file.delayPerChunk) }
        }
    }

    private func send(_ client: Int32, _ text: String) {
        LoopbackHTTPListener.writeAll(client, Data(text.utf8))
    }
}
