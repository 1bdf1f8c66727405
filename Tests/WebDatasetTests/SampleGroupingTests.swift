import Checkpoints
import Foundation
import Tensor
import TestSupport
import WebDataset
import XCTest

/// Grouping members into samples as webdataset's tarfile_to_samples does.
final class SampleGroupingTests: XCTestCase {
    /// Keys, field names, sizes and bytes equal what webdataset 1.0.2 reads from the same shards.
    func testMatchesWebDatasetOnPythonShards() throws {
        let archives = ["python_wds/wds-000000.tar", "python_wds/wds-000001.tar", "python_wds/wds-000002.tar",
                        "python_tarfile/pax.tar", "python_tarfile/gnu.tar", "python_tarfile/ustar.tar",
                        "upstream_like/elsa_v2-0000.tar"]
        var total = 0
        for archive in archives {
            let expected = try XCTUnwrap(try loadJSON(archive + ".expected.json")["samples"] as? [[String: Any]])
            let path = fixturePath(archive)
            let reader = try ShardSampleReader(shard: path)
            var samples: [Sample] = []
            while let sample = try reader.next() { samples.append(sample) }
            XCTAssertEqual(samples.count, expected.count, archive)
            for (sample, want) in zip(samples, expected) {
                XCTAssertEqual(sample.key, want["key"] as? String, archive)
                XCTAssertEqual(sample.shard, path)
                let fields = try XCTUnwrap(want["fields"] as? [[String: Any]])
                XCTAssertEqual(sample.fields.map(\.name), fields.map { $0["name"] as! String }, "\(archive) \(sample.key)")
                XCTAssertEqual(sample.fields.map(\.bytes.count), fields.map { $0["size"] as! Int })
                XCTAssertEqual(sample.fields.map { sha256Hex($0.bytes) }, fields.map { $0["sha256"] as! String })
            }
            XCTAssertNil(reader.report.error)
            XCTAssertEqual(reader.report.samples, samples.count)
            total += samples.count
        }
        XCTAssertEqual(total, 7 + 4 + 3 + 2 + 1)
    }

    func testUpstreamShardIsOneSample() throws {
        let source = TarShardSource()
        let results = Array(source.samples(of: upstreamShard))
        XCTAssertEqual(results.count, 1)
        let sample = try results[0].get()
        XCTAssertEqual(sample.key, "elsa_v2__train__1275001022128")
        XCTAssertEqual(sample.shard, upstreamShard)
        XCTAssertEqual(sample.fields.map(\.name),
                       ["caption.txt", "gen_0.jpg", "gen_1.jpg", "gen_2.jpg", "gen_3.jpg", "real.jpg", "url.txt"])
        XCTAssertEqual(sample.fields.map(\.bytes.count), [86, 23_262, 79_834, 106_383, 79_072, 22_171, 106])
        XCTAssertEqual(try sample.text("url.txt")?.hasPrefix("https://encrypted-tbn2.gstatic.com/images?q=tbn:"), true)
        let image = try XCTUnwrap(try sample.image("gen_2.jpg"))
        XCTAssertEqual([image.width, image.height], [640, 360])
        XCTAssertEqual(source.log.completedShards, 1)
        XCTAssertEqual(source.log.samples, 1)
    }

    func testSplitSampleName() {
        let cases: [(String, String?, String?)] = [
            ("a/b.c.d", "a/b", "c.d"), ("dir.v1/x.jpg", "dir.v1/x", "jpg"), ("x.jpg", "x", "jpg"),
            ("noext", nil, nil), ("a.b/c", nil, nil), ("d/.x", "d/", "x"), ("d.e/.x", nil, nil), (".x", nil, nil),
            ("/.x", "/", "x"), ("a/b.", "a/b", ""), ("a//b.c", "a//b", "c"), ("a/b/.c.d", "a/b/", "c.d"),
        ]
        for (name, key, field) in cases {
            let split = splitSampleName(name)
            XCTAssertEqual(split.map { String($0.key) }, key, name)
            XCTAssertEqual(split.map { String($0.field) }, field, name)
        }
        XCTAssertTrue(isWebDatasetMetaName("__key__"))
        XCTAssertTrue(isWebDatasetMetaName("___"))
        XCTAssertTrue(isWebDatasetMetaName("__meta__/x.txt"))
        XCTAssertFalse(isWebDatasetMetaName("__a__b.txt"))
        XCTAssertFalse(isWebDatasetMetaName("d/__key__"))
        XCTAssertFalse(isWebDatasetMetaName("__x/y.txt"))
    }

