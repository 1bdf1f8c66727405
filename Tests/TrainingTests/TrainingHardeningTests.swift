import Foundation
import Training
import ViT
import XCTest

/// Configurations and run folders from the attack run (issue 11): values that scale memory past the machine,
/// values that trapped, and a corrupt state.json, each refused with the key or file named.
final class TrainingConfigurationLimitTests: XCTestCase {
    /// A configuration with shards named (validation checks them before the memory), then `arguments`.
    private func resolve(_ arguments: [String]) throws -> TrainingConfiguration {
        try TrainingConfiguration.resolve(configFile: nil, arguments: ["--train-shards", "t.tar", "--linear-train-shards", "l.tar",
                                                                       "--val-shards-no-augm", "v.tar"] + arguments, resume: false).configuration
    }

    private func refused(_ arguments: [String], _ words: String..., line: UInt = #line) {
        do {
            _ = try resolve(arguments)
            XCTFail("\(arguments) accepted", line: line)
        } catch {
            for w in words { XCTAssertTrue("\(error)".contains(w), "'\(w)' not in: \(error)", line: line) }
        }
    }

    /// The attack run's `batch-size: 100000000` climbed to 23 GiB before failing; it is refused up front with
    /// the key and the estimate.
    func testBatchSizeBeyondPhysicalMemoryIsRefused() {
        refused(["--batch-size", "100000000"], "batch-size 100000000", "TiB", "more than this machine's", "lower batch-size")
    }

    func testShuffleBufferAndModelSizesBeyondPhysicalMemoryAreRefused() {
        refused(["--shuffle-buffer", "1000000000"], "shuffle-buffer 1000000000", "per record", "lower shuffle-buffer")
        refused(["--hidden-size", "16384", "--layers", "1024", "--mlp-size", "131072", "--heads", "16"],
                "the model", "hidden-size 16384", "batch-size 2")
    }

    /// The estimate follows the documented figures: ViT-Tiny's training forward caches 24.4 MB per image
    /// (ViTActivations), a step's two view buffers hold 2·4·256 images of 3·224² floats (1.23 GB), and the
    /// defaults fit on an 8 GiB machine but not on a 3 GiB one, where batch-size 32 fits.
    func testDefaultEstimateAndMachineSize() throws {
        var c = try resolve([])
        let e = c.memoryEstimate
        XCTAssertEqual(e.views, 2 * 4 * 256 * 3 * 224 * 224 * 4)
        XCTAssertGreaterThan(e.activations, 64 * 24.4e6)
        XCTAssertLessThan(e.activations, 64 * 24.4e6 + 1.5e9)
        XCTAssertNoThrow(try c.validate(physicalMemory: 8 << 30))
        XCTAssertThrowsError(try c.validate(physicalMemory: 3 << 30)) { XCTAssertTrue("\($0)".contains("batch-size 256"), "\($0)") }
        c.batchSize = 32
        XCTAssertNoThrow(try c.validate(physicalMemory: 3 << 30))
    }

    /// Values that trapped (a precondition or a negative count) or made no sense are refused with the key.
    func testTrappingValuesAreRefusedWithTheKey() {
        refused(["--shuffle-buffer", "0"], "shuffle-buffer must be ≥ 1")
        refused(["--keep-checkpoints", "-1"], "keep-checkpoints must be ≥ 0")
        refused(["--warmup-epochs", "-2"], "warmup-epochs must be ≥ 0")
        refused(["--min-lr", "-0.1"], "min-lr")
        refused(["--lr", ".nan"], "lr must be a finite number")
        refused(["--crop-pct", "1e-300"], "crop-pct", "raise crop-pct")
        refused(["--threads", "0"], "threads must be from 1 to 1024")
        refused(["--image-size", "1000000"], "image-size must be from 1 to 8192")
        refused(["--layers", "10000000"], "layers must be from 1 to 1024")
        refused(["--image-size", "4096", "--patch-size", "1"], "patches per side")
        refused(["--global-crops-scale", "-1", "1"], "global-crops-scale")
        refused(["--infonce-loss-temperature", "0"], "infonce-loss-temperature")
        refused(["--data-len-linear", "0"], "data-len-linear must be ≥ 1")
    }

    /// `--config /dev/zero` read forever; a device or pipe is refused at once.
    func testConfigFileMustBeARegularFile() {
        var c = TrainingConfiguration()
        XCTAssertThrowsError(try c.apply(yamlFile: "/dev/zero")) { XCTAssertTrue("\($0)".contains("/dev/zero: is not a regular file"), "\($0)") }
    }
}

final class TrainingResumeHardeningTests: XCTestCase {
    /// A finished two-epoch run of the small model (2 steps per epoch) in a fresh folder; returns its configuration.
    private func finishedRun() throws -> TrainingConfiguration {
        let root = NSTemporaryDirectory() + "/train-hardening-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try SyntheticImages().writeShardSet(root)
        var c = SmallTraining.configuration(root, output: root + "/run")
        c.epochs = 2; c.stepsPerEpoch = 2; c.initialValidation = false; c.linearRecords = 40; c.validationRecords = 40
        try Trainer(configuration: c).run()
        return c
    }

    private func resumeError(_ c: TrainingConfiguration) -> String? {
        do { try Trainer(configuration: c).run(resume: true); return nil } catch { return "\(error)" }
    }

    /// A corrupt state.json used to be ignored and the run then said "pass --resume" (which had been passed).
    func testCorruptStateIsNamedWithWhatToDo() throws {
        let c = try finishedRun()
        let state = c.output + "/state.json"
        let valid = try String(contentsOfFile: state, encoding: .utf8)
        for (text, words) in [("{\"epochsDone\": ", ["not valid JSON"]), ("garbage", ["not valid JSON"]),
                              (valid.replacingOccurrences(of: "\"epochsDone\" : 2", with: "\"epochsDone\" : -3"), ["epochsDone is -3"]),
                              (valid.replacingOccurrences(of: "\"epoch-0001\"", with: "\"../../x\""), ["not a checkpoint name"]),
                              (valid.replacingOccurrences(of: "\"epochsDone\" : 2", with: "\"epochsDone\" : \"2\""), ["epochsDone"])] {
            XCTAssertNotEqual(text, valid)
            try text.write(toFile: state, atomically: true, encoding: .utf8)
            guard let message = resumeError(c) else { XCTFail("\(text) accepted"); continue }
            for w in [state, "is corrupt", "delete it"] + words { XCTAssertTrue(message.contains(w), "'\(w)' not in: \(message)") }
            XCTAssertFalse(message.contains("pass --resume"), message)
        }
    }

    /// Resuming with fewer epochs than the run has done trapped (an empty range 2..<1); it now trains nothing.
    func testResumeWithFewerEpochsTrainsNothing() throws {
        var c = try finishedRun()
        c.epochs = 1
        XCTAssertEqual(try Trainer(configuration: c).run(resume: true).count, 0)
    }

    /// Resuming with other model sizes than the checkpoint's is refused naming both.
    func testResumeWithOtherModelSizesIsRefused() throws {
        var c = try finishedRun()
        c.epochs = 3; c.layers = 1
        let message = try XCTUnwrap(resumeError(c))
        XCTAssertTrue(message.contains("checkpoints/epoch-0001"), message)
        XCTAssertTrue(message.contains("layers 2") && message.contains("layers 1"), message)
    }
}
