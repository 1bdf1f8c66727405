import Foundation
import DeepfakeCore
import TestSupport
import WebDataset
import XCTest

/// Broken archives end in a WebDatasetError naming the shard and an offset; nothing crashes, nothing hangs.
final class BadShardTests: XCTestCase {
    private func archive() throws -> [UInt8] {
        // PAX headers (fractional time), a long name, several samples with members of several sizes.
        var samples = (0..<4).map { testSample($0, size: 300 + 200 * $0) }
        samples.append(Sample(key: "long/" + String(repeating: "k", count: 120), shard: "", fields: [("txt", [1, 2, 3])]))
        return try makeArchive(samples, options: TarWriterOptions(mtime: 1_751_300_504.5))
    }

    /// Cut at every offset: before the first member's data the result is an error or an empty archive; a cut
    /// exactly after a member's padding is a clean end (as tarfile); anything else is an error with the shard
    /// name and an offset, and only complete samples come out.
    func testTruncatedAtEveryOffset() throws {
        let full = try archive()
        let reference = readSamples(full).samples
        let headers = TarReader(bytes: full)
        var memberEnds = Set<Int>()
        var dataRanges: [Range<Int>] = []
        while let header = try headers.nextHeader() {
            let end = Int(header.dataOffset) + header.size
            dataRanges.append(Int(header.dataOffset)..<end)
            memberEnds.insert(end + (512 - end % 512) % 512)
        }
        let lastDataEnd = memberEnds.max()!
        var cleanEnds = 0, errors = 0
        for cut in 0..<full.count {
            let result = readSamples(Array(full.prefix(cut)), name: "cut.tar")
            XCTAssertLessThanOrEqual(result.samples.count, reference.count)
            for (index, sample) in result.samples.enumerated() where index < reference.count {
                let want = reference[index]
                XCTAssertEqual(sample.key, want.key, "cut \(cut)")
                let names = sample.fields.map(\.name), wantNames = want.fields.map(\.name)
                if index == result.samples.count - 1 && result.error == nil {
                    // A cut exactly between members reads as a valid, shorter archive (as with tarfile): the
                    // last sample may miss fields, but what it has is intact.
                    XCTAssertTrue(wantNames.starts(with: names), "cut \(cut)")
                } else {
                    XCTAssertEqual(names, wantNames, "cut \(cut)")
                }
                XCTAssertTrue(want.fields.map(\.bytes).starts(with: sample.fields.map(\.bytes)), "cut \(cut)")
            }
            if cut == 0 || memberEnds.contains(cut) || cut >= lastDataEnd && cut % 512 == 0 {
                XCTAssertNil(result.error, "cut \(cut)")
                cleanEnds += 1
                continue
            }
            if cut > lastDataEnd {
                // Inside the end-of-archive blocks or the record padding: an incomplete zero block.
                if result.error == nil { cleanEnds += 1; continue }
            }
            let error = try XCTUnwrap(result.error, "cut \(cut) should fail")
            XCTAssertEqual(error.shard, "cut.tar")
            let offset = try XCTUnwrap(error.offset, "cut \(cut)")
            XCTAssertTrue(offset >= 0 && offset <= Int64(cut), "cut \(cut): offset \(offset)")
            XCTAssertTrue(error.reason.contains("truncated"), "cut \(cut): \(error.reason)")
            errors += 1
        }
        XCTAssertGreaterThan(errors, full.count / 2)
        XCTAssertGreaterThan(cleanEnds, 5)
        // Mid-header, mid-data and mid-padding each name their kind.
        let firstData = dataRanges[0]
        let midHeader = readSamples(Array(full.prefix(700))).error!
        XCTAssertTrue(midHeader.reason.contains("header"), midHeader.reason)
        let midData = readSamples(Array(full.prefix(firstData.lowerBound + 10)), maxReadSize: 100).error!
        XCTAssertTrue(midData.reason.contains("declares"), midData.reason)
        let midPadding = readSamples(Array(full.prefix(firstData.upperBound + 5))).error!
        XCTAssertTrue(midPadding.reason.contains("padding"), midPadding.reason)
        // Through a stream of unknown length the same cut is found while reading the data.
        let unknown = TarReader(stream: UnknownLengthStream(Array(full.prefix(firstData.lowerBound + 10))), shard: "pipe")
        _ = try unknown.nextHeader()
        XCTAssertThrowsError(try unknown.readData()) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("ends after 10 of"), "\(error)")
        }
    }

    /// A shard cut inside the data of a sample's first member: the sample before it was complete (a member of
    /// another key had begun) and comes out, then the error; the sample that was cut is counted as dropped. The
    /// same in memory, through a pipe (unknown length), TarShardSource under both policies, the pipeline, and HTTP
    /// (a short body, and a connection dropped by a server without ranges).
    func testCompleteSampleBeforeACutFirstMemberIsKept() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let samples = (0..<3).map { testSample($0, size: 3000) }
        let archive = try makeArchive(samples)
        let headers = TarReader(bytes: archive)
        var firstMembers: [TarHeader] = []
        while let header = try headers.nextHeader() {
            if header.name.hasSuffix(".cls") { firstMembers.append(header) }
        }
        let cut = Array(archive.prefix(Int(firstMembers[1].dataOffset) + 10))
        let first = readSamples(archive).samples[0]
        XCTAssertEqual(first.key, samples[0].key)

        func check(_ results: [Result<Sample, WebDatasetError>], name: String, _ label: String, reason: String = "truncated") {
            XCTAssertEqual(results.count, 2, label)
            XCTAssertEqual(try? results.first?.get(), Sample(key: first.key, shard: name, fields: first.fields), label)
            guard case .failure(let error)? = results.last else { return XCTFail("\(label): no error element") }
            XCTAssertEqual(error.shard, name, label)
            XCTAssertTrue(error.reason.contains(reason), "\(label): \(error.reason)")
        }

        let memory = readSamples(cut, name: "cut.tar")
        XCTAssertEqual(memory.samples.map(\.key), [first.key])
        XCTAssertNotNil(memory.error)
        XCTAssertEqual(memory.report.samples, 1)
        XCTAssertEqual(memory.report.droppedSamples, 1, "the cut sample is counted as lost")
        let pipe = ShardSampleReader(tar: TarReader(stream: UnknownLengthStream(cut), shard: "pipe"))
        XCTAssertEqual(try pipe.next()?.key, first.key)
        XCTAssertThrowsError(try pipe.next())

        let path = folder + "/cut.tar"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(cut)))
        check(Array(TarShardSource().samples(of: path)), name: path, "TarShardSource .stop")
        var skipOptions = ShardReadOptions(errorPolicy: .skip)
        skipOptions.warnOnSkip = false
        let skip = TarShardSource(options: skipOptions)
        XCTAssertEqual(Array(skip.samples(of: path)).compactMap { try? $0.get().key }, [first.key])
        XCTAssertEqual(skip.log.failures.first?.samples, 1)
        XCTAssertEqual(skip.log.failures.first?.droppedSamples, 1)

        let report = PipelineReport()
        let skipped = try ShardList([path, path]).samples(from: TarShardSource(), report: report, onError: .skip).collect()
        XCTAssertEqual(skipped.map(\.key), [first.key, first.key])
        XCTAssertEqual(report.counts.shardsFailed, 2)
        var stopping = ShardList([path]).samples(from: TarShardSource(), report: PipelineReport(), onError: .stop).makeIterator()
        XCTAssertEqual(try stopping.next()?.key, first.key)
        XCTAssertThrowsError(try stopping.next())

        let server = try LoopbackFileServer()
        defer { server.stop() }
        server.add("cut.tar", .init(bytes: cut))
        check(Array(TarShardSource().samples(of: server.baseURL + "/cut.tar")), name: server.baseURL + "/cut.tar", "HTTP short body")
        server.add("dropped.tar", .init(bytes: archive, ranges: false, cutAfter: cut.count, cutTimes: 100))
        check(Array(TarShardSource().samples(of: server.baseURL + "/dropped.tar")), name: server.baseURL + "/dropped.tar",
              "HTTP dropped connection", reason: "transfer")
    }

    func testCorruptHeaders() throws {
        let full = try archive()
        // Checksum: any header byte flipped.
        for position in [0, 100, 148, 153, 156, 257, 511, 1024 + 20, 1024 + 300] {
            var bytes = full
            bytes[position] ^= 0x40
            let result = readSamples(bytes, name: "bad.tar")
            let error = try XCTUnwrap(result.error, "byte \(position)")
            XCTAssertEqual(error.shard, "bad.tar")
            XCTAssertEqual(error.offset, Int64(position / 512 * 512), "byte \(position)")
            XCTAssertTrue(error.reason.contains("checksum") || error.reason.contains("not a tar"), error.reason)
        }
        // Not a tar at all; gzip data gets its own message.
        XCTAssertTrue(readSamples(Array(repeating: 0x41, count: 2048)).error!.reason.contains("not a tar archive"))
        XCTAssertTrue(readSamples([0x1F, 0x8B] + Array(repeating: 0, count: 1022)).error!.reason.contains("gzip"))

        // Bad size fields (re-checksummed so only the value is wrong).
        func withSize(_ field: [UInt8]) -> [UInt8] {
            var header = rawHeader(name: "s/a.txt", sizeField: field)
            setChecksum(&header)
            return header + [UInt8](repeating: 0x61, count: 512) + [UInt8](repeating: 0, count: 1024)
        }
        let badSizes: [([UInt8], String)] = [
            (Array("00000000x12\u{0}".utf8), "invalid size"),
            (Array("99999999999\u{0}".utf8), "invalid size"),
            ([0x80] + [UInt8](repeating: 0xFF, count: 11), "invalid size"),     // base-256 beyond 64 bits
            ([0xFF] + [UInt8](repeating: 0xFF, count: 10) + [0xF0], "negative size"),
            (Array("77777777777\u{0}".utf8), "declares"),                          // 8 GiB in a 2 KiB archive
        ]
        for (field, reason) in badSizes {
            let error = try XCTUnwrap(readSamples(withSize(field)).error, reason)
            XCTAssertTrue(error.reason.contains(reason), "\(reason): \(error.reason)")
            XCTAssertEqual(error.offset.map { $0 <= 2048 }, true)
        }
        // Malformed PAX records.
        for payload in ["12 path=abc", "5 x\n", "abc", "30 path=short\n", "0 =\n", "12 size=x1\n", "15 mtime=1e5x\n"] {
            let bytes = Array(payload.utf8)
            let archive = rawHeader(name: "././@PaxHeader", size: bytes.count, typeFlag: UInt8(ascii: "x")) + padded(bytes)
                + rawHeader(name: "s/a.txt", size: 1) + padded([1]) + [UInt8](repeating: 0, count: 1024)
            let error = readSamples(archive).error
            XCTAssertNotNil(error, payload)
            XCTAssertTrue(error?.reason.contains("PAX") == true, "\(payload): \(error?.reason ?? "")")
        }
        // An extension header with nothing after it.
        let lone = rawHeader(name: "././@LongLink", size: 4, typeFlag: UInt8(ascii: "L")) + padded(Array("abc\u{0}".utf8))
        XCTAssertTrue(readSamples(lone).error!.reason.contains("GNU long name"))
        XCTAssertTrue(readSamples(lone + [UInt8](repeating: 0, count: 1024)).error!.reason.contains("end-of-archive"))
        // Sparse files are refused, not misread.
        let sparse = rawHeader(name: "s.txt", size: 0, typeFlag: UInt8(ascii: "S")) + [UInt8](repeating: 0, count: 1024)
        XCTAssertTrue(readSamples(sparse).error!.reason.contains("sparse"))
    }

    /// 2,000 seeded random mutations of a valid shard: every outcome is samples or a WebDatasetError naming the
    /// shard, with only complete samples before it.
    func testFuzzMutations() throws {
        let full = try archive()
        var generator = SplitMix64(seed: 0x5EED_2025)
        var outcomes = (clean: 0, failed: 0)
        for round in 0..<2000 {
            var bytes = full
            let mutations = Int.random(in: 1...4, using: &generator)
            for _ in 0..<mutations {
                switch Int.random(in: 0..<5, using: &generator) {
                case _ where bytes.count < 4:
                    bytes = full
                case 0:  // flip bits anywhere
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] ^= UInt8.random(in: 1...255, using: &generator)
                case 1:  // flip a byte inside a header's numeric fields and fix the checksum
                    guard bytes.count >= 512 else { break }
                    let block = Int.random(in: 0..<(bytes.count / 512), using: &generator) * 512
                    let index = block + Int.random(in: 100..<160, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                    var header = Array(bytes[block..<(block + 512)])
                    setChecksum(&header)
                    bytes.replaceSubrange(block..<(block + 512), with: header)
                case 2:  // truncate
                    bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
                case 3:  // delete a range
                    guard bytes.count > 2 else { break }
                    let start = Int.random(in: 0..<(bytes.count - 1), using: &generator)
                    let end = min(bytes.count, start + Int.random(in: 1...1500, using: &generator))
                    bytes.removeSubrange(start..<end)
                default:  // duplicate a range
                    guard bytes.count > 2 else { break }
                    let start = Int.random(in: 0..<(bytes.count - 1), using: &generator)
                    let end = min(bytes.count, start + Int.random(in: 1...1500, using: &generator))
                    bytes.insert(contentsOf: bytes[start..<end], at: start)
                }
            }
            let chunk = round % 3 == 0 ? 97 : Int.max
            let result = readSamples(bytes, name: "fuzz.tar", maxReadSize: chunk)
            if let error = result.error {
                XCTAssertEqual(error.shard, "fuzz.tar")
                XCTAssertFalse(error.reason.isEmpty)
                outcomes.failed += 1
            } else {
                outcomes.clean += 1
            }
            for sample in result.samples { XCTAssertFalse(sample.fields.isEmpty) }
        }
        XCTAssertEqual(outcomes.clean + outcomes.failed, 2000)
        XCTAssertGreaterThan(outcomes.failed, 500)
    }

    func testPathTraversalNamesAreRefusedOnExtraction() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let target = folder + "/target"
        for name in ["/etc/evil.txt", "../evil.txt", "a/../../evil.txt", "a/./../../evil.txt", "..", ""] {
            let writer = TarWriter()
            try writer.addFile(name: "ok/first.txt", bytes: [1])
            try writer.addFile(name: name, bytes: Array("evil".utf8))
            try writer.finish()
            let shard = folder + "/traversal.tar"
            _ = FileManager.default.createFile(atPath: shard, contents: Data(writer.archiveBytes))
            XCTAssertThrowsError(try extract(shard: shard, to: target), name) { error in
                let error = error as! WebDatasetError
                XCTAssertEqual(error.shard, shard)
                XCTAssertEqual(error.offset, 1024)
                XCTAssertTrue(error.reason.contains("refusing"), error.reason)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/evil.txt"))
        }
    }
}


/// A memory stream that does not tell its length (as a pipe).
final class UnknownLengthStream: ByteStream {
    private let inner: MemoryByteStream
    init(_ bytes: [UInt8]) { inner = MemoryByteStream(bytes, name: "pipe") }
    var name: String { "pipe" }
    var totalSize: Int64? { nil }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int { try inner.read(into: buffer) }
    func close() {}
}
