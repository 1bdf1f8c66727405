import ArgumentParser
import Collective
import DeepfakeCore
import Detection
import Foundation
import Imaging
import Tensor
import ViT
#if canImport(WebDataset)
import WebDataset
#endif
#if canImport(Training)
import Training
#endif

// Throughput of the Swift implementation, printed as one JSON object per case.
// scripts/bench runs each case in its own process (so that its peak resident memory is its own) beside the
// Python reference (tools/reference/bench_python.py) and prints ratios (tools/bench_table.py).
//
// usage: deepfake-bench [--case NAME] [--threads N] [--seconds S] [--model DIR] [--images DIR] [--shards DIR]
//                       [--batch N] [--list-cases]
//
// Without --case: vit_forward_b1, vit_forward_b32, embed_folder (with --images) and a peak_rss line, in one
// process (the old behaviour). Every case line carries `peak_rss_mib`, the process's VmHWM when the case ended.

enum BenchCase: String, CaseIterable {
    /// ViT-Tiny forward at batch 1 / 32 (random weights unless --model).
    case vit_forward_b1, vit_forward_b32
    /// `Embedder` over --images (decode + crop + forward, batch 32).
    case embed_folder
    /// Every sample of the shards in --shards, read and grouped, nothing decoded.
    case shards_read
    /// Every image of every sample of --shards decoded, center-cropped to 224 and normalised, on --threads cores.
    case shards_decode
    /// `Detector` (backbone + linear head from --model) over the images in --images, batch 32.
    case detect_folder
    /// One forward + backward + AdamW step at --batch (default 32) for ViT-Tiny.
    case train_step
    /// Allreduce (average) of ViT-Tiny's 5,524,416 gradients between the ranks of `mpirun -np N deepfake-bench
    /// --case allreduce` (scripts/bench-collective), and how much of it startAllreduce hides behind a compute loop.
    case allreduce
}

extension BenchCase: ExpressibleByArgument {}

/// The command line, read by swift-argument-parser: a value that is not a number, an unknown case or option, or
/// an unknown DEEPFAKE_ISA is a usage error (status 64).
struct Arguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deepfake-bench",
                                                    abstract: "Throughput of the Swift implementation, one JSON line per case.")
    @Option(help: "Threads for the kernels and the decoding.") var threads = 2
    @Option(help: "Seconds each case is measured for (after one warm-up call).") var seconds = 8.0
    @Option(help: "A model folder (default: random ViT-Tiny weights).") var model: String?
    @Option(help: "A folder of images (embed_folder, detect_folder).") var images: String?
    @Option(help: "A folder of shards (shards_read, shards_decode).") var shards: String?
    @Option(help: "Batch size of train_step and vit_forward.") var batch = 32
    @Option(name: .customLong("case"), help: "A case to run (repeatable): \(BenchCase.allCases.map(\.rawValue).joined(separator: ", ")).")
    var cases: [BenchCase] = []
    @Flag(help: "List the cases and exit.") var listCases = false

    func validate() throws {
        if let problem = KernelISA.environmentProblem { throw ValidationError(problem) }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, found \(threads)") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, found \(batch)") }
        guard seconds.isFinite, seconds > 0 else { throw ValidationError("--seconds must be a positive number, found \(seconds)") }
    }
}

func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data("deepfake-bench: \(message)\n".utf8))
    exit(2)
}

/// One JSON object on one line, keys in the order given.
func emit(_ fields: KeyValuePairs<String, Any>) {
    func encode(_ v: Any) -> String {
        switch v {
        case let s as String: return JSONText.string(s)
        case let d as Double: return JSONText.number(d)
        case let i as Int: return "\(i)"
        case let b as Bool: return b ? "true" : "false"
        default: return encode("\(v)")
        }
    }
    print("{" + fields.map { "\(encode($0.key)): \(encode($0.value))" }.joined(separator: ", ") + "}")
    fflush(nil)
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

/// Runs `body` repeatedly for about `seconds` after one warm-up call; returns the median seconds per call
/// and the number of timed calls.
func measure(seconds: Double, _ body: () throws -> Void) rethrows -> (median: Double, runs: Int) {
    try body()
    var times: [Double] = []
    let start = Date()
    repeat {
        let t0 = Date()
        try body()
        times.append(Date().timeIntervalSince(t0))
    } while Date().timeIntervalSince(start) < seconds || times.count < 3
    return (times.sorted()[times.count / 2], times.count)
}

func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

/// The `*.tar` files in `folder`, sorted; a file path is taken as the one shard.
func shardPaths(_ folder: String) -> [String] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else { die("\(folder): no such shard folder") }
    guard isDirectory.boolValue else { return [folder] }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    let paths = names.filter { $0.hasSuffix(".tar") }.sorted().map { folder + "/" + $0 }
    if paths.isEmpty { die("\(folder): no .tar shards") }
    return paths
}

