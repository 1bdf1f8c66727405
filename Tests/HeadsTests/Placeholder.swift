import XCTest

final class HeadsPlaceholderTests: XCTestCase { func testNothing() {} }
