import Foundation
import TestSupport
import Training
import XCTest

/// summary.csv is appended to as the run goes; a killed process can leave rows that state.json has not recorded,
/// and a last row cut short. The resumed run opens it without them, then appends.
final class SummaryWriterTests: XCTestCase {
    let header = "epoch,lr,train_loss,eval_accuracy,linear_clean,knn_clean,svm_clean,linear_transf,knn_transf,svm_transf"

    func testOpeningDropsUnrecordedAndTornRowsThenAppends() throws {
        let path = try temporaryFolder(self) + "/summary.csv"
        let kept = [header, "-1,,,0.500000,0.500000,0.750000,0.250000,,,", "0,1e-06,3.5,0.625000,0.625000,0.750000,0.500000,,,"]
        // A row state.json has not recorded (epoch 10), then a row cut short after its first digit ("1" would read as
        // epoch 1).
        let unrecorded = "10,0.001,2.25,0.700000,0.700000,0.800000,0.600000,,,"
        try (kept + [unrecorded, "1"]).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)

        let writer = try SummaryWriter(path: path, next: 10)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), kept.joined(separator: "\n") + "\n")

        try writer.append(EpochSummary(epoch: 10, learningRate: 0.001, trainLoss: 2.5, cleanAccuracy: [.linear: 0.75, .knn: 1, .svm: 0.5],
                                       transformedAccuracy: [.linear: 0.25]))
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8),
                       (kept + ["10,0.001,2.5,0.750000,0.750000,1.000000,0.500000,0.250000,,"]).joined(separator: "\n") + "\n")
    }

    func testANewSummaryStartsWithTheHeaderAndTheInitialRowIsRedoneWhenUnrecorded() throws {
        let path = try temporaryFolder(self) + "/summary.csv"
        _ = try SummaryWriter(path: path, next: -1)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), header + "\n")
        try (header + "\n-1,,,0.5,0.5,0.5,0.5,,,\n").write(toFile: path, atomically: true, encoding: .utf8)
        _ = try SummaryWriter(path: path, next: -1)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), header + "\n")
    }
}
