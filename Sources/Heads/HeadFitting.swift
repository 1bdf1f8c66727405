import Foundation

/// Heads fitted natively on embedded images, with a one-line summary of each fit.
public struct FittedHead: Sendable {
    public let kind: HeadKind
    public let head: Head
    /// What the solver did (iterations, convergence, support vectors), for people.
    public let summary: String
    /// Accuracy of the head on its own training images (real images only for the one-class SVM).
    public let trainingAccuracy: Double
}

/// Fits each requested head with CoDE's settings (docs/upstream.md, Heads): logistic regression C=0.316,
/// balanced classes, lbfgs, 1500 iterations; 1-NN cosine; one-class SVM nu=0.1, poly, gamma 'auto',
/// on the real images only.
public func fitHeads(_ set: HeadTrainingSet, kinds: [HeadKind]) throws -> [FittedHead] {
    try kinds.map { kind in
        let head: Head, summary: String
        switch kind {
        case .linear:
            let (h, r) = try LogisticRegressionHead.fit(set)
            head = .linear(h)
            summary = "lbfgs \(r.iterations) iterations, stop: \(r.stop.rawValue)\(r.converged ? "" : " (did not converge)")"
        case .knn:
            let h = try KNNHead.fit(set)
            head = .knn(h)
            summary = "\(h.count) stored vectors, k=\(h.k), \(h.metric.rawValue)"
        case .svm:
            let (h, r) = try OneClassSVMHead.fit(set)
            head = .svm(h)
            summary = "SMO \(r.iterations) iterations, \(r.supportVectors) support vectors (\(r.boundedSupportVectors) at bound)"
                + (r.reachedMaxIterations ? " (hit the iteration limit)" : "")
        }
        var correct = 0, counted = 0
        for i in 0..<set.count where kind != .svm || !set.isFake[i] {
            let x = Array(set.embeddings[(i * set.features)..<((i + 1) * set.features)])
            if head.predict(x).isFake == set.isFake[i] { correct += 1 }
            counted += 1
        }
        return FittedHead(kind: kind, head: head, summary: summary,
                          trainingAccuracy: counted > 0 ? Double(correct) / Double(counted) : .nan)
    }
}
