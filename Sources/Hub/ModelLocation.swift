import Foundation

/// The files a CoDE model folder needs besides the classifier heads: the ViT configuration and weights.
public let defaultModelFiles = ["config.json", "model.safetensors"]

/// Turns a model argument into a local folder.
///
/// - An existing directory is returned as is (`~` is expanded).
/// - Otherwise `argument` must be a Hub repository id, `org/name` or `org/name@revision` (e.g. `aimagelab/CoDE`), and
///   the result is the cache snapshot folder holding `files` (download them, or find them in the cache offline).
///   `files` is the complete list: pass the head files along with `defaultModelFiles`, e.g.
///   `defaultModelFiles + ["sklearn/linear_tot_classifier_epoch-32.sav"]`.
public func resolveModelLocation(
    _ argument: String, client: HubClient, files: [String] = defaultModelFiles, progress: HubClient.Progress? = nil
) throws -> String {
    let expanded = (argument as NSString).expandingTildeInPath
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDirectory) {
        if isDirectory.boolValue { return expanded }
        throw HubError.invalidModelLocation(argument: argument, detail: "it is a file; pass the folder that holds "
            + files.joined(separator: ", ") + ".")
    }
    let looksLikePath = argument.hasPrefix("/") || argument.hasPrefix("./") || argument.hasPrefix("../")
        || argument.hasPrefix("~") || argument == "." || argument == ".."
    if looksLikePath || argument.isEmpty {
        throw HubError.invalidModelLocation(argument: argument, detail: "no such directory.")
    }
    var repo = argument
    var revision = "main"
    if let at = argument.lastIndex(of: "@") {
        repo = String(argument[..<at])
        revision = String(argument[argument.index(after: at)...])
        if revision.isEmpty {
            throw HubError.invalidModelLocation(argument: argument, detail: "nothing follows '@' (expected a revision).")
        }
    }
    do {
        try validateRepoID(repo)
    } catch {
        throw HubError.invalidModelLocation(argument: argument, detail: "no such directory, and not of the form "
            + "org/name[@revision].")
    }
    do {
        try validateRevision(revision)
    } catch {
        throw HubError.invalidModelLocation(argument: argument, detail: "no such directory, and the revision after "
            + "'@' is not \(HubError.revisionRule)")
    }
    return try client.snapshot(repo: repo, revision: revision, files: files, progress: progress)
}
