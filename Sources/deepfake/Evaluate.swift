import ArgumentParser
import DeepfakeCore
import Detection
import Foundation
import Heads
import Imaging
import Tensor

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the D3 test protocol: real vs each generator, per head, with upstream's and more metrics.",
        discussion: """
            Pairs of (real folder, fake folder) come from one of:
              ROOT               a D3 test root holding {augm,no_augm}/{real,gen_0,gen_1,gen_2,gen_3} \
            (8 pairs, keyed as upstream: augm_gen0_and_real, augm_gen_1, ...)
              --real R --fake F  explicit pairs (repeat both; --name names them, default pair-N)
              --pairs FILE.yaml  a list of `- key: NAME / real: DIR / fake: DIR` entries (paths relative to the file)
              --shards SPEC      D3 records in WebDataset shards (`deepfake shards create`; a brace pattern, a             .shards list or URLs; ROOT may be such a spec too): each record's real image against each gen_K, one             pair per generator keyed as upstream keys the --subset (default shards: shards_gen0_and_real,             shards_gen_1, ...); read once, as a stream
            Every image extension is read, in any case (JPEG, PNG, BMP, GIF, TIFF, WebP). Each image is \
            embedded once, whatever the number of pairs and heads.

            Per pair and head: real, fake and pooled accuracy at the head's own decision (upstream's \
            numbers), balanced accuracy, average precision, ROC-AUC, the best-threshold accuracy, and TPR \
            at 1% and 5% FPR (fake = positive; the SVM's score is its negated decision value).
            Output: a Markdown table on stdout; with --output DIR also evaluation.json (everything, with \
            curves), scores.csv (one row per image, pair and head), acc0_<head>.txt (upstream's format) and \
            ROC / precision-recall plots (roc_<head>.svg, pr_<head>.svg).

            Examples:
              deepfake evaluate d3_test/ --output results/
              deepfake evaluate --heads linear,svm --real photos/ --fake generated/ --name mine
              deepfake evaluate --pairs pairs.yaml --model ./CoDE --output results/
              deepfake evaluate --shards 'val-no-augm-{0000..0009}.tar' --subset no_augm --model runs/code/release

            Exit status: 0 done (images that fail to decode are listed and left out of the metrics); \
            2 the model could not be loaded; 3 the pairs could not be read; 64 usage error.
            """)

    @Option(help: "Model folder or Hugging Face repo id (default: $DEEPFAKE_MODEL, else aimagelab/CoDE).")
    var model: String?

    @Option(help: "Comma-separated heads to evaluate: linear, knn, svm.")
    var heads: String = "linear,knn,svm"

    @Option(help: "A real-image folder of an explicit pair (repeat with --fake).")
    var real: [String] = []

    @Option(help: "A fake-image folder of an explicit pair (repeat with --real).")
    var fake: [String] = []

    @Option(help: "A name for each explicit pair, in order.")
    var name: [String] = []

    @Option(help: "A YAML file listing pairs.")
    var pairs: String?

    @Option(help: "A folder for evaluation.json, scores.csv, acc0_<head>.txt and the plots.")
    var output: String?

    @Option(help: "D3 record shards to evaluate (repeatable; brace patterns, .shards lists, URLs).")
    var shards: [String] = []

    @Option(help: "The subset name in the pair keys of shard evaluations (e.g. no_augm, augm).")
    var subset: String = "shards"

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var logging: LoggingOptions

    @Argument(help: "A D3 test root ({augm,no_augm}/{real,gen_0..gen_3}), or a shard spec of D3 records.")
    var root: String?

    /// The shard specs to evaluate: --shards, or ROOT when it names shards; empty for folder pairs.
    var shardSpecs: [String] {
        if !shards.isEmpty { return shards }
        if let root, isShardSpec(root) { return [root] }
        return []
    }

    func validate() throws {
        let sources = [root != nil, !real.isEmpty || !fake.isEmpty, pairs != nil, !shards.isEmpty].filter { $0 }.count
        if sources != 1 { throw ValidationError("give exactly one of: ROOT, --real/--fake pairs, --pairs FILE, --shards SPEC") }
        if real.count != fake.count { throw ValidationError("--real and --fake must be given the same number of times") }
        if !name.isEmpty && name.count != real.count { throw ValidationError("give one --name per --real/--fake pair") }
        _ = try headKinds()
    }

    func headKinds() throws -> [HeadKind] {
        let kinds = heads.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !kinds.isEmpty else { throw ValidationError("--heads needs at least one of linear, knn, svm") }
        return try kinds.map { k in
            guard let kind = HeadKind(rawValue: k) else { throw ValidationError("unknown head '\(k)' (linear, knn, svm)") }
            return kind
        }
    }

    func run() throws {
        var dataset: EvaluationDataset?
        if shardSpecs.isEmpty {
            do {
                let list: [EvaluationPair]
                if let root {
                    let found = try D3Layout.discover(root: root)
                    for missing in found.missingFolders { printError("warning: \(root): no folder \(missing); its pairs are skipped") }
                    list = found.pairs
                } else if let pairs {
                    list = try D3Layout.loadPairsYAML(path: pairs)
                } else {
                    list = try D3Layout.explicitPairs(real: real, fake: fake, names: name.map { Optional($0) })
                }
                dataset = try EvaluationDataset(pairs: list)
            } catch {
                printError("error: \(error)")
                throw ExitCode(3)
            }
            for warning in dataset!.warnings { printError("warning: \(warning)") }
        }

        let detector: Detector
        do {
            let loaded = try loadModel(model, heads: try headKinds(), progress: DownloadProgress().callback)
            let options = pipeline.embedderOptions()
            detector = Detector(embedder: Embedder(model: loaded.backbone, options: options), heads: loaded.heads)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let settings = ["model": model ?? ProcessInfo.processInfo.environment["DEEPFAKE_MODEL"] ?? defaultModelRepository,
                        "batch_size": "\(pipeline.batchSize)", "heads": heads]
        let versions = ["deepfake": Deepfake.configuration.version]
        let report: EvaluationReport
        if let dataset {
            var bar = ProgressBar(total: dataset.paths.count, label: "evaluate")
            report = detector.evaluate(dataset, settings: settings, versions: versions) { _ in bar.advance() }
            bar.finish()
        } else {
            var bar = ProgressBar(total: 0, label: "evaluate")
            report = detector.evaluateShards(shardSpecs, subset: subset, settings: settings.merging(["subset": subset]) { a, _ in a },
                                             versions: versions) { _ in bar.advance() }
            bar.finish()
            for warning in report.dataset.warnings { printError("warning: \(warning)") }
        }
        for (path, message) in report.imageErrors.sorted(by: { $0.key < $1.key }) {
            printError("warning: left out " + (message.hasPrefix(path) ? message : "\(path): \(message)"))
        }
        if dataset == nil && report.dataset.pairs.isEmpty {
            printError("error: \(shardSpecs.joined(separator: " ")): no record has both a real and a gen_K image")
            throw ExitCode(3)
        }
        print(report.markdownTable())
        if let output {
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                try report.writeJSON(to: output + "/evaluation.json")
                try report.writeScoresCSV(to: output + "/scores.csv")
                for kind in try headKinds() {
                    try report.writeAcc0(to: output + "/acc0_\(kind.rawValue).txt", head: kind.rawValue)
                }
                let plots = try report.writePlots(directory: output)
                printError("wrote \(output)/evaluation.json, scores.csv, acc0_*.txt and \(plots.count) plots")
            } catch {
                printError("error: writing \(output): \(error)")
                throw ExitCode(1)
            }
        }
    }
}
