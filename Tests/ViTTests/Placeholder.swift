import XCTest

final class ViTPlaceholderTests: XCTestCase { func testNothing() {} }
