import Imaging
import Tensor
import ViT

/// Settings of the embedding pipeline.
public struct EmbedderOptions: Sendable {
    /// Images per forward pass.
    public var batchSize: Int = 32
    /// Cores for decoding and for the model.
    public var compute: ComputeOptions = .init()
    /// How decoded images become model input (CoDE's released protocol: center crop 224, no resize).
    public var preprocessing: Preprocessing = .inference
    public var normalization: Normalization = .imageNet
    /// Limits applied before decoding (bytes read per file, pixel count) and the memory budget decodes share.
    public var decode: DecodeOptions = .init()

    public init(batchSize: Int = 32, compute: ComputeOptions = .init(), preprocessing: Preprocessing = .inference,
                normalization: Normalization = .imageNet, decode: DecodeOptions = .init()) {
        self.batchSize = max(1, batchSize); self.compute = compute; self.preprocessing = preprocessing
        self.normalization = normalization; self.decode = decode
    }
}

/// The outcome for one input: its embedding, or the reason it has none.
public struct EmbeddingResult: Sendable {
    public let path: String
    public let embedding: Result<[Float], EmbeddingFailure>
}

/// Why an input produced no embedding; `description` is the message users see.
public struct EmbeddingFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Decodes, preprocesses and embeds images in batches, streaming results in input order.
///
/// Memory stays bounded by one batch whatever the number of inputs. A file that cannot be decoded gets a
/// failure result in its place; the rest of the batch goes on.
public struct Embedder: Sendable {
    public let model: VisionTransformer
    public let options: EmbedderOptions

    public init(model: VisionTransformer, options: EmbedderOptions = .init()) {
        precondition(model.config.channels == 3, "the embedder feeds RGB images; the model expects \(model.config.channels) channels")
        self.model = model
        self.options = options
    }

    /// Embeds `items` and calls `emit` once per item, in order, as each batch finishes. The sequence is
    /// read one batch at a time, so a stream of shard members never sits whole in memory.
    public func run<S: Sequence>(_ items: S, emit: (EmbeddingResult) -> Void) where S.Element == InputItem {
        forEachBatch(items, size: options.batchSize) { batch in
            for result in embedBatch(batch) { emit(result) }
        }
    }

    /// Embeds one batch: decode + preprocess on all cores, then one forward pass over the images that decoded.
    public func embedBatch(_ batch: [InputItem]) -> [EmbeddingResult] {
        let size = model.config.imageSize
        let prep: Preprocessing
        switch options.preprocessing {
        case .centerCrop: prep = .centerCrop(size: size)
        case let .resizeThenCenterCrop(resize, _): prep = .resizeThenCenterCrop(resize: resize, crop: size)
        }
        let perImage = model.inputCount
        var pixels = [Float](repeating: 0, count: batch.count * perImage)
        var failures = [String?](repeating: nil, count: batch.count)
        var decode = options.decode
        let norm = options.normalization
        // A center crop keeps only the middle of the image: decode just that (JPEG decodes only those rows
        // and columns; the tensor is bit-identical).
        if case .centerCrop = prep { decode.centerCropWindow = size }
        pixels.withUnsafeMutableBufferPointer { px in
            failures.withUnsafeMutableBufferPointer { fails in
                let px = UncheckedSendable(px), fails = UncheckedSendable(fails)
                parallelFor(batch.count, threads: options.compute.threads) { i in
                    if let error = batch[i].error {
                        fails.value[i] = error.hasPrefix(batch[i].path) ? error : "\(batch[i].path): \(error)"
                        return
                    }
                    let slot = UnsafeMutableBufferPointer(rebasing: px.value[(i * perImage)..<((i + 1) * perImage)])
                    // The image is preprocessed while its memory still counts in the decode budget.
                    let preprocess = { (image: RGBImage) in prep.apply(image, normalization: norm, into: slot) }
                    do {
                        if let bytes = batch[i].bytes {
                            try decodeImage(bytes, name: batch[i].path, options: decode, then: preprocess)
                        } else {
                            try decodeImage(pathBytes: batch[i].pathBytes, name: batch[i].path, options: decode, then: preprocess)
                        }
                    } catch {
                        fails.value[i] = "\(error)"
                    }
                }
            }
        }
        // Pack the images that decoded and run them through the model together.
        let good = (0..<batch.count).filter { failures[$0] == nil }
        var embeddings: [[Float]] = []
        if !good.isEmpty {
            var packed = [Float]()
            packed.reserveCapacity(good.count * perImage)
            for i in good { packed += pixels[(i * perImage)..<((i + 1) * perImage)] }
            let out = packed.withUnsafeBufferPointer { model.embed(pixels: $0, batch: good.count, options: options.compute) }
            let d = model.config.hiddenSize
            embeddings = (0..<good.count).map { Array(out.data[($0 * d)..<(($0 + 1) * d)]) }
        }
        var next = 0
        return batch.indices.map { i in
            if let message = failures[i] { return EmbeddingResult(path: batch[i].path, embedding: .failure(EmbeddingFailure(message))) }
            defer { next += 1 }
            return EmbeddingResult(path: batch[i].path, embedding: .success(embeddings[next]))
        }
    }
}

/// Calls `body` with consecutive chunks of `size` elements of `items` (the last may be shorter).
func forEachBatch<S: Sequence>(_ items: S, size: Int, _ body: ([S.Element]) -> Void) {
    var batch: [S.Element] = []
    batch.reserveCapacity(size)
    for item in items {
        batch.append(item)
        if batch.count == size { body(batch); batch.removeAll(keepingCapacity: true) }
    }
    if !batch.isEmpty { body(batch) }
}
