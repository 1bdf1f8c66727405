import Foundation
import TestSupport
import WebDataset
import XCTest

final class ShardSpecTests: XCTestCase {
    /// Every pattern expands as Python's braceexpand 0.1.7 expands it (or fails where it raises).
    func testBraceExpansionMatchesBraceexpand() throws {
        let cases = try XCTUnwrap(try loadJSON("braces.json")["cases"] as? [[String: Any]])
        XCTAssertGreaterThan(cases.count, 40)
        for entry in cases {
            let pattern = entry["pattern"] as! String
            if let expected = entry["expansion"] as? [String] {
                XCTAssertEqual(try ShardSpec.expandBraces(pattern), expected, pattern)
            } else {
                XCTAssertThrowsError(try ShardSpec.expandBraces(pattern), pattern) { error in
                    XCTAssertTrue((error as! WebDatasetError).reason.contains("unbalanced"))
                }
            }
        }
        let d3 = try ShardSpec.expandBraces("elsa_v2-{0000..0491}.tar")
        XCTAssertEqual(d3.count, 492)
        XCTAssertEqual(d3.first, "elsa_v2-0000.tar")
        XCTAssertEqual(d3.last, "elsa_v2-0491.tar")
    }

    func testExpandAndErrors() throws {
        XCTAssertEqual(try ShardSpec.expand("a-{0..1}.tar::b-{x,y}.tar"), ["a-0.tar", "a-1.tar", "b-x.tar", "b-y.tar"])
        XCTAssertThrowsError(try ShardSpec.expand("   "))
        XCTAssertThrowsError(try ShardSpec.expand("a.tar::"))
        XCTAssertThrowsError(try ShardSpec.expand("x-{0..9999999}.tar")) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("more than"))
        }
        XCTAssertThrowsError(try ShardSpec.expand("{0..999}{0..999}{0..9}"))
    }

    func testLocations() throws {
        XCTAssertEqual(try ShardSpec.location(of: "-"), .standardInput)
        XCTAssertEqual(try ShardSpec.location(of: "/data/a.tar"), .file("/data/a.tar"))
        XCTAssertEqual(try ShardSpec.location(of: "rel/a.tar"), .file("rel/a.tar"))
        XCTAssertEqual(try ShardSpec.location(of: "file:///data/my%20shard.tar"), .file("/data/my shard.tar"))
        XCTAssertEqual(try ShardSpec.location(of: "https://host/x/a.tar"), .url(URL(string: "https://host/x/a.tar")!))
        XCTAssertEqual(try ShardSpec.location(of: "HTTP://host/a.tar"), .url(URL(string: "HTTP://host/a.tar")!))
        for bad in ["", "s3://bucket/a.tar", "pipe:curl -s x", "http:///nohost.tar"] {
            XCTAssertThrowsError(try ShardSpec.location(of: bad), bad)
        }
    }

    /// CoDE's list files: names relative to a root, last line with or without a newline, blank lines ignored.
    func testShardListFiles() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let list = folder + "/elsav2-training.shards"
        try "elsa_v2-0002.tar\n\n  elsa_v2-0003.tar  \r\nelsa_v2-0004.tar".write(toFile: list, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ShardSpec.readList(list, root: "/data/d3"),
                       ["/data/d3/elsa_v2-0002.tar", "/data/d3/elsa_v2-0003.tar", "/data/d3/elsa_v2-0004.tar"])
        XCTAssertEqual(try ShardSpec.resolve(list, root: "https://host/d3").last, "https://host/d3/elsa_v2-0004.tar")
        XCTAssertEqual(try ShardSpec.resolve(list).first, folder + "/elsa_v2-0002.tar")
        let withNewline = folder + "/elsav2-training-linear-shards"
        try "a.tar\n/abs/b.tar\nhttp://h/c.tar\n".write(toFile: withNewline, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ShardSpec.resolve(withNewline, root: "/r"), ["/r/a.tar", "/abs/b.tar", "http://h/c.tar"])
        XCTAssertThrowsError(try ShardSpec.readList(folder + "/missing.shards"))
        let empty = folder + "/empty.shards"
        try "\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ShardSpec.resolve(empty))
        XCTAssertEqual(try ShardSpec.resolve("/d/x-{00..02}.tar"), ["/d/x-00.tar", "/d/x-01.tar", "/d/x-02.tar"])
    }
}
