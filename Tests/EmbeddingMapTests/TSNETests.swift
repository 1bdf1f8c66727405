import Checkpoints
import EmbeddingMap
import Foundation
import TestSupport
import XCTest

/// Tests/Fixtures/trust/tsne.json (tools/reference/make_trust_fixtures.py): scikit-learn 1.9.1's TSNE on the
/// 612 distinct rows of the shared test vectors (Tests/Fixtures/heads/test_vectors.npy), perplexity 30 and 10, seed 0, exact and
/// Barnes–Hut, with its KL divergence and trustworthiness.
final class TSNETests: XCTestCase {
    struct Fixture: Decodable {
        struct Run: Decodable {
            let method: String
            let perplexity: Double
            let kl_divergence: Double
            let kl_at_embedding: Double
            let n_iter: Int
            let learning_rate: Double
            let trustworthiness: Double
            let embedding: [Double]
        }
        struct PCA: Decodable {
            let embedding: [Double]
            let trustworthiness: Double
            let trustworthiness_k10: Double
        }
        let rows: [Int]
        let classes: [Int]
        let runs: [Run]
        let pca2: PCA
    }

    static let fixture: Fixture? = try? JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Fixtures.url("trust/tsne.json")))
    /// The fixture's points: the distinct rows of the test vectors, as `rows` lists them.
    static let points: [[Float]] = {
        guard let t = try? Npy.read(path: Fixtures.path("heads/test_vectors.npy")), let rows = fixture?.rows else { return [] }
        let f = t.shape[1]
        return rows.map { Array(t.data[($0 * f)..<(($0 + 1) * f)]) }
    }()

    func fixture() throws -> Fixture {
        let f = try XCTUnwrap(Self.fixture, "Tests/Fixtures/trust/tsne.json is missing or unreadable")
        XCTAssertEqual(Self.points.count, 612)
        XCTAssertEqual(f.runs.count, 4)
        return f
    }

    static func pairs(_ flat: [Double]) -> [[Double]] { stride(from: 0, to: flat.count, by: 2).map { [flat[$0], flat[$0 + 1]] } }

    func testTrustworthinessEqualsScikitLearn() throws {
        let f = try fixture()
        var worst = 0.0
        for run in f.runs {
            let t = try trustworthiness(Self.points, embedding: Self.pairs(run.embedding), neighbours: 5, threads: 2)
            XCTAssertEqual(t, run.trustworthiness, accuracy: 1e-9, "\(run.method) perplexity \(run.perplexity)")
            worst = max(worst, abs(t - run.trustworthiness))
        }
        let pca = Self.pairs(f.pca2.embedding)
        XCTAssertEqual(try trustworthiness(Self.points, embedding: pca, neighbours: 5, threads: 2), f.pca2.trustworthiness, accuracy: 1e-9)
        XCTAssertEqual(try trustworthiness(Self.points, embedding: pca, neighbours: 10, threads: 1), f.pca2.trustworthiness_k10, accuracy: 1e-9)
        print("trustworthiness: largest |ours − sklearn| on sklearn's embeddings = \(worst)")
    }

    /// Our affinities and objective, evaluated at scikit-learn's final embedding, give scikit-learn's value.
    func testObjectiveAtScikitLearnEmbedding() throws {
        for run in try fixture().runs {
            var options = TSNEOptions()
            options.perplexity = run.perplexity
            options.method = run.method == "exact" ? .exact : .barnesHut
            options.threads = 2
            let embedding = stride(from: 0, to: run.embedding.count, by: 2).map { SIMD2(run.embedding[$0], run.embedding[$0 + 1]) }
            let kl = try TSNE.klDivergence(of: embedding, points: Self.points, options: options)
            print("KL at sklearn's \(run.method) embedding, perplexity \(run.perplexity): ours \(kl), sklearn \(run.kl_at_embedding)")
            XCTAssertEqual(kl, run.kl_at_embedding, accuracy: 1e-4 * run.kl_at_embedding, "\(run.method) perplexity \(run.perplexity)")
        }
    }

    /// Our t-SNE reaches scikit-learn's quality on the same points, perplexity and seed: KL ≤ 1.05 × sklearn's,
    /// trustworthiness ≥ 0.95 × sklearn's, for both methods.
    func testEmbeddingQualityMatchesScikitLearn() throws {
        for run in try fixture().runs {
            var options = TSNEOptions()
            options.perplexity = run.perplexity
            options.method = run.method == "exact" ? .exact : .barnesHut
            options.threads = 2
            let start = Date()
            let result = try TSNE.embed(Self.points, options: options)
            let seconds = Date().timeIntervalSince(start)
            let t = try trustworthiness(Self.points, embedding: result.coordinates.map { [$0.x, $0.y] }, neighbours: 5, threads: 2)
            print("t-SNE \(run.method) perplexity \(run.perplexity): KL \(result.klDivergence) (sklearn \(run.kl_divergence)), "
                  + "trustworthiness \(t) (sklearn \(run.trustworthiness)), \(result.iterations + 1) iterations, \(String(format: "%.2f", seconds)) s")
            XCTAssertEqual(result.usedBarnesHut, run.method == "barnes_hut")
            XCTAssertEqual(result.learningRate, run.learning_rate)
            XCTAssertEqual(result.iterations, run.n_iter, "both run all iterations")
            XCTAssertLessThanOrEqual(result.klDivergence, 1.05 * run.kl_divergence, "\(run.method) perplexity \(run.perplexity)")
            XCTAssertGreaterThanOrEqual(t, 0.95 * run.trustworthiness, "\(run.method) perplexity \(run.perplexity)")
        }
    }

    /// Sums are reduced in a fixed order, so the thread count does not change the result.
    func testResultDoesNotDependOnThreads() throws {
        let points = Array(Self.points.prefix(200))
        for method in [TSNEOptions.Method.exact, .barnesHut] {
            var options = TSNEOptions()
            options.method = method
            options.maxIterations = 300
            options.threads = 1
            let one = try TSNE.embed(points, options: options)
            options.threads = 3
            XCTAssertEqual(try TSNE.embed(points, options: options), one, "\(method)")
        }
    }

    func testAutomaticMethodSwitchesAtThreshold() throws {
        let points = Array(Self.points.prefix(60))
        var options = TSNEOptions()
        options.perplexity = 5
        options.maxIterations = 260
        options.method = .automatic(exactUpTo: 60)
        XCTAssertFalse(try TSNE.embed(points, options: options).usedBarnesHut)
        options.method = .automatic(exactUpTo: 59)
        XCTAssertTrue(try TSNE.embed(points, options: options).usedBarnesHut)
    }

    func testRandomInitialisationIsSeeded() throws {
        let points = Array(Self.points.prefix(80))
        var options = TSNEOptions()
        options.perplexity = 10
        options.maxIterations = 300
        options.initialization = .random(seed: 7)
        let a = try TSNE.embed(points, options: options), b = try TSNE.embed(points, options: options)
        XCTAssertEqual(a, b)
        options.initialization = .random(seed: 8)
        XCTAssertNotEqual(try TSNE.embed(points, options: options).coordinates, a.coordinates)
    }

    func testBadInputIsRefused() {
        var options = TSNEOptions()
        XCTAssertThrowsError(try TSNE.embed([[1, 2]], options: options)) { XCTAssertEqual($0 as? EmbeddingMapError, .tooFewPoints(count: 1, needed: 2)) }
        XCTAssertThrowsError(try TSNE.embed([[1, 2], [3]], options: options)) { XCTAssertEqual($0 as? EmbeddingMapError, .ragged(index: 1, expected: 2, found: 1)) }
        XCTAssertThrowsError(try TSNE.embed([[1, 2], [3, .nan]], options: options)) { XCTAssertEqual($0 as? EmbeddingMapError, .nonFinite(index: 1)) }
        XCTAssertThrowsError(try TSNE.embed(Array(Self.points.prefix(30)), options: options)) { XCTAssertTrue("\($0)".contains("perplexity 30")) }
        options.learningRate = .fixed(-1)
        XCTAssertThrowsError(try TSNE.embed(Array(Self.points.prefix(40)), options: options)) { XCTAssertTrue("\($0)".contains("learning rate")) }
        XCTAssertThrowsError(try trustworthiness(Array(Self.points.prefix(10)), embedding: Array(repeating: [0, 0], count: 10), neighbours: 5)) {
            XCTAssertTrue("\($0)".contains("n / 2"))
        }
        XCTAssertThrowsError(try trustworthiness(Array(Self.points.prefix(10)), embedding: [[0, 0]], neighbours: 2)) {
            XCTAssertTrue("\($0)".contains("1 embedded points for 10"))
        }
    }
}
