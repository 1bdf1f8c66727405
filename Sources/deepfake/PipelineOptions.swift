import ArgumentParser
import Detection
import Imaging
import Tensor

/// Options every image-processing command shares.
struct PipelineOptions: ParsableArguments {
    @Option(help: "Images per forward pass.")
    var batchSize: Int = 32

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Refuse images with more pixels than this, before decoding.")
    var maxPixels: Int = DecodeOptions().maxPixels

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be at least 1") }
    }

    func embedderOptions(preprocessing: Preprocessing = .inference) -> EmbedderOptions {
        EmbedderOptions(batchSize: batchSize, compute: ComputeOptions(threads: threads), preprocessing: preprocessing,
                        decode: DecodeOptions(maxPixels: maxPixels))
    }
}
