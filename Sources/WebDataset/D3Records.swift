// The records of a D3 download folder (docs/upstream.md, Download layout), found by walking the folder, and
// their files read safely.
//
// What the walk reads: regular files under the folder, at any depth, whose names are D3 record parts
// (`{id}_gen{0..3}.{ext}`, `{id}_real.{ext}`, `{id}_prompt.txt`, `{id}_url.txt`); other names are not D3 files
// and are passed over without a word. Symbolic links are followed when their target lies inside the folder,
// links leaving it only when asked (`followSymlinks`). Everything else is passed over and listed as a
// ``D3ScanProblem`` with its real cause: a link leaving the folder, a broken link, a link loop, a folder met
// twice, a name that is not UTF-8, a path longer than the system allows, a FIFO, socket or device, an id that
// cannot be part of a sample key, a part found twice. Files are opened without following a final symbolic
// link and without blocking, and read only when they are regular files of at most `maxFileBytes`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One record of the D3 download layout (docs/upstream.md, Download layout): `{id}_gen{0..3}.{ext}`, `{id}_real.{ext}`,
/// `{id}_prompt.txt`, `{id}_url.txt`, found at any folder depth. Paths are as found under the scanned folder.
public struct D3RecordFiles: Sendable, Equatable {
    public var id: String
    public var generated: [Int: String] = [:]
    public var real: String?
    public var prompt: String?
    public var url: String?
    /// Parts found more than once ("gen0", "real", "prompt.txt", "url.txt" → every path); such a record is ambiguous.
    public var duplicates: [String: [String]] = [:]
    /// The followed symbolic links among the paths → their resolved targets (what is opened).
    public var linkTargets: [String: String] = [:]

    /// A record with no part yet.
    public init(id: String) { self.id = id }

    /// The parts a complete record lacks (empty when complete).
    public var missing: [String] {
        var out: [String] = []
        for k in 0..<4 where generated[k] == nil { out.append("gen\(k)") }
        if real == nil { out.append("real") }
        if prompt == nil { out.append("prompt.txt") }
        if url == nil { out.append("url.txt") }
        return out
    }

    /// Why the record cannot become a sample before its files are read (missing or repeated parts); nil when it can.
    public var problem: String? {
        if !missing.isEmpty { return "missing " + missing.joined(separator: ", ") }
        if !duplicates.isEmpty {
            return duplicates.keys.sorted().map { "\($0) found \(duplicates[$0]!.count) times (\(duplicates[$0]!.joined(separator: ", ")))" }
                .joined(separator: "; ")
        }
        return nil
    }
}

/// A name the scan passed over, and why.
public struct D3ScanProblem: Sendable, Equatable, CustomStringConvertible {
    /// The path as found; bytes that are not UTF-8 are written `\xNN`.
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// What a scan found: the records (sorted by id) and the names it passed over (sorted by path).
public struct D3Scan: Sendable {
    public var records: [D3RecordFiles]
    public var problems: [D3ScanProblem]
}

/// Why a text cannot be one part of a sample key or a shard file name (`--prefix`, `--split`, a record id);
/// nil when it can: not empty, at most 100 bytes, no `/`, no `.` (the first dot of a member name ends its sample
/// key, and `.`/`..` name folders), no control character (NUL included).
public func sampleKeyPartProblem(_ text: String) -> String? {
    if text.isEmpty { return "it is empty" }
    if text.utf8.count > 100 { return "it is \(text.utf8.count) bytes long (at most 100)" }
    if text.contains("/") { return "it contains '/'" }
    if text.contains(".") { return "it contains '.' (the first dot of a member name ends its sample key)" }
    if text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { return "it contains a control character" }
    return nil
}

/// Scans `root` recursively for D3 record files, grouped by id, sorted by id (see the file header for what is
/// read and what is listed as a problem).
/// - Throws: `root` that does not exist, is not a folder or cannot be opened.
public func scanD3Records(root: String, followSymlinks: Bool = false) throws(WebDatasetError) -> D3Scan {
    guard let resolved = realpath(root, nil) else {
        throw WebDatasetError(shard: root, reason: pathErrorText(errno, root))
    }
    let rootReal = String(cString: resolved)
    free(resolved)
    var info = stat()
    guard stat(rootReal, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
        throw WebDatasetError(shard: root, reason: "not a folder")
    }
    var walker = D3Walker(rootReal: rootReal, followSymlinks: followSymlinks)
    walker.visited.insert(FileIdentity(info))
    guard walker.walk(root) else { throw WebDatasetError(shard: root, reason: "cannot open the folder: " + pathErrorText(errno, root)) }
    return D3Scan(records: walker.records.values.sorted { $0.id < $1.id },
                  problems: walker.problems.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) })
}

