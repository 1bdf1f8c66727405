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
import FileAccess
import Foundation
import WebDataset

/// One record of the D3 download layout (docs/upstream.md, Download layout): `{id}_gen{0..3}.{ext}`, `{id}_real.{ext}`,
/// `{id}_prompt.txt`, `{id}_url.txt`, found at any folder depth. Paths are as found under the scanned folder.
package struct D3RecordFiles: Sendable, Equatable {
    package var id: String
    package var generated: [Int: String] = [:]
    package var real: String?
    package var prompt: String?
    package var url: String?
    /// Parts found more than once ("gen0", "real", "prompt.txt", "url.txt" → every path); such a record is ambiguous.
    package var duplicates: [String: [String]] = [:]
    /// The followed symbolic links among the paths → their resolved targets (what is opened).
    package var linkTargets: [String: String] = [:]

    /// A record with no part yet.
    package init(id: String) { self.id = id }

    /// The parts a complete record lacks (empty when complete).
    package var missing: [String] {
        var out: [String] = []
        for k in 0..<D3Field.generatorCount where generated[k] == nil { out.append("gen\(k)") }
        if real == nil { out.append("real") }
        if prompt == nil { out.append("prompt.txt") }
        if url == nil { out.append("url.txt") }
        return out
    }

    /// Why the record cannot become a sample before its files are read (missing or repeated parts); nil when it can.
    package var problem: String? {
        if !missing.isEmpty { return "missing " + missing.joined(separator: ", ") }
        if !duplicates.isEmpty {
            return duplicates.keys.sorted().map { "\($0) found \(duplicates[$0]!.count) times (\(duplicates[$0]!.joined(separator: ", ")))" }
                .joined(separator: "; ")
        }
        return nil
    }
}

/// A name the scan passed over, and why.
package struct D3ScanProblem: Sendable, Equatable, CustomStringConvertible {
    /// The path as found; bytes that are not UTF-8 are written `\xNN`.
    package var path: String
    package var reason: String
    package var description: String { "\(path): \(reason)" }
}

/// What a scan found: the records (sorted by id) and the names it passed over (sorted by path).
package struct D3Scan: Sendable {
    package var records: [D3RecordFiles]
    package var problems: [D3ScanProblem]
}

/// Why a text cannot be one part of a sample key or a shard file name (`--prefix`, `--split`, a record id);
/// nil when it can: not empty, at most 100 bytes, no `/`, no `.` (the first dot of a member name ends its sample
/// key, and `.`/`..` name folders), no control character (NUL included).
package func sampleKeyPartProblem(_ text: String) -> String? {
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
package func scanD3Records(root: String, followSymlinks: Bool = false) throws(WebDatasetError) -> D3Scan {
    var records: [String: D3RecordFiles] = [:]
    var problems: [D3ScanProblem] = []
    let rules = FolderWalkRules(
        screen: { String(validating: $0, as: UTF8.self) == nil ? .passOver("the name is not valid UTF-8; passed over") : .visit },
        refuseLink: { target, rootReal in
            pathIsInside(target, rootReal) || followSymlinks ? nil
                : "symbolic link to \(printablePath(target)), outside --from; not followed (--follow-symlinks follows it)"
        })
    do {
        try walkFolder(Array(root.utf8), rules: rules) { event in
            switch event {
            case let .problem(path, _, reason, _):
                problems.append(D3ScanProblem(path: printablePath(path), reason: reason))
            case let .file(path, name, target):
                // The screen let only UTF-8 names through; a path is UTF-8 when its root is.
                addD3Part(path: printablePath(path), name: String(decoding: name, as: UTF8.self),
                          target: target.map { printablePath($0) }, to: &records, problems: &problems)
            }
        }
    } catch {
        switch error {
        case .notRegularFile: throw WebDatasetError(.unreadable, shard: root, reason: "not a folder")
        case let .cannotOpen(code, _) where code == ENOENT || code == ELOOP || code == ENAMETOOLONG:
            throw WebDatasetError(.unreadable, shard: root, reason: error.description)
        default: throw WebDatasetError(.unreadable, shard: root, reason: "cannot open the folder: " + error.description)
        }
    }
    return D3Scan(records: records.values.sorted { $0.id < $1.id },
                  problems: problems.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) })
}

/// A regular file (or a followed link to one) met by the scan: a record part when its name is one.
private func addD3Part(path: String, name: String, target: String?, to records: inout [String: D3RecordFiles],
                       problems: inout [D3ScanProblem]) {
    guard let underscore = name.lastIndex(of: "_") else { return }
    let id = String(name[..<underscore])
    let rest = name[name.index(after: underscore)...]
    let part: String
    if rest.hasPrefix("gen"), let dot = rest.firstIndex(of: "."), let k = Int(rest[rest.index(rest.startIndex, offsetBy: 3)..<dot]),
       (0..<D3Field.generatorCount).contains(k) {
        part = "gen\(k)"
    } else if rest.hasPrefix("real.") {
        part = "real"
    } else if rest == "prompt.txt" || rest == "url.txt" {
        part = String(rest)
    } else {
        return  // not a D3 file
    }
    if let reason = sampleKeyPartProblem(id) {
        problems.append(D3ScanProblem(path: path, reason: "the id '\(id)' cannot be part of a sample key: \(reason); passed over"))
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

/// Reads the regular file at `path` (not following a final symbolic link, not blocking on a FIFO), at most
/// `limit` bytes.
func readRegularFile(_ path: String, limit: Int) throws(WebDatasetError) -> [UInt8] {
    do {
        return try FileAccess.readRegularFile(path, limit: limit, followFinalLink: false)
    } catch {
        switch error {
        case .symbolicLink: throw WebDatasetError(.unreadable, shard: path, reason: "is a symbolic link now (it changed after the folder was searched)")
        case .cannotOpen: throw WebDatasetError(.unreadable, shard: path, reason: "cannot open: " + error.description)
        default: throw WebDatasetError(.unreadable, shard: path, reason: error.description)
        }
    }
}

extension D3RecordFiles {
    /// The WebDataset sample upstream's wds_creation writes for this record (key `{prefix}__{split}__{id}`,
    /// fields `caption.txt`, `gen_0.{ext}` … `gen_3.{ext}`, `real.{ext}`, `url.txt`), with the image bytes as
    /// they are on disk (no re-encoding). Throws for an incomplete or ambiguous record, or a file that cannot be
    /// read (not a regular file, over `maxFileBytes`).
    package func sample(prefix: String = D3Field.defaultPrefix, split: String, maxFileBytes: Int = 1 << 30) throws(WebDatasetError) -> Sample {
        if let problem { throw WebDatasetError(.sample, shard: id, reason: "incomplete record: " + problem) }
        func read(_ path: String) throws(WebDatasetError) -> [UInt8] { try readRegularFile(linkTargets[path] ?? path, limit: maxFileBytes) }
        func ext(_ path: String) -> String { (path as NSString).pathExtension.lowercased() }
        var fields: [(name: String, bytes: [UInt8])] = [(D3Field.caption.name(), try read(prompt!))]
        for k in 0..<D3Field.generatorCount {
            fields.append((D3Field.generated(k).name(extension: ext(generated[k]!)), try read(generated[k]!)))
        }
        fields.append((D3Field.real.name(extension: ext(real!)), try read(real!)))
        fields.append((D3Field.url.name(), try read(url!)))
        return Sample(key: D3Field.sampleKey(prefix: prefix, split: split, id: id), shard: "", fields: fields)
    }
}
