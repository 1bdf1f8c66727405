// The fuzz targets: each feeds one input, as untrusted bytes, to one of the readers that take files from
// outside (images, shards, scikit-learn heads, safetensors and npy files, configs, the evaluation pairs file,
// Parquet files) and reads it as far as the reader goes. A reader must return or throw a typed error; any
// crash, sanitizer report, leak or hang is a finding. Limits that callers may choose are set low here
// (pixels, decompressed bytes, column chunk bytes) so that a tiny input declaring a huge size is refused
// quickly instead of spending the fuzzer's time and memory on a legitimate large allocation.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Checkpoints
import Detection
import Foundation
import Heads
import Imaging
import Parquet
import Training
import ViT
import WebDataset

/// One reader under test, named as `DEEPFAKE_FUZZ_TARGET` and `scripts/fuzz` name it.
enum FuzzTarget: String, CaseIterable {
    /// `decodeImage` (JPEG, PNG, BMP, GIF, TIFF, WebP by content), whole and center-cropped.
    case image
    /// `ShardSampleReader` over a tar archive in memory, read whole and in small chunks; fields decoded.
    case shards
    /// The restricted unpickler through `Joblib.load`, then the scikit-learn head mapping and a prediction.
    case pickle
    /// `SafeTensorsFile`, every tensor converted, then the same file as a deepfake head and as ViT weights.
    case safetensors
    /// `Npy.read` (files) and `Npy.decode` (bytes: shard fields).
    case npy
    /// `ViTConfig(contentsOf:)`: a Hugging Face ViT `config.json`.
    case vitConfig = "vit-config"
    /// The training YAML through `TrainingConfiguration.apply(yaml:file:)`, validated and written back.
    case trainingYAML = "training-yaml"
    /// The evaluation pairs file through `D3Layout.parsePairsYAML`.
    case pairs
    /// `ParquetFile`: footer, schema, every row group's columns and rows.
    case parquet

    /// Runs the reader on `bytes`; returns a one-line outcome (what was read, or the error's message).
    func run(_ bytes: [UInt8]) -> String {
        switch self {
        case .image: return Self.image(bytes)
        case .shards: return Self.shards(bytes)
        case .pickle: return Self.pickle(bytes)
        case .safetensors: return Self.safetensors(bytes)
        case .npy: return Self.npy(bytes)
        case .vitConfig: return Self.vitConfig(bytes)
        case .trainingYAML: return Self.trainingYAML(bytes)
        case .pairs: return Self.pairs(bytes)
        case .parquet: return Self.parquet(bytes)
        }
    }

    /// Images above this many pixels are refused (the decoders' own limit, set low for speed).
    static let maxPixels = 1 << 22

    private static func image(_ bytes: [UInt8]) -> String {
        var outcome: [String] = []
        // The center-crop window takes another path in the JPEG decoder (only the window's rows and columns).
        for window in [nil, 224] as [Int?] {
            do {
                let image = try decodeImage(bytes, name: "<input>", options: DecodeOptions(maxPixels: maxPixels, centerCropWindow: window))
                outcome.append("\(image.width)x\(image.height)")
            } catch {
                outcome.append("error: \(error)")
            }
        }
        return outcome.joined(separator: "; ")
    }

    private static func shards(_ bytes: [UInt8]) -> String {
        /// Every sample's key and field names and the report, read from the archive in chunks of at most `chunk`.
        func read(chunk: Int) -> (samples: [String], report: ShardReport, fields: [String]) {
            let stream = MemoryByteStream(bytes, name: "<input>", maxReadSize: chunk)
            let reader = ShardSampleReader(tar: TarReader(stream: stream, bufferSize: 1 << 16), shard: "<input>")
            var samples: [String] = [], fields: [String] = []
            while true {
                let sample: Sample?
                do { sample = try reader.next() } catch { fields.append("error: \(error)"); continue }
                guard let sample else { break }
                samples.append(sample.key + ":" + sample.fields.map(\.name).joined(separator: ","))
                for field in sample.fields where FieldKind(field: field.name) != .image {
                    do {
                        _ = try sample.decoded(field.name)
                    } catch {
                        fields.append("\(error)")
                    }
                }
            }
            return (samples, reader.report, fields)
        }
        let whole = read(chunk: .max), chunked = read(chunk: 509)
        // How the stream hands out its bytes must not change what the archive holds.
        if whole.samples != chunked.samples || whole.report != chunked.report || whole.fields != chunked.fields {
            fatalError("reading in 509-byte chunks differs from reading whole:\n\(whole)\n\(chunked)")
        }
        return "\(whole.samples.count) samples, \(whole.fields.count) field errors; \(whole.report)"
    }

    private static func pickle(_ bytes: [UInt8]) -> String {
        var limits = PickleLimits()
        limits.maxNodes = 1 << 20
        let value: PickleValue
        do { value = try Joblib.load(bytes: bytes, limits: limits, maxDecompressedBytes: 64 << 20) } catch { return "error: \(error)" }
        let head: Head
        do { head = try Head(sklearnEstimator: value, source: "<input>") } catch { return "\(value.kindDescription); error: \(error)" }
        let features: Int
        switch head {
        case .linear(let h): features = h.coefficients.count
        case .knn(let h): features = h.features
        case .svm(let h): features = h.features
        }
        guard features <= 1 << 16 else { return "\(head.kind) head with \(features) features" }
        let output = head.predict([Float](repeating: 0.5, count: features))
        return "\(head.kind) head with \(features) features: \(output)"
    }

