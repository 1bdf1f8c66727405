import DeepfakeCore
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

/// Writes a file atomically (DeepfakeCore's `AtomicFile`: a temporary file beside `path`, flushed, then renamed
/// over it), with failures as `CheckpointError.io` naming the path. A crash at any moment leaves either the old
/// file or the new one, never a partial one.
public func writeFileAtomically(_ path: String, _ write: (_ append: ([UInt8]) throws(CheckpointError) -> Void) throws(CheckpointError) -> Void) throws(CheckpointError) {
    try writeFileAtomically(path, error: { CheckpointError.io(path: $0.path, reason: $0.reason) }, write)
}
