import Detection
import Foundation
import XCTest

/// The pairs file is read as YAML (Yams): forms a line-by-line reader would miss read the same as the block form.
final class PairsYAMLTests: XCTestCase {
    func testFlowItemsAndMultiLineScalarsAreYAML() throws {
        let yaml = """
            - {key: a, real: r1, fake: "f 1"}
            - key: b
              real: >-
                long/real
                folder
              fake: f2
            - key: c   # a comment
              real: 'it''s'
              fake: f3
            """
        XCTAssertEqual(try D3Layout.parsePairsYAML(yaml, baseDirectory: "/b"), [
            EvaluationPair(key: "a", real: "/b/r1", fake: "/b/f 1"),
            EvaluationPair(key: "b", real: "/b/long/real folder", fake: "/b/f2"),
            EvaluationPair(key: "c", real: "/b/it's", fake: "/b/f3"),
        ])
    }
}
