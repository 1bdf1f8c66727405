import XCTest

final class TensorPlaceholderTests: XCTestCase { func testNothing() {} }
