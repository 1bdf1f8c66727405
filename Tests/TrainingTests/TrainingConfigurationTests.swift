import Foundation
import Training
import DeepfakeCore
import XCTest

/// The configuration keys (TrainingKey.all) read from YAML and from the command line, refused with their reason,
/// written into config.yaml and read back.
final class TrainingConfigurationTests: XCTestCase {
    func applied(_ yaml: String) throws -> (TrainingConfiguration, [String]) {
        var c = TrainingConfiguration()
        let noEffect = try c.apply(yaml: yaml, file: "c.yaml")
        return (c, noEffect)
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    func testUpstreamNamesAndOursSetTheSameFields() throws {
        let (upstream, _) = try applied("""
            model: vit_tiny_patch16_224
            warmup_epochs: 3
            num_step: 7
            infonce_loss_temperature: 0.2
            grad_accum_steps: 2
            checkpoint_hist: 4
            input_size: [3, 64, 64]
            data_len_linear: -1
            clip_grad: 1.5
            no_data_augmentation: True
            """)
        var ours = TrainingConfiguration()
        XCTAssertEqual(try ours.apply(arguments: ["--model", "vit-tiny-patch16-224", "--warmup-epochs", "3", "--steps", "7",
                                                  "--temperature", "0.2", "--gradient-accumulation", "2", "--keep-checkpoints=4",
                                                  "--image-size", "64", "--data-len-linear", "-1", "--clip-grad", "1.5",
                                                  "--no-data-augmentation"]), [])
        XCTAssertEqual(upstream, ours)
        XCTAssertEqual(ours.warmupEpochs, 3)
        XCTAssertEqual(ours.stepsPerEpoch, 7)
        XCTAssertEqual(ours.temperature, 0.2)
        XCTAssertEqual(ours.gradientAccumulation, 2)
        XCTAssertEqual(ours.keepCheckpoints, 4)
        XCTAssertEqual(ours.imageSize, 64)
        XCTAssertNil(ours.linearRecords)
        XCTAssertEqual(ours.clipGradient, 1.5)
        XCTAssertFalse(ours.dataAugmentation)

        // Our own flags: repeated list flags add up, --no-X turns a flag off, the last scalar wins.
        var c = TrainingConfiguration()
        _ = try c.apply(arguments: ["--train-shards", "a/{0..1}.tar", "--train-shards", "b.tar", "--val-shards", "v.tar",
                                    "--val-shards-transformed", "t.tar", "--no-initial-validation", "--threads", "3",
                                    "--seed", "7", "--seed", "9", "--loss", "released", "--global-crops-scale", "0.3", "0.9"])
        XCTAssertEqual(c.trainShards, ["a/{0..1}.tar", "b.tar"])
        XCTAssertEqual(c.validationShards, ["v.tar"])
        XCTAssertEqual(c.validationTransformedShards, ["t.tar"])
        XCTAssertFalse(c.initialValidation)
        XCTAssertEqual(c.threads, 3)
        XCTAssertEqual(c.seed, 9)
        XCTAssertEqual(c.loss, .released)
        XCTAssertEqual(c.globalCropScale, 0.3...0.9)
    }

    func testNoEffectKeysAreAcceptedAndNamed() throws {
        let (c, noEffect) = try applied("cineca: True\namp: True\nlog_wandb: True\nworkers: 8\nepochs: 3\n")
        XCTAssertEqual(noEffect, ["cineca", "amp", "log_wandb", "workers"])
        XCTAssertEqual(c.epochs, 3)
        XCTAssertNil(c.threads, "workers (data-loader processes upstream) must not set the thread count")
        var d = TrainingConfiguration()
        XCTAssertEqual(try d.apply(arguments: ["--amp", "--workers", "8", "--experiment", "x", "--dino_crop"]), ["amp", "workers", "experiment", "dino_crop"])
        XCTAssertEqual(d, TrainingConfiguration())
        XCTAssertEqual(TrainingConfiguration.noEffectWarning(["amp", "workers"]),
                       "warning: accepted without effect here: amp, workers (deepfake train --help says why)")
        XCTAssertNil(TrainingConfiguration.noEffectWarning([]))
    }

    func testRefusedValuesGiveTheirReason() {
        let refused: [([String], String)] = [
            (["--opt", "sgd"], "--opt: sgd is refused: the optimiser is AdamW"),
            (["--sched", "step"], "--sched: step is refused: the schedule is timm's cosine"),
            (["--pretrained"], "--pretrained: true is refused: training starts from timm's random initialisation"),
            (["--model", "resnet50"], "--model: resnet50 is refused: only ViT-Tiny/16"),
            (["--crop-pct", "1.5"], "--crop-pct: 1.5 is refused: crop-pct must be in (0, 1]"),
            (["--last-crop", "false"], "--last-crop: false is refused: views always end with"),
            (["--mean", "0.5", "0.5", "0.5"], "--mean: [0.5, 0.5, 0.5] is refused: the normalisation is ImageNet's"),
            (["--input-size", "1", "32", "32"], "--input-size: [1, 32, 32] is refused: only [3, N, N]"),
            (["--classifier", "linear"], "--classifier: [\"linear\"] is refused: the linear, k-NN and one-class SVM heads"),
            (["--loss", "both"], "--loss: both is refused: loss must be intended or released"),
            (["--epoch", "3"], "--epoch: unknown key"),
            (["--epochs", "many"], "--epochs: must be integer, found 'many'"),
            (["--epochs"], "--epochs: needs a value (integer)"),
            (["stray"], "'stray': expected a setting"),
        ]
        for (arguments, expected) in refused {
            var c = TrainingConfiguration()
            let text = message { try c.apply(arguments: arguments) }
            XCTAssertTrue(text.hasPrefix(expected), "\(arguments): \(text)")
        }
        // In a file: the file, the line and the key as spelled.
        XCTAssertEqual(message { try self.applied("epochs: 3\n\nopt: SGD\n") },
                       "c.yaml:3: opt: SGD is refused: the optimiser is AdamW with timm's parameter groups; others are not implemented")
        XCTAssertEqual(message { try self.applied("lr: 0.1\nLR: 0.2\n") }, "c.yaml:2: LR: is the same key as 'lr', given before")
        XCTAssertEqual(message { try self.applied("warmup_lr: [1, 2]\n") }, "c.yaml:1: warmup_lr: must be number, found a list or mapping")
        XCTAssertTrue(message { try self.applied("lr: 0.1\nlr: 0.2\n") }.hasPrefix("c.yaml:2: key 'lr' is given twice"))
        XCTAssertTrue(message { try self.applied("train_shards: [data/{a,b}.tar]\n") }.hasPrefix("c.yaml:1: "))
        XCTAssertEqual(message { try self.applied("- epochs: 3\n") }, "c.yaml:1: expected `key: value` lines")
        XCTAssertEqual(try applied("# nothing set\n").0, TrainingConfiguration())
    }

    /// Upstream joins each line of a `.shards` list with the set's data folder; without one, names are taken next
    /// to the list file.
    func testListNamesJoinTheirDataFolder() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("shard-lists-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/lists", withIntermediateDirectories: true)
        try "a.tar\nb.tar".write(toFile: root + "/lists/t.shards", atomically: true, encoding: .utf8)
        var c = TrainingConfiguration()
        c.trainShards = [root + "/lists/t.shards"]; c.linearTrainShards = c.trainShards
        c.validationShards = c.trainShards; c.validationTransformedShards = c.trainShards + ["x-{0..1}.tar"]
        XCTAssertEqual(try c.shardNames(.train), [root + "/lists/a.tar", root + "/lists/b.tar"])
        c.dataDir = "/data/train"; c.dataDirEvalNoAugm = "/data/clean"; c.dataDirEvalAugm = "/data/transf"
        XCTAssertEqual(try c.shardNames(.train), ["/data/train/a.tar", "/data/train/b.tar"])
        XCTAssertEqual(try c.shardNames(.linearTrain), ["/data/train/a.tar", "/data/train/b.tar"])
        XCTAssertEqual(try c.shardNames(.validation), ["/data/clean/a.tar", "/data/clean/b.tar"])
        XCTAssertEqual(try c.shardNames(.validationTransformed), ["/data/transf/a.tar", "/data/transf/b.tar", "x-0.tar", "x-1.tar"])
    }

