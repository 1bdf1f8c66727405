import DeepfakeCore
import Foundation
import Heads

/// Writes a complete model folder: the backbone files copied from `source` and each head as
/// `heads/<kind>.safetensors` (this project's format), so `deepfake detect --model folder` uses them.
public func writeModelFolder(_ folder: String, backboneFrom source: String, heads: [FittedHead],
                             provenance: [String: String] = [:]) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: folder + "/heads", withIntermediateDirectories: true)
    if URL(fileURLWithPath: source).standardized.path != URL(fileURLWithPath: folder).standardized.path {
        for file in ["config.json", "model.safetensors"] {
            try copyFileAtomically(from: source + "/" + file, to: folder + "/" + file)
        }
    }
    for fitted in heads {
        try HeadStore.save(fitted.head, to: folder + "/" + fitted.kind.nativeFile, extraMetadata: provenance)
    }
}
