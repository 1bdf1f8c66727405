import DeepfakeCore
import Foundation
import XCTest

/// The JSON and CSV writers, read back by Foundation's JSONSerialization (an independent parser).
final class JSONAndCSVTests: XCTestCase {
    func testDocumentReadsBackAndKeepsItsLayout() throws {
        let doc = JSONValue.object([
            ("name", .string("a \"quoted\"\npath\u{1B}[2J\u{2028}")), ("count", .int(3)), ("eps", .float(1e-6)),
            ("score", .number(0.1)), ("none", .number(.infinity)), ("flags", .inlineArray([.bool(true), .null])),
            ("curve", .numbers([0, 0.5, .nan])), ("rows", .array([.object([]), .array([])])),
        ])
        let text = doc.render()
        XCTAssertEqual(text, """
            {
              "name": "a \\"quoted\\"\\npath\\u001b[2J\\u2028",
              "count": 3,
              "eps": 1e-06,
              "score": 0.1,
              "none": null,
              "flags": [true, null],
              "curve": [0.0, 0.5, null],
              "rows": [
                {},
                []
              ]
            }
            """)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["name"] as? String, "a \"quoted\"\npath\u{1B}[2J\u{2028}")
        XCTAssertEqual((parsed["eps"] as? NSNumber)?.floatValue, 1e-6)
        XCTAssertTrue(parsed["none"] is NSNull)
    }

    func testCSVQuotesOnlyWhatNeedsIt() {
        XCTAssertEqual(CSV.row(["plain", "a,b", "say \"hi\"", "two\nlines", ""]), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",")
        XCTAssertEqual([Double.nan, .infinity, -.infinity, 0.25].map(CSV.number), ["nan", "inf", "-inf", "0.25"])
    }

    func testProgressLine() {
        XCTAssertEqual(ProgressBar.render(label: "detect", done: 5, total: 10, width: 10, rate: 2.5, unit: "img", secondsLeft: 65),
                       "detect █████····· 5/10  2.5 img/s  ETA 1m05s")
        XCTAssertEqual(ProgressBar.render(label: "evaluate", done: 7, total: 0, rate: 3, unit: "img", secondsLeft: nil),
                       "evaluate 7 img  3.0 img/s")
        XCTAssertEqual([42, 185, 3720, .infinity].map(ProgressBar.duration), ["42s", "3m05s", "1h02m", "0s"])
    }
}
