import Foundation
import TestSupport
import WebDataset
import XCTest

/// The writer reproduces webdataset's TarWriter (Python tarfile underneath) byte for byte.
final class TarWriterTests: XCTestCase {
    private func compatSamples() throws -> [Sample] {
        let record = try loadJSON("compat/compat.json")
        let samples = try XCTUnwrap(record["samples"] as? [[String: Any]])
        return try samples.map { sample in
            let fields = try XCTUnwrap(sample["fields"] as? [[String: String]]).map { field in
                (name: field["name"]!, bytes: [UInt8](Data(base64Encoded: field["base64"]!)!))
            }
            return Sample(key: try XCTUnwrap(sample["key"] as? String), shard: "", fields: fields)
        }
    }

    func testByteIdenticalToWebDatasetTarWriter() throws {
        let samples = try compatSamples()
        let record = try loadJSON("compat/compat.json")
        let archives = try XCTUnwrap(record["archives"] as? [[String: Any]]).filter { $0["format"] != nil }
        XCTAssertEqual(archives.count, 5)
        for archive in archives {
            let file = archive["file"] as! String
            let format: TarFormat = ["pax": .pax, "gnu": .gnu, "ustar": .ustar][archive["format"] as! String]!
            let mtime = (archive["mtime"] as! NSNumber).doubleValue
            let written = try makeArchive(samples, options: TarWriterOptions(format: format, mtime: mtime))
            let expected = try Array(Data(contentsOf: URL(fileURLWithPath: fixturePath("compat/" + file))))
            XCTAssertEqual(written.count, expected.count, file)
            if written != expected {
                let first = zip(written, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                XCTFail("\(file): first differing byte at \(first ?? -1)")
            }
        }
    }

    /// Entries of every kind with non-default ids and names, as tarfile writes them in PAX format.
    func testEntriesByteIdenticalToTarfile() throws {
        let record = try loadJSON("compat/compat.json")
        let options = try XCTUnwrap(record["entry_options"] as? [String: Any])
        let writer = TarWriter(options: TarWriterOptions(
            format: .pax, mtime: (options["mtime"] as! NSNumber).doubleValue, mode: UInt32(options["mode"] as! Int),
            uid: options["uid"] as! Int, gid: options["gid"] as! Int, uname: options["uname"] as! String,
            gname: options["gname"] as! String))
        for entry in try XCTUnwrap(record["entries"] as? [[String: Any]]) {
            let type: TarEntryType = ["file": .regularFile, "directory": .directory, "symlink": .symbolicLink,
                                      "hardlink": .hardLink][entry["type"] as! String]!
            let bytes = (entry["base64"] as? String).map { [UInt8](Data(base64Encoded: $0)!) } ?? []
            try writer.addEntry(name: entry["name"] as! String, type: type, linkName: entry["linkname"] as? String ?? "",
                                bytes: bytes, mtime: (entry["mtime"] as? NSNumber)?.doubleValue,
                                mode: (entry["mode"] as? Int).map(UInt32.init),
                                metadata: entry["metadata"] as? [String: String] ?? [:])
        }
        try writer.finish()
        let expected = try Array(Data(contentsOf: URL(fileURLWithPath: fixturePath("compat/entries_pax.tar"))))
        XCTAssertEqual(writer.archiveBytes, expected)
    }

    func testRoundTripAllFormats() throws {
        let samples = try compatSamples()
        for format in [TarFormat.pax, .gnu, .ustar] {
            let archive = try makeArchive(samples, options: TarWriterOptions(format: format, mtime: 1_234_567_890))
            XCTAssertEqual(archive.count % 10240, 0)
            let read = readSamples(archive, options: ShardReadOptions(lowercaseFields: false))
            XCTAssertNil(read.error)
            XCTAssertEqual(read.samples.count, samples.count)
            for (got, want) in zip(read.samples, samples) {
                XCTAssertEqual(got.key, want.key)
                // Written in sorted field order.
                let sorted = want.fields.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
                XCTAssertEqual(got.fields.map(\.name), sorted.map(\.name))
                XCTAssertEqual(got.fields.map(\.bytes), sorted.map(\.bytes))
            }
            let members = readMembers(archive).members
            XCTAssertTrue(members.allSatisfy { $0.mode == 0o444 && $0.header.uname == "bigdata" && $0.mtime == 1_234_567_890 })
        }
    }

    func testDeterministicAndAtomic() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let path = folder + "/out.tar"
        let samples = (0..<5).map { testSample($0) }
        let writer = try TarWriter(path: path)
        for sample in samples { try writer.write(sample) }
        // Until finish() only the temporary file exists.
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + ".tmp"))
        try writer.finish()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        let onDisk = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(onDisk, try makeArchive(samples))
        XCTAssertEqual(writer.bytesWritten, Int64(onDisk.count))

        // An abandoned writer leaves nothing behind.
        do {
            let dropped = try TarWriter(path: folder + "/dropped.tar")
            try dropped.write(samples[0])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/dropped.tar"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/dropped.tar.tmp"))
    }

    func testRefusesSamplesThatWouldNotReadBack() throws {
        let writer = TarWriter()
        let bad: [(Sample, String)] = [
            (Sample(key: "", shard: "", fields: [("txt", [1])]), "empty key"),
            (Sample(key: "a/b.c", shard: "", fields: [("txt", [1])]), "contain no '.'"),
            (Sample(key: "a/../b", shard: "", fields: [("txt", [1])]), "'..'"),
            (Sample(key: "a/b", shard: "", fields: [("x/txt", [1])]), "contains '/'"),
            (Sample(key: "a/b", shard: "", fields: [("txt", [1]), ("txt", [2])]), "duplicate field"),
        ]
        for (sample, reason) in bad {
            XCTAssertThrowsError(try writer.write(sample)) { error in
                XCTAssertTrue((error as! WebDatasetError).reason.contains(reason), "\(error)")
            }
        }
        // Dots in folders are fine.
        try writer.write(Sample(key: "v1.2/part.3/x", shard: "", fields: [("txt", [1])]))
        let ustar = TarWriter(options: TarWriterOptions(format: .ustar))
        XCTAssertThrowsError(try ustar.addFile(name: String(repeating: "n", count: 120), bytes: [])) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("too long"))
        }
        XCTAssertThrowsError(try TarWriter(path: "/nonexistent-folder/x.tar"))
    }

    func testLargeValuesNeedExtensions() throws {
        // Times beyond the 11-digit octal field: PAX record, or base-256 in GNU format.
        for format in [TarFormat.pax, .gnu] {
            let writer = TarWriter(options: TarWriterOptions(format: format, mtime: 1e12, uid: 5_000_000))
            try writer.addFile(name: "x.bin", bytes: [1, 2, 3])
            try writer.finish()
            let member = try XCTUnwrap(readMembers(writer.archiveBytes).members.first)
            XCTAssertEqual(member.mtime, 1e12)
            XCTAssertEqual(member.header.uid, 5_000_000)
        }
        let ustar = TarWriter(options: TarWriterOptions(format: .ustar, mtime: 1e12))
        XCTAssertThrowsError(try ustar.addFile(name: "x.bin", bytes: [1]))
    }
}
