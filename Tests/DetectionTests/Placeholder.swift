import XCTest

final class DetectionPlaceholderTests: XCTestCase { func testNothing() {} }
