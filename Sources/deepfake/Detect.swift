import ArgumentParser
import DeepfakeCore
import Detection
import Foundation
import Heads
import Imaging
import Tensor

struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say whether each image is real or generated, with the CoDE model and one of its heads.",
        discussion: """
            Inputs are image files, directories (walked recursively for image extensions, any case) or \
            glob patterns (quote them: 'photos/*.png').
            --model takes a local model folder (config.json, model.safetensors, and the heads under \
            sklearn/ as released, or heads/<kind>.safetensors in this project's format) or a Hugging Face \
            repo id (downloaded once into the standard cache, ~/.cache/huggingface; HF_HUB_OFFLINE, \
            HF_ENDPOINT, HF_TOKEN and HF_HOME are honoured). Default: $DEEPFAKE_MODEL, else aimagelab/CoDE.

            Heads: linear (logistic regression; score = probability \
            of fake), knn (1-nearest neighbour, cosine; score = fraction of fake neighbours), svm \
            (one-class SVM fitted on real images; score = decision value, negative means fake).
            Without --threshold each head decides as scikit-learn's predict does. With it: linear and \
            knn say fake when score > X; svm says fake when decision < X.

            Examples:
              deepfake detect photo.jpg
              deepfake detect --head svm --format jsonl photos/ > verdicts.jsonl
              deepfake detect --model ./CoDE --format csv 'shots/*.png' > verdicts.csv
              deepfake detect --head linear --threshold 0.9 suspicious/

            table and csv print one line per image: control characters in a path or an error are escaped \
            as in JSON strings (\\n, \\t, \\u001b; a backslash as \\\\); jsonl is JSON.

            Only regular files are read: a FIFO, socket or device (named, or met in a folder under an image \
            name), a broken link or a link loop gets an error row saying so, and nothing waits on it. A file is \
            read up to --max-bytes (default 256M; a larger one gets an error row), and the decoders of all \
            threads together hold at most --decode-memory of pixel buffers (default 1G; each decode waits for \
            its share, an image needing more than all of it gets an error row). A name that is not UTF-8 is \
            shown with \\xNN for each byte that is not.

            Exit status: 0 all images processed; 1 some inputs failed (each reported in its row); \
            2 the model or head could not be loaded; 64 usage error.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, jsonl, csv }

    @Option(help: "Model folder or Hugging Face repo id (default: $DEEPFAKE_MODEL, else aimagelab/CoDE).")
    var model: String?

    @Option(help: "Head: linear, knn or svm.")
    var head: HeadKind = .linear

    @Option(help: "A head file to use instead of the model folder's (scikit-learn .sav/.joblib or this project's .safetensors).")
    var headFile: String?

    @Option(help: "Output format: table, jsonl or csv.")
    var format: Format = .table

    @Option(help: "Decision threshold (see above); default: the head's own rule.")
    var threshold: Double?

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var logging: LoggingOptions

    @Argument(help: "Image files, directories or glob patterns.")
    var inputs: [String]

    func validate() throws {
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number") }
    }

    func run() throws {
        let options = pipeline.embedderOptions()
        let detector: Detector
        do {
            let download = DownloadProgress()
            let loaded = try loadModel(model, heads: [head], headFile: headFile, progress: download.callback)
            detector = Detector(embedder: Embedder(model: loaded.backbone, options: options), heads: loaded.heads)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let paths = commandLinePaths(inputs)
        let items = inputStream(paths: paths)
        let total = inputs.contains(where: isShardSpec) ? 0 : expandInputs(paths: paths).count
        let rule = DecisionRule(threshold: threshold)
        var progress = ProgressBar(total: total, label: "detect")
        var failed = 0, fake = 0
        if format == .csv { progress.printLine(DetectionRow.csvHeader) }
        detector.run(items) { result in
            progress.advance()
            let row = DetectionRow(result, head: 0, kind: head, rule: rule)
            if row.error != nil { failed += 1 } else if row.label == "fake" { fake += 1 }
            switch format {
            case .jsonl: progress.printLine(row.jsonLine)
            case .csv: progress.printLine(row.csvLine)
            case .table: progress.printLine(row.tableLine)
            }
        }
        progress.finish()
        if progress.done == 0 { printError("warning: no image files found in the given inputs") }
        if format == .table {
            print("\(progress.done) images: \(fake) fake, \(progress.done - fake - failed) real, \(failed) failed (head: \(head.rawValue))")
        }
        if failed > 0 {
            printError("\(failed) of \(progress.done) inputs failed")
            throw ExitCode(1)
        }
    }
}

extension HeadKind: ExpressibleByArgument {}
