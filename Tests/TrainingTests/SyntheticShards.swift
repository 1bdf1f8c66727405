// Test support for the end-to-end training tests: generated real/"generated" image pairs written as D3-style
// shards (BMP fields), the small-ViT configuration that trains on them, summary.csv and state.json reading.

import Foundation
import Training
import DeepfakeCore
import WebDataset

/// Synthetic D3 records: each has a real image (`real.bmp`) and one generated image (`gen_0.bmp`). Both are a
/// smooth colour gradient plus per-pixel noise; the generated one also carries a checkerboard of 2×2-pixel
/// blocks (a stand-in for a generator's upsampling artifacts) at a random offset (0...3 pixels in x and y,
/// drawn per image). Everything derives from the image seed (TrainEndToEndTests explains the values).
struct SyntheticImages {
    /// Side in pixels. 35: the evaluation path (Resize(32 / 0.9 = 35) + CenterCrop(32)) then leaves the pixels as
    /// they are.
    var size = 35
    /// The checkerboard's amplitude: grey levels added and subtracted, the same on the three channels.
    var amplitude = 16.0
    /// Per-pixel noise: uniform in ±noise/2 grey levels, independent per channel.
    var noise = 6.0
    /// Added to every image seed, to draw another data set.
    var seedOffset = 0

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

    /// One image as BMP bytes.
    func image(seed: Int, artifact: Bool) -> [UInt8] {
        // SplitMix64: consecutive seeds give unrelated streams. (An LCG seeded with seed·constant made each fake's
        // colours a fixed shift of its real's, a content cue that k-NN and the linear head picked up.)
        var rng = SplitMix64(seed: UInt64(seed + seedOffset))
        func next() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        let base = (0..<3).map { _ in 40 + 150 * next() }, dx = (0..<3).map { _ in 60 * next() - 30 }, dy = (0..<3).map { _ in 60 * next() - 30 }
        let px = Int(4 * next()), py = Int(4 * next())
        var rgb = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size { for x in 0..<size {
            let sign: Double = ((x + px) / 2 + (y + py) / 2) % 2 == 0 ? 1 : -1
            for c in 0..<3 {
                var v = base[c] + dx[c] * Double(x) / Double(size) + dy[c] * Double(y) / Double(size) + noise * (next() - 0.5)
                if artifact { v += sign * amplitude }
                rgb[(y * size + x) * 3 + c] = UInt8(max(0, min(255, v.rounded())))
            }
        }}
        return Self.bmp(width: size, height: size, rgb: rgb)
    }

    /// A shard of records `records` (keys rec00000...; the real image of record r has seed 2r, its fake 2r + 1).
    func writeShard(_ path: String, records: Range<Int>) throws {
        let writer = try TarWriter(path: path)
        for r in records {
            _ = try writer.write(Sample(key: String(format: "rec%05d", r), shard: path, fields: [
                ("real.bmp", image(seed: 2 * r, artifact: false)), ("gen_0.bmp", image(seed: 2 * r + 1, artifact: true)),
            ]))
        }
        try writer.finish()
    }

    /// The shard set under `root`: train-0.tar and train-1.tar (80 records), linear.tar and val.tar (`heldOut`
    /// records each, all records distinct).
    func writeShardSet(_ root: String, heldOut: Int = 200) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try writeShard(root + "/train-0.tar", records: 0..<40)
        try writeShard(root + "/train-1.tar", records: 40..<80)
        try writeShard(root + "/linear.tar", records: 1000..<(1000 + heldOut))
        try writeShard(root + "/val.tar", records: 2000..<(2000 + heldOut))
    }
}

enum SmallTraining {
    /// A 2-layer ViT (width 32, 8-pixel patches on 32×32 inputs): 4 epochs of 100 steps of 8 records at a peak
    /// learning rate of 1e-3 (no warm-up, cosine decay), on `writeShardSet(root)`; 2 threads.
    static func configuration(_ root: String, output: String) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.imageSize = 32; c.patchSize = 8; c.hiddenSize = 32; c.layers = 2; c.heads = 2; c.mlpSize = 64
        c.epochs = 4; c.warmupEpochs = 0; c.learningRate = 1e-3; c.batchSize = 8; c.stepsPerEpoch = 100
        c.shuffleBuffer = 16
        c.trainShards = [root + "/train-{0..1}.tar"]
        c.linearTrainShards = [root + "/linear.tar"]
        c.validationShards = [root + "/val.tar"]
        c.linearRecords = nil; c.validationRecords = nil
        c.output = output; c.threads = 2
        return c
    }

    /// summary.csv's rows as (epoch, linear head's clean accuracy), read by the header's column names.
    static func summaryRows(_ folder: String) throws -> [(epoch: Int, linear: Double)] {
        let text = try String(contentsOfFile: folder + "/summary.csv", encoding: .utf8)
        var lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines.removeFirst()
        guard let e = header.firstIndex(of: "epoch"), let l = header.firstIndex(of: "linear_clean") else {
            throw TrainingError.runFolder("summary.csv header \(header)")
        }
        return try lines.map { row in
            guard row.count == header.count, let epoch = Int(row[e]), let linear = Double(row[l]) else {
                throw TrainingError.runFolder("summary.csv row \(row)")
            }
            return (epoch, linear)
        }
    }

    /// state.json as a dictionary; nil while it does not exist (it is replaced atomically, never half-written).
    static func state(_ folder: String) throws -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: folder + "/state.json") else { return nil }
        return try JSONSerialization.jsonObject(with: data) as? [String: Any]
    }
}
