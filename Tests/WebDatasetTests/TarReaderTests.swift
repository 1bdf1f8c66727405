import Foundation
import TestSupport
import WebDataset
import XCTest

/// The reader against what Python's tarfile reads from the same archives, and hand-made header variants.
final class TarReaderTests: XCTestCase {
    /// Every member tarfile reports, with the same header values; links and directories are skipped and counted.
    func testMatchesTarfileOnPythonArchives() throws {
        let archives = ["python_tarfile/pax.tar", "python_tarfile/gnu.tar", "python_tarfile/ustar.tar",
                        "python_wds/wds-000000.tar", "python_wds/wds-000001.tar", "python_wds/wds-000002.tar",
                        "upstream_like/elsa_v2-0000.tar", "compat/wds_pax.tar", "compat/tarfile_gnu.tar",
                        "compat/tarfile_ustar.tar", "compat/wds_pax_float.tar", "compat/entries_pax.tar"]
        for archive in archives {
            let reader = try TarReader(path: fixturePath(archive))
            var members: [TarMember] = []
            while let member = try reader.next() { members.append(member) }
            XCTAssertTrue(reader.isFinished, archive)
            guard let expected = try? loadJSON(archive + ".expected.json") else {
                // compat/ archives have no listing of their own: check the round trip instead.
                XCTAssertGreaterThan(members.count, 0, archive)
                continue
            }
            let all = try XCTUnwrap(expected["members"] as? [[String: Any]])
            let regular = all.filter { $0["type"] as? String == "file" }
            XCTAssertEqual(reader.skippedEntries, all.count - regular.count, archive)
            XCTAssertEqual(members.count, regular.count, archive)
            for (member, want) in zip(members, regular) {
                let context = "\(archive): \(member.name)"
                XCTAssertEqual(member.name, want["name"] as? String, context)
                XCTAssertEqual(member.size, want["size"] as? Int, context)
                XCTAssertEqual(member.mtime, (want["mtime"] as? NSNumber)?.doubleValue, context)
                XCTAssertEqual(Int(member.mode), want["mode"] as? Int, context)
                XCTAssertEqual(member.header.uid, want["uid"] as? Int, context)
                XCTAssertEqual(member.header.gid, want["gid"] as? Int, context)
                XCTAssertEqual(member.header.uname, want["uname"] as? String, context)
                XCTAssertEqual(member.header.gname, want["gname"] as? String, context)
                XCTAssertEqual(member.header.headerOffset, (want["offset"] as? NSNumber)?.int64Value, context)
                XCTAssertEqual(member.header.dataOffset, (want["offset_data"] as? NSNumber)?.int64Value, context)
                XCTAssertEqual(member.metadata, want["metadata"] as? [String: String], context)
                XCTAssertEqual(sha256Hex(member.bytes), want["sha256"] as? String, context)
            }
        }
    }

    func testUpstreamShardMembers() throws {
        let reader = try TarReader(path: upstreamShard)
        var members: [TarMember] = []
        while let member = try reader.next() { members.append(member) }
        let key = "elsa_v2__train__1275001022128."
        XCTAssertEqual(members.map(\.name), ["caption.txt", "gen_0.jpg", "gen_1.jpg", "gen_2.jpg", "gen_3.jpg",
                                             "real.jpg", "url.txt"].map { key + $0 })
        XCTAssertEqual(members.map(\.size), [86, 23_262, 79_834, 106_383, 79_072, 22_171, 106])
        // The ustar header follows the member's PAX header (offsets as in docs/upstream.md, WebDataset shards).
        XCTAssertEqual(members.map { $0.header.dataOffset - 512 }, [1024, 3072, 28160, 109568, 217600, 298496, 322560])
        for member in members {
            XCTAssertEqual(member.mode, 0o444)
            XCTAssertEqual(member.header.uname, "bigdata")
            XCTAssertEqual(member.header.gname, "bigdata")
            XCTAssertEqual(member.mtime.rounded(.down), 1_751_300_504)
            XCTAssertGreaterThan(member.mtime, 1_751_300_504.9)
            XCTAssertEqual(member.metadata, [:])
        }
        XCTAssertEqual(reader.skippedEntries, 0)
        XCTAssertTrue(reader.isFinished)
    }

