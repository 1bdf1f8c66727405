import Foundation
import TestSupport
import WebDataset
import XCTest

/// Streaming shards over HTTP from a loopback server: no temporary file, a bounded queue paused and resumed
/// with range requests, resumption after a dropped connection, HTTP errors named.
final class HTTPStreamTests: XCTestCase {
    private var server: LoopbackFileServer!

    override func setUpWithError() throws {
        server = try LoopbackFileServer()
    }

    override func tearDown() {
        server.stop()
    }

    func testSamplesOverHTTP() throws {
        let path = fixturePath("python_wds/wds-000000.tar")
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        server.add("wds-000000.tar", .init(bytes: bytes))
        let url = server.baseURL + "/wds-000000.tar"
        let local = Array(TarShardSource().samples(of: path)).map { try! $0.get() }
        let remote = Array(TarShardSource().samples(of: url)).map { try! $0.get() }
        XCTAssertEqual(remote.map(\.key), local.map(\.key))
        XCTAssertEqual(remote.map { $0.fields.map(\.bytes) }, local.map { $0.fields.map(\.bytes) })
        XCTAssertTrue(remote.allSatisfy { $0.shard == url })
    }

    /// A 16 MB body, a 256 KB bound and a reader that waits before reading: the transfer pauses instead of
    /// queueing the body, resumes by range, and the bytes arrive intact and in order.
    func testBoundedBufferPausesAndResumes() throws {
        let body = (0..<(16 << 20)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }
        server.add("big.bin", .init(bytes: body, delayPerChunk: 500))   // at most 128 MB/s
        let limit = 256 << 10
        let stream = try HTTPByteStream(url: URL(string: server.baseURL + "/big.bin")!,
                                        options: HTTPStreamOptions(bufferLimit: limit, timeout: 20))
        XCTAssertEqual(stream.totalSize, Int64(body.count))
        var received: [UInt8] = []
        received.reserveCapacity(body.count)
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        usleep(300_000)   // the server could send the whole body meanwhile
        while true {
            let count = try chunk.withUnsafeMutableBytes { try stream.read(into: $0) }
            if count == 0 { break }
            received += chunk.prefix(count)
        }
        print("HTTP stream: \(stream.requestCount) requests, peak queue \(stream.peakBufferedBytes) bytes (limit \(limit))")
        XCTAssertEqual(received.count, body.count)
        XCTAssertTrue(received == body)
        XCTAssertGreaterThan(stream.requestCount, 1, "the transfer never paused")
        XCTAssertTrue(server.log.dropFirst().allSatisfy { $0.range?.hasPrefix("bytes=") == true })
        // The bound is soft by what is in flight when the transfer is stopped (what libcurl already received
        // and queued for the delegate): far below the 16 MB an unbounded queue would have held.
        XCTAssertLessThan(stream.peakBufferedBytes, limit + (4 << 20), "peak \(stream.peakBufferedBytes)")
        stream.close()
    }

    func testResumesAfterDroppedConnection() throws {
        let archive = try makeArchive((0..<20).map { testSample($0, size: 20_000) })
        server.add("cut.tar", .init(bytes: archive, cutAfter: 100_000, cutTimes: 2))
        let results = Array(TarShardSource().samples(of: server.baseURL + "/cut.tar"))
        XCTAssertEqual(results.count, 20)
        XCTAssertEqual(try results.map { try $0.get().fields.map(\.bytes) }, readSamples(archive).samples.map { $0.fields.map(\.bytes) })
        XCTAssertEqual(server.log.count, 3)
        XCTAssertEqual(server.log.last?.range, "bytes=200000-")
    }

    func testServerWithoutRangesAndErrors() throws {
        let archive = try makeArchive((0..<3).map { testSample($0) })
        server.add("plain.tar", .init(bytes: archive, ranges: false))
        XCTAssertEqual(Array(TarShardSource().samples(of: server.baseURL + "/plain.tar")).count, 3)

        // Cut short without range support: an error naming the URL and the offset reached.
        server.add("short.tar", .init(bytes: archive, ranges: false, cutAfter: 3000, cutTimes: 1))
        let short = Array(TarShardSource().samples(of: server.baseURL + "/short.tar"))
        guard case .failure(let error)? = short.last else { return XCTFail("expected an error") }
        XCTAssertEqual(error.shard, server.baseURL + "/short.tar")
        XCTAssertNotNil(error.offset)

        server.add("gone.tar", .init(bytes: [], status: 404))
        let missing = Array(TarShardSource().samples(of: server.baseURL + "/gone.tar"))
        guard case .failure(let notFound)? = missing.first else { return XCTFail("expected an error") }
        XCTAssertTrue(notFound.reason.contains("404"), notFound.reason)
        XCTAssertEqual(notFound.shard, server.baseURL + "/gone.tar")
    }

    /// A server that sends a status line and closes the connection. URLSession (FoundationNetworking) called
    /// fatalError on this and took the whole process down; the stream must instead fail with an error naming the
    /// URL, after its retries, in bounded time.
    func testServerClosingInTheMiddleOfTheHeadIsAnError() throws {
        let listener = try LoopbackHTTPListener(maxConnections: 100) { _, socket in
            LoopbackHTTPListener.writeAll(socket, Data("HTTP/1.1 200 OK\r\nContent-Le".utf8))
        }
        defer { listener.stop() }
        let url = listener.baseURL + "/cut-head.tar"
        let started = Date()
        XCTAssertThrowsError(try HTTPByteStream(url: URL(string: url)!, options: HTTPStreamOptions(timeout: 5, retries: 2))) {
            guard let error = $0 as? WebDatasetError else { return XCTFail("\($0)") }
            XCTAssertEqual(error.shard, url)
            XCTAssertTrue(error.reason.contains("no complete HTTP response"), error.reason)
        }
        let results = Array(TarShardSource().samples(of: url))
        guard case .failure(let error)? = results.first, results.count == 1 else { return XCTFail("\(results)") }
        XCTAssertEqual(error.shard, url)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }
}
