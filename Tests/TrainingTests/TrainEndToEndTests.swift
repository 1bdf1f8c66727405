import Foundation
import Tensor
import Training
import ViT
import XCTest
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Trains a small ViT (SmallTraining: 2 layers, width 32, 4 epochs of 100 steps) on shards the test generates
/// (SyntheticImages): real images are smooth random colour gradients with ±3 grey levels of noise; each fake
/// is another such image plus a ±16 checkerboard of 2×2-pixel blocks at a random offset (0...3 pixels in x and
/// y, drawn per image), a stand-in for a generator's upsampling artifacts.
///
/// Why these values: the untrained network's embedding is, to first order, linear in a faint pattern, so a
/// pattern whose sign and offset are random averages out and the linear head fitted on untrained embeddings
/// sees only the small second-order response; contrastive training has to build an offset-invariant
/// detector. With a fixed offset (this test's earlier data) random features already separated the classes
/// (linear accuracy 1.0 before any step); with amplitude 20 to 32 the second-order response grows (untrained
/// accuracy up to 0.64–0.68 in our draws), and at 12 the 400 steps are too few (0.57–0.79 at the end). At 16, on 15
/// training seeds × data sets (threads 1 and 2 give the same accuracies), the untrained linear head scored
/// 0.50–0.62 (mean 0.55) and the trained one 0.998–1.0 after epoch 3 (0.92–1.0 already after epoch 2; this
/// test's seed and data: 0.56 → 0.58, 0.76, 1.0, 1.0). Head fitting and validation use 200 records (400
/// images) each, so the accuracy's sampling error (~0.025) keeps the untrained baseline well under 0.7. Images are seeded
/// through SplitMix64: an LCG seeded with seed·constant made each fake's colours a fixed shift of its real's,
/// a content cue of its own. 35 pixels: the evaluation path (Resize(35) + CenterCrop(32)) keeps the pixels.
/// One run takes about 2.5 s in release mode on 2 cores. (The accuracy test trains without augmentations; see there.)
final class TrainEndToEndTests: XCTestCase {
    /// A fresh folder with the shard set; removed after the test.
    func shardSet() throws -> String {
        let root = NSTemporaryDirectory() + "/train-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try SyntheticImages().writeShardSet(root)
        return root
    }

    func testTrainingLiftsTheLinearHeadFromChance() throws {
        let fm = FileManager.default
        let root = try shardSet(), run = root + "/run"
        // Upstream's augmentations (blur, JPEG, resizing to 64–512 pixels, ...) wipe out a 2-pixel checkerboard
        // on 35-pixel images, so this test, which measures what the contrastive objective learns, trains on
        // unaugmented views; the kill test below trains with the augmentations on.
        var configuration = SmallTraining.configuration(root, output: run)
        configuration.dataAugmentation = false
        let summaries = try Trainer(configuration: configuration).run()
        XCTAssertEqual(summaries.map(\.epoch), [EpochSummary.initialEpoch, 0, 1, 2, 3])
        let linear = summaries.map { $0.cleanAccuracy[.linear]! }
        print("training: linear validation accuracy initial \(linear[0]), per epoch \(linear.dropFirst()), loss \(summaries.compactMap(\.trainLoss))")
        XCTAssertTrue(summaries[0].isInitial)
        XCTAssertNil(summaries[0].trainLoss)
        XCTAssertLessThanOrEqual(linear[0], 0.7, "untrained features should not show the random-offset artifact (chance is 0.5)")
        XCTAssertGreaterThanOrEqual(linear.last!, 0.9, "training should make the artifact linearly separable")
        XCTAssertGreaterThan(linear.last!, linear[0])

        // summary.csv: the untrained row (epoch -1, no lr, no loss), then one row per epoch, same accuracies.
        let rows = try SmallTraining.summaryRows(run)
        XCTAssertEqual(rows.map(\.epoch), [-1, 0, 1, 2, 3])
        for (row, value) in zip(rows, linear) { XCTAssertEqual(row.linear, value, accuracy: 5e-7) }
        let csv = try String(contentsOfFile: run + "/summary.csv", encoding: .utf8)
        XCTAssertTrue(csv.split(separator: "\n")[1].hasPrefix("-1,,,"), csv)
        let log = try String(contentsOfFile: run + "/train.log", encoding: .utf8)
        XCTAssertTrue(log.hasPrefix("initial model (untrained): linear accuracy"), log)
        for file in ["config.yaml", "state.json", "release/config.json", "release/model.safetensors",
                     "release/heads/linear.safetensors", "checkpoints/epoch-0003/optimizer.safetensors"] {
            XCTAssertTrue(fm.fileExists(atPath: run + "/" + file), file)
        }
        XCTAssertFalse(fm.fileExists(atPath: run + "/release/optimizer.safetensors"))
    }