func fileBytes(_ paths: [String]) -> Int {
    paths.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
}

let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]

/// True for a sample field holding an image (`gen_0.png`, `real.jpg`): its last extension is an image one.
func isImageField(_ name: String) -> Bool {
    guard let dot = name.lastIndex(of: ".") else { return false }
    return imageExtensions.contains(String(name[name.index(after: dot)...]))
}

// MARK: - Cases

let args = Arguments.parseOrExit()
if args.listCases {
    print(BenchCase.allCases.map(\.rawValue).joined(separator: "\n"))
    exit(0)
}
let options = ComputeOptions(threads: args.threads)

func backbone() -> VisionTransformer {
    do {
        return try args.model.map { try VisionTransformer(folder: $0) } ?? randomTiny()
    } catch {
        die("\(error)")
    }
}

func runForward(model: VisionTransformer, batch: Int) {
    let input = (0..<(batch * model.inputCount)).map { Float(($0 * 7919) % 2001) / 1000 - 1 }
    let t = input.withUnsafeBufferPointer { px in
        measure(seconds: args.seconds) { _ = model.embed(pixels: px, batch: batch, options: options) }
    }
    emit(["case": "vit_forward_b\(batch)", "impl": "swift", "threads": args.threads, "batch": batch,
          "images_per_s": Double(batch) / t.median, "ms_per_batch": t.median * 1000, "runs": t.runs,
          "peak_rss_mib": peakResidentMiB()])
}

func runEmbedFolder(model: VisionTransformer) {
    guard let folder = args.images else { die("embed_folder needs --images DIR") }
    let items = expandInputs([folder]).filter { $0.error == nil }
    let embedder = Embedder(model: model, options: EmbedderOptions(batchSize: 32, compute: options))
    let t = measure(seconds: args.seconds) { embedder.run(items) { _ in } }
    emit(["case": "embed_folder", "impl": "swift", "threads": args.threads, "images": items.count,
          "images_per_s": Double(items.count) / t.median, "runs": t.runs, "peak_rss_mib": peakResidentMiB()])
}

func runDetectFolder() {
    guard let folder = args.images else { die("detect_folder needs --images DIR") }
    guard let modelFolder = args.model else { die("detect_folder needs --model DIR (a model folder with sklearn/ heads)") }
    let loaded: LoadedModel
    do { loaded = try loadModel(folder: modelFolder, heads: [.linear]) } catch { die("\(error)") }
    let detector = Detector(embedder: Embedder(model: loaded.backbone, options: EmbedderOptions(batchSize: 32, compute: options)),
                            heads: loaded.heads)
    let items = expandInputs([folder]).filter { $0.error == nil }
    var fake = 0, failed = 0, passes = 0
    var firstPassRSS = 0.0  // peak after one pass over the folder: memory must not grow with later passes
    let t = measure(seconds: args.seconds) {
        fake = 0; failed = 0
        detector.run(items) { r in
            switch r.outputs {
            case .success(let outputs): if outputs[0].isFake { fake += 1 }
            case .failure: failed += 1
            }
        }
        passes += 1
        if passes == 1 { firstPassRSS = peakResidentMiB() }
    }
    emit(["case": "detect_folder", "impl": "swift", "threads": args.threads, "batch": 32, "images": items.count,
          "failed": failed, "fake": fake, "head": "linear", "model": modelFolder,
          "images_per_s": Double(items.count) / t.median, "s_per_pass": t.median, "runs": t.runs,
          "images_processed": passes * items.count, "peak_rss_after_first_pass_mib": firstPassRSS,
          "peak_rss_mib": peakResidentMiB()])
}

#if canImport(WebDataset)
func runShardsRead() {
    guard let folder = args.shards else { die("shards_read needs --shards DIR") }
    let shards = shardPaths(folder)
    let bytes = fileBytes(shards)
    var samples = 0, fieldBytes = 0
    do {
        let t = try measure(seconds: args.seconds) {
            var n = 0, b = 0
            try ShardList(shards).samples(from: TarShardSource(), report: PipelineReport()).forEach { sample in
                n += 1
                for field in sample.fields { b += field.bytes.count }
            }
            samples = n; fieldBytes = b
        }
        emit(["case": "shards_read", "impl": "swift", "threads": 1, "shards": shards.count, "samples": samples,
              "shard_bytes": bytes, "field_bytes": fieldBytes,
              "samples_per_s": Double(samples) / t.median, "mb_per_s": Double(bytes) / 1e6 / t.median,
              "s_per_pass": t.median, "runs": t.runs, "peak_rss_mib": peakResidentMiB()])
    } catch {
        die("shards_read: \(error)")
    }
}

