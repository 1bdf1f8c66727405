// How `detect` and `embed` read their inputs, against the attack run of issue 11: FIFOs and devices, names
// that are not UTF-8, link loops and over-long paths, and PNGs whose memory use within the pixel limit is a
// thousand times their size. The binary is run with raw argument bytes, a time limit, and its peak resident
// memory measured (its VmHWM, sampled while it runs).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TestSupport
import XCTest

final class InputHardeningTests: XCTestCase {
    private func scratch() throws -> String { try temporaryFolder(self, prefix: "input-hardening") }

    private let image = images + "/png_rgba8_61x43.png"

    /// jsonl rows by path (the path as JSON gives it back).
    private func rows(_ stdout: String) throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for line in stdout.split(separator: "\n") {
            let row = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            out[try XCTUnwrap(row["path"] as? String)] = row
        }
        return out
    }

    /// FIFOs and devices, named or met in a folder, get an error row naming their kind; nothing waits on them or
    /// reads them (before: a FIFO hung detect, /dev/zero was read without end). The good image still gets its
    /// verdict.
    func testFIFOsAndDevicesAreReportedNotRead() throws {
        let tmp = try scratch(), folder = tmp + "/dir"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: image, toPath: folder + "/a.png")
        XCTAssertEqual(mkfifo(folder + "/b.png", 0o644), 0)
        XCTAssertEqual(symlink("/dev/zero", folder + "/c.png"), 0)
        XCTAssertEqual(mkfifo(tmp + "/named.jpg", 0o644), 0)
        let run = try spawnDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", tmp + "/named.jpg", "/dev/zero", folder],
                                    timeout: 120)
        XCTAssertFalse(run.timedOut, "detect hung")
        XCTAssertEqual(run.status, 1, run.stderr)
        let found = try rows(run.stdout)
        XCTAssertEqual(found.keys.sorted(), [tmp + "/dir/a.png", tmp + "/dir/b.png", tmp + "/dir/c.png", tmp + "/named.jpg", "/dev/zero"].sorted())
        XCTAssertNotNil(found[folder + "/a.png"]?["label"], "\(found)")
        for (path, kind) in [(tmp + "/named.jpg", "FIFO"), ("/dev/zero", "character device"), (folder + "/b.png", "FIFO"),
                             (folder + "/c.png", "character device")] {
            let error = found[path]?["error"] as? String ?? ""
            XCTAssertTrue(error.contains(kind) && error.contains("not a regular file"), "\(path): \(error)")
        }
    }

    /// `--max-bytes`: a file over it gets an error row saying so; sizes take K/M/G suffixes; a bad value is a
    /// usage error.
    func testMaxBytes() throws {
        let size = try FileManager.default.attributesOfItem(atPath: image)[.size] as! Int
        let over = try spawnDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", "--max-bytes", "\(size - 1)", image], timeout: 120)
        XCTAssertEqual(over.status, 1, over.stderr)
        let error = try rows(over.stdout)[image]?["error"] as? String ?? ""
        XCTAssertTrue(error.contains("over the limit") && error.contains("\(size) bytes"), error)
        let fits = try spawnDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", "--max-bytes", "1M", image], timeout: 120)
        XCTAssertEqual(fits.status, 0, fits.stderr)
        let bad = try spawnDeepfake(["detect", "--model", tinyModel, "--max-bytes", "lots", image], timeout: 120)
        XCTAssertEqual(bad.status, 64, bad.stderr)
    }

    /// Names that are not UTF-8 are walked and can be named (before: skipped silently when walking, "no such
    /// file" when named); rows show each bad byte as \xNN and jsonl stays valid JSON. The image decodes like the
    /// same bytes under a plain name.
    func testNamesThatAreNotUTF8() throws {
        let tmp = try scratch(), folder = tmp + "/dir"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: image, toPath: folder + "/plain.png")
        let odd = Array((folder + "/x").utf8) + [0xFF, 0xFE] + Array(".png".utf8)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: image))
        let fd = (odd + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let shown = folder + "/x\\xFF\\xFE.png"

        let walked = try spawnDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", folder], timeout: 120)
        XCTAssertEqual(walked.status, 0, walked.stderr)
        let found = try rows(walked.stdout)
        XCTAssertEqual(found.keys.sorted(), [folder + "/plain.png", shown])
        XCTAssertNotNil(found[shown]?["score"], "\(found)")
        XCTAssertEqual(found[shown]?["score"] as? Double, found[folder + "/plain.png"]?["score"] as? Double)

        let named = try spawnRaw([Array("detect".utf8), Array("--model".utf8), Array(tinyModel.utf8), Array("--format".utf8),
                                  Array("jsonl".utf8), odd], timeout: 120)
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual(try rows(named.stdout)[shown]?["score"] as? Double, found[shown]?["score"] as? Double, named.stdout)

        let table = try spawnDeepfake(["detect", "--model", tinyModel, folder], timeout: 120)
        XCTAssertTrue(table.stdout.contains("x\\\\xFF\\\\xFE.png"), table.stdout)
    }

    /// Link loops and paths longer than the system allows are reported by their cause, named or met in a folder
    /// (before: "no such file", or nothing at all); a missing file is still "no such file".
    func testLinkLoopsAndLongPathsAreReportedByCause() throws {
        let tmp = try scratch(), folder = tmp + "/dir"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: image, toPath: folder + "/good.png")
        XCTAssertEqual(symlink(folder + "/loop.png", folder + "/loop.png"), 0)
        // A folder chain deeper than PATH_MAX (4096 bytes), built relative to each level, with an image at the bottom.
        var level = open(folder, O_RDONLY | O_DIRECTORY)
        let component = String(repeating: "d", count: 200)
        for _ in 0..<22 {
            XCTAssertEqual(mkdirat(level, component, 0o755), 0)
            let next = openat(level, component, O_RDONLY | O_DIRECTORY)
            close(level)
            level = next
        }
        let deep = openat(level, "deep.png", O_CREAT | O_WRONLY, 0o644)
        XCTAssertGreaterThanOrEqual(deep, 0)
        close(deep)
        close(level)
        let long = tmp + "/" + String(repeating: "e/", count: 2100) + "x.png"

        let run = try spawnDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", folder, folder + "/loop.png", long,
                                     tmp + "/missing.png"], timeout: 120)
        XCTAssertEqual(run.status, 1, run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 6, run.stdout)
        let found = try rows(run.stdout)
        func error(_ path: String) -> String { found[path]?["error"] as? String ?? "(no error for \(path))" }
        XCTAssertNotNil(found[folder + "/good.png"]?["label"])
        XCTAssertTrue(error(folder + "/loop.png").contains("loop"), error(folder + "/loop.png"))
        let deepRow = try XCTUnwrap(found.first { $0.key.hasPrefix(folder + "/" + component) })
        XCTAssertTrue((deepRow.value["error"] as? String ?? "").contains("PATH_MAX"), "\(deepRow)")
        XCTAssertTrue(error(long).contains("longer than the system allows"), error(long))
        XCTAssertTrue(error(tmp + "/missing.png").contains("no such file"), error(tmp + "/missing.png"))
        XCTAssertFalse(lines.filter { !$0.contains("missing.png") }.joined().contains("no such file"), run.stdout)
    }

    /// PNGs like the attack's (which were 13000 x 13000 16-bit RGBA, 1.3 MB each, 1.35 GB of samples), at
    /// 6000 x 6000 (288 MB of samples, 0.3 MB on disk) to keep the test short: before, each decode held its
    /// 16-bit samples and its RGB copy (396 MB) and two threads held two. Decoded row by row inside the
    /// center-crop window, each takes a few rows. Without the window (`embed --resize`) each result is 108 MB and
    /// `--decode-memory 150M` lets one decode run at a time; an image needing more than the whole budget gets an
    /// error row at once.
    func testHostilePNGsStayWithinTheMemoryBudget() throws {
        let tmp = try scratch()
        try writeZeroPNG(path: tmp + "/big0.png", width: 6000, height: 6000, bitDepth: 16, colorType: 6)
        for i in 1..<4 { XCTAssertEqual(link(tmp + "/big0.png", tmp + "/big\(i).png"), 0) }
        let files = (0..<4).map { tmp + "/big\($0).png" }

        let detect = try spawnDeepfake(["detect", "--model", tinyModel, "--format", "jsonl", "--threads", "2"] + files, timeout: 300)
        XCTAssertEqual(detect.status, 0, detect.stderr)
        XCTAssertEqual(try rows(detect.stdout).count, 4)
        XCTAssertGreaterThan(detect.peakRSS, 0, "no memory sample of the child")
        XCTAssertLessThan(detect.peakRSS, 200 << 20, "detect peaked at \(detect.peakRSS >> 20) MiB")

        let embed = try spawnDeepfake(["embed", "--model", tinyModel, "--resize", "--threads", "2", "--decode-memory", "150M"]
                                      + Array(files.prefix(2)), timeout: 300)
        XCTAssertEqual(embed.status, 0, embed.stderr)
        XCTAssertEqual(try rows(embed.stdout).count, 2)
        XCTAssertLessThan(embed.peakRSS, (150 + 150) << 20, "embed --resize peaked at \(embed.peakRSS >> 20) MiB")

        let refused = try spawnDeepfake(["embed", "--model", tinyModel, "--resize", "--decode-memory", "50M", files[0]], timeout: 120)
        XCTAssertEqual(refused.status, 1, refused.stderr)
        let error = try rows(refused.stdout)[files[0]]?["error"] as? String ?? ""
        XCTAssertTrue(error.contains("budget of 50 MiB") && error.contains("6000x6000"), error)
        print("4 x 6000x6000 16-bit RGBA PNG: detect --threads 2 peak RSS \(detect.peakRSS >> 20) MiB; "
            + "embed --resize --decode-memory 150M peak RSS \(embed.peakRSS >> 20) MiB")
    }
}