    /// Runs the `deepfake train` executable: uninterrupted into `a`; into `b` SIGKILLed inside epoch 0 (after the
    /// untrained model's validation, before any checkpoint), resumed and SIGKILLed again inside a later epoch
    /// (after the epoch-1 checkpoint), then resumed to the end. Both runs must end byte for byte the same:
    /// checkpoints (weights, optimizer state, heads), release, summary.csv (the untrained row written once),
    /// state.json; and no half-written file may remain. It trains with upstream's 19 augmentations on, so their random
    /// draws are part of what must replay bit for bit. About 5 s in release mode on 2 cores.
    func testKilledTrainingResumesToTheSameBytes() throws {
        let fm = FileManager.default
        let root = try shardSet()
        let (a, b) = (root + "/a", root + "/b")
        for run in [a, b] {
            try SmallTraining.configuration(root, output: run).yaml.write(toFile: run + ".yaml", atomically: true, encoding: .utf8)
        }
        // Gradients are summed per thread, so results depend on the thread count in the last bits: the runs
        // start with one thread and the resumes name none, so they must take the count state.json recorded.
        let threads = ["--threads", "1"]

        let cli = try DeepfakeProcess.locate()
        try cli.runToEnd(["train", "--config", a + ".yaml"] + threads, log: root + "/a.log")

        func epochsDone(_ state: [String: Any]) -> Int { state["epochsDone"] as? Int ?? -1 }
        let first = try cli.kill(["train", "--config", b + ".yaml"] + threads, log: root + "/b1.log", run: b) {
            epochsDone($0) == 0 && $0["initialValidated"] as? Bool == true
        }
        XCTAssertEqual(epochsDone(first), 0)
        let firstKill = try assertConsistentAfterKill(b, epochs: 4)
        _ = try cli.kill(["train", "--output", b, "--resume"], log: root + "/b2.log", run: b) { epochsDone($0) >= 2 }
        if ComputeOptions.onlineCores > 1 {
            XCTAssertTrue(try String(contentsOfFile: b + "/train.log", encoding: .utf8).contains("resuming with the run's 1 threads"))
        }
        let secondKill = try assertConsistentAfterKill(b, epochs: 4)
        XCTAssertGreaterThanOrEqual(secondKill, 2)
        print("killed with \(firstKill) and \(secondKill) epochs recorded")
        try cli.runToEnd(["train", "--output", b, "--resume"], log: root + "/b3.log")

        // Byte for byte the same outcome.
        func files(_ folder: String) -> [String] {
            (fm.enumerator(atPath: folder)?.allObjects as? [String] ?? []).filter { path in
                var directory: ObjCBool = false
                return fm.fileExists(atPath: folder + "/" + path, isDirectory: &directory) && !directory.boolValue
            }.sorted()
        }
        for folder in ["checkpoints", "release"] {
            XCTAssertEqual(files(b + "/" + folder), files(a + "/" + folder), folder)
        }
        XCTAssertEqual(try String(contentsOfFile: b + "/config.yaml", encoding: .utf8), SmallTraining.configuration(root, output: b).yaml)
        let compared = ["summary.csv", "state.json"] + files(a + "/checkpoints").map { "checkpoints/" + $0 }
            + files(a + "/release").map { "release/" + $0 }
        XCTAssertTrue(compared.contains("checkpoints/epoch-0003/model.safetensors"), "\(compared)")
        XCTAssertTrue(compared.contains("checkpoints/epoch-0003/optimizer.safetensors"), "\(compared)")
        for file in compared {
            XCTAssertEqual(fm.contents(atPath: b + "/" + file), fm.contents(atPath: a + "/" + file),
                           "\(file) differs between the uninterrupted and the killed-and-resumed run")
        }
        // The resumed processes picked up where the killed ones stopped; the untrained model was validated once.
        let log = try String(contentsOfFile: b + "/train.log", encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "initial model (untrained)").count - 1, 1, log)
        // (The first kill lands inside epoch 0 unless the poll is late by a whole epoch.)
        let fromStart = firstKill == 0 ? 1 : 0
        XCTAssertEqual(log.components(separatedBy: "resumed before epoch 0, from the initial weights").count - 1, fromStart, log)
        XCTAssertEqual(log.components(separatedBy: "resumed from \(b)/checkpoints/epoch-").count - 1, 2 - fromStart, log)
        XCTAssertEqual(try SmallTraining.summaryRows(b).map(\.epoch), [-1, 0, 1, 2, 3])
        // No leftovers; `last` names a complete checkpoint that loads.
        XCTAssertEqual((files(b) + (try fm.contentsOfDirectory(atPath: b + "/checkpoints"))).filter { $0.contains(".tmp") }, [])
        let state = try XCTUnwrap(SmallTraining.state(b))
        XCTAssertEqual(state["last"] as? String, "epoch-0003")
        XCTAssertEqual(try VisionTransformer(folder: b + "/checkpoints/epoch-0003").config.hiddenSize, 32)
    }

    /// After a kill: the run has not ended, and state.json names complete checkpoints only. Returns the epochs
    /// it records.
    func assertConsistentAfterKill(_ run: String, epochs: Int, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let fm = FileManager.default
        XCTAssertFalse(fm.fileExists(atPath: run + "/release"), "the run ended before the kill", file: file, line: line)
        let state = try XCTUnwrap(SmallTraining.state(run), "no state.json", file: file, line: line)
        let done = try XCTUnwrap(state["epochsDone"] as? Int, file: file, line: line)
        XCTAssertLessThan(done, epochs, file: file, line: line)
        for key in ["last", "best"] {
            guard let name = state[key] as? String else { continue }
            for part in ["config.json", "model.safetensors", "optimizer.safetensors", "heads/linear.safetensors"] {
                XCTAssertTrue(fm.fileExists(atPath: "\(run)/checkpoints/\(name)/\(part)"), "\(key) \(name): no \(part)", file: file, line: line)
            }
        }
        return done
    }
}

