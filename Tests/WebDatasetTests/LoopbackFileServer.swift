import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small HTTP/1.1 file server on 127.0.0.1 (ephemeral port) for the streaming tests: `GET /NAME` answers the
/// bytes registered under NAME, with single byte ranges (`bytes=N-` / `bytes=N-M` → 206) unless the file is
/// registered without range support, and can cut a response short once. One thread per connection, one request
/// per connection.
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

    let port: UInt16
    var baseURL: String { "http://127.0.0.1:\(port)" }
    private let lock = NSLock()
    private var files: [String: File] = [:]
    private var requests: [(path: String, range: String?)] = []
    private let listener: Int32
    private var running = true

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw NSError(domain: "LoopbackFileServer", code: 1) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 32) == 0 else {
            close(fd)
            throw NSError(domain: "LoopbackFileServer", code: 2)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        lock.withLock { running = false }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    func add(_ name: String, _ file: File) { lock.withLock { files[name] = file } }
    var log: [(path: String, range: String?)] { lock.withLock { requests } }

    private func acceptLoop() {
        while lock.withLock({ running }) {
            let client = accept(listener, nil, nil)
            if client < 0 { if errno == EINTR { continue } else { return } }
            let thread = Thread { [self] in serve(client) }
            thread.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !(head.count >= 4 && head.suffix(4) == [13, 10, 13, 10]) {
            guard recv(client, &byte, 1, 0) == 1 else { return }
            head.append(byte)
            if head.count > 16384 { return }
        }
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return }
        let path = String(parts[1].dropFirst())
        var range: String?
        for line in lines.dropFirst() where line.lowercased().hasPrefix("range:") {
            range = line.dropFirst(6).trimmingCharacters(in: .whitespaces)
        }
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
        body.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let count = Glibc.send(client, raw.baseAddress! + sent, min(65536, raw.count - sent), Int32(MSG_NOSIGNAL))
                if count <= 0 { return }
                sent += count
                if file.delayPerChunk > 0 { usleep(file.delayPerChunk) }
            }
        }
    }

    private func send(_ client: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
