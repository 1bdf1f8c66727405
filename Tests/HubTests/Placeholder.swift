import XCTest

final class HubPlaceholderTests: XCTestCase { func testNothing() {} }
