// `deepfake shards create`: the records of a D3 download folder written as numbered shards, resumable.
//
// Records are written in id order, `perShard` per shard (and a new shard once one holds ShardWriter's
// `maxSize` payload bytes), as `{prefix}-NNNNNN.tar`, each complete only under its final name. Records that
// cannot become samples, and names the scan passed over, are listed in `incomplete.txt`.
//
// An output folder that holds anything is refused unless `existing` says what to do:
// * `.overwrite` removes this prefix's shards (`{prefix}-NNNNNN.tar` and their `.tmp` files) and
//   `incomplete.txt`, nothing else, then writes;
// * `.resume` keeps the shards an interrupted run completed, from `-000000` up to the first one missing,
//   unreadable or not full, checks that they hold what this run would write there, removes this prefix's later
//   shards and `.tmp` files, and writes from there. Which record goes to which shard depends only on the
//   records before it, so the result is byte for byte that of an uninterrupted run.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DeepfakeCore
import FileAccess
import Foundation
import WebDataset

/// Settings of ``createD3Shards(_:progress:)``.
package struct D3ShardOptions: Sendable {
    /// What to do with an output folder that is not empty.
    package enum Existing: Sendable { case refuse, resume, overwrite }

    /// The D3 download folder (`--from`).
    package var source: String
    /// The output folder (`--out`).
    package var output: String
    /// Records per shard (`--per-shard`).
    package var perShard = 5000
    /// The split named in the keys (`--split`).
    package var split = "train"
    /// Key and file-name prefix (`--prefix`).
    package var prefix = D3Field.defaultPrefix
    /// Follow symbolic links that leave `source` (`--follow-symlinks`).
    package var followSymlinks = false
    /// A non-empty output folder: refused, resumed (`--resume`) or cleaned (`--overwrite`).
    package var existing = Existing.refuse
    /// Largest file read (1 GiB): a larger one makes its record incomplete.
    package var maxFileBytes = 1 << 30

    /// Options with the command's defaults.
    package init(source: String, output: String) {
        self.source = source
        self.output = output
    }
}

/// What ``createD3Shards(_:progress:)`` did.
package struct D3ShardSummary: Sendable {
    /// Every shard of the output, in order (kept ones included).
    package var shards: [String] = []
    /// Shards kept from an interrupted run.
    package var keptShards = 0
    /// Records in the shards, kept ones included.
    package var records = 0
    /// The lines of `incomplete.txt`: names passed over, then records left out, each with its reason.
    package var problems: [String] = []
    /// `incomplete.txt`, when written.
    package var report: String?
    /// Files of an earlier run removed (`.overwrite`, `.resume`).
    package var removed: [String] = []
}

/// Why shards could not be created.
package enum D3ShardsError: Error, CustomStringConvertible, Sendable {
    /// An option value that cannot be used (the option, the value, why).
    case invalidOption(String, String, String)
    /// The source folder cannot be read.
    case source(String, String)
    /// The output folder cannot be used.
    case output(String, String)
    /// The output folder holds files and neither resume nor overwrite was asked for.
    case outputNotEmpty(String, [String])
    /// The existing shards do not continue into what this run would write.
    case cannotResume(String, String)
    /// A shard or report could not be written.
    case write(String)

    /// Errors in how the command was called (exit status 64) rather than in its inputs.
    package var isUsageError: Bool {
        switch self {
        case .invalidOption, .outputNotEmpty: return true
        case .output(_, let reason): return reason.hasPrefix("is a file")
        default: return false
        }
    }

    package var description: String {
        switch self {
        case let .invalidOption(option, value, reason): return "\(option) \(value.debugDescription) cannot be used: \(reason)"
        case let .source(path, reason): return "--from \(path): \(reason)"
        case let .output(path, reason): return "--out \(path): \(reason)"
        case let .outputNotEmpty(path, names):
            let shown = names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", … (\(names.count) entries)" : "")
            return "--out \(path) is not empty (\(shown)); pass --resume to continue an interrupted run, "
                + "--overwrite to replace its shards, or choose an empty folder"
        case let .cannotResume(path, reason):
            return "cannot resume in \(path): \(reason); pass --overwrite to write the shards anew"
        case let .write(reason): return reason
        }
    }
}

