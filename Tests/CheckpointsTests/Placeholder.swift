import XCTest

final class CheckpointsPlaceholderTests: XCTestCase { func testNothing() {} }
