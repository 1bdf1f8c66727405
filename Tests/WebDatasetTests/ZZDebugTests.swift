import Foundation
import WebDataset
import XCTest
final class ZZDebugTests: XCTestCase {
    func testDump() throws {
        let record = try loadJSON("compat/compat.json")
        let samples = try XCTUnwrap(record["samples"] as? [[String: Any]]).map { sample in
            Sample(key: sample["key"] as! String, shard: "", fields: (sample["fields"] as! [[String: String]]).map { (name: $0["name"]!, bytes: [UInt8](Data(base64Encoded: $0["base64"]!)!)) })
        }
        for (format, name) in [(TarFormat.gnu, "gnu"), (.ustar, "ustar")] {
            let bytes = try makeArchive(samples, options: TarWriterOptions(format: format, mtime: 1700000000))
            FileManager.default.createFile(atPath: "/tmp/wdsdbg/\(name).tar", contents: Data(bytes))
        }
    }
}
