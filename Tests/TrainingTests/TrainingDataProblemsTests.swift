import Foundation
import Training
import WebDataset
import XCTest

/// Missing shards and undecodable records during training are never silent: a shard list naming a missing
/// file stops the run before any step (naming the list, the line and the file), or with `on-error: skip` is
/// warned about, counted in state.json and makes the run end with status 1; a training record whose image
/// does not decode is left out of its step and replaced by the next record, each logged and counted.
final class TrainingDataProblemsTests: XCTestCase {
    /// A fresh folder with the synthetic shard set; removed after the test.
    func shardSet(heldOut: Int = 24) throws -> String {
        let root = NSTemporaryDirectory() + "train-data-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try SyntheticImages().writeShardSet(root, heldOut: heldOut)
        return root
    }

    /// One short epoch of the small model (2 steps of 8 records), no untrained validation.
    func quick(_ root: String, output: String) -> TrainingConfiguration {
        var c = SmallTraining.configuration(root, output: output)
        c.epochs = 1; c.stepsPerEpoch = 2; c.initialValidation = false; c.threads = 1
        return c
    }

    func testMissingShardInAListStopsTheRunNamingListLineAndFile() throws {
        let root = try shardSet()
        try "train-0.tar\n\nmissing-7.tar\ntrain-1.tar\n".write(toFile: root + "/train.shards", atomically: true, encoding: .utf8)
        var c = quick(root, output: root + "/run")
        c.trainShards = [root + "/train.shards"]
        XCTAssertThrowsError(try Trainer(configuration: c).run()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(root + "/train.shards line 3"), text)
            XCTAssertTrue(text.contains(root + "/missing-7.tar"), text)
            XCTAssertTrue(text.contains("on-error"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/run/state.json"), "no step may run")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: root + "/run/checkpoints")) ?? [], [])

        // A brace pattern naming a missing shard is named with its pattern.
        c.trainShards = [root + "/train-{0..2}.tar"]
        XCTAssertThrowsError(try Trainer(configuration: c).run()) { error in
            XCTAssertTrue("\(error)".contains("train-{0..2}.tar") && "\(error)".contains(root + "/train-2.tar"), "\(error)")
        }
    }

    func testOnErrorSkipWarnsCountsAndEndsWithStatusOne() throws {
        let root = try shardSet()
        try "train-0.tar\nmissing-7.tar\ntrain-1.tar\n".write(toFile: root + "/train.shards", atomically: true, encoding: .utf8)
        var c = quick(root, output: root + "/run")
        c.trainShards = [root + "/train.shards"]
        try c.yaml.write(toFile: root + "/run.yaml", atomically: true, encoding: .utf8)

        let cli = try DeepfakeProcess.locate()
        let process = try cli.start(["train", "--config", root + "/run.yaml", "--on-error", "skip"], log: root + "/run.log")
        process.waitUntilExit()
        let log = DeepfakeProcess.tail(root + "/run.log")
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 1, log)
        XCTAssertTrue(log.contains("warning") && log.contains("train.shards line 2") && log.contains("missing-7.tar"), log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/run/release/model.safetensors"), "the rest trained: \(log)")
        let state = try XCTUnwrap(SmallTraining.state(root + "/run"))
        XCTAssertEqual(state["missingShards"] as? [String], [root + "/train.shards line 2: " + root + "/missing-7.tar"])
        XCTAssertTrue(try String(contentsOfFile: root + "/run/config.yaml", encoding: .utf8).contains("on-error: skip"))
        XCTAssertEqual(TrainingKey.named("on_error")?.name, "on-error")
    }

    func testUndecodableTrainingRecordsAreLeftOutAndCounted() throws {
        let root = try shardSet()
        // Replace the training shards: every third record's real image is not an image.
        let images = SyntheticImages()
        var broken: [String] = []
        for (index, range) in [0..<40, 40..<80].enumerated() {
            let writer = try TarWriter(path: root + "/train-\(index).tar")
            for r in range {
                let key = String(format: "rec%05d", r)
                let real = r % 3 == 0 ? Array("not an image".utf8) : images.image(seed: 2 * r, artifact: false)
                if r % 3 == 0 { broken.append(key) }
                try writer.write(Sample(key: key, shard: "", fields: [
                    ("real.bmp", real), ("gen_0.bmp", images.image(seed: 2 * r + 1, artifact: true)),
                ]))
            }
            try writer.finish()
        }
        let c = quick(root, output: root + "/run")
        try Trainer(configuration: c).run()
        let log = try String(contentsOfFile: root + "/run/train.log", encoding: .utf8)
        let leftOut = log.split(separator: "\n").filter { $0.contains("left out") && $0.contains("real.bmp") }
        XCTAssertGreaterThan(leftOut.count, 0, log)
        for line in leftOut { XCTAssertTrue(broken.contains { line.contains($0) }, String(line)) }
        XCTAssertFalse(log.contains("black"), log)
        let state = try XCTUnwrap(SmallTraining.state(root + "/run"))
        XCTAssertEqual(state["recordsLeftOut"] as? Int, leftOut.count)
        XCTAssertTrue(log.contains("\(leftOut.count) undecodable training records left out"), log)
    }
}