func runShardsDecode() {
    guard let folder = args.shards else { die("shards_decode needs --shards DIR") }
    let shards = shardPaths(folder)
    let prep = Preprocessing.inference
    // Decode only what CenterCrop(224) keeps (JPEG: only those rows and columns; the tensors are identical).
    let decode = DecodeOptions(centerCropWindow: prep.cropSize)
    var samples = 0, images = 0
    do {
        let t = try measure(seconds: args.seconds) {
            var n = 0, m = 0
            let stage = ShardList(shards).samples(from: TarShardSource(), report: PipelineReport())
                .map(threads: args.threads) { sample -> [[Float]] in
                    try sample.fields.filter { isImageField($0.name) }.map { field in
                        let image = try decodeImage(field.bytes, name: sample.key + "." + field.name, options: decode)
                        return prep.apply(image)
                    }
                }
            try stage.forEach { tensors in
                n += 1
                m += tensors.count
            }
            samples = n; images = m
        }
        emit(["case": "shards_decode", "impl": "swift", "threads": args.threads, "shards": shards.count,
              "samples": samples, "images": images,
              "samples_per_s": Double(samples) / t.median, "images_per_s": Double(images) / t.median,
              "s_per_pass": t.median, "runs": t.runs, "peak_rss_mib": peakResidentMiB()])
    } catch {
        die("shards_decode: \(error)")
    }
}
#endif

#if canImport(Training)
func runTrainStep() {
    let model = backbone()
    let c = model.config, batch = args.batch, d = c.hiddenSize
    let input = (0..<(batch * model.inputCount)).map { Float(($0 * 7919) % 2001) / 1000 - 1 }
    // dL/d(cls) for L = (cls * g).sum(): g itself.
    let upstream = (0..<(batch * d)).map { Float(($0 * 104_729) % 2001) / 1000 - 1 }
    var weights = model.weights
    var optimizer = AdamW(parameters: ParameterSet.vit(c))
    // Buffers kept across steps, as the trainer's ContrastiveStep keeps them (fresh ones cost page zeroing).
    let workspace = ViTWorkspace()
    func gradients(_ weights: ViTWeights) -> ViTWeights {
        let m = VisionTransformer(config: c, weights: weights)
        let pass = input.withUnsafeBufferPointer { m.trainingForward(pixels: $0, batch: batch, options: options, workspace: workspace) }
        var grads = ViTWeights.zeros(config: c)
        upstream.withUnsafeBufferPointer {
            m.backward(pass.activations, embeddingGradient: $0, into: &grads, options: options, workspace: workspace)
        }
        return grads
    }
    let t = measure(seconds: args.seconds) {
        let grads = gradients(weights)
        optimizer.step(&weights, gradients: grads, learningRate: 1e-4)
    }
    emit(["case": "train_step", "impl": "swift", "threads": args.threads, "batch": batch,
          "images_per_s": Double(batch) / t.median, "ms_per_step": t.median * 1000, "runs": t.runs,
          "peak_rss_mib": peakResidentMiB()])
}
#endif

/// Seconds of `body`, every rank starting it together (after a barrier).
func timed(_ c: any Collective, _ body: () throws -> Void) throws -> Double {
    try c.barrier()
    let t0 = Date()
    try body()
    return Date().timeIntervalSince(t0)
}

