import Foundation
import Imaging
import WebDataset
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One image the user asked for: a path as given, or an error saying why it cannot be used.
public struct InputItem: Sendable, Equatable {
    /// The path as the user gave it, or as found under a directory they gave.
    public let path: String
    /// Non-nil when the input cannot be read at all (missing path, unreadable directory).
    public let error: String?
    /// The encoded image when it comes from memory (a shard member) rather than from `path`.
    public let bytes: [UInt8]?

    public init(path: String, error: String? = nil, bytes: [UInt8]? = nil) {
        self.path = path
        self.error = error
        self.bytes = bytes
    }
}

/// Expands command-line inputs into image files, in a stable order.
///
/// A file is taken as given, whatever its extension (the decoder picks the format by content).
/// A directory is walked recursively; files whose extension (any case) is an image extension are kept,
/// sorted by path; hidden files and folders are skipped. A path that does not exist becomes an error item,
/// so the caller can report it in its place and go on. A path that does not exist but holds glob characters
/// (`*`, `?`, `[`) is expanded as the shell would (sorted); a pattern that matches nothing is an error item.
public func expandInputs(_ inputs: [String]) -> [InputItem] {
    var out: [InputItem] = []
    let fm = FileManager.default
    for input in inputs {
        var isDirectory: ObjCBool = false
        if !fm.fileExists(atPath: input), input.contains(where: { "*?[".contains($0) }) {
            let matches = globPaths(input)
            out += matches.isEmpty ? [InputItem(path: input, error: "no file matches this pattern")] : expandInputs(matches)
            continue
        }
        guard fm.fileExists(atPath: input, isDirectory: &isDirectory) else {
            out.append(InputItem(path: input, error: "no such file or directory"))
            continue
        }
        if !isDirectory.boolValue {
            out.append(InputItem(path: input, error: nil))
            continue
        }
        guard let walker = fm.enumerator(atPath: input) else {
            out.append(InputItem(path: input, error: "cannot read directory"))
            continue
        }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeDirectory { walker.skipDescendants() }
                continue
            }
            let ext = (name as NSString).pathExtension.lowercased()
            guard imageFileExtensions.contains(ext) else { continue }
            let full = input.hasSuffix("/") ? input + relative : input + "/" + relative
            var childIsDirectory: ObjCBool = false
            if fm.fileExists(atPath: full, isDirectory: &childIsDirectory), !childIsDirectory.boolValue { found.append(full) }
        }
        out += found.sorted().map { InputItem(path: $0, error: nil) }
    }
    return out
}

/// Paths matching a shell pattern, sorted.
func globPaths(_ pattern: String) -> [String] {
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0 else { return [] }
    return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}

/// Whether an input names WebDataset shards rather than files: `.tar` files, `.shards` lists, brace
/// patterns and `http(s)://` URLs.
public func isShardSpec(_ input: String) -> Bool {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue { return false }
    let lower = input.lowercased()
    return lower.hasSuffix(".tar") || lower.hasSuffix(".shards") || lower.hasSuffix("-shards")
        || (input.contains("{") && input.contains("}")) || lower.hasPrefix("http://") || lower.hasPrefix("https://")
}

/// Inputs as a lazy stream: files and folders as `expandInputs` gives them, and every image field of every
/// sample of a shard spec as an item named `SHARD#KEY.FIELD` holding the member's bytes, read as the stream
/// advances (a shard is never held whole in memory). A shard that cannot be read yields one error item.
public func inputStream(_ inputs: [String]) -> AnySequence<InputItem> {
    AnySequence(inputs.lazy.flatMap { input -> AnySequence<InputItem> in
        guard isShardSpec(input) else { return AnySequence(expandInputs([input])) }
        let shards: [String]
        do { shards = try ShardSpec.resolve(input) } catch { return AnySequence([InputItem(path: input, error: "\(error)")]) }
        return AnySequence(shards.lazy.flatMap { shard -> AnySequence<InputItem> in
            let samples = TarShardSource(options: ShardReadOptions(errorPolicy: .stop)).samples(of: shard)
            return AnySequence(AnySequence { samples }.lazy.flatMap { result -> [InputItem] in
                switch result {
                case let .failure(error): return [InputItem(path: shard, error: "\(error)")]
                case let .success(sample):
                    return sample.fields.filter { imageFileExtensions.contains(($0.name as NSString).pathExtension.lowercased()) }
                        .map { InputItem(path: "\(shard)#\(sample.key).\($0.name)", bytes: $0.bytes) }
                }
            })
        })
    })
}
