import Foundation

/// Labelled embeddings, the input of every head fit: row-major vectors with one label each
/// (class 0 = real, class 1 = fake, as in CoDE's `Y_train = (Y != 0)`).
public struct HeadTrainingSet: Sendable, Equatable {
    /// Row-major [count, features] embeddings.
    public let embeddings: [Float]
    /// Floats per embedding.
    public let features: Int
    /// Per embedding: true = fake (class 1), false = real (class 0).
    public let isFake: [Bool]

    /// Validates the shapes (`embeddings.count == features · isFake.count`, at least one row and one
    /// feature) and that every value is finite.
    public init(embeddings: [Float], features: Int, isFake: [Bool]) throws(HeadFitError) {
        guard features > 0 else { throw .invalidShape("features is \(features); it must be at least 1") }
        guard !isFake.isEmpty else { throw .emptyTrainingSet }
        guard embeddings.count == features * isFake.count else {
            throw .invalidShape("\(embeddings.count) floats do not make \(isFake.count) embeddings of \(features) features")
        }
        if let bad = embeddings.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteValue(row: bad / features, feature: bad % features)
        }
        self.embeddings = embeddings
        self.features = features
        self.isFake = isFake
    }

    /// Number of embeddings.
    public var count: Int { isFake.count }
    /// Number of fake (class 1) embeddings.
    public var fakeCount: Int { isFake.reduce(0) { $0 + ($1 ? 1 : 0) } }
    /// Number of real (class 0) embeddings.
    public var realCount: Int { count - fakeCount }

    /// The real (class 0) embeddings, row-major, in their original order: what CoDE fits its one-class
    /// SVM on (`X[Y == 0]`).
    public var realEmbeddings: [Float] {
        var out: [Float] = []
        out.reserveCapacity(realCount * features)
        for i in 0..<count where !isFake[i] { out.append(contentsOf: embeddings[(i * features)..<((i + 1) * features)]) }
        return out
    }
}

/// Why a head could not be fitted.
public enum HeadFitError: Error, CustomStringConvertible, Equatable {
    /// No training vectors.
    case emptyTrainingSet
    /// The floats, the feature count and the labels do not agree.
    case invalidShape(String)
    /// A NaN or infinite value in the training vectors.
    case nonFiniteValue(row: Int, feature: Int)
    /// Logistic regression needs both classes; the set holds only one.
    case singleClass(isFake: Bool)
    /// An option is out of range (named in the message).
    case invalidOption(String)
    /// The objective became NaN or infinite during the fit.
    case nonFiniteObjective(iteration: Int)

    /// A one-line message naming the problem (and, for files, the file).
    public var description: String {
        switch self {
        case .emptyTrainingSet: return "cannot fit a head: the training set is empty"
        case let .invalidShape(reason): return "cannot fit a head: \(reason)"
        case let .nonFiniteValue(row, feature):
            return "cannot fit a head: training vector \(row) has a NaN or infinite value at feature \(feature)"
        case let .singleClass(isFake):
            return "cannot fit logistic regression: every training vector is \(isFake ? "fake" : "real"); both classes are needed"
        case let .invalidOption(reason): return "invalid fit option: \(reason)"
        case let .nonFiniteObjective(iteration):
            return "logistic regression diverged: the loss became NaN or infinite at iteration \(iteration)"
        }
    }
}

/// Sum of `count` values in NumPy's pairwise order (`np.sum` of a contiguous float64 array): blocks of at
/// most 128 summed with eight interleaved partial sums, blocks combined by recursive halving at multiples
/// of eight. Matching it keeps our sums bit-identical to scikit-learn's.
func pairwiseSum(_ a: UnsafePointer<Double>, _ count: Int) -> Double {
    if count < 8 {
        var s = 0.0
        for i in 0..<count { s += a[i] }
        return s
    }
    if count <= 128 {
        var r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7]
        var i = 8
        let end = count - count % 8
        while i < end {
            r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3]
            r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7]
            i += 8
        }
        var s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < count { s += a[i]; i += 1 }
        return s
    }
    var half = count / 2
    half -= half % 8
    return pairwiseSum(a, half) + pairwiseSum(a + half, count - half)
}

/// `pairwiseSum` over an array.
func pairwiseSum(_ a: [Double]) -> Double {
    a.isEmpty ? 0 : a.withUnsafeBufferPointer { pairwiseSum($0.baseAddress!, $0.count) }
}
