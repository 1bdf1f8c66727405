import Heads
import Tensor
import ViT

/// A head's verdict turned into a decision, optionally at a user threshold.
///
/// Without a threshold the head's own rule decides (scikit-learn's `predict`). With one: linear and k-NN
/// call an image fake when `score > threshold` (score = probability / fraction of fake); the one-class SVM
/// calls it fake when `decision < threshold` (its decision is positive for real images).
public struct DecisionRule: Sendable, Equatable {
    public var threshold: Double?
    public init(threshold: Double? = nil) { self.threshold = threshold }

    public func isFake(_ output: HeadOutput, kind: HeadKind) -> Bool {
        guard let threshold else { return output.isFake }
        switch kind {
        case .linear, .knn: return output.score > threshold
        case .svm: return (output.decision ?? output.score) < threshold
        }
    }
}

/// One image through the backbone and every head: the embedding is computed once.
public struct DetectionResult: Sendable {
    public let path: String
    /// Per head, in the order the detector holds them; failure when the image could not be used.
    public let outputs: Result<[HeadOutput], EmbeddingFailure>
}

/// Embeds images and applies one or more heads to each embedding.
public struct Detector: Sendable {
    public let embedder: Embedder
    public let heads: [(kind: HeadKind, head: Head)]

    public init(embedder: Embedder, heads: [(kind: HeadKind, head: Head)]) {
        self.embedder = embedder
        self.heads = heads
    }

    /// Calls `emit` once per item, in input order, as batches finish.
    public func run<S: Sequence>(_ items: S, emit: (DetectionResult) -> Void) where S.Element == InputItem {
        forEachBatch(items, size: embedder.options.batchSize) { batch in
            for result in detectBatch(batch) { emit(result) }
        }
    }

    /// One batch: a forward pass for the images that decode, then every head over the batch's embeddings.
    public func detectBatch(_ batch: [InputItem]) -> [DetectionResult] {
        let embedded = embedder.embedBatch(batch)
        let good = embedded.indices.filter { if case .success = embedded[$0].embedding { return true } else { return false } }
        let vectors = good.map { try! embedded[$0].embedding.get() }
        let perHead = heads.map { $0.head.predict(batch: vectors, threads: embedder.options.compute.threads) }
        var next = 0
        return embedded.map { r in
            switch r.embedding {
            case let .failure(f): return DetectionResult(path: r.path, outputs: .failure(f))
            case .success:
                defer { next += 1 }
                return DetectionResult(path: r.path, outputs: .success(perHead.map { $0[next] }))
            }
        }
    }
}
