import ArgumentParser
import Foundation
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

    @Option(help: ArgumentHelp("Read at most this many bytes of an input file (suffixes K, M, G: KiB, MiB, GiB); a larger file is reported, not read.",
                               valueName: "size"))
    var maxBytes: ByteSize = ByteSize(DecodeOptions.defaultMaxBytes)

    @Option(help: ArgumentHelp("Memory the image decoders may hold at once, all threads together (suffixes K, M, G); a decode waits for its share, an image needing more than all of it is reported, not decoded.",
                               valueName: "size"))
    var decodeMemory: ByteSize = ByteSize(DecodeMemoryBudget.defaultBytes)

    func validate() throws {
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if maxPixels < 1 { throw ValidationError("--max-pixels must be at least 1") }
        if maxBytes.bytes < 1 { throw ValidationError("--max-bytes must be at least 1") }
        if decodeMemory.bytes < 1 { throw ValidationError("--decode-memory must be at least 1") }
    }

    func embedderOptions(preprocessing: Preprocessing = .inference) -> EmbedderOptions {
        EmbedderOptions(batchSize: batchSize, compute: ComputeOptions(threads: threads), preprocessing: preprocessing,
                        decode: DecodeOptions(maxPixels: maxPixels, maxBytes: maxBytes.bytes,
                                              memoryBudget: DecodeMemoryBudget(bytes: decodeMemory.bytes)))
    }
}

/// A size in bytes on the command line: digits, optionally followed by K, M or G (KiB, MiB, GiB; any case, an
/// optional "iB" or "B" after it).
struct ByteSize: ExpressibleByArgument, Sendable {
    let bytes: Int

    init(_ bytes: Int) { self.bytes = bytes }

    init?(argument: String) {
        var text = argument.uppercased()
        for suffix in ["IB", "B"] where text.hasSuffix(suffix) && text.count > suffix.count {
            text.removeLast(suffix.count)
            break
        }
        let shift: Int
        switch text.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        default: shift = 0
        }
        if shift > 0 { text.removeLast() }
        guard let value = Int(text), value >= 0, value <= Int.max >> shift else { return nil }
        bytes = value << shift
    }

    var defaultValueDescription: String {
        bytes % (1 << 30) == 0 ? "\(bytes >> 30)G" : bytes % (1 << 20) == 0 ? "\(bytes >> 20)M" : "\(bytes)"
    }
}

/// The bytes the user typed for each of `inputs` (as parsed from the command line): an argument that is not
/// valid UTF-8 reaches Swift with U+FFFD in place of its bad bytes, so it is looked up among the process's raw
/// arguments, in order; every other input is its UTF-8.
func commandLinePaths(_ inputs: [String]) -> [[UInt8]] {
    let raw: [[UInt8]] = (1..<Int(CommandLine.argc)).compactMap { i in
        CommandLine.unsafeArgv[i].map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
    }
    var next = 0
    return inputs.map { input in
        guard input.unicodeScalars.contains("\u{FFFD}") else { return Array(input.utf8) }
        for index in next..<raw.count where String(decoding: raw[index], as: UTF8.self) == input {
            next = index + 1
            return raw[index]
        }
        return Array(input.utf8)
    }
}
