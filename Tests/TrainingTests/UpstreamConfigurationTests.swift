import Detection
import Foundation
import Training
import XCTest

/// `deepfake train` with upstream's configuration as it is: the committed `config-training.yaml` in upstream's
/// shape (Tests/Fixtures/upstream-config: the same keys and kinds of values, paths relative to the working
/// directory as upstream runs from `src/`) with its `.shards` lists, whose names are relative to `data_dir`,
/// `data_dir_eval_augm` and `data_dir_eval_no_augm`, not to the lists' folder. The test writes small synthetic
/// shards (SyntheticImages) where those folders say and trains a 2-layer ViT for 2 epochs of 2 steps through the
/// executable, once with the file alone and once with upstream's train.sh flags on top.
final class UpstreamConfigurationTests: XCTestCase {
    /// The keys of the fixture file that have no effect here, in the file's order.
    static let fileNoEffect = ["cineca", "workers_validate", "validation_batch_size", "multiple_evaluations", "amp", "distance",
                               "no_prefetcher", "log_interval", "plot_freq"]

    /// Sizes that keep the runs to seconds (flags override the file's `input_size: [3, 224, 224]`).
    static let tiny = ["--image-size", "32", "--patch-size", "8", "--hidden-size", "32", "--layers", "2", "--heads", "2",
                       "--mlp-size", "64", "--num-step", "2", "--shuffle-buffer", "8", "--threads", "2"]