    func testGroupingRules() throws {
        let writer = TarWriter()
        func add(_ name: String, _ text: String) throws { try writer.addFile(name: name, bytes: Array(text.utf8)) }
        try add("__meta__", "skipped")
        try add("s/a.TXT", "1")
        try add("s/a.Seg.JPG", "2")
        try add("s/a", "no extension: skipped")
        try writer.addEntry(name: "s/dir", type: .directory)
        try add("s/b.txt", "3")
        try add("s/a.txt2", "4")          // key a again after b: a second sample, as in webdataset
        try writer.addEntry(name: "s/a.link", type: .symbolicLink, linkName: "a.TXT")
        try writer.finish()
        let result = readSamples(writer.archiveBytes)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.samples.map(\.key), ["s/a", "s/b", "s/a"])
        XCTAssertEqual(result.samples[0].fields.map(\.name), ["txt", "seg.jpg"])
        XCTAssertEqual(result.samples[2].fields.map(\.name), ["txt2"])
        XCTAssertEqual(result.report.skippedMembers, 2)
        XCTAssertEqual(result.report.skippedEntries, 2)
        XCTAssertEqual(result.report.members, 6)

        let kept = readSamples(writer.archiveBytes, options: ShardReadOptions(lowercaseFields: false))
        XCTAssertEqual(kept.samples[0].fields.map(\.name), ["TXT", "Seg.JPG"])

