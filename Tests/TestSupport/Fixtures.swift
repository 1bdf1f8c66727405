import Foundation
import XCTest

/// Where the tests' files are, found from this source file's place in the repository (`#filePath`), so tests run
/// from any working directory and never name an absolute path.
public enum Fixtures {
    /// The repository root (the folder holding Package.swift).
    public static let repositoryRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // TestSupport
        .deletingLastPathComponent()   // Tests
        .deletingLastPathComponent().standardized.path

    /// `Tests/Fixtures`.
    public static let root: String = repositoryRoot + "/Tests/Fixtures"

    /// `Tests/Fixtures/<relative>`.
    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// `Tests/Fixtures/<relative>` as a file URL.
    public static func url(_ relative: String) -> URL { URL(fileURLWithPath: path(relative)) }
}

/// A new empty folder under the system's temporary folder, removed when `test` ends.
public func temporaryFolder(_ test: XCTestCase, prefix: String = "deepfake-tests") throws -> String {
    let path = NSTemporaryDirectory() + "\(prefix)-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}