/// The outcome of a run of the `deepfake` binary.
struct SpawnedRun {
    var status: Int32
    var stdout: String
    var stderr: String
    /// The child's peak resident memory, in bytes, as sampled every 20 ms while it ran (Linux).
    var peakRSS: Int
    var timedOut: Bool
}

/// The child's own resident high-water mark so far (VmHWM of /proc/PID/status), in bytes; 0 once it has exited.
/// (wait4's ru_maxrss is no use here: posix_spawn's child shares the test process's memory until exec, and
/// Linux counts that memory's high-water mark as the child's.)
private func residentHighWaterMark(_ pid: pid_t) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kibibytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
    return kibibytes * 1024
}

/// Runs the `deepfake` binary with `arguments` (UTF-8 text), killing it after `timeout` seconds.
func spawnDeepfake(_ arguments: [String], timeout: Double) throws -> SpawnedRun {
    try spawnRaw(arguments.map { Array($0.utf8) }, timeout: timeout)
}

/// Runs the `deepfake` binary with `arguments` as raw bytes (names that need not be UTF-8), stdout and stderr
/// into files, killing it after `timeout` seconds; reports its exit status and peak resident memory.
func spawnRaw(_ arguments: [[UInt8]], timeout: Double) throws -> SpawnedRun {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if !FileManager.default.fileExists(atPath: folder.appendingPathComponent("deepfake").path) { folder = Bundle.main.bundleURL }
    let binary = folder.appendingPathComponent("deepfake").path
    let capture = NSTemporaryDirectory() + "/spawn-\(UUID().uuidString)"
    defer {
        try? FileManager.default.removeItem(atPath: capture + ".out")
        try? FileManager.default.removeItem(atPath: capture + ".err")
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, capture + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, capture + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv: [UnsafeMutablePointer<CChar>?] = ([Array(binary.utf8)] + arguments).map { bytes in
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (i, byte) in bytes.enumerated() { copy[i] = CChar(bitPattern: byte) }
        copy[bytes.count] = 0
        return copy
    } + [nil]
    defer { for pointer in argv { pointer?.deallocate() } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
    guard spawned == 0 else { throw NSError(domain: "spawn", code: Int(spawned)) }
    var status: Int32 = 0
    var timedOut = false
    var peak = 0
    let deadline = Date().addingTimeInterval(timeout)
    while waitpid(pid, &status, WNOHANG) == 0 {
        peak = max(peak, residentHighWaterMark(pid))
        if Date() > deadline {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            timedOut = true
            break
        }
        usleep(20_000)
    }
    let exited = status & 0x7F == 0
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    return SpawnedRun(status: exited ? (status >> 8) & 0xFF : -1, stdout: read(capture + ".out"), stderr: read(capture + ".err"),
                      peakRSS: peak, timedOut: timedOut)
}