    /// The ViT configuration of `Tests/Fixtures/models/release-trained` (whose `model.safetensors` is a seed),
    /// to load fuzzed weights against.
    private static let smallViT = ViTConfig(hiddenSize: 32, layers: 2, heads: 2, intermediateSize: 64, patchSize: 8,
                                            imageSize: 32, layerNormEps: 1e-6)

    private static func safetensors(_ bytes: [UInt8]) -> String {
        ScratchFile.with(bytes, named: "model.safetensors") { path in safetensors(path: path) }
    }

    private static func safetensors(path: String) -> String {
        var outcome: [String] = []
        do {
            let file = try SafeTensorsFile(path: path)
            for name in file.names {
                do { _ = try file.tensor(name) } catch { outcome.append("\(error)") }
                do { _ = try file.tensorDoubles(name) } catch { outcome.append("\(error)") }
            }
            do { _ = try ViTWeights(file: file, config: smallViT); outcome.append("ViT weights") } catch { outcome.append("\(error)") }
            outcome.append("\(file.names.count) tensors")
        } catch {
            outcome.append("error: \(error)")
        }
        do { outcome.append("head \(try HeadStore.load(from: path).kind)") } catch { outcome.append("head: \(error)") }
        return outcome.joined(separator: "; ")
    }

    private static func npy(_ bytes: [UInt8]) -> String {
        var outcome: [String] = []
        ScratchFile.with(bytes, named: "array.npy") { path in
            do { outcome.append("file \(try Npy.read(path: path).shape)") } catch { outcome.append("file: \(error)") }
        }
        do { outcome.append("memory \(try Npy.decode(bytes, name: "<input>").shape)") } catch { outcome.append("memory: \(error)") }
        return outcome.joined(separator: "; ")
    }

    private static func vitConfig(_ bytes: [UInt8]) -> String {
        ScratchFile.with(bytes, named: "config.json") { path in
            do { return "\(try ViTConfig(contentsOf: path))" } catch { return "error: \(error)" }
        }
    }

    private static func trainingYAML(_ bytes: [UInt8]) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "not UTF-8" }
        var configuration = TrainingConfiguration()
        do {
            let noEffect = try configuration.apply(yaml: text, file: "<input>")
            try configuration.validate()
            // `config.yaml` of a run reads back equal (the --resume contract).
            var again = TrainingConfiguration()
            _ = try again.apply(yaml: try configuration.encodedYAML(), file: "<written>")
            if again != configuration { fatalError("the written configuration reads back different:\n\(configuration)\n\(again)") }
            return "valid; \(noEffect.count) keys without effect"
        } catch {
            return "error: \(error)"
        }
    }

    private static func pairs(_ bytes: [UInt8]) -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { return "not UTF-8" }
        do { return "\(try D3Layout.parsePairsYAML(text, baseDirectory: "/base").count) pairs" } catch { return "error: \(error)" }
    }

    private static func parquet(_ bytes: [UInt8]) -> String {
        ScratchFile.with(bytes, named: "data.parquet") { path in parquet(path: path) }
    }

    private static func parquet(path: String) -> String {
        do {
            let file = try ParquetFile(path: path, limits: ParquetReadLimits(maxColumnChunkBytes: 64 << 20))
            var outcome = ["\(file.schema.columns.count) columns, \(file.rowGroups.count) row groups"]
            for index in file.rowGroups.indices {
                do {
                    let group = try file.readRowGroup(index)
                    outcome.append("\(try group.rows().count) rows")
                } catch {
                    outcome.append("\(error)")
                }
            }
            return outcome.joined(separator: "; ")
        } catch {
            return "error: \(error)"
        }
    }
}

/// The readers that take a path get the input through a file in a private folder made for this process under
/// `TMPDIR` (`scripts/fuzz` points it at memory when it can), removed after each run; the folder is removed
/// when the process exits. The file is scratch input, never an output, so it is written in place.
enum ScratchFile {
    private static let folder: String = {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/deepfake-fuzz-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("cannot create a scratch folder under \(base): \(String(cString: strerror(errno)))")
        }
        scratchFolderToRemove = strdup(made)
        atexit { if let folder = scratchFolderToRemove { rmdir(folder) } }
        return String(cString: made)
    }()

    /// Writes `bytes` to the scratch file `name`, calls `body` with its path, and removes the file.
    static func with<T>(_ bytes: [UInt8], named name: String, _ body: (String) -> T) -> T {
        let path = folder + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            guard n > 0 else { fatalError("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        close(fd)
        defer { unlink(path) }
        return body(path)
    }
}

/// The scratch folder's path for the exit handler (a C function pointer cannot capture it).
nonisolated(unsafe) private var scratchFolderToRemove: UnsafeMutablePointer<CChar>?
