// A recursive folder walk over names as bytes (opendir/readdir/lstat), so names that are not UTF-8, symbolic
// link loops, paths longer than the system allows and files that are not regular files are each met and
// reported by their real cause instead of being skipped or misnamed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a folder walk met.
package enum FolderWalkEvent: Sendable, Equatable {
    /// A regular file, or a followed symbolic link to one (`target`: the link's resolved path, what to open).
    case file(path: [UInt8], name: [UInt8], target: [UInt8]?)
    /// An entry passed over, what it is, and why.
    case problem(path: [UInt8], name: [UInt8], reason: String, kind: FolderWalkProblemKind)
}

/// What kind of entry a walk passed over.
package enum FolderWalkProblemKind: Sendable, Equatable {
    /// A folder (or a link to one) that cannot be searched.
    case folder
    /// A folder already searched, reached again through a symbolic link.
    case repeatedFolder
    /// An entry that is no regular file to read: a FIFO, socket or device, a broken link, a link loop, a link
    /// refused by the rules.
    case entry
    /// An entry that cannot even be looked at (a path over PATH_MAX, …): it may be a folder.
    case unknown
    /// A name the rules' screen passed over.
    case name
}

/// What a walk does with an entry, decided from its name alone.
package enum FolderWalkScreening: Sendable, Equatable {
    /// Look at it: a folder is searched, a file reported.
    case visit
    /// Leave it out without a word (and do not search it when it is a folder).
    case skip
    /// Leave it out and report it as a problem with this reason.
    case passOver(String)
}

/// How ``walkFolder(_:screen:refuseLink:visit:)`` treats names and symbolic links.
package struct FolderWalkRules {
    /// Called with each name before anything else is done with it.
    package var screen: ([UInt8]) -> FolderWalkScreening
    /// Called with the resolved target of each symbolic link (the walk's root resolved too, as `root`):
    /// a reason to refuse following it, or nil to follow.
    package var refuseLink: (_ target: [UInt8], _ root: [UInt8]) -> String?

    package init(screen: @escaping ([UInt8]) -> FolderWalkScreening = { _ in .visit },
                refuseLink: @escaping (_ target: [UInt8], _ root: [UInt8]) -> String? = { _, _ in nil }) {
        self.screen = screen
        self.refuseLink = refuseLink
    }
}

/// Whether `target` is `root` or lies under it (both resolved paths).
package func pathIsInside(_ target: [UInt8], _ root: [UInt8]) -> Bool {
    root == [0x2F] || target == root || (target.count > root.count && target.starts(with: root) && target[root.count] == 0x2F)
}

