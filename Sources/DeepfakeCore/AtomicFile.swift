// Files replaced atomically: the new bytes go to a fresh temporary file beside the target (created exclusively,
// never through a link planted under its name), are flushed to disk, and the temporary file is renamed over the
// target. rename(2) replaces the target in one step, so at every moment the path names either the old file or
// the complete new one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file being written under a temporary name beside `path`; `commit()` puts it in place, `abandon()` (or
/// dropping it uncommitted) removes it. Writes go straight to the descriptor: callers buffer.
package final class AtomicFile {
    /// Where the file goes once committed (relative to `directory` when one was given).
    package let path: String
    /// Where it is written meanwhile.
    package let temporaryPath: String
    /// The folder descriptor the paths are relative to (`AT_FDCWD`: the working directory).
    private let directory: Int32
    private var descriptor: Int32
    private var done = false

    /// Creates the temporary file: `temporaryPath`, by default `path.tmp-PID`. A leftover under that name (an
    /// earlier process with this pid, or a planted link) is removed first; the file is then created with
    /// `O_EXCL | O_NOFOLLOW`, so nothing is ever written through a link.
    /// - Throws: `FileError` naming `path`, `cannot create: REASON`.
    package convenience init(path: String, temporaryPath: String? = nil, mode: mode_t = 0o666) throws(FileError) {
        try self.init(directory: AT_FDCWD, path: path, temporaryPath: temporaryPath ?? Self.temporaryName(for: path), mode: mode)
    }

    /// The file `name` inside the open folder `directory`, written as `temporaryName` there: for writers that hold
    /// a folder descriptor so that no symbolic link planted on the way is followed (`openat`, `renameat`).
    package convenience init(in directory: Int32, name: String, temporaryName: String, mode: mode_t = 0o666) throws(FileError) {
        try self.init(directory: directory, path: name, temporaryPath: temporaryName, mode: mode)
    }

    private init(directory: Int32, path: String, temporaryPath temporary: String, mode: mode_t) throws(FileError) {
        self.directory = directory
        self.path = path
        self.temporaryPath = temporary
        unlinkat(directory, temporary, 0)
        let fd = openat(directory, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Self.failure(path, "cannot create") }
        descriptor = fd
    }

    private static func failure(_ path: String, _ what: String) -> FileError {
        let number = errno
        return FileError(path: path, reason: what + ": " + String(cString: strerror(number)), errorNumber: number)
    }

    deinit { abandon() }

    /// The default temporary name: `path.tmp-PID` (what leftover cleaners look for: `.tmp-`).
    package static func temporaryName(for path: String) -> String { path + ".tmp-\(getpid())" }

    /// Appends `bytes`.
    /// - Throws: `FileError`, `write failed: REASON` (the file is then abandoned).
    package func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        guard descriptor >= 0 else { throw FileError(path: path, reason: "write failed: the file is closed") }
        guard let base = bytes.baseAddress else { return }
        var written = 0
        while written < bytes.count {
            let n = Glibc_write(descriptor, base + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                let error = Self.failure(path, "write failed")
                abandon()
                throw error
            }
            written += n
        }
    }

    /// Appends `bytes`.
    package func write(_ bytes: [UInt8]) throws(FileError) {
        var failure: FileError?
        bytes.withUnsafeBytes { raw in
            do throws(FileError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Flushes the file to disk and renames it over `path`.
    /// - Throws: `FileError`, `flush failed: REASON` or `rename failed: REASON`; the temporary file is removed.
    package func commit() throws(FileError) {
        guard descriptor >= 0, !done else { throw FileError(path: path, reason: "rename failed: the file is closed") }
        if fsync(descriptor) != 0 {
            let error = Self.failure(path, "flush failed")
            abandon()
            throw error
        }
        close(descriptor)
        descriptor = -1
        done = true
        if renameat(directory, temporaryPath, directory, path) != 0 {
            let error = Self.failure(path, "rename failed")
            unlinkat(directory, temporaryPath, 0)
            throw error
        }
    }

    /// Closes and removes the temporary file; `path` is left as it was. Harmless after `commit()`.
    package func abandon() {
        guard !done else { return }
        done = true
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        unlinkat(directory, temporaryPath, 0)
    }
}

/// Writes a file atomically (`AtomicFile`): `write` gets an `append` function, whose chunks are buffered and
/// written in large pieces; a `FileError` becomes the caller's error type through `error`. If `write` throws,
/// `path` is left as it was and the error goes on.
package func writeFileAtomically<E: Error>(
    _ path: String, error: @escaping (FileError) -> E, _ write: (_ append: ([UInt8]) throws(E) -> Void) throws(E) -> Void
) throws(E) {
    let file: AtomicFile
    do throws(FileError) { file = try AtomicFile(path: path) } catch let e { throw error(e) }
    let capacity = 1 << 20
    var buffer: [UInt8] = []
    buffer.reserveCapacity(capacity)
    func flush() throws(E) {
        guard !buffer.isEmpty else { return }
        do throws(FileError) { try file.write(buffer) } catch let e { throw error(e) }
        buffer.removeAll(keepingCapacity: true)
    }
    try write { (chunk: [UInt8]) throws(E) in
        if buffer.count + chunk.count > capacity { try flush() }
        if chunk.count >= capacity {
            do throws(FileError) { try file.write(chunk) } catch let e { throw error(e) }
        } else {
            buffer.append(contentsOf: chunk)
        }
    }
    try flush()
    do throws(FileError) { try file.commit() } catch let e { throw error(e) }
}

/// Writes `bytes` to `path` atomically.
package func writeFileAtomically(_ path: String, bytes: [UInt8]) throws(FileError) {
    let file = try AtomicFile(path: path)
    try file.write(bytes)
    try file.commit()
}

/// Copies the file `source` to `destination` atomically (`AtomicFile`): `destination` names the old file or the
/// complete copy, never a part.
/// - Throws: `FileError` naming the file that could not be read or written.
package func copyFileAtomically(from source: String, to destination: String) throws(FileError) {
    let input = open(source, O_RDONLY | O_CLOEXEC)
    guard input >= 0 else { throw FileError(path: source, reason: "cannot open the file for reading: " + systemError()) }
    defer { close(input) }
    let file = try AtomicFile(path: destination)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let n = read(input, buffer.baseAddress, buffer.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError(path: source, reason: "read failed: " + systemError())
        }
        if n == 0 { break }
        try file.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
    }
    try file.commit()
}

/// Checks now that an `AtomicFile` for `path` can be created, so a command can refuse an unwritable output
/// before doing the work: creates the temporary file and removes it.
/// - Throws: `FileError` naming the path and the reason (a directory there, a missing folder, no permission).
package func checkWritable(_ path: String) throws(FileError) {
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { throw FileError(path: path, reason: "is a directory") }
    let tmp = AtomicFile.temporaryName(for: path)
    unlink(tmp)  // a leftover of an earlier process with this pid
    let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o666)
    if fd < 0 {
        let reason = systemError()
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) } ?? "."
        if stat(folder.isEmpty ? "/" : folder, &st) != 0 {
            throw FileError(path: path, reason: "cannot be written: folder \(folder) does not exist")
        }
        throw FileError(path: path, reason: "cannot be written: " + reason)
    }
    close(fd)
    unlink(tmp)
}

/// The text of the current `errno`.
package func systemError() -> String { String(cString: strerror(errno)) }

/// write(2), named apart from `AtomicFile.write`.
private func Glibc_write(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, buffer, count)
    #elseif canImport(Musl)
    return Musl.write(fd, buffer, count)
    #else
    return Darwin.write(fd, buffer, count)
    #endif
}
