// Hostile inputs for the decoders (issue 11): files that are no regular files or too large, PNGs whose
// memory use within the pixel limit is far above their size, compressed data past the image, the decode
// memory budget, and error messages that must say what is wrong in plain words.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Imaging
import TestSupport
import XCTest

final class DecodeHardeningTests: XCTestCase {
    private func scratch() throws -> String { try temporaryFolder(self, prefix: "decode-hardening") }

    // MARK: - Item 9: only regular files, never more than maxBytes

    /// A FIFO is refused at once (opened without blocking, checked with fstat), naming its kind; before, the
    /// open waited for a writer forever. If it blocks, the test opens the writing end to release it and fails.
    func testFIFOIsRefusedWithoutBlocking() throws {
        let fifo = try scratch() + "/image.png"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let done = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Thread.detachNewThread {
            do throws(ImageError) { _ = try decodeImage(path: fifo); outcome.set("decoded") } catch { outcome.set(error.description) }
            done.signal()
        }
        if done.wait(timeout: .now() + 20) == .timedOut {
            let writer = open(fifo, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            _ = done.wait(timeout: .now() + 20)
            return XCTFail("decoding a FIFO blocked")
        }
        let message = outcome.get()
        XCTAssertTrue(message.contains(fifo) && message.contains("FIFO") && message.contains("not a regular file"), message)
    }

    /// A character device is refused before a byte is read (before: /dev/zero was read without end).
    func testDeviceIsRefused() {
        XCTAssertThrowsError(try decodeImage(path: "/dev/zero")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("/dev/zero") && text.contains("character device"), text)
        }
    }