        // Selection: unselected members are skipped unread; a sample with no selected field does not appear.
        let selected = readSamples(writer.archiveBytes, options: ShardReadOptions(selectField: { $0 == "txt" }))
        XCTAssertEqual(selected.samples.map(\.key), ["s/a", "s/b"])
        XCTAssertEqual(selected.samples.map { $0.fields.map(\.name) }, [["txt"], ["txt"]])
    }

    func testDuplicateFieldIsAnError() throws {
        let writer = TarWriter()
        try writer.addFile(name: "k/0.txt", bytes: [1])
        try writer.addFile(name: "k/1.txt", bytes: [1])
        try writer.addFile(name: "k/1.TXT", bytes: [2])   // the same field once lower-cased
        try writer.addFile(name: "k/2.txt", bytes: [3])
        try writer.finish()
        let result = readSamples(writer.archiveBytes)
        XCTAssertEqual(result.samples.map(\.key), ["k/0"])
        let error = try XCTUnwrap(result.error)
        XCTAssertTrue(error.reason.contains("duplicate field 'txt' in sample 'k/1'"), error.reason)
        XCTAssertEqual(error.offset, 2048)
        XCTAssertEqual(result.report.droppedSamples, 1)
        // Without lower-casing the names differ.
        XCTAssertNil(readSamples(writer.archiveBytes, options: ShardReadOptions(lowercaseFields: false)).error)
    }

    /// `.stop` ends the shard's stream with the error; `.skip` ends it silently for the pipeline but records the
    /// loss in the log.
    func testErrorPolicies() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let samples = (0..<10).map { testSample($0, size: 3000) }
        let archive = try makeArchive(samples)
        let good = folder + "/good.tar", cut = folder + "/cut.tar"
        _ = FileManager.default.createFile(atPath: good, contents: Data(archive))
        _ = FileManager.default.createFile(atPath: cut, contents: Data(archive.prefix(archive.count / 2 + 100)))

        let stop = TarShardSource()
        let stopped = Array(stop.samples(of: cut))
        let successes = stopped.compactMap { try? $0.get() }
        XCTAssertEqual(successes.map(\.key), samples.prefix(successes.count).map(\.key))
        guard case .failure(let error)? = stopped.last else { return XCTFail("no error element") }
        XCTAssertEqual(error.shard, cut)
        XCTAssertNotNil(error.offset)
        XCTAssertEqual(stop.log.failures.count, 1)

        var options = ShardReadOptions(errorPolicy: .skip)
        options.warnOnSkip = false
        let skip = TarShardSource(options: options)
        let skipped = Array(skip.samples(of: cut))
        XCTAssertTrue(skipped.allSatisfy { if case .success = $0 { return true } else { return false } })
        XCTAssertEqual(skipped.count, successes.count)
        XCTAssertEqual(Array(skip.samples(of: good)).count, 10)
        XCTAssertEqual(Array(skip.samples(of: folder + "/missing.tar")).count, 0)
        let failures = skip.log.failures
        XCTAssertEqual(failures.map(\.shard), [cut, folder + "/missing.tar"])
        let report = failures[0]
        XCTAssertEqual(report.samples, successes.count)
        XCTAssertEqual(report.droppedSamples, 1)
        // The member cut in half was refused at its header: its bytes count as unread.
        XCTAssertEqual(report.bytesUnread, Int64(archive.count / 2 + 100) - report.bytesRead)
        XCTAssertEqual(report.error?.offset, Int64(archive.count / 2 + 100))   // where the data ran out
        XCTAssertGreaterThan(report.bytesUnread ?? 0, 0)
        XCTAssertEqual(report.estimatedLostSamples, 1)
        XCTAssertEqual(skip.log.completedShards, 1)
        XCTAssertEqual(skip.log.samples, successes.count + 10)
        XCTAssertTrue(report.description.contains("lost"), report.description)

        // A corrupt header in the middle: the bytes after it are unread and estimated.
        var corrupt = archive
        let headers = TarReader(bytes: archive)
        var offsets: [Int64] = []
        while let header = try headers.nextHeader() { offsets.append(header.headerOffset) }
        let secondSample = Int(offsets[3])
        corrupt[secondSample + 150] ^= 0x01   // checksum field
        let result = readSamples(corrupt)
        XCTAssertEqual(result.samples.count, 0)
        XCTAssertEqual(result.error?.offset, Int64(secondSample))
        XCTAssertTrue(result.error?.reason.contains("checksum") == true)
        XCTAssertEqual(result.report.bytesUnread, Int64(corrupt.count - secondSample))
        XCTAssertNil(result.report.estimatedLostSamples)   // no complete sample to average over
    }

    func testFieldDecoding() throws {
        let shard = fixturePath("python_wds/wds-000000.tar")
        let samples = Array(TarShardSource().samples(of: shard)).map { try! $0.get() }
        let first = try XCTUnwrap(samples.first)
        XCTAssertEqual(try first.text("txt"), "caption 0: ünïcødé ✓")
        XCTAssertEqual(try first.integer("cls"), 0)
        XCTAssertEqual(try samples[2].integer("cls"), 2)
        let json = try XCTUnwrap(try first.json("json") as? [String: Any])
        XCTAssertEqual(json["index"] as? Int, 0)
        XCTAssertEqual(json["tags"] as? [String], ["a", "b"])
        struct Meta: Decodable { var upper: Bool }
        XCTAssertEqual(try first.json("meta.json", as: Meta.self)?.upper, true)
        let tensor = try XCTUnwrap(try first.npy("npy"))
        XCTAssertEqual(tensor.shape, [2, 3])
        let image = try XCTUnwrap(try first.image("png"))
        XCTAssertEqual([image.width, image.height], [9, 7])
        XCTAssertEqual(image.pixels, formulaImagePixels(width: 9, height: 7, salt: 50))
        let jpeg = try XCTUnwrap(try first.image("jpg"))
        XCTAssertEqual([jpeg.width, jpeg.height], [24, 16])
        XCTAssertNotNil(try first.image("gif"))
        XCTAssertNil(try first.text("missing"))
        guard case .integer(0)? = try first.decoded("cls") else { return XCTFail() }
        guard case .image? = try first.decoded("jpg") else { return XCTFail() }
        guard case .bytes? = try Sample(key: "k", shard: "s", fields: [("bin", [1])]).decoded("bin") else { return XCTFail() }
        XCTAssertEqual(FieldKind(field: "gen_0.JPG"), .image)
        XCTAssertEqual(FieldKind(field: "caption.txt"), .text)

        let bad = Sample(key: "k/1", shard: "s.tar", fields: [("txt", [0xFF, 0xFE]), ("cls", Array("x1".utf8)),
                                                              ("jpg", [0xFF, 0xD8, 0xFF, 0x00]), ("json", Array("{".utf8)),
                                                              ("npy", [1, 2, 3])])
        for field in ["txt", "cls", "jpg", "json", "npy"] {
            XCTAssertThrowsError(try bad.decoded(field), field) { error in
                let error = error as! WebDatasetError
                XCTAssertEqual(error.shard, "s.tar")
                XCTAssertTrue(error.reason.contains("s.tar#k/1.\(field)"), error.reason)
            }
        }
        XCTAssertEqual(try Sample(key: "k", shard: "", fields: [("cls", Array(" 1_000\n".utf8))]).integer("cls"), 1000)
    }

    /// A shard's `.npy` field goes through the same reader; an error names the field.
    func testSampleFieldUsesTheReader() throws {
        let good = Npy.encode(Tensor(shape: [2], data: [1, 2]))
        let sample = Sample(key: "k", shard: "s.tar", fields: [("a.npy", good), ("b.npy", Array(good.dropLast(2)))])
        XCTAssertEqual(try sample.npy("a.npy")?.data, [1, 2])
        XCTAssertThrowsError(try sample.npy("b.npy")) { error in
            XCTAssertTrue("\(error)".contains("s.tar#k.b.npy"), "\(error)")
            XCTAssertTrue("\(error)".contains("data holds 6 bytes"), "\(error)")
        }
    }
}
