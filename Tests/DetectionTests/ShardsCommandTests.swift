import Foundation
import WebDataset
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `deepfake shards create|ls|verify|cat` and shards as detect inputs, on a D3 download layout built from
/// fixture images.
final class ShardsCommandTests: XCTestCase {
    func testCreateListVerifyCatAndDetectFromShards() throws {
        let fm = FileManager.default
        let tmp = NSTemporaryDirectory() + "/shards-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: tmp) }
        let pictures = try referenceEmbeddings().keys.sorted().filter { $0.hasSuffix(".jpg") || $0.hasSuffix(".png") }
        XCTAssertGreaterThanOrEqual(pictures.count, 15)
        // Three complete records in nested folders and one without its url.txt.
        for r in 0..<4 {
            let dir = tmp + "/d3/job-\(r % 2)/\(r)"
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let id = "12345678\(r)"
            for k in 0..<5 {
                let source = pictures[r * 5 + k], ext = (source as NSString).pathExtension
                let target = dir + "/" + id + (k < 4 ? "_gen\(k)." : "_real.") + ext
                try fm.copyItem(atPath: images + "/" + source, toPath: target)
            }
            try "a prompt \(r)".write(toFile: dir + "/\(id)_prompt.txt", atomically: true, encoding: .utf8)
            if r != 3 { try "https://example.org/\(r)".write(toFile: dir + "/\(id)_url.txt", atomically: true, encoding: .utf8) }
        }
        let create = try runDeepfake(["shards", "create", "--from", tmp + "/d3", "--out", tmp + "/out", "--per-shard", "2", "--split", "test"])
        XCTAssertEqual(create.status, 1, "an incomplete record is reported: \(create.stderr)")
        XCTAssertTrue(try String(contentsOfFile: tmp + "/out/incomplete.txt", encoding: .utf8).contains("123456783"))
        XCTAssertTrue(fm.fileExists(atPath: tmp + "/out/elsa_v2-000000.tar"))
        XCTAssertTrue(fm.fileExists(atPath: tmp + "/out/elsa_v2-000001.tar"))

        let spec = tmp + "/out/elsa_v2-{000000..000001}.tar"
        let ls = try runDeepfake(["shards", "ls", "--format", "jsonl", spec])
        XCTAssertEqual(ls.status, 0, ls.stderr)
        let rows = ls.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(rows.map { $0["key"] as! String }, ["elsa_v2__test__123456780", "elsa_v2__test__123456781", "elsa_v2__test__123456782"])
        let fields = (rows[0]["fields"] as! [String: Any]).keys.sorted()
        XCTAssertEqual(fields.count, 7)
        XCTAssertEqual(fields.first, "caption.txt"); XCTAssertEqual(fields.last, "url.txt")

        XCTAssertEqual(try runDeepfake(["shards", "verify", spec]).status, 0)
        // several specs, like every other command's inputs; a spec that does not resolve is reported, the rest go on
        let single = tmp + "/out/elsa_v2-000000.tar"
        let lsMany = try runDeepfake(["shards", "ls", "--format", "jsonl", single, tmp + "/out/missing-{0..1}.tar", spec])
        XCTAssertEqual(lsMany.status, 1)
        XCTAssertTrue(lsMany.stderr.contains("missing-0.tar"), lsMany.stderr)
        XCTAssertEqual(lsMany.stdout.split(separator: "\n").map { (try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["key"] as! String },
                       ["elsa_v2__test__123456780", "elsa_v2__test__123456781",
                        "elsa_v2__test__123456780", "elsa_v2__test__123456781", "elsa_v2__test__123456782"])
        let verifyMany = try runDeepfake(["shards", "verify", single, spec])
        XCTAssertEqual(verifyMany.status, 0, verifyMany.stdout)
        XCTAssertTrue(verifyMany.stdout.hasSuffix("5 samples, 25 images, 0 failures\n"), verifyMany.stdout)
        let cat = try runDeepfake(["shards", "cat", spec, "elsa_v2__test__123456781", "caption.txt"])
        XCTAssertEqual(cat.stdout, "a prompt 1")
        let gen0 = (fields.first { $0.hasPrefix("gen_0.") })!
        let catImage = try runDeepfake(["shards", "cat", spec, "elsa_v2__test__123456780", gen0])
        XCTAssertEqual(catImage.status, 0)
        XCTAssertEqual(try runDeepfake(["shards", "cat", spec, "elsa_v2__test__123456780", "nothing.txt"]).status, 1)

        // detect on the shards gives, member by member, what it gives on the original files.
        let fromShards = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", spec])
        XCTAssertEqual(fromShards.status, 0, fromShards.stderr)
        let shardRows = fromShards.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(shardRows.count, 15)
        XCTAssertTrue((shardRows[0]["path"] as! String).hasSuffix("elsa_v2-000000.tar#elsa_v2__test__123456780." + gen0))
        let fromFiles = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", images + "/" + pictures[0]])
        let fileRow = try JSONSerialization.jsonObject(with: Data(fromFiles.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(shardRows[0]["score"] as? Double, fileRow["score"] as? Double)
    }

    // MARK: - Hardening (issue 11)

    /// A shard in webdataset's plainest layout, one image per sample named `KEY.jpg` / `KEY.png` (field `jpg`),
    /// is read like `KEY.real.jpg`: detect gives a row per image and verify decodes them. (Found by the attack
    /// rerun, tools/attack: such images were skipped without a word, "no image files found", 0 images verified.)
    func testBareImageFieldsAreImages() throws {
        let tmp = try scratch()
        let jpeg = try XCTUnwrap(FileManager.default.contents(atPath: images + "/jpeg_rgb_100x80.jpg"))
        let png = try XCTUnwrap(FileManager.default.contents(atPath: images + "/png_pillow_rgb_224x224.png"))
        let shard = tmp + "/plain-000000.tar"
        let writer = try TarWriter(path: shard)
        _ = try writer.write(Sample(key: "000000", shard: "", fields: [("cls", Array("0".utf8)), ("jpg", [UInt8](jpeg))]))
        _ = try writer.write(Sample(key: "000001", shard: "", fields: [("png", [UInt8](png)), ("json", Array("{}".utf8))]))
        try writer.finish()

        let detect = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", shard])
        XCTAssertEqual(detect.status, 0, detect.stderr)
        let rows = detect.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(rows.map { $0["path"] as? String }, [shard + "#000000.jpg", shard + "#000001.png"])
        let fromFile = try runDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", images + "/jpeg_rgb_100x80.jpg"])
        let fileRow = try JSONSerialization.jsonObject(with: Data(fromFile.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(rows.first?["score"] as? Double, fileRow["score"] as? Double)

        let verify = try runDeepfake(["shards", "verify", shard])
        XCTAssertEqual(verify.status, 0, verify.stdout)
        XCTAssertTrue(verify.stdout.hasSuffix("2 samples, 2 images, 0 failures\n"), verify.stdout)
    }

    /// A fresh folder, removed after the test with `rm -rf` (which also removes trees deeper than PATH_MAX).
    private func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "shards-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock {
            let rm = Process()
            rm.executableURL = URL(fileURLWithPath: "/bin/rm")
            rm.arguments = ["-rf", path]
            try? rm.run()
            rm.waitUntilExit()
        }
        return path
    }

    /// Writes D3 record `id` into `folder`: four generated images, the real one, prompt and url (contents are
    /// deterministic bytes; shards create does not decode them). `without` leaves those parts out.
    private func writeRecord(_ id: String, in folder: String, size: Int = 300, without: Set<String> = []) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let seed = id.utf8.reduce(7) { $0 &* 31 &+ Int($1) }
        func bytes(_ salt: Int) -> [UInt8] { (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ seed &+ salt &* 17) } }
        // Plain writes (FileManager.createFile syncs each file, seconds for the hundreds of files here).
        func put(_ name: String, _ bytes: [UInt8]) {
            let fd = open(folder + "/" + id + name, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0, name)
            XCTAssertEqual(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }, bytes.count)
            _ = close(fd)
        }
        for k in 0..<4 where !without.contains("gen\(k)") { put("_gen\(k).jpg", bytes(k)) }
        if !without.contains("real") { put("_real.png", bytes(9)) }
        if !without.contains("prompt") { put("_prompt.txt", Array("prompt \(id)".utf8)) }
        if !without.contains("url") { put("_url.txt", Array("https://example.org/\(id)".utf8)) }
    }