    /// A file above `maxBytes` is refused before it is read, and says it is over the limit; at the limit it
    /// decodes. An in-memory input above the limit is refused too.
    func testMaxBytes() throws {
        let path = DecodeFixtures.path("png_rgba8_61x43.png")
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertNoThrow(try decodeImage(path: path, options: DecodeOptions(maxBytes: size)))
        XCTAssertThrowsError(try decodeImage(path: path, options: DecodeOptions(maxBytes: size - 1))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("over the limit") && text.contains("\(size - 1) bytes") && text.contains("\(size) bytes"), text)
        }
        let bytes = try DecodeFixtures.bytes("png_rgba8_61x43.png")
        XCTAssertThrowsError(try decodeImage(bytes, name: "member.png", options: DecodeOptions(maxBytes: 100))) { error in
            XCTAssertTrue("\(error)".contains("member.png") && "\(error)".contains("over the limit"), "\(error)")
        }
    }

    // MARK: - Item 10: memory within the pixel limit

    /// A 13000 x 13000 16-bit RGBA PNG (1.3 MB on disk, 1.35 GB of samples): decoded with the center-crop
    /// window, its rows are converted one at a time and only the window is kept, so the decode's peak memory is
    /// a few rows, not the whole 16-bit image plus its RGB copy (1.9 GB before). The budget's account and the
    /// process's resident high-water mark both show it. The pixels are the zero image's.
    func testSixteenBitPNGDecodesRowByRowWithinTheWindow() throws {
        let path = try scratch() + "/big16.png"
        try writeZeroPNG(path: path, width: 13000, height: 13000, bitDepth: 16, colorType: 6)
        let fileSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertLessThan(fileSize, 2 << 20)
        let budget = DecodeMemoryBudget(bytes: 1 << 30)
        var image: RGBImage?
        let growth = try residentGrowth {
            image = try decodeImage(path: path, options: DecodeOptions(centerCropWindow: 224, memoryBudget: budget))
        }
        XCTAssertEqual(image?.width, 224)
        XCTAssertEqual(image?.height, 224)
        XCTAssertEqual(image?.pixels, [UInt8](repeating: 0, count: 224 * 224 * 3))
        XCTAssertLessThan(budget.peak, 1 << 20, "the decode's own estimate")
        XCTAssertLessThan(growth, 64 << 20, "resident memory grew by \(growth >> 20) MiB")
        print("13000x13000 16-bit RGBA PNG, center-crop window: resident growth \(growth >> 20) MiB, reserved \(budget.peak) bytes")
    }

    /// Without a window the result (8000 x 8000 RGB, 192 MB) is all that is held: no 16-bit copy of the image
    /// (512 MB more before).
    func testSixteenBitPNGWithoutWindowHoldsOnlyTheResult() throws {
        let path = try scratch() + "/big16.png"
        try writeZeroPNG(path: path, width: 8000, height: 8000, bitDepth: 16, colorType: 6)
        let budget = DecodeMemoryBudget(bytes: 1 << 30)
        let result = 8000 * 8000 * 3
        var sum = -1
        let growth = try residentGrowth {
            let image = try decodeImage(path: path, options: DecodeOptions(memoryBudget: budget))
            sum = image.pixels.reduce(0) { $0 | Int($1) }
        }
        XCTAssertEqual(sum, 0)
        XCTAssertGreaterThanOrEqual(budget.peak, result)
        XCTAssertLessThan(budget.peak, result + (4 << 20))
        XCTAssertLessThan(growth, result + (64 << 20), "resident memory grew by \(growth >> 20) MiB")
        print("8000x8000 16-bit RGBA PNG, whole image: resident growth \(growth >> 20) MiB (result \(result >> 20) MiB)")
    }

    /// Compressed data that goes on past the last row (here 8 GiB of zeros inside the zlib stream, an 8 MB file)
    /// is never inflated: Pillow stops at the last row, and so do we. Before, libpng inflated all of it (seconds of
    /// CPU per file for nothing). The decode's CPU time is compared with the same image without the trailing data.
    func testCompressedDataPastTheLastRowIsNotInflated() throws {
        let folder = try scratch()
        try writeZeroPNG(path: folder + "/plain.png", width: 640, height: 480, bitDepth: 8, colorType: 2)
        try writeZeroPNG(path: folder + "/trailing.png", width: 640, height: 480, bitDepth: 8, colorType: 2, trailingZeros: 8 << 30)
        let plain = try threadCPUTime { _ = try decodeImage(path: folder + "/plain.png") }
        var image: RGBImage?
        let trailing = try threadCPUTime { image = try decodeImage(path: folder + "/trailing.png") }
        XCTAssertEqual(image, try decodeImage(path: folder + "/plain.png"))
        // Inflating 8 GiB takes several seconds of CPU; not inflating it costs nothing measurable.
        XCTAssertLessThan(trailing, plain + 0.5, "decoding took \(trailing) s of CPU against \(plain) s without the trailing data")
    }

    /// Pillow's pixels for PNGs with data past the image (tools/reference/make_hostile_png_fixtures.py): a zlib
    /// stream going on after the last row (also 16-bit, also in many small IDAT chunks) and bytes after IEND.
    /// Also with a center-crop window.
    func testDataPastTheImageKeepsPillowsPixels() throws {
        let folder = DecodeFixtures.directory.deletingLastPathComponent().appendingPathComponent("hostile-png")
        let table = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("expected.json"))) as! [String: Any]
        let files = table["files"] as! [String: [String: Any]]
        XCTAssertEqual(files.count, 4)
        for (name, expected) in files.sorted(by: { $0.key < $1.key }) {
            let path = folder.appendingPathComponent(name).path
            let image = try decodeImage(path: path)
            XCTAssertEqual(image.width, expected["width"] as? Int, name)
            XCTAssertEqual(image.height, expected["height"] as? Int, name)
            XCTAssertEqual(SHA256ForTests.hex(image.pixels), expected["rgb_sha256"] as? String, name)
            let window = try decodeImage(path: path, options: DecodeOptions(centerCropWindow: 16))
            XCTAssertEqual(window, image.centerCropped(width: 16, height: 16), name)
        }
    }

    /// An image whose estimate is more than the whole budget is refused at once with a clear error (never a wait
    /// that cannot end); below it, it decodes.
    func testImageLargerThanTheBudgetIsRefused() throws {
        let path = try scratch() + "/1000.png"
        try writeZeroPNG(path: path, width: 1000, height: 1000, bitDepth: 8, colorType: 2)
        XCTAssertNoThrow(try decodeImage(path: path, options: DecodeOptions(memoryBudget: DecodeMemoryBudget(bytes: 4 << 20))))
        XCTAssertThrowsError(try decodeImage(path: path, options: DecodeOptions(memoryBudget: DecodeMemoryBudget(bytes: 2 << 20)))) { error in
            guard case let .overMemoryBudget(name, format, width, height, bytes, budget) = error as? ImageError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual([name, format.rawValue], [path, "png"])
            XCTAssertEqual([width, height, budget], [1000, 1000, 2 << 20])
            XCTAssertGreaterThanOrEqual(bytes, 3_000_000)
            let text = "\(error)"
            XCTAssertTrue(text.contains("decode memory budget of 2 MiB") && text.contains("--decode-memory"), text)
        }
    }

    /// Every format reserves its estimate before decoding: with a budget of one byte each fixture format is
    /// refused as over the budget (a format that skipped the budget would decode).
    func testEveryFormatTakesItsMemoryFromTheBudget() throws {
        let manifest = try DecodeFixtures.manifest.get()
        for format in ImageFormat.allCases {
            let entry = try XCTUnwrap(manifest.images.first { $0.format == format.rawValue })
            XCTAssertThrowsError(try decodeImage(path: DecodeFixtures.path(entry.file),
                                                 options: DecodeOptions(memoryBudget: DecodeMemoryBudget(bytes: 1)))) { error in
                guard case .overMemoryBudget = error as? ImageError else { return XCTFail("\(entry.file): \(error)") }
            }
        }
    }

    /// Concurrent decodes share the budget: with room for one image at a time, 12 decodes on 4 threads all
    /// finish (no deadlock), with the same pixels, and never hold more than the budget together.
    func testConcurrentDecodesShareTheBudget() throws {
        let path = try scratch() + "/600.png"
        try writeZeroPNG(path: path, width: 600, height: 600, bitDepth: 16, colorType: 6)
        let one = DecodeMemoryBudget(bytes: 1 << 30)
        let reference = try decodeImage(path: path, options: DecodeOptions(memoryBudget: one))
        let estimate = one.peak
        let budget = DecodeMemoryBudget(bytes: estimate + estimate / 2)
        let results = Outcome()
        DispatchQueue.concurrentPerform(iterations: 12) { _ in
            let image = try? decodeImage(path: path, options: DecodeOptions(memoryBudget: budget))
            if image != reference { results.set("a decode failed or differed") }
        }
        XCTAssertEqual(results.get(), "")
        XCTAssertEqual(budget.peak, estimate, "decodes overlapped beyond the budget")
    }

    // MARK: - Item 15: messages

    /// A strip offset past the end of the file says so (libtiff's own text printed the negative difference as
    /// 18446744071562068110 bytes).
    func testTIFFOffsetBeyondTheFileIsSaidPlainly() {
        var tiff: [UInt8] = Array("II".utf8) + [42, 0, 8, 0, 0, 0]
        let entries: [(UInt16, UInt16, UInt32)] = [(256, 3, 4), (257, 3, 4), (258, 3, 8), (259, 3, 1), (262, 3, 1),
                                                    (273, 4, 0x8000_0000), (277, 3, 1), (278, 3, 4), (279, 4, 16)]
        tiff += le16(UInt16(entries.count))
        for (tag, type, value) in entries { tiff += le16(tag) + le16(type) + le32(1) + le32(value) }
        tiff += le32(0) + [UInt8](repeating: 7, count: 16)
        XCTAssertThrowsError(try decodeImage(tiff, name: "far.tif")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("far.tif") && text.contains("beyond the end of the file") && text.contains("2147483648"), text)
            XCTAssertFalse(text.contains("18446744"), text)
        }
    }

    /// A lossy WebP cut inside its bitstream (RIFF and chunk sizes fixed to match; at this length libwebp calls
    /// the failure "suspended") fails with a message saying the data ends early.
    func testCutWebPSaysTruncatedOrCorrupt() throws {
        let original = try DecodeFixtures.bytes("webp_lossy_227x301.webp")
        XCTAssertEqual(Array(original[12..<16]), Array("VP8 ".utf8))
        var cut = Array(original[..<1050])
        cut.replaceSubrange(4..<8, with: le32(UInt32(cut.count - 8)))
        cut.replaceSubrange(16..<20, with: le32(UInt32(cut.count - 20)))
        XCTAssertThrowsError(try decodeImage(cut, name: "cut.webp")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("cut.webp") && text.contains("ends before the image does") && text.contains("truncated or corrupt"), text)
            XCTAssertFalse(text.contains("suspended"), text)
        }
    }

    /// A chunk type of control bytes with a bad CRC is named with \xNN escapes, never as raw bytes.
    func testPNGChunkTypesInMessagesAreEscaped() throws {
        let good = try DecodeFixtures.bytes("png_rgba8_61x43.png")
        var bytes = Array(good[..<33])                                  // signature + IHDR
        bytes += [0, 0, 0, 3, 0x01, 0x1B, 0x61, 0x62, 1, 2, 3, 0, 0, 0, 0]  // type \x01\x1Bab, 3 bytes, CRC 0 (wrong)
        bytes += Array(good[33...])
        XCTAssertThrowsError(try decodeImage(bytes, name: "odd.png")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("CRC mismatch in chunk \\x01\\x1Bab"), text)
            XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 }, text)
        }
    }
}

// MARK: - Helpers

private final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    func set(_ value: String) { lock.lock(); text = value; lock.unlock() }
    func get() -> String { lock.lock(); defer { lock.unlock() }; return text }
}

private func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8)] }
private func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) } }

/// CPU seconds the calling thread spends in `body`.
private func threadCPUTime(_ body: () throws -> Void) rethrows -> Double {
    func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
    let start = now()
    try body()
    return now() - start
}

/// How far the process's resident memory rose above where it stood when `body` started (Linux: the
/// high-water mark is reset through /proc/self/clear_refs, then read from /proc/self/status).
private func residentGrowth(_ body: () throws -> Void) throws -> Int {
    func field(_ name: String) throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix(name + ":") })
        return try XCTUnwrap(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])) * 1024
    }
    let reset = open("/proc/self/clear_refs", O_WRONLY)
    XCTAssertGreaterThanOrEqual(reset, 0, "cannot open /proc/self/clear_refs")
    XCTAssertEqual(write(reset, "5", 1), 1, "cannot reset the resident high-water mark")
    close(reset)
    let before = try field("VmRSS")
    try body()
    return try field("VmHWM") - before
}
