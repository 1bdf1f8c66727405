import Foundation
import Heads
import XCTest

final class KNNFitTests: XCTestCase {
    func testFitStoresTheTrainingSetWithCoDEsDefaults() throws {
        let ds = try FitFixtures.dataset("offset")
        let head = try KNNHead.fit(ds.train)
        XCTAssertEqual(head.k, 1)
        XCTAssertEqual(head.metric, .cosine)
        XCTAssertEqual(head.weights, .uniform)
        XCTAssertEqual(head.vectors, ds.train.embeddings)
        XCTAssertEqual(head.labels, ds.train.isFake)
        XCTAssertEqual(head.features, 192)
        // 1-NN on a training vector returns that vector's own label
        for i in stride(from: 0, to: ds.train.count, by: 97) {
            let x = Array(ds.train.embeddings[(i * 192)..<((i + 1) * 192)])
            XCTAssertEqual(head.predict(x).isFake, ds.train.isFake[i])
        }
    }

    func testOptionsAndErrors() throws {
        let set = try HeadTrainingSet(embeddings: [1, 0, 0, 1, 1, 1], features: 2, isFake: [false, true, true])
        let head = try KNNHead.fit(set, options: KNNFitOptions(k: 3, metric: .euclidean, weights: .distance))
        XCTAssertEqual(head.k, 3)
        XCTAssertEqual(head.metric, .euclidean)
        XCTAssertEqual(head.weights, .distance)
        XCTAssertThrowsError(try KNNHead.fit(set, options: KNNFitOptions(k: 4))) { error in
            XCTAssertTrue("\(error)".contains("exceeds the 3 training vectors"), "\(error)")
        }
        XCTAssertThrowsError(try KNNHead.fit(set, options: KNNFitOptions(k: 0))) { error in
            XCTAssertTrue("\(error)".contains("at least 1"), "\(error)")
        }
    }
}
