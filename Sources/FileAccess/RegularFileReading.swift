// Reading a whole file safely: only a regular file, opened without blocking (a FIFO or device named in its
// place cannot hang the reader), checked with fstat on the open descriptor (a file swapped between a check and
// the open cannot slip through), and never more than a given number of bytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why ``readRegularFile(_:limit:followFinalLink:)`` read nothing.
package enum FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `stat` or `open` failed; `code` is its `errno`, `path` the path as text (its length explains ENAMETOOLONG).
    case cannotOpen(code: Int32, path: String)
    /// The final component is a symbolic link and links were not to be followed.
    case symbolicLink
    /// Not a regular file: a FIFO, socket, character or block device, folder (`kind` says which).
    case notRegularFile(kind: String)
    /// The file holds more than `limit` bytes (`size` as fstat reports it, or as read when it grew).
    case tooLarge(size: Int64, limit: Int)
    /// The file grew past `limit` bytes while being read.
    case grewPastLimit(limit: Int)
    /// `fstat` or `read` failed with `errno` `code`.
    case ioFailure(operation: String, code: Int32)

    package var description: String {
        switch self {
        case let .cannotOpen(code, path): return pathErrorText(code, path)
        case .symbolicLink: return "is a symbolic link (not followed here)"
        case let .notRegularFile(kind): return "not a regular file (\(kind)); only regular files are read"
        case let .tooLarge(size, limit): return "the file is \(size) bytes, over the limit: more than the \(limit) bytes read per file"
        case let .grewPastLimit(limit): return "the file grew past the limit of \(limit) bytes read per file while being read"
        case let .ioFailure(operation, code): return "\(operation) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// The contents of the regular file at `path` (bytes, so names that are not UTF-8 work), at most `limit` bytes.
///
/// The file is opened with `O_NONBLOCK` (and `O_NOFOLLOW` unless `followFinalLink`), then `fstat` on the
/// descriptor decides: anything but a regular file is refused before a byte is read, as is a file larger than
/// `limit`; a file growing while it is read stops at `limit + 1` bytes and is refused.
package func readRegularFile(_ path: [UInt8], limit: Int, followFinalLink: Bool = true) throws(FileReadError) -> [UInt8] {
    // A first look spares devices even being opened (opening some has effects); the fstat below decides.
    var before = stat()
    if withCPath(path, { followFinalLink ? stat($0, &before) : lstat($0, &before) }) == 0 {
        switch before.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK: throw .symbolicLink
        default: throw .notRegularFile(kind: fileKindText(before.st_mode))
        }
    }
    let flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (followFinalLink ? 0 : O_NOFOLLOW)
    let fd = withCPath(path) { open($0, flags) }
    guard fd >= 0 else {
        let code = errno
        if code == ELOOP && !followFinalLink { throw .symbolicLink }
        throw .cannotOpen(code: code, path: printablePath(path))
    }
    defer { _ = close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw .ioFailure(operation: "fstat", code: errno) }
    guard info.st_mode & S_IFMT == S_IFREG else { throw .notRegularFile(kind: fileKindText(info.st_mode)) }
    let limit = max(0, limit)
    guard info.st_size <= limit else { throw .tooLarge(size: Int64(info.st_size), limit: limit) }
    // One spare byte shows whether the file grew since fstat.
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
    var count = 0
    while true {
        if count == bytes.count {
            guard count <= limit else { throw .grewPastLimit(limit: limit) }
            bytes.append(contentsOf: repeatElement(0, count: min(max(bytes.count, 1 << 16), limit + 1 - count)))
        }
        let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
        if got < 0 {
            if errno == EINTR { continue }
            throw .ioFailure(operation: "read", code: errno)
        }
        if got == 0 { break }
        count += got
    }
    guard count <= limit else { throw .grewPastLimit(limit: limit) }
    bytes.removeLast(bytes.count - count)
    return bytes
}

/// ``readRegularFile(_:limit:followFinalLink:)`` for a path given as text.
package func readRegularFile(_ path: String, limit: Int, followFinalLink: Bool = true) throws(FileReadError) -> [UInt8] {
    try readRegularFile(Array(path.utf8), limit: limit, followFinalLink: followFinalLink)
}