    /// Every file under `folder` (relative name → bytes).
    private func contents(_ folder: String) -> [String: Data] {
        var out: [String: Data] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            out[name] = FileManager.default.contents(atPath: folder + "/" + name)
        }
        return out
    }

    /// `--prefix` and `--split` are file-name and key parts: a path, `..`, a dot, an empty or overlong value is
    /// refused before anything is created (it used to write `evil-000000.tar` outside `--out`).
    func testPrefixAndSplitCannotLeaveTheOutputFolder() throws {
        let tmp = try scratch()
        try writeRecord("100", in: tmp + "/d3")
        let out = tmp + "/deep/er/out"
        for prefix in ["../../evil", "a/b", "/abs", "..", ".", "", "a.b", "tab\tname", String(repeating: "p", count: 300)] {
            let run = try runDeepfake(["shards", "create", "--from", tmp + "/d3", "--out", out, "--prefix", prefix])
            XCTAssertEqual(run.status, 64, "prefix \(prefix.debugDescription): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("--prefix"), run.stderr)
        }
        for split in ["../x", "a/b", "", "..", "a.b", String(repeating: "s", count: 300)] {
            let run = try runDeepfake(["shards", "create", "--from", tmp + "/d3", "--out", out, "--split", split])
            XCTAssertEqual(run.status, 64, "split \(split.debugDescription): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("--split"), run.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/deep"), "nothing may be created")
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp + "/evil-000000.tar"))
        // Ordinary values still work.
        let ok = try runDeepfake(["shards", "create", "--from", tmp + "/d3", "--out", out, "--prefix", "d3_v-2", "--split", "val"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(contents(out).keys.sorted(), ["d3_v-2-000000.tar"])
    }

    /// Links that leave `--from` are not followed unless `--follow-symlinks` is given; every name passed over is
    /// listed in incomplete.txt with its real cause: a link leaving the folder, a broken link, a link loop, a
    /// name that is not UTF-8, an id that cannot be a key, a path over PATH_MAX, a FIFO. Nothing hangs.
    func testSymlinksAndOddNamesAreReportedNotFollowed() throws {
        let fm = FileManager.default
        let tmp = try scratch(), d3 = tmp + "/d3"
        let secret = "SECRET-OUTSIDE-THE-SOURCE-FOLDER"
        try secret.write(toFile: tmp + "/secret.txt", atomically: true, encoding: .utf8)
        try writeRecord("200", in: d3 + "/a")
        try writeRecord("400", in: d3 + "/a", without: ["real"])
        try fm.createSymbolicLink(atPath: d3 + "/a/400_real.jpg", withDestinationPath: tmp + "/secret.txt")
        // A link that stays inside the folder is followed.
        try writeRecord("300", in: d3 + "/b", without: ["real"])
        try fm.createSymbolicLink(atPath: d3 + "/b/300_real.png", withDestinationPath: "../a/200_real.png")
        // A folder link leaving the source, a broken link, a loop, a FIFO, odd ids.
        try writeRecord("500", in: tmp + "/elsewhere")
        try fm.createSymbolicLink(atPath: d3 + "/outside", withDestinationPath: tmp + "/elsewhere")
        try fm.createSymbolicLink(atPath: d3 + "/a/600_gen0.jpg", withDestinationPath: d3 + "/nothing-here.jpg")
        try fm.createSymbolicLink(atPath: d3 + "/a/loop_gen1.jpg", withDestinationPath: d3 + "/a/loop_gen2.jpg")
        try fm.createSymbolicLink(atPath: d3 + "/a/loop_gen2.jpg", withDestinationPath: d3 + "/a/loop_gen1.jpg")
        XCTAssertEqual(mkfifo(d3 + "/a/700_real.jpg", 0o644), 0)
        try Data("x".utf8).write(to: URL(fileURLWithPath: d3 + "/a/.._gen0.jpg"))
        var raw = Array((d3 + "/a/8").utf8) + [0xFF, 0xFE] + Array("_gen0.jpg".utf8) + [0]
        let fd = raw.withUnsafeMutableBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = close(fd)
        // A folder chain deeper than PATH_MAX (4096 bytes), built relative to each level.
        var level = open(d3, O_RDONLY | O_DIRECTORY)
        let component = String(repeating: "d", count: 200)
        for _ in 0..<22 {
            XCTAssertEqual(mkdirat(level, component, 0o755), 0)
            let next = openat(level, component, O_RDONLY | O_DIRECTORY)
            _ = close(level)
            level = next
        }
        let deepFile = openat(level, "900_gen0.jpg", O_CREAT | O_WRONLY, 0o644)
        XCTAssertGreaterThanOrEqual(deepFile, 0)
        _ = close(deepFile)
        _ = close(level)

        let run = try runDeepfake(["shards", "create", "--from", d3, "--out", tmp + "/out", "--per-shard", "10"])
        XCTAssertEqual(run.status, 1, run.stderr)
        let shard = try Data(contentsOf: URL(fileURLWithPath: tmp + "/out/elsa_v2-000000.tar"))
        XCTAssertNil(shard.range(of: Data(secret.utf8)), "the target of a link leaving --from was packed")
        let keys = try runDeepfake(["shards", "ls", "--format", "jsonl", tmp + "/out/elsa_v2-000000.tar"]).stdout
        XCTAssertTrue(keys.contains("elsa_v2__train__200") && keys.contains("elsa_v2__train__300"), keys)
        XCTAssertFalse(keys.contains("__400") || keys.contains("__500"), keys)
        let report = try String(contentsOfFile: tmp + "/out/incomplete.txt", encoding: .utf8)
        let lines = report.split(separator: "\n").map(String.init)
        func line(_ needle: String) -> String { lines.first { $0.contains(needle) } ?? "" }
        XCTAssertTrue(line("400_real.jpg").contains("outside"), report)
        XCTAssertTrue(line("400_real.jpg").contains("--follow-symlinks"), report)
        XCTAssertTrue(line("d3/outside").contains("outside"), report)
        XCTAssertTrue(line("600_gen0.jpg").contains("broken"), report)
        XCTAssertTrue(line("loop_gen1.jpg").lowercased().contains("loop"), report)
        XCTAssertTrue(line("700_real.jpg").contains("not a regular file"), report)
        XCTAssertTrue(line("/a/..").contains("id"), report)
        XCTAssertTrue(line("\\xFF\\xFE").contains("UTF-8"), report)
        XCTAssertTrue(line(component).contains("PATH_MAX") || line(component).contains("too long"), report)
        XCTAssertFalse(report.lowercased().contains("no such file"), report)
        XCTAssertTrue(line("record 400").contains("real"), report)

        // Asked for, links leaving the folder are followed (a FIFO or device still is not read).
        let follow = try runDeepfake(["shards", "create", "--from", d3, "--out", tmp + "/out2", "--per-shard", "10", "--follow-symlinks"])
        XCTAssertEqual(follow.status, 1, follow.stderr)
        let followed = try runDeepfake(["shards", "ls", "--format", "jsonl", tmp + "/out2/elsa_v2-000000.tar"]).stdout
        XCTAssertTrue(followed.contains("elsa_v2__train__400") && followed.contains("elsa_v2__train__500"), followed)
        XCTAssertTrue(try String(contentsOfFile: tmp + "/out2/incomplete.txt", encoding: .utf8).contains("700_real.jpg"))
    }

    /// A missing `--from` is an error that writes nothing; `--out` naming a file gets a plain message; a non-empty
    /// `--out` is refused unless `--resume` or `--overwrite` is given; `--overwrite` removes only this prefix's
    /// shards and reports.
    func testMissingSourceAndExistingOutput() throws {
        let fm = FileManager.default
        let tmp = try scratch(), d3 = tmp + "/d3", out = tmp + "/out"
        for id in ["1", "2", "3"] { try writeRecord(id, in: d3) }

        let missing = try runDeepfake(["shards", "create", "--from", tmp + "/nope", "--out", out])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains(tmp + "/nope") && missing.stderr.contains("no such"), missing.stderr)
        XCTAssertFalse(fm.fileExists(atPath: out))
        let notFolder = try runDeepfake(["shards", "create", "--from", d3 + "/1_url.txt", "--out", out])
        XCTAssertEqual(notFolder.status, 1, notFolder.stderr)
        XCTAssertTrue(notFolder.stderr.contains("not a folder"), notFolder.stderr)
        let empty = try runDeepfake(["shards", "create", "--from", tmp + "/empty-\(UUID())", "--out", out])
        XCTAssertEqual(empty.status, 1)
        try fm.createDirectory(atPath: tmp + "/nothing", withIntermediateDirectories: true)
        let nothing = try runDeepfake(["shards", "create", "--from", tmp + "/nothing", "--out", out])
        XCTAssertEqual(nothing.status, 1, nothing.stderr)
        XCTAssertTrue(nothing.stderr.contains("no D3 record"), nothing.stderr)
        XCTAssertEqual(contents(out), [:], "no empty shard is written")

        try "a file".write(toFile: tmp + "/file", atomically: true, encoding: .utf8)
        let outFile = try runDeepfake(["shards", "create", "--from", d3, "--out", tmp + "/file"])
        XCTAssertEqual(outFile.status, 64, outFile.stderr)
        XCTAssertTrue(outFile.stderr.contains("is a file, not a folder"), outFile.stderr)
        XCTAssertFalse(outFile.stderr.contains("NSCocoaErrorDomain"), outFile.stderr)
        let outUnder = try runDeepfake(["shards", "create", "--from", d3, "--out", tmp + "/file/sub"])
        XCTAssertNotEqual(outUnder.status, 0)
        XCTAssertFalse(outUnder.stderr.contains("NSCocoaErrorDomain"), outUnder.stderr)

        // Stale shards of an earlier run (3 records per shard here, 1 now) beside a file of the user's.
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        for n in 1...3 { try Data("stale \(n)".utf8).write(to: URL(fileURLWithPath: out + "/elsa_v2-00000\(n).tar")) }
        try Data("stale".utf8).write(to: URL(fileURLWithPath: out + "/elsa_v2-000004.tar.tmp"))
        try Data("old report".utf8).write(to: URL(fileURLWithPath: out + "/incomplete.txt"))
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
        try Data("other".utf8).write(to: URL(fileURLWithPath: out + "/other-000001.tar"))
        let before = contents(out)
        let refused = try runDeepfake(["shards", "create", "--from", d3, "--out", out, "--per-shard", "1"])
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--resume") && refused.stderr.contains("--overwrite"), refused.stderr)
        XCTAssertEqual(contents(out), before, "a refused run changes nothing")
        let both = try runDeepfake(["shards", "create", "--from", d3, "--out", out, "--resume", "--overwrite"])
        XCTAssertEqual(both.status, 64, both.stderr)

        let overwrite = try runDeepfake(["shards", "create", "--from", d3, "--out", out, "--per-shard", "1", "--overwrite"])
        XCTAssertEqual(overwrite.status, 0, overwrite.stderr)
        XCTAssertEqual(contents(out).keys.sorted(), ["elsa_v2-000000.tar", "elsa_v2-000001.tar", "elsa_v2-000002.tar",
                                                     "notes.txt", "other-000001.tar"])
        XCTAssertEqual(contents(out)["notes.txt"], Data("keep me".utf8))
        let fresh = try scratch()
        XCTAssertEqual(try runDeepfake(["shards", "create", "--from", d3, "--out", fresh, "--per-shard", "1"]).status, 0)
        for n in 0...2 {
            let name = "elsa_v2-00000\(n).tar"
            XCTAssertEqual(contents(out)[name], contents(fresh)[name], name)
        }
        // Resuming a finished run changes nothing.
        let finished = contents(out)
        let again = try runDeepfake(["shards", "create", "--from", d3, "--out", out, "--per-shard", "1", "--resume"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(contents(out), finished)
        // Resuming with other settings is refused, naming what differs.
        let otherSplit = try runDeepfake(["shards", "create", "--from", d3, "--out", out, "--per-shard", "1", "--split", "val", "--resume"])
        XCTAssertEqual(otherSplit.status, 1, otherSplit.stderr)
        XCTAssertTrue(otherSplit.stderr.contains("--overwrite"), otherSplit.stderr)
        XCTAssertEqual(contents(out), finished)
    }

    /// `shards create` SIGKILLed in the middle, then rerun with `--resume`: the shards and incomplete.txt are
    /// byte for byte those of an uninterrupted run, and no temporary file remains.
    func testKilledCreateResumesToTheSameBytes() throws {
        let fm = FileManager.default
        let tmp = try scratch(), d3 = tmp + "/d3"
        for r in 0..<400 {
            try writeRecord(String(format: "%06d", r), in: d3 + "/part-\(r % 7)", size: 2000,
                            without: r % 97 == 5 ? ["url"] : [])
        }
        let arguments = ["shards", "create", "--from", d3, "--per-shard", "2"]
        let whole = try runDeepfake(arguments + ["--out", tmp + "/a"])
        XCTAssertEqual(whole.status, 1, whole.stderr)   // the incomplete records
        let expected = contents(tmp + "/a")
        XCTAssertEqual(expected.keys.filter { $0.hasSuffix(".tar") }.count, 198)
        XCTAssertNotNil(expected["incomplete.txt"])

        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if !fm.fileExists(atPath: folder.appendingPathComponent("deepfake").path) { folder = Bundle.main.bundleURL }
        let process = Process()
        process.executableURL = folder.appendingPathComponent("deepfake")
        process.arguments = arguments + ["--out", tmp + "/b"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !fm.fileExists(atPath: tmp + "/b/elsa_v2-000020.tar") && process.isRunning && Date() < deadline { usleep(500) }
        _ = kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "shards create ended before it was killed")
        let killed = contents(tmp + "/b")
        XCTAssertLessThan(killed.keys.filter { $0.hasSuffix(".tar") }.count, 198)
        XCTAssertNil(killed["incomplete.txt"])

        let refused = try runDeepfake(arguments + ["--out", tmp + "/b"])
        XCTAssertEqual(refused.status, 64, refused.stderr)
        let resumed = try runDeepfake(arguments + ["--out", tmp + "/b", "--resume"])
        XCTAssertEqual(resumed.status, 1, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("kept"), resumed.stdout)
        let result = contents(tmp + "/b")
        XCTAssertEqual(result.keys.sorted(), expected.keys.sorted())
        for (name, bytes) in expected { XCTAssertEqual(result[name], bytes, "\(name) differs from the uninterrupted run") }
    }
}