    /// Seeded random configurations written as config.yaml read back equal, every recorded value included
    /// (shard specs with brace lists, commas, colons, quotes, `#`, YAML words and numbers as text).
    func testConfigYAMLRoundTrips() throws {
        var rng = SplitMix64(seed: 2024)
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func chance() -> Bool { rng.next() & 1 == 1 }
        func number() -> Double {
            switch below(4) {
            case 0: return Double(below(1000)) / 1000
            case 1: return Double(1 + below(9)) * pow(10, -Double(below(12)))
            case 2: return Double(below(1 << 20)) * 1e-7
            default:  // any finite non-negative value, subnormals included
                let value = Double(bitPattern: rng.next() & 0x7FFF_FFFF_FFFF_FFFF)
                return value.isFinite ? value : 1
            }
        }
        let pieces = ["data/{a,b}.tar", "d3-{0000..0491}.tar", "x: y", "#not a comment", " lead", "trail ", "'q'", "\"dq\"",
                      "null", "true", "~", "123", "-", "- item", "[x]", "{k: v}", "a,b", "é/ü", "&anchor", "*alias", "!tag",
                      "%", "@", "`", "|", ">", "tab\there", "line\nbreak", "::", "no", "0x1F", "1e3", ""]
        func text() -> String { (0..<(1 + below(3))).map { _ in pieces[below(pieces.count)] }.joined() }
        for iteration in 0..<300 {
            var c = TrainingConfiguration()
            c.imageSize = 1 + below(512); c.patchSize = 1 + below(32); c.hiddenSize = 1 + below(1024); c.layers = below(30)
            c.heads = 1 + below(16); c.mlpSize = below(4096)
            let crop = number(); c.cropPercent = crop > 0 && crop <= 1 ? crop : 0.5  // outside (0, 1] is refused
            c.epochs = below(1000); c.warmupEpochs = below(10) - 2; c.learningRate = number(); c.warmupLR = number()
            c.minLR = number(); c.weightDecay = number(); c.batchSize = below(1024); c.stepsPerEpoch = below(5000)
            c.gradientAccumulation = below(8); c.clipGradient = chance() ? nil : number(); c.temperature = number()
            c.loss = chance() ? .intended : .released
            let g = [number(), number()].sorted(), l = [number(), number()].sorted()
            c.globalCropScale = g[0]...g[1]; c.localCropScale = l[0]...l[1]
            c.seed = rng.next(); c.numTransform = below(20); c.dataAugmentation = chance()
            c.dataDir = chance() ? nil : text(); c.dataDirEvalAugm = chance() ? nil : text(); c.dataDirEvalNoAugm = chance() ? nil : text()
            c.trainShards = (0..<below(4)).map { _ in text() }; c.linearTrainShards = (0..<below(3)).map { _ in text() }
            c.validationShards = (0..<below(3)).map { _ in text() }; c.validationTransformedShards = (0..<below(3)).map { _ in text() }
            c.linearRecords = chance() ? nil : below(100_000); c.validationRecords = chance() ? nil : below(100_000)
            c.shuffleBuffer = below(5000); c.initialValidation = chance(); c.earlyStopping = chance()
            c.patienceEpochs = below(20); c.keepCheckpoints = below(20); c.output = text()
            // threads is not recorded: state.json carries the run's thread count for --resume.
            let yaml = try c.encodedYAML()
            var read = TrainingConfiguration()
            XCTAssertEqual(try read.apply(yaml: yaml, file: "config.yaml"), [])
            XCTAssertEqual(read, c, "iteration \(iteration):\n\(yaml)")
            if read != c { break }
        }
    }

    /// The help and docs/training.md name every key.
    func testHelpAndDocsNameEveryKey() throws {
        let docs = try String(contentsOfFile: TrainingFixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/training.md").path, encoding: .utf8)
        let help = TrainingKey.helpText
        for key in TrainingKey.all {
            XCTAssertTrue(help.contains(key.name), key.name)
            XCTAssertTrue(docs.contains("`\(key.name)`"), "docs/training.md does not list `\(key.name)`")
            for alias in key.aliases where alias.count > 2 { XCTAssertTrue(docs.contains(alias), "docs/training.md: alias \(alias)") }
        }
    }
}