    /// Short reads of every size from the stream give the same members.
    func testShortReads() throws {
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: fixturePath("python_tarfile/pax.tar"))))
        let reference = readMembers(bytes)
        XCTAssertNil(reference.error)
        for chunk in [1, 7, 511, 512, 513, 4096, 65_537] {
            let result = readMembers(bytes, maxReadSize: chunk)
            XCTAssertNil(result.error, "chunk \(chunk)")
            XCTAssertEqual(result.members, reference.members, "chunk \(chunk)")
        }
    }

    /// Members larger than the read buffer go straight into their arrays; skipping works across buffer refills.
    func testLargeMembersAndSkipping() throws {
        let big = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let writer = TarWriter()
        try writer.addFile(name: "a/one.bin", bytes: big)
        try writer.addFile(name: "a/two.txt", bytes: Array("two".utf8))
        try writer.addFile(name: "a/three.bin", bytes: Array(big.reversed()))
        try writer.finish()
        let archive = writer.archiveBytes
        for chunk in [Int.max, 10_000, 100_003] {
            let reader = TarReader(stream: MemoryByteStream(archive, maxReadSize: chunk), bufferSize: 1 << 16)
            let first = try XCTUnwrap(reader.nextHeader())
            XCTAssertEqual(first.name, "a/one.bin")
            try reader.skipData()
            let second = try XCTUnwrap(reader.next())
            XCTAssertEqual(second.bytes, Array("two".utf8))
            XCTAssertEqual(try XCTUnwrap(reader.nextHeader()).size, big.count)  // data skipped by the next call
            XCTAssertNil(try reader.nextHeader())
            let again = TarReader(stream: MemoryByteStream(archive, maxReadSize: chunk), bufferSize: 1 << 16)
            XCTAssertEqual(try again.next()?.bytes, big)
            _ = try again.next()
            XCTAssertEqual(try again.next()?.bytes, Array(big.reversed()))
            XCTAssertNil(try again.next())
        }
    }

    /// v7 headers (no magic), old GNU headers, an old-style directory (NUL type, trailing slash), base-256 sizes,
    /// a PAX size overriding the header, a lone end block, end of stream without end blocks.
    func testHeaderVariants() throws {
        let data = Array("hello, world".utf8)
        // v7: no magic; the prefix field is not used.
        var v7 = rawHeader(name: "v7/file.txt", size: data.count, typeFlag: 0, magic: nil, prefix: "ignored")
        setChecksum(&v7)
        // Old GNU: "ustar  \0" magic, base-256 size.
        let base256: [UInt8] = [0x80] + [UInt8](repeating: 0, count: 10) + [UInt8(data.count)]
        let gnu = rawHeader(name: "gnu/file.txt", typeFlag: UInt8(ascii: "0"), magic: Array("ustar  \u{0}".utf8),
                            sizeField: base256)
        // POSIX prefix.
        let prefixed = rawHeader(name: "file.txt", size: data.count, prefix: "posix/dir")
        // Old-style directory: NUL type and a trailing slash, no data even with a size.
        let oldDir = rawHeader(name: "olddir/", size: 0, typeFlag: 0, magic: nil)
        // PAX size: the header says 0, PAX says 12.
        let pax = Array(paxRecord("size", String(data.count)).utf8)
        let paxHeader = rawHeader(name: "././@PaxHeader", size: pax.count, typeFlag: UInt8(ascii: "x"))
        let sized = rawHeader(name: "pax/sized.txt", size: 0)
        // A hard link whose size field is non-zero: tarfile reads no data for it.
        let hardLink = rawHeader(name: "link", size: 1000, typeFlag: UInt8(ascii: "1"), linkName: "v7/file.txt")
        var archive: [UInt8] = []
        archive += v7 + padded(data)
        archive += gnu + padded(data)
        archive += prefixed + padded(data)
        archive += oldDir
        archive += hardLink
        archive += paxHeader + padded(pax) + sized + padded(data)
        let names = ["v7/file.txt", "gnu/file.txt", "posix/dir/file.txt", "pax/sized.txt"]

        // End of stream right after the last member's padding (tarfile accepts it).
        var result = readMembers(archive)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.members.map(\.name), names)
        XCTAssertTrue(result.members.allSatisfy { $0.bytes == data })
        // One zero block ends the archive; what follows is not read.
        result = readMembers(archive + [UInt8](repeating: 0, count: 512) + [UInt8](repeating: 0x41, count: 700))
        XCTAssertNil(result.error)
        XCTAssertEqual(result.members.map(\.name), names)
        let reader = TarReader(bytes: archive)
        while try reader.next() != nil {}
        XCTAssertEqual(reader.skippedEntries, 2)
    }

    /// Negative base-256 numbers (GNU), signed checksums (old Sun/NeXT tars), GNU long names and links, PAX global
    /// records applied to every later member.
    func testNumbersChecksumsAndExtensions() throws {
        let data = Array("x".utf8)
        var negative = rawHeader(name: "neg.txt", size: data.count, magic: Array("ustar  \u{0}".utf8))
        negative.replaceSubrange(136..<148, with: [0xFF] + [UInt8](repeating: 0xFF, count: 10) + [0xFE])  // -2
        setChecksum(&negative)
        // A name with a high-bit byte and a checksum computed with signed chars.
        var signed = rawHeader(name: "caf\u{e9}.txt", size: data.count)
        for index in 148..<156 { signed[index] = 0x20 }
        let signedSum = signed.reduce(0) { $0 + Int(Int8(bitPattern: $1)) }
        let text = String(signedSum, radix: 8)
        for (index, byte) in (String(repeating: "0", count: 6 - text.count) + text).utf8.enumerated() { signed[148 + index] = byte }
        signed[154] = 0
        let longName = String(repeating: "n", count: 150) + "/long.txt"
        let longLink = String(repeating: "l", count: 130)
        let nameBlock = Array(longName.utf8) + [0]
        let linkBlock = Array(longLink.utf8) + [0]
        let global = Array((paxRecord("comment", "everywhere") + paxRecord("mtime", "12.5")).utf8)
        var archive: [UInt8] = []
        archive += rawHeader(name: "pax_global_header", size: global.count, typeFlag: UInt8(ascii: "g")) + padded(global)
        archive += negative + padded(data)
        archive += signed + padded(data)
        archive += rawHeader(name: "././@LongLink", size: nameBlock.count, typeFlag: UInt8(ascii: "L"),
                             magic: Array("ustar  \u{0}".utf8)) + padded(nameBlock)
        archive += rawHeader(name: "././@LongLink", size: linkBlock.count, typeFlag: UInt8(ascii: "K"),
                             magic: Array("ustar  \u{0}".utf8)) + padded(linkBlock)
        archive += rawHeader(name: String(longName.prefix(100)), size: data.count, magic: Array("ustar  \u{0}".utf8)) + padded(data)
        archive += [UInt8](repeating: 0, count: 1024)
        let result = readMembers(archive)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.members.map(\.name), ["neg.txt", "caf\u{e9}.txt", longName])
        // The global mtime overrides every header's; the global comment is metadata of every member.
        XCTAssertEqual(result.members.map(\.mtime), [12.5, 12.5, 12.5])
        XCTAssertTrue(result.members.allSatisfy { $0.metadata == ["comment": "everywhere"] })
        XCTAssertEqual(result.members[2].header.linkName, longLink)
        XCTAssertEqual(result.members[2].header.headerOffset, 512 * 6)

        // Without the global header the negative time shows.
        let plain = readMembers(negative + padded(data))
        XCTAssertEqual(plain.members.first?.mtime, -2)
    }

    func testFileStreamSkipAndErrors() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        XCTAssertThrowsError(try TarReader(path: folder + "/missing.tar")) { error in
            let error = error as! WebDatasetError
            XCTAssertEqual(error.shard, folder + "/missing.tar")
            XCTAssertTrue(error.reason.contains("cannot open"), error.reason)
        }
        XCTAssertThrowsError(try TarReader(path: folder)) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("directory"))
        }
        // Seek-based skipping of a file never runs past the end unnoticed.
        let archive = try makeArchive([testSample(0, size: 5000), testSample(1, size: 5000)])
        let path = folder + "/cut.tar"
        _ = FileManager.default.createFile(atPath: path, contents: Data(archive.prefix(1536 + 300)))
        let reader = try TarReader(path: path, bufferSize: 1 << 16)
        // The file's size is known: a member that cannot fit is refused at its header.
        XCTAssertThrowsError(try reader.nextHeader()) { error in
            let error = error as! WebDatasetError
            XCTAssertEqual(error.shard, path)
            XCTAssertTrue(error.reason.contains("truncated"), error.reason)
            XCTAssertEqual(error.offset, 1836)
        }
        XCTAssertThrowsError(try reader.nextHeader())  // sticky
        // Through a pipe (size unknown) the same cut is found while skipping.
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let prefix = Array(archive.prefix(1536 + 300))
        let writeEnd = fds[1]
        let writerThread = Thread {
            prefix.withUnsafeBytes { raw in _ = write(writeEnd, raw.baseAddress!, raw.count) }
            close(writeEnd)
        }
        writerThread.start()
        let piped = TarReader(stream: FileByteStream(descriptor: fds[0], name: "pipe", ownsDescriptor: true))
        _ = try piped.nextHeader()
        XCTAssertThrowsError(try piped.skipData()) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("truncated"))
        }
    }
}