/// A file's device and inode: a folder met twice (through links) is searched once.
private struct FileIdentity: Hashable {
    let device: UInt64, inode: UInt64
    init(_ info: stat) { device = UInt64(info.st_dev); inode = UInt64(info.st_ino) }
}

private struct D3Walker {
    let rootReal: String
    let followSymlinks: Bool
    var visited: Set<FileIdentity> = []
    var records: [String: D3RecordFiles] = [:]
    var problems: [D3ScanProblem] = []

    init(rootReal: String, followSymlinks: Bool) {
        self.rootReal = rootReal
        self.followSymlinks = followSymlinks
    }

    mutating func problem(_ path: String, _ reason: String) { problems.append(D3ScanProblem(path: path, reason: reason)) }

    /// Visits the entries of `folder` in byte order; false when it cannot be opened.
    mutating func walk(_ folder: String) -> Bool {
        guard let names = folderEntryNames(folder) else { return false }
        for name in names { visit(folder, name) }
        return true
    }

    mutating func enter(_ path: String, _ info: stat) {
        guard visited.insert(FileIdentity(info)).inserted else {
            problem(path, "a folder already searched (reached again through a symbolic link); passed over")
            return
        }
        if !walk(path) { problem(path, "cannot open the folder: " + pathErrorText(errno, path)) }
    }

    mutating func visit(_ folder: String, _ raw: [UInt8]) {
        guard let name = String(validating: raw, as: UTF8.self) else {
            problem(folder + "/" + printableName(raw), "the name is not valid UTF-8; passed over")
            return
        }
        let path = folder + "/" + name
        var info = stat()
        guard lstat(path, &info) == 0 else {
            problem(path, pathErrorText(errno, path) + "; passed over")
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: enter(path, info)
        case S_IFREG: found(path, name: name, target: nil)
        case S_IFLNK: link(path, name: name)
        default: problem(path, "not a regular file (\(fileKind(info.st_mode))); not read")
        }
    }

    mutating func link(_ path: String, name: String) {
        guard let resolved = realpath(path, nil) else {
            let code = errno
            switch code {
            case ENOENT: problem(path, "broken symbolic link (its target does not exist); passed over")
            case ELOOP: problem(path, "symbolic link loop (too many levels of symbolic links); not followed")
            default: problem(path, "symbolic link that cannot be resolved: " + pathErrorText(code, path) + "; passed over")
            }
            return
        }
        let target = String(cString: resolved)
        free(resolved)
        let inside = rootReal == "/" || target == rootReal || target.hasPrefix(rootReal + "/")
        guard inside || followSymlinks else {
            problem(path, "symbolic link to \(target), outside --from; not followed (--follow-symlinks follows it)")
            return
        }
        var info = stat()
        guard stat(target, &info) == 0 else {
            problem(path, "symbolic link to \(target): " + pathErrorText(errno, target) + "; passed over")
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: enter(path, info)
        case S_IFREG: found(path, name: name, target: target)
        default: problem(path, "symbolic link to \(target), not a regular file (\(fileKind(info.st_mode))); not read")
        }
    }

    /// A regular file (or a followed link to one): a record part when its name is one.
    mutating func found(_ path: String, name: String, target: String?) {
        guard let underscore = name.lastIndex(of: "_") else { return }
        let id = String(name[..<underscore])
        let rest = name[name.index(after: underscore)...]
        let part: String
        if rest.hasPrefix("gen"), let dot = rest.firstIndex(of: "."), let k = Int(rest[rest.index(rest.startIndex, offsetBy: 3)..<dot]),
           (0..<4).contains(k) {
            part = "gen\(k)"
        } else if rest.hasPrefix("real.") {
            part = "real"
        } else if rest == "prompt.txt" || rest == "url.txt" {
            part = String(rest)
        } else {
            return  // not a D3 file
        }
        if let reason = sampleKeyPartProblem(id) {
            problem(path, "the id '\(id)' cannot be part of a sample key: \(reason); passed over")
            return
        }
        var record = records[id] ?? D3RecordFiles(id: id)
        let previous: String?
        switch part {
        case "real": previous = record.real; record.real = record.real ?? path
        case "prompt.txt": previous = record.prompt; record.prompt = record.prompt ?? path
        case "url.txt": previous = record.url; record.url = record.url ?? path
        default:
            let k = Int(part.dropFirst(3))!
            previous = record.generated[k]; record.generated[k] = record.generated[k] ?? path
        }
        if let previous { record.duplicates[part, default: [previous]].append(path) }
        if let target { record.linkTargets[path] = target }
        records[id] = record
    }
}

