// Pillow `Image.resize(..., BICUBIC)` and torchvision `Resize(int)` against the fixtures.

import Imaging
import XCTest

final class PreprocessResizeTests: XCTestCase {
    func testFixtureVersionsAreRecorded() throws {
        let fx = try PreprocessFixtures.shared.get()
        XCTAssertNotNil(fx.manifest.versions["Pillow"])
        XCTAssertNotNil(fx.manifest.versions["torchvision"])
        XCTAssertGreaterThanOrEqual(fx.images.count, 30)
    }

    /// Every `Image.resize((w, h), BICUBIC)` target of every image: down, up, one axis only,
    /// strong downscale, identity.
    func testResizeBicubicMatchesPillow() throws {
        let fx = try PreprocessFixtures.shared.get()
        var checked = 0
        for (entry, image) in fx.images {
            for target in entry.resize {
                let out = image.resizedBicubic(width: target.width, height: target.height)
                assertMatches(out, target, "\(entry.name) resize to \(target.width)x\(target.height)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 200)
    }

    /// torchvision `Resize(248)` / `Resize(224)` (shorter side, BICUBIC), including the thin
    /// images whose longer side becomes very long and the cases where it is a no-op.
    func testShorterSideResizeMatchesTorchvision() throws {
        let fx = try PreprocessFixtures.shared.get()
        for (entry, image) in fx.images {
            for target in entry.shorterSide {
                let size = try XCTUnwrap(target.size)
                let out = image.resizedShorterSide(to: size)
                assertMatches(out, target, "\(entry.name) Resize(\(size))")
            }
        }
    }

    /// The size rule itself, checked against the sizes torchvision produced.
    func testShorterSideTargetMatchesTorchvisionSizes() throws {
        let fx = try PreprocessFixtures.shared.get()
        for (entry, _) in fx.images {
            for target in entry.shorterSide {
                let size = try XCTUnwrap(target.size)
                let got = RGBImage.shorterSideTarget(width: entry.width, height: entry.height, size: size)
                XCTAssertEqual(got.width, target.width, "\(entry.name) Resize(\(size)) width")
                XCTAssertEqual(got.height, target.height, "\(entry.name) Resize(\(size)) height")
            }
        }
        // docs/upstream.md's example (Training preprocessing), and truncation (not rounding) of the long side.
        XCTAssertTrue(RGBImage.shorterSideTarget(width: 640, height: 360, size: 248) == (440, 248))
        XCTAssertTrue(RGBImage.shorterSideTarget(width: 100, height: 60, size: 248) == (413, 248))  // 413.33
        XCTAssertTrue(RGBImage.shorterSideTarget(width: 3, height: 2, size: 248) == (372, 248))
        XCTAssertTrue(RGBImage.shorterSideTarget(width: 333, height: 201, size: 248) == (410, 248))  // 410.87
    }

    /// `Resize(n)` on an image whose shorter side is already `n` returns it unchanged.
    func testShorterSideNoOp() throws {
        let fx = try PreprocessFixtures.shared.get()
        for name in ["photo_248x248", "photo_248x300", "photo_224x224", "photo_224x180"] {
            let (entry, image) = try fx.image(name)
            let short = min(entry.width, entry.height)
            if let digest = entry.shorterSide.first(where: { $0.size == short }) {
                XCTAssertEqual(digest.sha256, entry.sha256, "\(name): reference Resize(\(short)) is not the input")
                XCTAssertEqual(image.resizedShorterSide(to: short), image)
            }
        }
    }

    /// Resizing to the current size is an exact copy (Pillow's early return).
    func testIdentityResizeIsCopy() throws {
        let fx = try PreprocessFixtures.shared.get()
        let (_, image) = try fx.image("photo_333x201")
        XCTAssertEqual(image.resizedBicubic(width: 333, height: 201), image)
    }
}

final class PreprocessResizePassOrderTests: XCTestCase {
    /// Guards the fixture set itself: Pillow 13 filters vertically first when the height
    /// shrinks by more than twice as many pixels as the width, so the fixtures must contain
    /// plenty of resizes on both sides of that rule, including its exact boundary.
    func testFixturesCoverBothPassOrders() throws {
        let fx = try PreprocessFixtures.shared.get()
        var verticalFirst = 0, horizontalFirst = 0, boundary = 0
        for (entry, _) in fx.images {
            for target in entry.resize + entry.shorterSide
            where target.width != entry.width && target.height != entry.height {
                let dy = entry.height - target.height, dx = entry.width - target.width
                if dy > 0 && dy > 2 * dx { verticalFirst += 1 } else { horizontalFirst += 1 }
                if dy > 0 && dy == 2 * dx { boundary += 1 }
            }
        }
        XCTAssertGreaterThan(verticalFirst, 50)
        XCTAssertGreaterThan(horizontalFirst, 50)
        XCTAssertGreaterThan(boundary, 10)
        // The train/eval pipeline reaches the vertical-first order for tall images.
        let (tall, _) = try fx.image("photo_260x600")
        let target = RGBImage.shorterSideTarget(width: tall.width, height: tall.height, size: 248)
        XCTAssertGreaterThan(tall.height - target.height, 2 * (tall.width - target.width))
    }
}
