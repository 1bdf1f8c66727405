import Detection
import Foundation
import Tensor
import ViT

// Throughput of the Swift implementation, printed as one JSON object per case.
// scripts/bench runs this beside the Python reference (tools/reference/bench_python.py) and prints ratios.
//
// usage: deepfake-bench [--threads N] [--seconds S] [--model DIR] [--images DIR]

struct Arguments {
    var threads = 2
    var seconds = 8.0
    var model: String?
    var images: String?

    init() {
        var args = CommandLine.arguments.dropFirst()
        while let flag = args.popFirst() {
            switch flag {
            case "--threads": threads = Int(args.popFirst() ?? "") ?? threads
            case "--seconds": seconds = Double(args.popFirst() ?? "") ?? seconds
            case "--model": model = args.popFirst()
            case "--images": images = args.popFirst()
            default:
                FileHandle.standardError.write("usage: deepfake-bench [--threads N] [--seconds S] [--model DIR] [--images DIR]\n".data(using: .utf8)!)
                exit(64)
            }
        }
    }
}

/// Deterministic random weights for ViT-Tiny/16 (the values do not change the speed).
func randomTiny() -> VisionTransformer {
    let c = ViTConfig(hiddenSize: 192, layers: 12, heads: 3, intermediateSize: 768, patchSize: 16, imageSize: 224,
                      layerNormEps: 1e-12)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func values(_ n: Int, scale: Float = 0.05) -> [Float] {
        (0..<n).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 2 * scale
        }
    }
    let d = 192, i = 768
    let blocks = (0..<c.layers).map { _ in
        ViTBlockWeights(norm1Weight: values(d, scale: 1), norm1Bias: values(d), qkvWeight: values(3 * d * d), qkvBias: values(3 * d),
                        projWeight: values(d * d), projBias: values(d), norm2Weight: values(d, scale: 1), norm2Bias: values(d),
                        fc1Weight: values(i * d), fc1Bias: values(i), fc2Weight: values(d * i), fc2Bias: values(d))
    }
    let w = ViTWeights(patchWeight: values(d * 768), patchBias: values(d), classToken: values(d),
                       positionEmbedding: values(c.tokens * d), blocks: blocks, normWeight: values(d, scale: 1), normBias: values(d))
    return VisionTransformer(config: c, weights: w)
}

/// Runs `body` repeatedly for about `seconds` after one warm-up call; returns the median seconds per call.
func measure(seconds: Double, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    let start = Date()
    repeat {
        let t0 = Date()
        body()
        times.append(Date().timeIntervalSince(t0))
    } while Date().timeIntervalSince(start) < seconds || times.count < 3
    return times.sorted()[times.count / 2]
}

func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

let args = Arguments()
let options = ComputeOptions(threads: args.threads)
let model: VisionTransformer
do {
    model = try args.model.map { try VisionTransformer(folder: $0) } ?? randomTiny()
} catch {
    FileHandle.standardError.write("deepfake-bench: \(error)\n".data(using: .utf8)!)
    exit(2)
}

for batch in [1, 32] {
    let input = (0..<(batch * model.inputCount)).map { Float(($0 * 7919) % 2001) / 1000 - 1 }
    let t = input.withUnsafeBufferPointer { px in
        measure(seconds: args.seconds) { _ = model.embed(pixels: px, batch: batch, options: options) }
    }
    print("{\"case\": \"vit_forward_b\(batch)\", \"impl\": \"swift\", \"threads\": \(args.threads), \"batch\": \(batch), \"images_per_s\": \(Double(batch) / t), \"ms_per_batch\": \(t * 1000)}")
}

if let folder = args.images {
    let items = expandInputs([folder]).filter { $0.error == nil }
    let embedder = Embedder(model: model, options: EmbedderOptions(batchSize: 32, compute: options))
    let t = measure(seconds: args.seconds) { embedder.run(items) { _ in } }
    print("{\"case\": \"embed_folder\", \"impl\": \"swift\", \"threads\": \(args.threads), \"images\": \(items.count), \"images_per_s\": \(Double(items.count) / t)}")
}
print("{\"case\": \"peak_rss\", \"impl\": \"swift\", \"mib\": \(peakResidentMiB())}")
