import Checkpoints
import Foundation
import Heads
import Hub
import ViT

/// The CoDE backbone and the heads asked for, loaded from a model folder.
public struct LoadedModel: Sendable {
    /// The folder the files were read from (a Hub snapshot for repo ids).
    public let folder: String
    public let backbone: VisionTransformer
    public let heads: [(kind: HeadKind, head: Head)]
}

/// Why a head could not be loaded; `description` names the file and the reason.
public enum ModelLoadingError: Error, CustomStringConvertible {
    /// The head file does not exist.
    case noHeadFile(path: String)
    /// The head of `kind` exists but cannot be read (`underlying` says why: a `HeadError`, `HeadStoreError`, ...).
    case head(kind: HeadKind, underlying: any Error)

    public var description: String {
        switch self {
        case let .noHeadFile(path): return "\(path): no such head file"
        case let .head(kind, underlying): return "cannot load the \(kind.rawValue) head: \(underlying)"
        }
    }
}

/// The repository `deepfake` uses when no model is named.
public let defaultModelRepository = "aimagelab/CoDE"

/// Reads a head file: this project's safetensors format, or a scikit-learn pickle / joblib file as released.
public func loadHead(path: String) throws -> Head {
    guard FileManager.default.fileExists(atPath: path) else { throw ModelLoadingError.noHeadFile(path: path) }
    if path.hasSuffix(".safetensors") { return try HeadStore.load(from: path) }
    return try Head(sklearnFile: path)
}

/// Loads the backbone and `heads` from a model folder: each head from `heads/<kind>.safetensors` when present,
/// else from the released scikit-learn file (`sklearn/...`). `headFile` overrides the file of the first head.
public func loadModel(folder: String, heads kinds: [HeadKind], headFile: String? = nil) throws -> LoadedModel {
    let backbone = try VisionTransformer(folder: folder)
    var heads: [(kind: HeadKind, head: Head)] = []
    for (i, kind) in kinds.enumerated() {
        let path: String
        if i == 0, let headFile {
            path = headFile
        } else if FileManager.default.fileExists(atPath: folder + "/" + kind.nativeFile) {
            path = folder + "/" + kind.nativeFile
        } else {
            path = folder + "/" + kind.releasedFile
        }
        do {
            heads.append((kind, try loadHead(path: path)))
        } catch {
            throw ModelLoadingError.head(kind: kind, underlying: error)
        }
    }
    return LoadedModel(folder: folder, backbone: backbone, heads: heads)
}

/// Loads a model named by a folder or a Hugging Face repo id (`org/name[@revision]`, default
/// `$DEEPFAKE_MODEL`, else `aimagelab/CoDE`). Repo files are fetched into the standard Hub cache once and
/// read from it afterwards (offline too); `progress` reports downloads.
public func loadModel(
    _ argument: String?, heads kinds: [HeadKind], headFile: String? = nil,
    environment: [String: String] = ProcessInfo.processInfo.environment, progress: HubClient.Progress? = nil
) throws -> LoadedModel {
    let name = argument ?? environment["DEEPFAKE_MODEL"] ?? defaultModelRepository
    let client = HubClient(environment: environment)
    let wanted = headFile == nil ? kinds : Array(kinds.dropFirst())
    let folder: String
    do {
        folder = try resolveModelLocation(name, client: client, files: defaultModelFiles + wanted.map(\.releasedFile),
                                          progress: progress)
    } catch let released as HubError {
        // A model released by this project keeps its heads in heads/<kind>.safetensors.
        guard case .fileNotFound = released,
              let native = try? resolveModelLocation(name, client: client, files: defaultModelFiles + wanted.map(\.nativeFile),
                                                     progress: progress)
        else { throw released }
        folder = native
    }
    return try loadModel(folder: folder, heads: kinds, headFile: headFile)
}
