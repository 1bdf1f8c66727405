/// Options of a k-NN "fit". Defaults are CoDE's head (docs/upstream.md, Heads):
/// `KNeighborsClassifier(n_neighbors=1, weights='uniform', metric='cosine')`.
public struct KNNFitOptions: Sendable, Equatable {
    /// Neighbours consulted per prediction (1 ≤ k ≤ training vectors).
    public var k: Int
    /// Distance between embeddings.
    public var metric: KNNHead.Metric
    /// How neighbours vote: equally or by inverse distance.
    public var weights: KNNHead.Weights

    /// Options; the defaults are CoDE's.
    public init(k: Int = 1, metric: KNNHead.Metric = .cosine, weights: KNNHead.Weights = .uniform) {
        self.k = k; self.metric = metric; self.weights = weights
    }

    /// CoDE's head.
    public static var code: KNNFitOptions { KNNFitOptions() }
}

extension KNNHead {
    /// scikit-learn's brute-force `KNeighborsClassifier.fit`: keeps the training vectors (float32, as
    /// fitted on float32 input) and their labels.
    public static func fit(_ set: HeadTrainingSet, options: KNNFitOptions = .code) throws(HeadFitError) -> KNNHead {
        guard options.k >= 1 else { throw .invalidOption("k must be at least 1, not \(options.k)") }
        guard options.k <= set.count else {
            throw .invalidOption("k = \(options.k) exceeds the \(set.count) training vectors")
        }
        return KNNHead(vectors: set.embeddings, features: set.features, labels: set.isFake, k: options.k,
                       metric: options.metric, weights: options.weights)
    }
}
