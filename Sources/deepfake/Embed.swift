import ArgumentParser
import Checkpoints
import DeepfakeCore
import Detection
import Foundation
import Imaging
import Tensor
import ViT

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the CoDE embedding (the ViT's class token, 192 floats for ViT-Tiny) of each image.",
        discussion: """
            Inputs are image files (JPEG, PNG, BMP, GIF, TIFF, WebP; the format is read from the content, \
            not the extension) or directories, walked recursively for files with an image extension.
            Preprocessing is CoDE's released inference protocol: center crop 224 (black padding for smaller \
            images), ImageNet normalisation, no resize.

            Examples:
              deepfake embed photo.jpg                       # the released aimagelab/CoDE
              deepfake embed --model path/to/CoDE photo.jpg
              deepfake embed --model path/to/CoDE --batch-size 16 photos/ > embeddings.jsonl
              deepfake embed --model path/to/CoDE --format npy --output embeddings.npy photos/

            jsonl prints one line per input, in input order: {"path": ..., "embedding": [...]} or \
            {"path": ..., "error": "..."}. npy writes a float32 [N, hidden] array to --output (rows of \
            failed inputs are NaN) and prints {"path", "row"} or {"path", "error"} lines on stdout; an \
            --output that cannot be written (missing folder, no permission) is refused before any work.
            Inputs are read as for detect (regular files only, at most --max-bytes each; decoders share \
            --decode-memory; see deepfake detect --help).
            The exit status is 1 when any input failed; the others are still processed.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case jsonl, npy }

    @Option(help: "Model folder (config.json + model.safetensors) or Hugging Face repo id (default: $DEEPFAKE_MODEL, else aimagelab/CoDE).")
    var model: String?

    @Option(help: "Output format: jsonl or npy.")
    var format: Format = .jsonl

    @Option(help: "With --format npy: the .npy file to write (written atomically).")
    var output: String?

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var logging: LoggingOptions

    @Flag(help: "Use the training/evaluation preprocessing (bicubic resize of the shorter side to 248, then center crop 224) instead of center crop only.")
    var resize = false

    @Argument(help: "Image files or directories.")
    var inputs: [String]

    func validate() throws {
        if format == .npy && output == nil { throw ValidationError("--format npy needs --output FILE.npy") }
        if format == .jsonl && output != nil { throw ValidationError("--output is only used with --format npy") }
        // Refuse an output that cannot be written before any image is embedded.
        if let output {
            do { try checkWritable(output) } catch { throw ValidationError("--output \(error)") }
        }
    }

    func run() throws {
        let vit: VisionTransformer
        do {
            vit = try loadModel(model, heads: [], progress: DownloadProgress().callback).backbone
        } catch {
            printError("error: cannot load model: \(error)")
            throw ExitCode(2)
        }
        let options = pipeline.embedderOptions(preprocessing: resize ? .trainingEval : .inference)
        let embedder = Embedder(model: vit, options: options)
        let paths = commandLinePaths(inputs)
        let items = inputStream(paths: paths)
        let total = inputs.contains(where: isShardSpec) ? 0 : expandInputs(paths: paths).count
        var progress = ProgressBar(total: total, label: "embed")
        var failed = 0
        var rows: [Float] = []
        let d = vit.config.hiddenSize
        embedder.run(items) { result in
            progress.advance()
            switch (format, result.embedding) {
            case (.jsonl, _):
                progress.printLine(result.jsonLine)
            case let (.npy, .success(values)):
                progress.printLine("{\"path\": \(JSONText.string(result.path)), \"row\": \(rows.count / d)}")
                rows += values
            case let (.npy, .failure(failure)):
                progress.printLine("{\"path\": \(JSONText.string(result.path)), \"row\": \(rows.count / d), \"error\": \(JSONText.string(failure.description))}")
                rows += [Float](repeating: .nan, count: d)
            }
            if case .failure = result.embedding { failed += 1 }
        }
        progress.finish()
        if progress.done == 0 { printError("warning: no image files found in the given inputs") }
        if format == .npy, let output {
            do {
                try Npy.write(Tensor(shape: [rows.count / d, d], data: rows), to: output)
            } catch {
                printError("error: \(error)")
                throw ExitCode(1)
            }
        }
        if failed > 0 {
            printError("\(failed) of \(progress.done) inputs failed")
            throw ExitCode(1)
        }
    }
}
