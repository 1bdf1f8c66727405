// Decoding tests: every fixture image must decode bit-identically to Pillow 13's
// `np.asarray(Image.open(p).convert("RGB"))`, bad inputs must fail with clear errors.

import Foundation
import Imaging
import DeepfakeCore
import XCTest

final class DecodeTests: XCTestCase {
    private func manifest() throws -> DecodeManifest { try DecodeFixtures.manifest.get() }

    /// Every good fixture: size and SHA-256 of the RGB pixels equal Pillow's.
    func testEveryFixtureDecodesLikePillow() throws {
        let manifest = try manifest()
        XCTAssertGreaterThan(manifest.images.count, 50)
        var checked = 0
        for entry in manifest.images where entry.pillowIdenticalExpected {
            let image: RGBImage
            do {
                image = try decodeImage(path: DecodeFixtures.path(entry.file))
            } catch {
                XCTFail("\(entry.file) (\(entry.format), Pillow mode \(entry.pillowMode)): \(error)")
                continue
            }
            checked += 1
            guard image.width == entry.width, image.height == entry.height else {
                XCTFail("\(entry.file): \(image.width)x\(image.height), Pillow \(entry.width)x\(entry.height)")
                continue
            }
            XCTAssertEqual(image.pixels.count, entry.width * entry.height * 3)
            if SHA256ForTests.hex(image.pixels) != entry.rgbSHA256 {
                XCTFail("\(entry.file) (Pillow mode \(entry.pillowMode), \(entry.note)): pixels differ from Pillow; "
                    + "channel sums ours \(channelSums(image)) vs Pillow \(entry.rgbChannelSums)")
            }
        }
        print("decoded \(checked) fixture images bit-identically checked against Pillow \(manifest.versions["pillow"] ?? "?")")
    }

    /// Every format is covered, and the manifest's format is what sniffing finds.
    func testSniffingMatchesManifestFormats() throws {
        let manifest = try manifest()
        var seen = Set<String>()
        for entry in manifest.images {
            let bytes = try DecodeFixtures.bytes(entry.file)
            XCTAssertEqual(sniffImageFormat(bytes)?.rawValue, entry.format, entry.file)
            seen.insert(entry.format)
        }
        XCTAssertEqual(seen, Set(ImageFormat.allCases.map(\.rawValue)))
    }

    /// A PNG named `.jpg` decodes by content.
    func testExtensionThatLiesDecodesByContent() throws {
        let bytes = try DecodeFixtures.bytes("png_named_as.jpg")
        XCTAssertEqual(sniffImageFormat(bytes), .png)
        let image = try decodeImage(path: DecodeFixtures.path("png_named_as.jpg"))
        XCTAssertEqual(image.width, 90)
        XCTAssertEqual(image.height, 70)
    }

    /// The in-memory entry points give the same pixels as the path one.
    func testMemoryVariantsMatchPath() throws {
        for file in ["jpeg_rgb_100x80.jpg", "png_p4_trns_interlaced_61x43.png", "bmp_rle4_63x47.bmp",
                     "gif_offset_frame_64x48.gif", "tiff_rgb_planar_57x41.tif", "webp_lossless_100x80.webp"] {
            let bytes = try DecodeFixtures.bytes(file)
            let fromPath = try decodeImage(path: DecodeFixtures.path(file))
            XCTAssertEqual(try decodeImage(bytes, name: file), fromPath, file)
            XCTAssertEqual(try decodeImage(Data(bytes), name: file), fromPath, file)
            let fromBuffer = try bytes.withUnsafeBytes { buffer in try decodeImage(buffer, name: file) }
            XCTAssertEqual(fromBuffer, fromPath, file)
        }
    }

    /// Bad inputs fail with the manifest's failure kind and an error naming the file.
    /// Also with `centerCropWindow`: a JPEG window decode reads the rest of the stream, so a file truncated
    /// below the window fails as a full decode does.
    func testBadInputsFailClearly() throws {
        for window in [nil, 224, 16] {
            try checkBadInputs(options: DecodeOptions(centerCropWindow: window))
        }
    }

    private func checkBadInputs(options: DecodeOptions) throws {
        let manifest = try manifest()
        XCTAssertFalse(manifest.bad.isEmpty)
        for entry in manifest.bad {
            let path = DecodeFixtures.path(entry.file)
            do {
                let image = try decodeImage(path: path, options: options)
                XCTFail("\(entry.file): decoded to \(image.width)x\(image.height), expected \(entry.failure)")
            } catch {
                XCTAssertEqual(failureKind(error), entry.failure, "\(entry.file): \(error)")
                XCTAssertTrue(error.description.contains(path), "\(entry.file): \(error.description)")
                XCTAssertEqual(error.name, path)
            }
        }
    }

