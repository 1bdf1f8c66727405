import XCTest

final class WebDatasetPlaceholderTests: XCTestCase { func testNothing() {} }
