// Safe extraction of a shard's regular files into a folder.
//
// Every member name is checked before anything is written: absolute names, `..` components and empty names are
// refused. Folders are walked with openat(O_NOFOLLOW | O_DIRECTORY) from the target folder down, so a symbolic
// link already inside the target (or swapped in while extracting) can never redirect a write elsewhere; links in
// the archive itself are not extracted. Each file is written to a temporary name in its folder and renamed into
// place (a reader never sees half a file; an existing file of the same name is replaced, a symbolic link of that
// name is replaced by the file rather than followed).

import DeepfakeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What ``extract(shard:to:options:)`` did.
public struct ExtractionReport: Sendable, Equatable {
    /// Member names written, in archive order (a name written twice appears twice; the last copy wins).
    public var files: [String] = []
    /// Entries not extracted: directories (created only as needed), links, devices, FIFOs.
    public var skippedEntries = 0
    /// Bytes written.
    public var bytes: Int64 = 0
}

/// Extracts the regular files of `shard` (a path, URL or `-`) below `directory` (created if missing).
///
/// - Throws: `WebDatasetError` naming the shard and the member's offset for an unsafe name ("escapes the target
///   folder"), a path through a symbolic link or a non-folder, or any read or write failure. Files written before
///   the error stay.
@discardableResult
public func extract(shard: String, to directory: String,
                    options: ShardReadOptions = .init()) throws(WebDatasetError) -> ExtractionReport {
    let reader = TarReader(stream: try openShardStream(shard, http: options.http), shard: shard,
                           bufferSize: options.bufferSize)
    defer { reader.close() }
    if mkdir(directory, 0o755) != 0 && errno != EEXIST {
        throw WebDatasetError(.writeFailed, shard: shard, reason: "cannot create \(directory): \(systemError())")
    }
    let root = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard root >= 0 else {
        throw WebDatasetError(.writeFailed, shard: shard, reason: "cannot open \(directory): \(systemError())")
    }
    defer { _ = systemClose(root) }

    var report = ExtractionReport()
    var sequence = 0
    while let header = try reader.nextHeader() {
        let components = try safeComponents(header.name, shard: shard, offset: header.headerOffset)
        let bytes = try reader.readData()
        var folder = root
        var opened: [Int32] = []
        defer { for descriptor in opened { _ = systemClose(descriptor) } }
        for component in components.dropLast() {
            if mkdirat(folder, component, 0o755) != 0 && errno != EEXIST {
                throw WebDatasetError(.unsafeMember, shard: shard, offset: header.headerOffset,
                                      reason: "member '\(header.name)': cannot create folder '\(component)': \(systemError())")
            }
            let next = openat(folder, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else {
                let reason = errno == ELOOP || errno == ENOTDIR
                    ? "'\(component)' is a symbolic link or not a folder; refusing to write through it"
                    : systemError()
                throw WebDatasetError(.unsafeMember, shard: shard, offset: header.headerOffset,
                                      reason: "member '\(header.name)': \(reason)")
            }
            opened.append(next)
            folder = next
        }
        let fileName = components.last!
        sequence += 1
        let temporary = ".\(fileName).extract-\(getpid())-\(sequence).tmp"
        do throws(FileError) {
            let file = try AtomicFile(in: folder, name: fileName, temporaryName: temporary, mode: 0o644)
            try file.write(bytes)
            try file.commit()
        } catch {
            let created = !error.reason.hasPrefix("cannot create")
            let folderThere = error.reason.hasPrefix("rename") && [EISDIR, ENOTEMPTY, EEXIST].contains(error.errorNumber ?? 0)
            let reason = created ? "cannot write: " + (folderThere ? "a folder of that name exists" : error.reason)
                : "cannot create a file: " + error.reason.dropFirst("cannot create: ".count)
            throw WebDatasetError(.unsafeMember, shard: shard, offset: header.headerOffset, reason: "member '\(header.name)': \(reason)")
        }
        report.files.append(header.name)
        report.bytes += Int64(bytes.count)
    }
    report.skippedEntries = reader.skippedEntries
    return report
}

/// The path components of a member name, or an error when the name could leave the target folder.
func safeComponents(_ name: String, shard: String, offset: Int64) throws(WebDatasetError) -> [String] {
    func refuse(_ why: String) -> WebDatasetError {
        WebDatasetError(.unsafeMember, shard: shard, offset: offset, reason: "member '\(name)' \(why); refusing to extract it")
    }
    if name.isEmpty { throw refuse("has an empty name") }
    if name.hasPrefix("/") { throw refuse("is an absolute path (escapes the target folder)") }
    if name.utf8.contains(0) { throw refuse("contains a NUL byte") }
    let parts = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    if parts.contains("..") { throw refuse("contains a '..' component (escapes the target folder)") }
    let components = parts.filter { $0 != "." }
    if components.isEmpty { throw refuse("names no file") }
    return components
}