/// Writes the records of `options.source` as shards in `options.output` (see the file header); `progress` gets
/// (records done, records in all). Returns what was written and what was left out.
package func createD3Shards(_ options: D3ShardOptions,
                           progress: (Int, Int) -> Void = { _, _ in }) throws(D3ShardsError) -> D3ShardSummary {
    for (option, value) in [("--prefix", options.prefix), ("--split", options.split)] {
        if let reason = sampleKeyPartProblem(value) { throw .invalidOption(option, value, reason) }
    }
    guard options.perShard >= 1 else { throw .invalidOption("--per-shard", "\(options.perShard)", "must be at least 1") }
    let out = options.output
    let entries = try outputEntries(out)
    if !entries.isEmpty && options.existing == .refuse { throw .outputNotEmpty(out, entries) }

    let scan: D3Scan
    do { scan = try scanD3Records(root: options.source, followSymlinks: options.followSymlinks) } catch {
        throw .source(options.source, error.reason)
    }
    var summary = D3ShardSummary()
    let records = scan.records
    var recordProblems: [Int: String] = [:]
    func readSample(_ index: Int) -> Sample? {
        do throws(WebDatasetError) {
            return try records[index].sample(prefix: options.prefix, split: options.split, maxFileBytes: options.maxFileBytes)
        } catch {
            recordProblems[index] = "record \(records[index].id): " + (error.shard == records[index].id ? error.reason : error.description)
            return nil
        }
    }

    // What an interrupted run left: the shards to keep and where to go on.
    let own = ownFiles(in: entries, prefix: options.prefix)
    var firstRecord = 0
    var removing = own.all
    if options.existing == .resume {
        let kept = try keptShards(options, own: own, records: records, sample: readSample)
        summary.keptShards = kept.shards.count
        summary.shards = kept.shards.map { out + "/" + $0 }
        summary.records = kept.records
        firstRecord = kept.next
        removing = own.all.filter { !kept.shards.contains($0) }
    }
    for name in removing {
        guard unlink(out + "/" + name) == 0 || errno == ENOENT else {
            throw .output(out, "cannot remove \(name): \(systemError())")
        }
        summary.removed.append(out + "/" + name)
    }

    // The records after the kept shards.
    var writer: ShardWriter?
    let pattern = out + "/" + options.prefix.replacingOccurrences(of: "%", with: "%%") + "-%06d.tar"
    for index in records.indices {
        progress(index + 1, records.count)
        guard index >= firstRecord, let sample = readSample(index) else { continue }
        if writer == nil { try createFolder(out) }
        do throws(WebDatasetError) {
            if writer == nil {
                writer = try ShardWriter(pattern: pattern, options: ShardWriterOptions(maxCount: options.perShard,
                                                                                       startShard: summary.keptShards))
            }
            try writer!.write(sample)
            summary.records += 1
        } catch {
            throw .write(error.description)
        }
    }
    do throws(WebDatasetError) {
        if let writer { summary.shards += try writer.close() }
    } catch {
        throw .write(error.description)
    }

    summary.problems = scan.problems.map(\.description) + recordProblems.keys.sorted().map { recordProblems[$0]! }
    if !summary.problems.isEmpty {
        let report = out + "/" + incompleteReportName
        try createFolder(out)
        let bytes = Array(summary.problems.joined(separator: "\n").appending("\n").utf8)
        do throws(FileError) {
            try writeFileAtomically(report, bytes: bytes)
        } catch {
            throw .write("\(error)")
        }
        summary.report = report
    }
    return summary
}

/// The report of records and names left out.
let incompleteReportName = "incomplete.txt"

/// The names in `folder` (empty when it does not exist yet).
private func outputEntries(_ folder: String) throws(D3ShardsError) -> [String] {
    var info = stat()
    if stat(folder, &info) != 0 {
        if errno == ENOENT { return [] }
        throw .output(folder, pathErrorText(errno, folder))
    }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw .output(folder, "is a file, not a folder") }
    guard let names = folderEntryNames(folder) else {
        throw .output(folder, "cannot list the folder: " + pathErrorText(errno, folder))
    }
    return names.map { String(decoding: $0, as: UTF8.self) }
}

/// Creates `folder` and its parents when missing.
private func createFolder(_ folder: String) throws(D3ShardsError) {
    var info = stat()
    if stat(folder, &info) == 0 {
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .output(folder, "is a file, not a folder") }
        return
    }
    let parent = (folder as NSString).deletingLastPathComponent
    if !parent.isEmpty && parent != folder { try createFolder(parent) }
    guard mkdir(folder, 0o755) == 0 || errno == EEXIST else {
        throw .output(folder, "cannot create the folder: " + pathErrorText(errno, folder))
    }
}

