// Inputs that scripts/fuzz (the `image` target) found crashing the decoders, each rebuilt here.

import Imaging
import XCTest

final class FuzzRegressionTests: XCTestCase {
    /// A BMP header of 4244701214 x 3023519904 pixels (the product overflows 64 bits) is refused as too large,
    /// and its message says so instead of trapping on the multiplication.
    func testTooLargeMessageWithOverflowingArea() {
        var bmp = [UInt8](repeating: 0, count: 54)
        func put32(_ value: UInt32, at offset: Int) {
            for i in 0..<4 { bmp[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
        }
        bmp[0] = UInt8(ascii: "B"); bmp[1] = UInt8(ascii: "M")
        put32(54, at: 2)            // file size
        put32(54, at: 10)           // pixel data offset
        put32(40, at: 14)           // BITMAPINFOHEADER
        put32(0xFD01_001E, at: 18)  // width
        put32(0xB437_40A0, at: 22)  // height 3,023,519,904 (bottom-up: the top byte is not 0xFF)
        bmp[26] = 1                 // planes
        bmp[28] = 24                // bits per pixel
        XCTAssertThrowsError(try decodeImage(bmp, name: "overflow.bmp")) { error in
            guard case .tooLarge(_, .bmp, 4_244_701_214, 3_023_519_904, _) = error as? ImageError else {
                return XCTFail("\(error)")
            }
            XCTAssertTrue("\(error)".contains("4244701214x3023519904 = more than 9223372036854775807 pixels exceeds"), "\(error)")
        }
    }
}