    /// A working directory holding the fixture's `config/` and `dataset/shards/`, and a shard for every name
    /// in each list, in the list's data folder: 2 × 12 training records, 2 × 8 head-fitting records, 8 records
    /// in each validation set, all distinct.
    func workingDirectory() throws -> String {
        let fm = FileManager.default
        let root = NSTemporaryDirectory() + "/upstream-config-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        for folder in ["config", "dataset"] {
            try fm.copyItem(atPath: TrainingFixtures.path("upstream-config/" + folder), toPath: root + "/" + folder)
        }
        let images = SyntheticImages()
        var next = 0
        for (list, folder, records) in [("elsav2-training", "data/webdatasets_elsa_v2", 12),
                                        ("elsa_v2_train_transf", "data/webdatasets_elsa_v2", 8),
                                        ("validation_set-no_transf-elsav2", "data/wds_test_small/no_transf", 8),
                                        ("validation_set-transf-elsav2", "data/wds_test_small/transf", 8)] {
            let names = try String(contentsOfFile: root + "/dataset/shards/\(list).shards", encoding: .utf8)
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            XCTAssertFalse(names.isEmpty, list)
            try fm.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
            for name in names {
                try images.writeShard(root + "/\(folder)/\(name)", records: next..<(next + records))
                next += records
            }
        }
        return root
    }

    /// The one warning line of a run's output.
    func warningLine(_ log: String) throws -> String {
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("warning: accepted without effect") }
        XCTAssertEqual(lines.count, 1, "one warning line expected:\n\(DeepfakeProcess.tail(log))")
        return String(lines.first ?? "")
    }

    func testUpstreamConfigFileTrainsAndLeavesALoadableRelease() throws {
        let root = try workingDirectory()
        let cli = try DeepfakeProcess.locate()
        try cli.runToEnd(["train", "--config", "config/config-training.yaml", "--epochs", "2", "--warmup-epochs", "1",
                          "--batch-size", "4", "--output", "runs/code"] + Self.tiny, log: root + "/train.out", directory: root)
        XCTAssertEqual(try warningLine(root + "/train.out"), TrainingConfiguration.noEffectWarning(Self.fileNoEffect))

        let run = root + "/runs/code"
        // Both validation sets were read from their own data folders (the transformed columns are filled).
        let rows = try SmallTraining.summaryRows(run)
        XCTAssertEqual(rows.map(\.epoch), [-1, 0, 1])
        let csv = try String(contentsOfFile: run + "/summary.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertTrue(csv.dropFirst().allSatisfy { !$0.hasSuffix(",,,") }, "\(csv)")
        // The file's settings took effect: data folders, record counts, early stopping, recorded in config.yaml.
        var written = TrainingConfiguration()
        XCTAssertEqual(try written.apply(yamlFile: run + "/config.yaml"), [])
        XCTAssertEqual(written.dataDir, "data/webdatasets_elsa_v2")
        XCTAssertEqual(written.dataDirEvalAugm, "data/wds_test_small/transf")
        XCTAssertEqual(written.dataDirEvalNoAugm, "data/wds_test_small/no_transf")
        XCTAssertEqual(written.trainShards, ["dataset/shards/elsav2-training.shards"])
        XCTAssertEqual(written.linearRecords, 9600)
        XCTAssertEqual(written.validationRecords, 4800)
        XCTAssertEqual(written.patienceEpochs, 6)
        XCTAssertEqual(written.imageSize, 32, "the flag overrides the file's input_size")

        // The release folder loads the way `deepfake detect --model` loads it.
        let model = try loadModel(run + "/release", heads: [.linear, .knn, .svm], environment: ["HF_HUB_OFFLINE": "1"])
        XCTAssertEqual(model.backbone.config.imageSize, 32)
        XCTAssertEqual(model.backbone.config.hiddenSize, 32)
        XCTAssertEqual(model.backbone.config.layers, 2)
        XCTAssertEqual(model.heads.map(\.kind), [.linear, .knn, .svm])
    }

    func testTrainShCommandLineTrains() throws {
        let root = try workingDirectory()
        let cli = try DeepfakeProcess.locate()
        // upstream's src/scripts/train.sh, flag for flag, with 2 epochs of 4 records instead of 150 of 256.
        let trainSh = ["--config", "config/config-training.yaml", "--dataset", "elsa_v2_train_dino",
                       "--model", "vit_tiny_patch16_224", "--sched", "cosine", "--double_contrastive", "--sup_contrastive_loss",
                       "--dino_crop", "--experiment", "training_code", "--epochs", "2", "--warmup-epochs", "1", "--lr", "0.002",
                       "--opt", "adamw", "--workers", "8", "--batch-size", "4", "--output", "./runs", "--num_transform", "2",
                       "--contrastive_loss", "--last-crop", "--crop-pct", "0.9"]
        try cli.runToEnd(["train"] + trainSh + Self.tiny, log: root + "/train.out", directory: root)
        XCTAssertEqual(try warningLine(root + "/train.out"), TrainingConfiguration.noEffectWarning(
            Self.fileNoEffect + ["sup_contrastive_loss", "dino_crop", "experiment", "workers", "contrastive_loss"]))
        XCTAssertEqual(try SmallTraining.summaryRows(root + "/runs").map(\.epoch), [-1, 0, 1])
        var written = TrainingConfiguration()
        _ = try written.apply(yamlFile: root + "/runs/config.yaml")
        XCTAssertEqual(written.learningRate, 0.002)
        XCTAssertEqual(written.numTransform, 2)
        XCTAssertEqual(written.cropPercent, 0.9)
        XCTAssertEqual(written.batchSize, 4)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/runs/release/model.safetensors"))
    }

    func testRefusedTrainShValuesStopWithTheReason() throws {
        let root = try workingDirectory()
        let cli = try DeepfakeProcess.locate()
        for (flags, reason) in [(["--opt", "sgd"], "--opt: sgd is refused: the optimiser is AdamW"),
                                (["--model", "resnet50"], "--model: resnet50 is refused: only ViT-Tiny/16")] {
            let log = root + "/refused.out"
            XCTAssertThrowsError(try cli.runToEnd(["train", "--config", "config/config-training.yaml"] + flags, log: log, directory: root))
            XCTAssertTrue(try String(contentsOfFile: log, encoding: .utf8).contains(reason), DeepfakeProcess.tail(log))
            XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/runs"), "a refused run must not start")
        }
    }
}