/// The names in `folder` as bytes, in byte order, without `.` and `..`; nil when it cannot be opened (`errno`
/// says why).
func folderEntryNames(_ folder: String) -> [[UInt8]]? {
    guard let handle = opendir(folder) else { return nil }
    defer { closedir(handle) }
    var names: [[UInt8]] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
        if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
    }
    return names.sorted { $0.lexicographicallyPrecedes($1) }
}

/// `name` with every byte that is not part of valid UTF-8 written `\xNN`.
private func printableName(_ raw: [UInt8]) -> String {
    var out = ""
    var index = 0
    while index < raw.count {
        // The longest valid UTF-8 sequence starting here (1 to 4 bytes), else one escaped byte.
        var taken = false
        for length in 1...4 where index + length <= raw.count {
            if let text = String(validating: raw[index..<(index + length)], as: UTF8.self) {
                out += text; index += length; taken = true
                break
            }
        }
        if !taken { out += String(format: "\\x%02X", raw[index]); index += 1 }
    }
    return out
}

private func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFDIR: return "a folder"
    default: return "type \(String(mode & S_IFMT, radix: 8))"
    }
}

/// The reason an operation on `path` failed, by its real cause.
func pathErrorText(_ code: Int32, _ path: String) -> String {
    switch code {
    case ENAMETOOLONG: return "the path is \(path.utf8.count) bytes, longer than the system allows (PATH_MAX, \(PATH_MAX) bytes)"
    case ELOOP: return "symbolic link loop (too many levels of symbolic links)"
    case ENOENT: return "no such file or folder"
    default: return String(cString: strerror(code))
    }
}

/// Reads the regular file at `path` (not following a final symbolic link, not blocking on a FIFO), at most
/// `limit` bytes.
func readRegularFile(_ path: String, limit: Int) throws(WebDatasetError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
    guard fd >= 0 else {
        let code = errno
        throw WebDatasetError(shard: path, reason: code == ELOOP ? "is a symbolic link now (it changed after the folder was searched)"
                                                                  : "cannot open: " + pathErrorText(code, path))
    }
    defer { _ = systemClose(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw WebDatasetError(shard: path, reason: "cannot stat: \(systemErrorText())") }
    guard info.st_mode & S_IFMT == S_IFREG else {
        throw WebDatasetError(shard: path, reason: "not a regular file (\(fileKind(info.st_mode)))")
    }
    guard info.st_size <= limit else {
        throw WebDatasetError(shard: path, reason: "\(info.st_size) bytes, more than the \(limit) bytes read per file")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
    var count = 0
    while true {
        if count == bytes.count {
            guard count <= limit else {
                throw WebDatasetError(shard: path, reason: "grew past the \(limit) bytes read per file while being read")
            }
            bytes.append(contentsOf: repeatElement(0, count: min(bytes.count, limit + 1 - count)))
        }
        let got = bytes.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress! + count, $0.count - count) }
        if got < 0 {
            if errno == EINTR { continue }
            throw WebDatasetError(shard: path, reason: "read failed: \(systemErrorText())")
        }
        if got == 0 { break }
        count += got
    }
    guard count <= limit else { throw WebDatasetError(shard: path, reason: "grew past the \(limit) bytes read per file while being read") }
    bytes.removeLast(bytes.count - count)
    return bytes
}

extension D3RecordFiles {
    /// The WebDataset sample upstream's wds_creation writes for this record (key `{prefix}__{split}__{id}`,
    /// fields `caption.txt`, `gen_0.{ext}` … `gen_3.{ext}`, `real.{ext}`, `url.txt`), with the image bytes as
    /// they are on disk (no re-encoding). Throws for an incomplete or ambiguous record, or a file that cannot be
    /// read (not a regular file, over `maxFileBytes`).
    public func sample(prefix: String = "elsa_v2", split: String, maxFileBytes: Int = 1 << 30) throws(WebDatasetError) -> Sample {
        if let problem { throw WebDatasetError(shard: id, reason: "incomplete record: " + problem) }
        func read(_ path: String) throws(WebDatasetError) -> [UInt8] { try readRegularFile(linkTargets[path] ?? path, limit: maxFileBytes) }
        func ext(_ path: String) -> String { (path as NSString).pathExtension.lowercased() }
        var fields: [(name: String, bytes: [UInt8])] = [("caption.txt", try read(prompt!))]
        for k in 0..<4 { fields.append(("gen_\(k).\(ext(generated[k]!))", try read(generated[k]!))) }
        fields.append(("real.\(ext(real!))", try read(real!)))
        fields.append(("url.txt", try read(url!)))
        return Sample(key: "\(prefix)__\(split)__\(id)", shard: "", fields: fields)
    }
}
