import Foundation
import Training
import WebDataset
import XCTest

/// Trains a small ViT on shards the test generates: real images are smooth random gradients, fakes carry a
/// faint 2-pixel checkerboard (a stand-in for a generator's artifacts). 35 pixels: the evaluation path
/// (Resize(32 / 0.9 = 35) + CenterCrop(32)) then keeps the pattern intact.
final class TrainEndToEndTests: XCTestCase {
    /// A 24-bit BMP (bottom-up rows, 4-byte aligned) of an RGB buffer.
    static func bmp(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
        let row = (width * 3 + 3) & ~3, size = 54 + row * height
        var b = [UInt8](repeating: 0, count: size)
        func put32(_ v: Int, _ at: Int) { for k in 0..<4 { b[at + k] = UInt8((v >> (8 * k)) & 0xFF) } }
        b[0] = 0x42; b[1] = 0x4D; put32(size, 2); put32(54, 10); put32(40, 14); put32(width, 18); put32(height, 22)
        b[26] = 1; b[28] = 24; put32(row * height, 34)
        for y in 0..<height { for x in 0..<width {
            let src = (y * width + x) * 3, dst = 54 + (height - 1 - y) * row + x * 3
            b[dst] = rgb[src + 2]; b[dst + 1] = rgb[src + 1]; b[dst + 2] = rgb[src]
        }}
        return b
    }

    static func image(seed: Int, artifact: Bool, size: Int = 35) -> [UInt8] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        func next() -> Double { state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return Double(state >> 11) / Double(1 << 53) }
        let base = (0..<3).map { _ in 40 + 150 * next() }, dx = (0..<3).map { _ in 60 * next() - 30 }, dy = (0..<3).map { _ in 60 * next() - 30 }
        var rgb = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size { for x in 0..<size { for c in 0..<3 {
            var v = base[c] + dx[c] * Double(x) / Double(size) + dy[c] * Double(y) / Double(size) + 6 * (next() - 0.5)
            if artifact { v += ((x / 2 + y / 2) % 2 == 0 ? 14 : -14) }
            rgb[(y * size + x) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
        }}}
        return bmp(width: size, height: size, rgb: rgb)
    }

    static func writeShard(_ path: String, records: Range<Int>) throws {
        let writer = try TarWriter(path: path)
        for r in records {
            _ = try writer.write(Sample(key: String(format: "rec%05d", r), shard: path, fields: [
                ("real.bmp", image(seed: 2 * r, artifact: false)), ("gen_0.bmp", image(seed: 2 * r + 1, artifact: true)),
            ]))
        }
        try writer.finish()
    }

    func configuration(_ root: String, output: String) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.imageSize = 32; c.patchSize = 8; c.hiddenSize = 32; c.layers = 2; c.heads = 2; c.mlpSize = 64
        c.epochs = 3; c.warmupEpochs = 1; c.learningRate = 3e-4; c.batchSize = 8; c.stepsPerEpoch = 8
        c.shuffleBuffer = 16
        c.trainShards = [root + "/train-{0..1}.tar"]
        c.linearTrainShards = [root + "/linear.tar"]
        c.validationShards = [root + "/val.tar"]
        c.linearRecords = nil; c.validationRecords = nil
        c.output = output; c.threads = 2
        return c
    }

    func testTrainingLearnsAndResumesBitForBit() throws {
        let fm = FileManager.default
        let root = NSTemporaryDirectory() + "/train-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: root) }
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Self.writeShard(root + "/train-0.tar", records: 0..<40)
        try Self.writeShard(root + "/train-1.tar", records: 40..<80)
        try Self.writeShard(root + "/linear.tar", records: 100..<140)
        try Self.writeShard(root + "/val.tar", records: 200..<240)

        // Uninterrupted run.
        let straight = try Trainer(configuration: configuration(root, output: root + "/a")).run()
        XCTAssertEqual(straight.count, 3)
        let accuracy = straight.last!.cleanAccuracy[.linear]!
        print("training: linear validation accuracy per epoch \(straight.map { $0.cleanAccuracy[.linear]! }), loss \(straight.map(\.trainLoss))")
        XCTAssertGreaterThan(accuracy, 0.8, "balanced classes: chance is 0.5")
        for file in ["summary.csv", "config.yaml", "train.log", "state.json", "release/config.json", "release/model.safetensors",
                     "release/heads/linear.safetensors", "checkpoints/epoch-0002/optimizer.safetensors"] {
            XCTAssertTrue(fm.fileExists(atPath: root + "/a/" + file), file)
        }

        // Interrupted after epoch 1, then resumed.
        let first = try Trainer(configuration: configuration(root, output: root + "/b")).run(stopAfterEpoch: 1)
        XCTAssertEqual(first.count, 2)
        let rest = try Trainer(configuration: configuration(root, output: root + "/b")).run(resume: true)
        XCTAssertEqual(rest.map(\.epoch), [2])
        for file in ["checkpoints/epoch-0002/model.safetensors", "checkpoints/epoch-0002/optimizer.safetensors"] {
            XCTAssertEqual(fm.contents(atPath: root + "/a/" + file), fm.contents(atPath: root + "/b/" + file),
                           "\(file) differs between the uninterrupted and the resumed run")
        }
        XCTAssertEqual(rest.last!.trainLoss, straight.last!.trainLoss)
    }
}