/// The allreduce of ViT-Tiny's gradients alone, a single-threaded compute loop alone (sized to take about as
/// long), and the two together: startAllreduce, the loop, wait() — once letting MPI progress with test() after
/// every pass of the loop, once not — and, for comparison, the blocking allreduce on a thread of its own
/// beside the loop (as Horovod and gloo do; legal with MPI_THREAD_MULTIPLE while no other collective runs).
/// The five are timed in turn, round after round, so that the load of a
/// shared machine weighs on each alike; the figures are means over the rounds. Overlap: the share of the
/// shorter of the two that running them together saves, (allreduce + compute - together) / min(allreduce,
/// compute): 1 is perfect, 0 none, negative worse than one after the other.
func runAllreduce() {
    do {
        let c = try Collectives.start()
        let count = 5_524_416  // ViT-Tiny/16's trainable parameters (Training's ParameterSet.vit(_:).elementCount)
        var gradients = [Float](repeating: 1, count: count)
        var work = [Float](repeating: 1, count: 1 << 15)  // 128 KiB: the loop stays in the core's cache
        func computePass() { for i in work.indices { work[i] = work[i] * 0.999 + 0.001 } }
        // Rank 0 sizes the runs from a first measurement; every rank makes the same calls.
        let once = try (0..<3).map { _ in try timed(c) { try c.allreduce(&gradients, .average) } }.min()!
        let pass = try timed(c) { for _ in 0..<300 { computePass() } } / 300
        var plan = [max(5, min(1000, args.seconds / 4 / once)).rounded(), max(1, once / pass).rounded()]
        try c.broadcast(&plan, root: 0)
        let rounds = Int(plan[0]), passes = Int(plan[1])
        func together(polling: Bool) throws {
            try gradients.withUnsafeMutableBufferPointer { buffer in
                let request = try c.startAllreduce(buffer, .average)
                for _ in 0..<passes {
                    computePass()
                    if polling { _ = try request.test() }
                }
                try request.wait()
            }
        }
        func besideThread() throws {
            try gradients.withUnsafeMutableBufferPointer { buffer in
                nonisolated(unsafe) let buffer = buffer
                nonisolated(unsafe) var failure: Error?
                let done = DispatchSemaphore(value: 0)
                Thread.detachNewThread {
                    do { try c.allreduce(buffer, .average) } catch { failure = error }
                    done.signal()
                }
                for _ in 0..<passes { computePass() }
                done.wait()
                if let failure { throw failure }
            }
        }
        var allreduce = 0.0, compute = 0.0, polled = 0.0, unpolled = 0.0, thread = 0.0
        for _ in 0..<rounds {
            allreduce += try timed(c) { try c.allreduce(&gradients, .average) }
            compute += try timed(c) { for _ in 0..<passes { computePass() } }
            polled += try timed(c) { try together(polling: true) }
            unpolled += try timed(c) { try together(polling: false) }
            thread += try timed(c) { try besideThread() }
        }
        allreduce /= Double(rounds); compute /= Double(rounds); polled /= Double(rounds); unpolled /= Double(rounds)
        thread /= Double(rounds)
        func overlap(_ both: Double) -> Double { (allreduce + compute - both) / min(allreduce, compute) }
        let bytes = Double(count * MemoryLayout<Float>.size), n = Double(c.size)
        if c.isRoot {
            emit(["case": "allreduce", "impl": "swift", "ranks": c.size, "floats": count, "rounds": rounds,
                  "ms_per_call": allreduce * 1000, "algbw_gb_s": bytes / allreduce / 1e9,
                  "busbw_gb_s": bytes * 2 * (n - 1) / n / allreduce / 1e9,
                  "compute_ms": compute * 1000, "together_polled_ms": polled * 1000, "overlap_polled": overlap(polled),
                  "together_unpolled_ms": unpolled * 1000, "overlap_unpolled": overlap(unpolled),
                  "together_thread_ms": thread * 1000, "overlap_thread": overlap(thread),
                  "work_checksum": Double(work.reduce(0, +)), "peak_rss_mib": peakResidentMiB()])
        }
        try c.finalize()
    } catch {
        die("allreduce: \(error)")
    }
}

func run(_ c: BenchCase) {
    switch c {
    case .vit_forward_b1: runForward(model: backbone(), batch: 1)
    case .vit_forward_b32: runForward(model: backbone(), batch: 32)
    case .embed_folder: runEmbedFolder(model: backbone())
    case .detect_folder: runDetectFolder()
    #if canImport(WebDataset)
    case .shards_read: runShardsRead()
    case .shards_decode: runShardsDecode()
    #else
    case .shards_read, .shards_decode: die("\(c.rawValue): this build has no WebDataset module (see Package.swift)")
    #endif
    #if canImport(Training)
    case .train_step: runTrainStep()
    #else
    case .train_step: die("train_step: this build has no Training module (see Package.swift)")
    #endif
    case .allreduce: runAllreduce()
    }
}

if args.cases.isEmpty {
    // The old single-process run.
    let model = backbone()
    runForward(model: model, batch: 1)
    runForward(model: model, batch: 32)
    if args.images != nil { runEmbedFolder(model: model) }
    emit(["case": "peak_rss", "impl": "swift", "mib": peakResidentMiB()])
} else {
    for c in args.cases { run(c) }
}
