#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file, unmapped when the last reference goes away.
public final class MappedFile: @unchecked Sendable {
    /// The path as given, for messages.
    public let path: String
    /// The mapped bytes (read-only; empty for an empty file).
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path`; throws `CheckpointError.io` when it cannot be opened or mapped.
    public init(path: String) throws(CheckpointError) {
        self.path = path
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw .io(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw .io(path: path, reason: String(cString: strerror(errno))) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .io(path: path, reason: "is a directory") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw .io(path: path, reason: "is not a regular file (a pipe or a device)") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .io(path: path, reason: "cannot map: " + String(cString: strerror(errno)))
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// The bytes of a small file (a config, a run's state): a regular file of at most `limit` bytes, refused
/// otherwise with `CheckpointError.io` naming the path, so that a device, a pipe or a huge file given by
/// mistake is neither waited on nor read whole.
public func readSmallFile(_ path: String, limit: Int) throws(CheckpointError) -> [UInt8] {
    let file = try MappedFile(path: path)
    guard file.bytes.count <= limit else {
        throw .io(path: path, reason: "is \(file.bytes.count) bytes, more than the \(limit) a file of this kind may have")
    }
    return Array(file.bytes)
}

/// Checks now that `writeFileAtomically(path)` will be able to create its temporary file beside `path`, so a
/// command can refuse an unwritable output before doing the work: creates that file and removes it. Throws
/// `CheckpointError.io` naming the path and the reason (missing folder, no permission, a directory there).
public func checkWritable(_ path: String) throws(CheckpointError) {
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw .io(path: path, reason: "is a directory") }
    let tmp = path + ".tmp-\(getpid())"
    unlink(tmp)  // a leftover of an earlier process with this pid
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
    if fd < 0 {
        let reason = String(cString: strerror(errno))
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        if stat(folder.isEmpty ? "/" : folder, &st) != 0 { throw .io(path: path, reason: "cannot be written: folder \(folder) does not exist") }
        throw .io(path: path, reason: "cannot be written: " + reason)
    }
    close(fd)
    unlink(tmp)
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed, then renamed over `path`.
/// A crash at any moment leaves either the old file or the new one, never a partial one.
public func writeFileAtomically(_ path: String, _ write: (_ append: ([UInt8]) throws(CheckpointError) -> Void) throws(CheckpointError) -> Void) throws(CheckpointError) {
    let tmp = path + ".tmp-\(getpid())"
    // A fresh file, never through a link planted under the temporary name (a leftover of this pid is removed).
    unlink(tmp)
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
    guard fd >= 0 else { throw .io(path: path, reason: "cannot create: " + String(cString: strerror(errno))) }
    guard let f = fdopen(fd, "wb") else {
        let reason = String(cString: strerror(errno))
        close(fd); unlink(tmp)
        throw .io(path: path, reason: "cannot create: " + reason)
    }
    var ok = false
    defer { if !ok { fclose(f); unlink(tmp) } }
    try write { (chunk: [UInt8]) throws(CheckpointError) in
        guard chunk.count > 0 else { return }
        if chunk.withUnsafeBytes({ fwrite($0.baseAddress, 1, $0.count, f) }) != chunk.count {
            throw .io(path: path, reason: "write failed: " + String(cString: strerror(errno)))
        }
    }
    if fflush(f) != 0 || fsync(fileno(f)) != 0 { throw .io(path: path, reason: "flush failed: " + String(cString: strerror(errno))) }
    ok = true
    fclose(f)
    if rename(tmp, path) != 0 {
        let reason = String(cString: strerror(errno))
        unlink(tmp)
        throw .io(path: path, reason: "rename failed: " + reason)
    }
}
