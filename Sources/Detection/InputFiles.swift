import FileAccess
import Foundation
import Imaging
import WebDataset
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an input comes from: a file (as given or found under a folder given), or one member of a shard.
public enum InputOrigin: Sendable, Equatable, CustomStringConvertible {
    /// A file path (or the pattern or shard spec given, for an error item).
    case file(String)
    /// The field `field` (`gen_2.png`) of the sample `key` in `shard`.
    case shardMember(shard: String, key: String, field: String)

    /// How reports name it: the path, or `SHARD#KEY.FIELD`.
    public var description: String {
        switch self {
        case let .file(path): return path
        case let .shardMember(shard, key, field): return "\(shard)#\(key).\(field)"
        }
    }
}

/// One image the user asked for: a path as given, or an error saying why it cannot be used.
public struct InputItem: Sendable, Equatable {
    /// The path as the user gave it, or as found under a directory they gave; bytes of a name that are not
    /// UTF-8 are written `\xNN` (``rawPath`` holds the real bytes). For a shard member, `SHARD#KEY.FIELD`.
    public let path: String
    /// Where the item comes from; `path` is its display form.
    public let origin: InputOrigin
    /// Non-nil when the input cannot be read at all (missing path, unreadable directory, not a regular file).
    public let error: String?
    /// The encoded image when it comes from memory (a shard member) rather than from `path`.
    public let bytes: [UInt8]?
    /// The path's bytes when they are not UTF-8 (then `path` is only their printable form); nil otherwise.
    public let rawPath: [UInt8]?

    public init(path: String, error: String? = nil, bytes: [UInt8]? = nil, rawPath: [UInt8]? = nil) {
        self.init(origin: .file(path), error: error, bytes: bytes, rawPath: rawPath)
    }

    /// An item from `origin`, named by its display form.
    public init(origin: InputOrigin, error: String? = nil, bytes: [UInt8]? = nil, rawPath: [UInt8]? = nil) {
        self.path = origin.description
        self.origin = origin
        self.error = error
        self.bytes = bytes
        self.rawPath = rawPath
    }

    /// An item for the file at `pathBytes`: `path` is their printable form, `rawPath` set when they are not UTF-8.
    init(pathBytes: [UInt8], error: String? = nil) {
        let valid = String(validating: pathBytes, as: UTF8.self)
        self.init(path: valid ?? printablePath(pathBytes), error: error, rawPath: valid == nil ? pathBytes : nil)
    }

    /// The bytes to open: ``rawPath``, else `path`'s UTF-8.
    public var pathBytes: [UInt8] { rawPath ?? Array(path.utf8) }
}

/// Expands command-line inputs into image files, in a stable order.
///
/// A file is taken as given, whatever its extension (the decoder picks the format by content); one that is not
/// a regular file (a FIFO, socket or device) becomes an error item without being opened. A directory is walked
/// recursively (names as bytes, symbolic links followed, each folder once); files whose extension (any case) is
/// an image extension are kept, sorted by path bytes; hidden files and folders are skipped. What cannot be used
/// becomes an error item in its place, with its real cause, so the caller can report it and go on: a path that
/// does not exist, a symbolic link loop, a path longer than the system allows, a folder that cannot be opened,
/// and, under a directory, an image-named entry that is no regular file (FIFO, device, broken link). A path
/// that does not exist but holds glob characters (`*`, `?`, `[`) is expanded as the shell would (sorted); a
/// pattern that matches nothing is an error item.
public func expandInputs(_ inputs: [String]) -> [InputItem] {
    expandInputs(paths: inputs.map { Array($0.utf8) })
}