/// Walks `root` recursively, entries of each folder in byte order, and calls `visit` for every regular file and
/// every entry passed over (see ``FolderWalkEvent``). Paths are `root` + `/` + names, as bytes.
///
/// Symbolic links are resolved (`realpath`): one to a folder is searched, one to a regular file reported with its
/// target, unless `rules.refuseLink` refuses it; a broken link, a loop, a link to a FIFO or device, a folder
/// reached a second time (through links), a folder that cannot be opened, a FIFO, socket or device, and an entry
/// that cannot be looked at (a path over PATH_MAX, no permission) are problems with their real cause.
/// - Throws: when `root` itself is not a folder that can be opened.
package func walkFolder(_ root: [UInt8], rules: FolderWalkRules = .init(), visit: (FolderWalkEvent) -> Void) throws(FileReadError) {
    var info = stat()
    guard withCPath(root, { stat($0, &info) }) == 0 else { throw .cannotOpen(code: errno, path: printablePath(root)) }
    guard info.st_mode & S_IFMT == S_IFDIR else { throw .notRegularFile(kind: fileKindText(info.st_mode)) }
    guard let resolved = withCPath(root, { realpath($0, nil) }) else { throw .cannotOpen(code: errno, path: printablePath(root)) }
    let rootReal = Array(UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
    free(resolved)
    let opened = withoutActuallyEscaping(visit) { visit in
        var walker = FolderWalker(rootReal: rootReal, rules: rules, visit: visit)
        walker.visited.insert(FileIdentity(info))
        return walker.walk(root) ? nil : errno
    }
    if let code = opened { throw .cannotOpen(code: code, path: printablePath(root)) }
}

/// A file's device and inode: a folder met twice (through links) is searched once.
private struct FileIdentity: Hashable {
    let device: UInt64, inode: UInt64
    init(_ info: stat) { device = UInt64(info.st_dev); inode = UInt64(info.st_ino) }
}

private struct FolderWalker {
    let rootReal: [UInt8]
    let rules: FolderWalkRules
    let visit: (FolderWalkEvent) -> Void
    var visited: Set<FileIdentity> = []

    func problem(_ path: [UInt8], _ name: [UInt8], _ reason: String, _ kind: FolderWalkProblemKind = .entry) {
        visit(.problem(path: path, name: name, reason: reason, kind: kind))
    }

    /// Visits the entries of `folder` in byte order; false when it cannot be opened (`errno` says why).
    mutating func walk(_ folder: [UInt8]) -> Bool {
        guard let names = folderEntryNames(folder) else { return false }
        for name in names { look(folder, name) }
        return true
    }

    mutating func enter(_ path: [UInt8], _ name: [UInt8], _ info: stat) {
        guard visited.insert(FileIdentity(info)).inserted else {
            problem(path, name, "a folder already searched (reached again through a symbolic link); passed over", .repeatedFolder)
            return
        }
        if !walk(path) { problem(path, name, "cannot open the folder: " + pathErrorText(errno, printablePath(path)), .folder) }
    }

    mutating func look(_ folder: [UInt8], _ name: [UInt8]) {
        let path = folder.last == 0x2F ? folder + name : folder + [0x2F] + name
        switch rules.screen(name) {
        case .skip: return
        case let .passOver(reason): return problem(path, name, reason, .name)
        case .visit: break
        }
        var info = stat()
        guard withCPath(path, { lstat($0, &info) }) == 0 else {
            return problem(path, name, pathErrorText(errno, printablePath(path)) + "; passed over", .unknown)
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: enter(path, name, info)
        case S_IFREG: visit(.file(path: path, name: name, target: nil))
        case S_IFLNK: link(path, name)
        default: problem(path, name, "not a regular file (\(fileKindText(info.st_mode))); not read")
        }
    }

    mutating func link(_ path: [UInt8], _ name: [UInt8]) {
        guard let resolved = withCPath(path, { realpath($0, nil) }) else {
            let code = errno
            switch code {
            case ENOENT: problem(path, name, "broken symbolic link (its target does not exist); passed over")
            case ELOOP: problem(path, name, "symbolic link loop (too many levels of symbolic links); not followed")
            default: problem(path, name, "symbolic link that cannot be resolved: " + pathErrorText(code, printablePath(path)) + "; passed over")
            }
            return
        }
        let target = Array(UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
        free(resolved)
        let shown = printablePath(target)
        if let reason = rules.refuseLink(target, rootReal) { return problem(path, name, reason) }
        var info = stat()
        guard withCPath(target, { stat($0, &info) }) == 0 else {
            return problem(path, name, "symbolic link to \(shown): " + pathErrorText(errno, shown) + "; passed over")
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: enter(path, name, info)
        case S_IFREG: visit(.file(path: path, name: name, target: target))
        default: problem(path, name, "symbolic link to \(shown), not a regular file (\(fileKindText(info.st_mode))); not read")
        }
    }
}

/// The names in `folder` as bytes, in byte order, without `.` and `..`; nil when it cannot be opened (`errno`
/// says why).
package func folderEntryNames(_ folder: [UInt8]) -> [[UInt8]]? {
    guard let handle = withCPath(folder, { opendir($0) }) else { return nil }
    defer { closedir(handle) }
    var names: [[UInt8]] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
        if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
    }
    return names.sorted { $0.lexicographicallyPrecedes($1) }
}

/// ``folderEntryNames(_:)-([UInt8])`` for a folder given as text.
package func folderEntryNames(_ folder: String) -> [[UInt8]]? { folderEntryNames(Array(folder.utf8)) }
