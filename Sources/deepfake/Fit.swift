import ArgumentParser
import DeepfakeCore
import Detection
import Foundation
import Heads

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit CoDE's heads on your own real and generated images, into a model folder detect can use.",
        discussion: """
            Embeds every image once with the backbone, then fits the heads with CoDE's settings: linear \
            (logistic regression, C=0.316, balanced classes, lbfgs), knn (1-nearest neighbour, cosine) and \
            svm (one-class SVM, nu=0.1, poly kernel, fitted on the real images only). The output folder gets \
            the backbone's config.json and model.safetensors and heads/<kind>.safetensors (a documented \
            safetensors format, docs/head-format.md; never pickle).

            Examples:
              deepfake fit --real photos/ --fake generated/ --output my-detector/
              deepfake fit --real a/ --real b/ --fake sd/ --fake flux/ --heads linear,svm --output my-detector/
              deepfake detect --model my-detector/ --head linear new-images/

            Exit status: 0 fitted; 1 some images failed (left out, listed) or a head could not be fitted; \
            2 the model could not be loaded; 64 usage error.
            """)

    @Option(help: "Model folder or Hugging Face repo id for the backbone (default: $DEEPFAKE_MODEL, else aimagelab/CoDE).")
    var model: String?

    @Option(help: "A folder (or file, or glob) of real images; repeatable.")
    var real: [String] = []

    @Option(help: "A folder (or file, or glob) of generated images; repeatable.")
    var fake: [String] = []

    @Option(help: "Comma-separated heads to fit: linear, knn, svm.")
    var heads: String = "linear,knn,svm"

    @Option(help: "The model folder to write.")
    var output: String

    @OptionGroup var pipeline: PipelineOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if real.isEmpty || fake.isEmpty { throw ValidationError("give at least one --real and one --fake") }
        _ = try kinds()
    }

    func kinds() throws -> [HeadKind] {
        try heads.split(separator: ",").map { k in
            guard let kind = HeadKind(rawValue: k.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown head '\(k)' (linear, knn, svm)")
            }
            return kind
        }
    }

    func run() throws {
        let loaded: LoadedModel
        do {
            loaded = try loadModel(model, heads: [], progress: DownloadProgress().callback)
        } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let reals = expandInputs(paths: commandLinePaths(real)), fakes = expandInputs(paths: commandLinePaths(fake))
        let embedder = Embedder(model: loaded.backbone, options: pipeline.embedderOptions())
        var vectors: [Float] = [], labels: [Bool] = [], failed = 0
        var progress = ProgressBar(total: reals.count + fakes.count, label: "embed")
        embedder.run(reals + fakes) { result in
            progress.advance()
            switch result.embedding {
            case let .success(v):
                vectors += v
                labels.append(labels.count + failed >= reals.count)
            case let .failure(f):
                failed += 1
                printError("warning: left out \(f)")
            }
        }
        progress.finish()
        let realCount = labels.filter { !$0 }.count
        printError("embedded \(labels.count) images (\(realCount) real, \(labels.count - realCount) fake); \(failed) failed")
        do {
            let set = try HeadTrainingSet(embeddings: vectors, features: loaded.backbone.config.hiddenSize, isFake: labels)
            let fitted = try fitHeads(set, kinds: try kinds())
            for f in fitted {
                print("\(f.kind.rawValue): \(f.summary); training accuracy \(String(format: "%.2f", 100 * f.trainingAccuracy))%")
            }
            try writeModelFolder(output, backboneFrom: loaded.folder, heads: fitted,
                                 provenance: ["fitted_by": "deepfake fit", "real_images": "\(realCount)",
                                              "fake_images": "\(labels.count - realCount)"])
            printError("wrote \(output): config.json, model.safetensors, " + fitted.map { $0.kind.nativeFile }.joined(separator: ", "))
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