/// ``expandInputs(_:)`` for paths given as bytes (names that need not be UTF-8, as the command line gives them).
public func expandInputs(paths inputs: [[UInt8]]) -> [InputItem] {
    var out: [InputItem] = []
    for input in inputs {
        var info = stat()
        guard withCPath(input, { stat($0, &info) }) == 0 else {
            let code = errno
            if code == ENOENT, input.contains(where: { $0 == 0x2A || $0 == 0x3F || $0 == 0x5B }) {
                let matches = globPaths(input)
                out += matches.isEmpty ? [InputItem(pathBytes: input, error: "no file matches this pattern")] : expandInputs(paths: matches)
            } else {
                out.append(InputItem(pathBytes: input, error: pathErrorText(code, printablePath(input))))
            }
            continue
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: out += walkForImages(input)
        case S_IFREG: out.append(InputItem(pathBytes: input))
        default: out.append(InputItem(pathBytes: input, error: "not a regular file (\(fileKindText(info.st_mode))); only regular files are read"))
        }
    }
    return out
}

/// The image files under `folder` and the problems met there (see ``expandInputs(_:)``), sorted by path bytes.
private func walkForImages(_ folder: [UInt8]) -> [InputItem] {
    var found: [(path: [UInt8], error: String?)] = []
    let rules = FolderWalkRules(screen: { $0.first == 0x2E ? .skip : .visit })
    do {
        try walkFolder(folder, rules: rules) { event in
            switch event {
            case let .file(path, name, _):
                if hasImageExtension(name) { found.append((path, nil)) }
            case let .problem(path, name, reason, kind):
                switch kind {
                case .folder, .unknown: found.append((path, reason))
                case .entry where hasImageExtension(name): found.append((path, reason))
                default: break  // a folder met twice was searched once; other names are not images
                }
            }
        }
    } catch {
        return [InputItem(pathBytes: folder, error: "cannot open the folder: " + error.description)]
    }
    return found.sorted { $0.path.lexicographicallyPrecedes($1.path) }.map { InputItem(pathBytes: $0.path, error: $0.error) }
}

/// Whether a file name ends in an image extension (any case).
private func hasImageExtension(_ name: [UInt8]) -> Bool {
    guard let dot = name.lastIndex(of: 0x2E) else { return false }
    let ext = String(decoding: name[(dot + 1)...], as: UTF8.self).lowercased()
    return imageFileExtensions.contains(ext)
}

/// Paths matching a shell pattern, sorted by bytes.
func globPaths(_ pattern: [UInt8]) -> [[UInt8]] {
    var g = glob_t()
    defer { globfree(&g) }
    guard withCPath(pattern, { glob($0, 0, nil, &g) }) == 0 else { return [] }
    return (0..<Int(g.gl_pathc)).compactMap { i in
        g.gl_pathv[i].map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
    }.sorted { $0.lexicographicallyPrecedes($1) }
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
    inputStream(paths: inputs.map { Array($0.utf8) })
}

/// ``inputStream(_:)`` for inputs given as bytes (file names that need not be UTF-8; a shard spec is UTF-8).
public func inputStream(paths inputs: [[UInt8]]) -> AnySequence<InputItem> {
    AnySequence(inputs.lazy.flatMap { raw -> AnySequence<InputItem> in
        guard let input = String(validating: raw, as: UTF8.self), isShardSpec(input) else {
            return AnySequence(expandInputs(paths: [raw]))
        }
        let shards: [String]
        do { shards = try ShardSpec.resolve(input) } catch { return AnySequence([InputItem(path: input, error: "\(error)")]) }
        return AnySequence(shards.lazy.flatMap { shard -> AnySequence<InputItem> in
            let samples = TarShardSource(options: ShardReadOptions(errorPolicy: .stop)).samples(of: shard)
            return AnySequence(AnySequence { samples }.lazy.flatMap { result -> [InputItem] in
                switch result {
                case let .failure(error): return [InputItem(path: shard, error: "\(error)")]
                case let .success(sample):
                    // webdataset's rule: a field named `jpg` (member `KEY.jpg`) is an image as much as `real.jpg`.
                    return sample.fields.filter { FieldKind(field: $0.name) == .image }
                        .map { InputItem(origin: .shardMember(shard: shard, key: sample.key, field: $0.name), bytes: $0.bytes) }
                }
            })
        })
    })
}