/// This prefix's files in an output folder: complete shards by number, and everything a run of this
/// prefix writes (`.tmp` files and the report included).
private struct OwnFiles {
    var shards: [Int: String] = [:]
    var all: [String] = []
}

private func ownFiles(in names: [String], prefix: String) -> OwnFiles {
    var own = OwnFiles()
    for name in names {
        if name == incompleteReportName || name.hasPrefix(incompleteReportName + ".tmp-") {
            own.all.append(name)
            continue
        }
        guard name.hasPrefix(prefix + "-") else { continue }
        var rest = name.dropFirst(prefix.count + 1)
        let temporary = rest.hasSuffix(".tar.tmp")
        guard rest.hasSuffix(".tar") || temporary else { continue }
        rest = rest.dropLast(temporary ? 8 : 4)
        guard rest.count >= 6, rest.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(rest),
              String(format: "%06d", number) == rest else { continue }
        own.all.append(name)
        if !temporary { own.shards[number] = name }
    }
    return own
}

/// The keys of a shard's samples, in order, and its payload bytes; nil unless it reads to its end and ends as
/// the writer ends a shard (zero blocks after the last member, the size a multiple of 10,240 bytes), so that a
/// shard cut at a member boundary is not taken for a complete one.
private func shardContents(_ path: String) -> (keys: [String], payload: Int64)? {
    do throws(WebDatasetError) {
        let reader = try TarReader(path: path)
        var keys: [String] = [], payload: Int64 = 0, end: Int64 = 0
        while let header = try reader.nextHeader() {
            guard let (key, _) = splitSampleName(header.name) else { return nil }
            if keys.last.map({ !$0.utf8.elementsEqual(key.utf8) }) ?? true { keys.append(String(key)) }
            payload += Int64(header.size)
            end = header.dataOffset + (Int64(header.size) + 511) / 512 * 512
        }
        guard let size = reader.totalSize, size % 10240 == 0, size - end >= 1024,
              let tail = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? tail.close() }
        try? tail.seek(toOffset: UInt64(end))
        guard let zeros = try? tail.readToEnd(), zeros.count == Int(size - end), zeros.allSatisfy({ $0 == 0 }) else { return nil }
        return (keys, payload)
    } catch {
        return nil
    }
}

/// The shards of an interrupted run to keep (from number 0 up to the first one missing, unreadable or
/// holding fewer samples than a finished shard), checked against the records; `next` is the first record
/// after them. The records before `next` that are in no kept shard were left out by the earlier run: `sample`
/// reads them again to list them with their reason.
private func keptShards(_ options: D3ShardOptions, own: OwnFiles, records: [D3RecordFiles],
                        sample: (Int) -> Sample?) throws(D3ShardsError) -> (shards: [String], records: Int, next: Int) {
    let keyPrefix = "\(options.prefix)__\(options.split)__"
    var index: [String: Int] = [:]
    for (i, record) in records.enumerated() { index[keyPrefix + record.id] = i }
    let maxSize = ShardWriterOptions().maxSize
    var kept: [String] = [], count = 0, next = 0
    var finished = false
    var number = 0
    while let name = own.shards[number], let contents = shardContents(options.output + "/" + name) {
        if finished {
            throw .cannotResume(options.output, "\(own.shards[number - 1]!) holds fewer than --per-shard samples but is followed by \(name)")
        }
        guard contents.keys.count <= options.perShard else {
            throw .cannotResume(options.output, "\(name) holds \(contents.keys.count) samples, more than --per-shard \(options.perShard)")
        }
        var inShard = Set<Int>()
        for key in contents.keys {
            guard let i = index[key], i >= next else {
                throw .cannotResume(options.output, "\(name) holds the sample \(key), which this --from, --prefix and --split "
                                    + "would not write there")
            }
            for skipped in next..<i where sample(skipped) != nil {
                throw .cannotResume(options.output, "record \(records[skipped].id) is readable but not in \(name) (the source "
                                    + "changed since the interrupted run)")
            }
            inShard.insert(i)
            next = i + 1
        }
        kept.append(name)
        count += contents.keys.count
        finished = contents.keys.count < options.perShard && contents.payload < maxSize
        number += 1
    }
    if finished {
        // A finished run: whatever follows its last shard must be records that cannot be read.
        for i in next..<records.count where sample(i) != nil {
            throw .cannotResume(options.output, "\(kept.last!) holds fewer than --per-shard samples, yet record \(records[i].id) "
                                + "would follow it (another --per-shard, or the source changed)")
        }
        next = records.count
    }
    return (kept, count, next)
}