    /// `centerCropWindow`: exactly the pixels of a full decode that torchvision's CenterCrop keeps, for every
    /// fixture (JPEG decodes only those rows and columns: baseline and progressive, 4:4:4 / 4:2:2 / 4:2:0,
    /// grey, CMYK, restart markers; the others are cropped after a full decode), for crops from 1 pixel to
    /// larger than the image.
    func testCenterCropWindowIsTheCroppedFullDecode() throws {
        let manifest = try manifest()
        var jpegWindows = 0
        for entry in manifest.images {
            let path = DecodeFixtures.path(entry.file)
            let full = try decodeImage(path: path)
            for size in [1, 7, 16, 17, 33, 100, 224, full.width - 1, full.height + 5, 1000] where size > 0 {
                let window = try decodeImage(path: path, options: DecodeOptions(centerCropWindow: size))
                let keptWidth = min(size, full.width), keptHeight = min(size, full.height)
                XCTAssertEqual(window, full.centerCropped(width: keptWidth, height: keptHeight), "\(entry.file), crop \(size)")
                XCTAssertEqual(Preprocessing.centerCrop(size: size).apply(window), Preprocessing.centerCrop(size: size).apply(full),
                               "\(entry.file), crop \(size): the tensor")
                if entry.format == "jpeg" && (keptWidth < full.width || keptHeight < full.height) { jpegWindows += 1 }
            }
        }
        XCTAssertGreaterThan(jpegWindows, 100, "JPEG window decodes exercised")
    }

