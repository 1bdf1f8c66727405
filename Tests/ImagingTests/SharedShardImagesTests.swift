import Foundation
import Imaging
import XCTest
import TestSupport

/// Upstream's sample shard (Tests/Fixtures/upstream/elsa_v2-0000.tar): its five JPEGs, preprocessed both
/// ways, against per-channel means computed with Pillow 13 + numpy + torchvision on the same members
/// (4 decimals, hence the 1e-3 allowance).
final class SharedShardImagesTests: XCTestCase {
    struct Member { let name: String; let headerOffset: Int; let size: Int; let width: Int; let height: Int
        let inference: [Double]; let trainingEval: [Double] }

    // Offsets and sizes as in Tests/Fixtures/upstream/README.md.
    let members = [
        Member(name: "gen_0.jpg", headerOffset: 3072, size: 23_262, width: 256, height: 256,
               inference: [0.7131, 0.2967, -0.1234], trainingEval: [0.6641, 0.2495, -0.1677]),
        Member(name: "gen_1.jpg", headerOffset: 28160, size: 79_834, width: 512, height: 512,
               inference: [0.4613, 0.5076, 0.6594], trainingEval: [0.1026, 0.1184, 0.2863]),
        Member(name: "gen_2.jpg", headerOffset: 109_568, size: 106_383, width: 640, height: 360,
               inference: [0.7786, 0.8018, 0.7627], trainingEval: [0.7336, 0.6975, 0.6400]),
        Member(name: "gen_3.jpg", headerOffset: 217_600, size: 79_072, width: 640, height: 360,
               inference: [0.4145, 0.1358, -0.1411], trainingEval: [0.4213, 0.2047, -0.0158]),
        Member(name: "real.jpg", headerOffset: 298_496, size: 22_171, width: 225, height: 225,
               inference: [-0.0228, 0.0493, 0.1845], trainingEval: [0.0521, 0.1268, 0.2577]),
    ]

    func testShardImagesMatchPillowsChannelMeans() throws {
        let shard = Fixtures.url("upstream/elsa_v2-0000.tar")
        let tar = try Data(contentsOf: shard)
        for m in members {
            let name = String(decoding: tar[m.headerOffset..<(m.headerOffset + 100)].prefix { $0 != 0 }, as: UTF8.self)
            XCTAssertTrue(name.hasSuffix("." + m.name), "member at \(m.headerOffset) is \(name)")
            let bytes = [UInt8](tar[(m.headerOffset + 512)..<(m.headerOffset + 512 + m.size)])
            let image = try decodeImage(bytes, name: m.name)
            XCTAssertEqual(image.width, m.width); XCTAssertEqual(image.height, m.height)
            for (prep, expected) in [(Preprocessing.inference, m.inference), (.trainingEval, m.trainingEval)] {
                let t = prep.apply(image)
                let plane = t.count / 3
                for c in 0..<3 {
                    let mean = t[(c * plane)..<((c + 1) * plane)].reduce(0.0) { $0 + Double($1) } / Double(plane)
                    XCTAssertEqual(mean, expected[c], accuracy: 1e-3, "\(m.name) \(prep) channel \(c)")
                }
            }
        }
    }
}