/// The built `deepfake` executable, run as a child process with its output in a log file.
struct DeepfakeProcess {
    let url: URL

    /// `deepfake` sits beside the test bundle in the build products folder (`swift build` then
    /// `swift test --skip-build`, or `swift test`, which builds every product).
    static func locate() throws -> DeepfakeProcess {
        let candidates = [
            Bundle(for: TrainEndToEndTests.self).bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent(),
        ].map { $0.appendingPathComponent("deepfake") }
        guard let url = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw ProcessFailure("the deepfake executable is not built (looked at \(candidates.map(\.path)))")
        }
        return DeepfakeProcess(url: url)
    }

    /// Starts the command (in `directory`, when given, as the working directory).
    func start(_ arguments: [String], log: String, directory: String? = nil) throws -> Process {
        guard FileManager.default.createFile(atPath: log, contents: nil), let output = FileHandle(forWritingAtPath: log) else {
            throw ProcessFailure("cannot create \(log)")
        }
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try output.close()
        return process
    }

    static func tail(_ log: String) -> String {
        String(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(2000))
    }

    /// Runs to the end; fails unless the exit status is 0.
    func runToEnd(_ arguments: [String], log: String, directory: String? = nil) throws {
        let process = try start(arguments, log: log, directory: directory)
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw ProcessFailure("deepfake \(arguments.joined(separator: " ")) ended with \(process.terminationStatus):\n\(Self.tail(log))")
        }
    }

    /// Starts the command, polls `run`/state.json every 2 ms until `when` holds, then SIGKILLs the process and
    /// returns that state. Fails if the process ends on its own first.
    func kill(_ arguments: [String], log: String, run: String, when: ([String: Any]) -> Bool) throws -> [String: Any] {
        let process = try start(arguments, log: log)
        let deadline = Date().addingTimeInterval(300)
        while true {
            if let state = try SmallTraining.state(run), when(state) {
                #if canImport(Glibc)
                _ = Glibc.kill(process.processIdentifier, SIGKILL)
                #else
                _ = Darwin.kill(process.processIdentifier, SIGKILL)
                #endif
                process.waitUntilExit()
                guard process.terminationReason == .uncaughtSignal, process.terminationStatus == SIGKILL else {
                    throw ProcessFailure("deepfake ended (\(process.terminationStatus)) before it was killed:\n\(Self.tail(log))")
                }
                return state
            }
            if !process.isRunning || Date() > deadline {
                process.terminate()
                process.waitUntilExit()
                throw ProcessFailure("deepfake \(arguments.joined(separator: " ")) ended (\(process.terminationStatus)) before the kill point:\n\(Self.tail(log))")
            }
            usleep(2000)
        }
    }
}

/// The `deepfake` child process did not run as the test needs.
struct ProcessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