    /// Damaged JPEGs (seeded byte changes past the first 100 bytes, 60 per fixture JPEG): the window decode
    /// fails exactly when the full decode fails, never crashes, and where both succeed (libjpeg decodes
    /// through corrupt data with warnings, as Pillow does) its pixels are still the full decode's.
    func testCenterCropWindowOfDamagedJPEGsMatchesTheFullDecode() throws {
        let manifest = try manifest()
        var rng = SplitMix64(seed: 12345)
        var decoded = 0, failed = 0
        for entry in manifest.images where entry.format == "jpeg" {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: DecodeFixtures.path(entry.file))))
            for trial in 0..<60 {
                var bytes = original
                for _ in 0...(rng.next() % 4) {
                    let at = 100 + Int(rng.next() % UInt64(max(1, bytes.count - 100)))
                    if at < bytes.count { bytes[at] = UInt8(truncatingIfNeeded: rng.next()) }
                }
                let full = try? decodeImage(bytes, name: "full")
                let window = try? decodeImage(bytes, name: "window", options: DecodeOptions(centerCropWindow: 24))
                XCTAssertEqual(full == nil, window == nil, "\(entry.file) trial \(trial): one decode failed, the other did not")
                if let full, let window {
                    XCTAssertEqual(window, full.centerCropped(width: min(24, full.width), height: min(24, full.height)),
                                   "\(entry.file) trial \(trial)")
                    decoded += 1
                } else {
                    failed += 1
                }
            }
        }
        XCTAssertGreaterThan(decoded, 100)
        XCTAssertGreaterThan(failed, 10)
    }

    func testUnrecognisedFormatListsSupportedFormats() {
        XCTAssertThrowsError(try decodeImage(Array("hello, world".utf8), name: "notes.txt")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("notes.txt"), text)
            XCTAssertTrue(text.contains("not a recognised image format"), text)
            for format in ["JPEG", "PNG", "BMP", "GIF", "TIFF", "WebP"] { XCTAssertTrue(text.contains(format), text) }
        }
    }

    func testEmptyAndMissingInputs() {
        XCTAssertThrowsError(try decodeImage([UInt8](), name: "nothing.png")) { error in
            XCTAssertEqual(error as? ImageError, .empty(name: "nothing.png"))
        }
        let missing = DecodeFixtures.path("does-not-exist.jpg")
        XCTAssertThrowsError(try decodeImage(path: missing)) { error in
            guard case .unreadable(let name, _) = error as? ImageError else { return XCTFail("\(error)") }
            XCTAssertEqual(name, missing)
        }
        XCTAssertThrowsError(try decodeImage(path: DecodeFixtures.directory.path)) { error in
            guard case .unreadable = error as? ImageError else { return XCTFail("\(error)") }
        }
    }

    /// One pixel over `maxPixels` is refused (with the size and the limit in the message); exactly at the limit decodes.
    func testPixelLimit() throws {
        let manifest = try manifest()
        let perFormat = Dictionary(grouping: manifest.images, by: \.format).compactMapValues(\.first)
        XCTAssertEqual(perFormat.count, ImageFormat.allCases.count)
        for (format, entry) in perFormat.sorted(by: { $0.key < $1.key }) {
            let area = entry.width * entry.height
            let path = DecodeFixtures.path(entry.file)
            XCTAssertNoThrow(try decodeImage(path: path, options: DecodeOptions(maxPixels: area)), entry.file)
            do {
                _ = try decodeImage(path: path, options: DecodeOptions(maxPixels: area - 1))
                XCTFail("\(entry.file): decoded above maxPixels")
            } catch {
                guard case .tooLarge(_, let f, let w, let h, let limit) = error else {
                    XCTFail("\(entry.file): \(error)")
                    continue
                }
                XCTAssertEqual(f.rawValue, format)
                XCTAssertEqual(w * h, area, entry.file)
                XCTAssertEqual(limit, area - 1)
                XCTAssertTrue(error.description.contains("\(area - 1)"), error.description)
                XCTAssertTrue(error.description.contains("\(w)x\(h)"), error.description)
            }
        }
    }

    /// A 100000x100000 header with no data is refused at once under the default limit.
    func testHugeHeaderIsRefusedBeforeAllocation() throws {
        let path = DecodeFixtures.path("bad/huge_header.png")
        XCTAssertThrowsError(try decodeImage(path: path)) { error in
            XCTAssertEqual(error as? ImageError,
                           .tooLarge(name: path, format: .png, width: 100_000, height: 100_000, maxPixels: 178_956_970))
        }
    }

    func testImageFileExtensions() {
        XCTAssertEqual(imageFileExtensions, ["jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp"])
    }

    func testSniffingRejectsNearMisses() {
        XCTAssertNil(sniffImageFormat([0xFF, 0xD8]))
        XCTAssertNil(sniffImageFormat(Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8)))
        XCTAssertNil(sniffImageFormat(Array("GIF88a".utf8)))
        XCTAssertEqual(sniffImageFormat(Array("BM".utf8)), .bmp)
        XCTAssertEqual(sniffImageFormat([0x49, 0x49, 0x2A, 0x00]), .tiff)
    }

    /// Cut every fixture format at many lengths and flip bytes: decoding must throw or succeed, never crash.
    func testDamagedInputsNeverCrash() throws {
        let files = ["jpeg_progressive_320x240.jpg", "jpeg_cmyk_adobe_120x90.jpg", "png_rgba16_interlaced_61x43.png",
                     "png_p4_trns_interlaced_61x43.png", "bmp_rle8_64x48.bmp", "bmp_rle4_63x47.bmp",
                     "bmp_16_565_bitfields_45x31.bmp", "gif_interlaced_101x67.gif", "gif_animated_64x48.gif",
                     "tiff_rgb_tiled_deflate_100x80.tif", "tiff_rgb_jpeg_160x120.tif", "tiff_1_group4_57x41.tif",
                     "tiff_ycbcr_jpeg_57x41.tif", "webp_lossy_alpha_97x61.webp", "webp_lossless_100x80.webp"]
        var generator = SplitMix64(seed: 7)
        for file in files {
            let original = try DecodeFixtures.bytes(file)
            var variants: [[UInt8]] = []
            for cut in stride(from: 1, to: original.count, by: max(1, original.count / 23)) {
                variants.append(Array(original[..<cut]))
            }
            for _ in 0..<12 {
                var damaged = original
                for _ in 0..<4 {
                    let at = 8 + Int(generator.next() % UInt64(max(1, damaged.count - 8)))
                    damaged[at] ^= UInt8(truncatingIfNeeded: generator.next() | 1)
                }
                variants.append(damaged)
            }
            for (index, bytes) in variants.enumerated() {
                do {
                    let image = try decodeImage(bytes, name: "\(file)#\(index)", options: DecodeOptions(maxPixels: 1 << 22))
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                } catch {
                    XCTAssertTrue(error.description.contains("\(file)#\(index)"), error.description)
                }
            }
        }
    }
}

extension DecodeTests {
    /// Decoding from many threads at once gives the same pixels (the C libraries keep no shared state).
    func testConcurrentDecodingMatchesSerial() throws {
        let files = try manifest().images.map(\.file)
        let serial = try files.map { try decodeImage(path: DecodeFixtures.path($0)) }
        let results = ResultBox(count: files.count)
        DispatchQueue.concurrentPerform(iterations: files.count * 2) { i in
            let index = i % files.count
            let image = try? decodeImage(path: DecodeFixtures.path(files[index]))
            results.store(index, image)
        }
        for (index, file) in files.enumerated() {
            XCTAssertEqual(results.value(index), serial[index], file)
        }
    }
}

/// Thread-safe slots for the concurrency test.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var images: [RGBImage?]
    private var mismatch = Set<Int>()

    init(count: Int) { images = Array(repeating: nil, count: count) }

    func store(_ index: Int, _ image: RGBImage?) {
        lock.lock()
        defer { lock.unlock() }
        if let previous = images[index], previous != image { mismatch.insert(index) }
        images[index] = image
    }

    func value(_ index: Int) -> RGBImage? {
        lock.lock()
        defer { lock.unlock() }
        return mismatch.contains(index) ? nil : images[index]
    }
}

