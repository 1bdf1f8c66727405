import Foundation
import XCTest
import Training

final class ScheduleTests: XCTestCase {
    struct Fixture: Decodable {
        struct Entry: Decodable {
            let name: String, lr: Double, min_lr: Double, warmup_lr: Double, warmup_epochs: Int, epochs: Int
            let warmup_prefix: Bool, cycle_limit: Int, cycle_decay: Double, lrs: [Double]
        }
        let timm_version: String
        let epochs: [Int]
        let schedules: [Entry]
    }

    /// timm 0.9.2's CosineLRScheduler (create_scheduler_v2 + step(epoch)) for epochs 0...160, four settings.
    func testMatchesTimm() throws {
        let data = try Data(contentsOf: TrainingFixtures.root.appendingPathComponent("optim/schedule.json"))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertEqual(fixture.timm_version, "0.9.2")
        XCTAssertEqual(fixture.schedules.count, 4)
        var worst = 0.0
        for s in fixture.schedules {
            let schedule = CosineSchedule(baseLR: s.lr, minLR: s.min_lr, warmupLR: s.warmup_lr, warmupEpochs: s.warmup_epochs,
                                          epochs: s.epochs, warmupPrefix: s.warmup_prefix, cycleLimit: s.cycle_limit,
                                          cycleDecay: s.cycle_decay)
            for (t, expected) in zip(fixture.epochs, s.lrs) {
                let lr = schedule.learningRate(epoch: t)
                let rel = expected == 0 ? abs(lr) : abs(lr - expected) / abs(expected)
                worst = max(worst, rel)
                XCTAssertLessThanOrEqual(rel, 1e-12, "\(s.name) epoch \(t): \(lr) vs \(expected)")
            }
        }
        print("schedule vs timm \(fixture.timm_version): worst relative deviation \(worst)")
        // CoDE's numbers (docs/upstream.md, Optimiser and schedule).
        XCTAssertEqual(fixture.schedules[0].name, "code")
        XCTAssertEqual(CosineSchedule.code, CosineSchedule(baseLR: 0.002, minLR: 0, warmupLR: 1e-6, warmupEpochs: 5, epochs: 150))
    }

    func testCoDEValues() {
        let s = CosineSchedule.code
        XCTAssertEqual(s.learningRate(epoch: 0), 1e-6)
        XCTAssertEqual(s.learningRate(epoch: 1), 0.0004008, accuracy: 1e-18)
        XCTAssertEqual(s.learningRate(epoch: 5), 1.99452e-3, accuracy: 1e-8)
        XCTAssertEqual(s.learningRate(epoch: 75), 0.001, accuracy: 1e-15)
        XCTAssertEqual(s.learningRate(epoch: 150), 0)
        XCTAssertEqual(s.learningRate(epoch: 400), 0)
        XCTAssertEqual(s.learningRates(epochs: 3).count, 3)
        let rates = s.learningRates(epochs: 150)
        for t in 5..<149 { XCTAssertGreaterThan(rates[t], rates[t + 1]) }
    }
}
