import Foundation

/// Classification heads on CoDE embeddings: the three CoDE uses (docs/upstream.md, Heads), with scikit-learn's
/// exact decision rules. Class 0 is real, class 1 is fake.

/// What a head says about one embedding.
public struct HeadOutput: Sendable, Equatable {
    /// true = fake (generated), false = real.
    public var isFake: Bool
    /// Logistic regression: probability of fake. k-NN: fraction of fake among the k neighbours (weighted
    /// when the head weights by distance). One-class SVM: the decision value (negative means fake).
    public var score: Double
    /// The raw decision value: the logit for logistic regression, the SVM decision function; nil for k-NN.
    public var decision: Double?

    public init(isFake: Bool, score: Double, decision: Double?) {
        self.isFake = isFake; self.score = score; self.decision = decision
    }
}

/// Binary logistic regression: decision = x·w + b (in Double, as scikit-learn upcasts float32 input),
/// p(fake) = 1 / (1 + e^−decision); fake when decision > 0 (scikit-learn's `predict`).
public struct LogisticRegressionHead: Sendable, Equatable {
    /// Weights, one per feature.
    public var coefficients: [Double]
    public var intercept: Double

    public init(coefficients: [Double], intercept: Double) {
        self.coefficients = coefficients; self.intercept = intercept
    }

    public func decision(_ x: [Float]) -> Double {
        precondition(x.count == coefficients.count, "embedding has \(x.count) features, head expects \(coefficients.count)")
        var s = 0.0
        for i in 0..<x.count { s += Double(x[i]) * coefficients[i] }
        return s + intercept
    }

    public func predict(_ x: [Float]) -> HeadOutput {
        let d = decision(x)
        return HeadOutput(isFake: d > 0, score: logistic(d), decision: d)
    }
}

/// The logistic function 1/(1+e^−z), computed without overflow for large |z| (as scipy's expit).
@inlinable
public func logistic(_ z: Double) -> Double {
    if z >= 0 { return 1 / (1 + Foundation.exp(-z)) }
    let e = Foundation.exp(z)
    return e / (1 + e)
}

/// k-nearest-neighbour classifier over stored embeddings (scikit-learn `KNeighborsClassifier`, brute force).
public struct KNNHead: Sendable, Equatable {
    public enum Metric: String, Sendable { case cosine, euclidean }
    public enum Weights: String, Sendable { case uniform, distance }

    /// Stored vectors, row-major [count, features].
    public var vectors: [Float]
    public var features: Int
    /// Per stored vector: true = fake.
    public var labels: [Bool]
    public var k: Int
    public var metric: Metric
    public var weights: Weights

    public init(vectors: [Float], features: Int, labels: [Bool], k: Int, metric: Metric, weights: Weights) {
        precondition(vectors.count == features * labels.count, "k-NN: \(vectors.count) floats for \(labels.count) vectors of \(features)")
        self.vectors = vectors; self.features = features; self.labels = labels; self.k = k
        self.metric = metric; self.weights = weights
    }

    public var count: Int { labels.count }
}

/// One-class SVM (libsvm through scikit-learn): decision(x) = Σᵢ αᵢ·K(svᵢ, x) + intercept, in Double;
/// +1 (inlier, real) when decision > 0, otherwise −1 (fake): CoDE's convention (docs/upstream.md, One-class SVM sign).
public struct OneClassSVMHead: Sendable, Equatable {
    public enum Kernel: Sendable, Equatable {
        case linear
        /// (γ·⟨x,y⟩ + coef0)^degree
        case poly(gamma: Double, coef0: Double, degree: Int)
        /// exp(−γ·‖x−y‖²)
        case rbf(gamma: Double)
        /// tanh(γ·⟨x,y⟩ + coef0)
        case sigmoid(gamma: Double, coef0: Double)
    }

    /// Support vectors, row-major [count, features].
    public var supportVectors: [Double]
    public var features: Int
    /// One dual coefficient per support vector.
    public var dualCoefficients: [Double]
    public var intercept: Double
    public var kernel: Kernel

    public init(supportVectors: [Double], features: Int, dualCoefficients: [Double], intercept: Double, kernel: Kernel) {
        precondition(supportVectors.count == features * dualCoefficients.count, "SVM: support vectors do not match coefficients")
        self.supportVectors = supportVectors; self.features = features
        self.dualCoefficients = dualCoefficients; self.intercept = intercept; self.kernel = kernel
    }
}

/// Any of the three heads.
public enum Head: Sendable, Equatable {
    case linear(LogisticRegressionHead)
    case knn(KNNHead)
    case svm(OneClassSVMHead)

    /// Which of the three heads this is.
    public var kind: HeadKind {
        switch self {
        case .linear: return .linear
        case .knn: return .knn
        case .svm: return .svm
        }
    }
}
