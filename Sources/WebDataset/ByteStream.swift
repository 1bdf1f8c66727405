// Byte sources for the tar reader: a file (read(2) into the caller's buffer, never the whole shard in memory),
// standard input, and an in-memory archive. The HTTP(S) source is in HTTPByteStream.swift.

import DeepfakeCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// File-scope names for the C calls, which the stream classes' own `read`/`close` methods would shadow.
func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(descriptor, buffer, count) }

/// A forward-only source of bytes, read by ``TarReader`` in large chunks. Used by one thread at a time.
public protocol ByteStream: AnyObject {
    /// What errors call the stream (a path, a URL, `-`).
    var name: String { get }
    /// The total number of bytes, when known before reading (file size, HTTP `Content-Length`); used to refuse
    /// member sizes that cannot fit and to report how much of a broken shard went unread.
    var totalSize: Int64? { get }
    /// Reads up to `buffer.count` bytes into `buffer`; returns how many were read, 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int
    /// Skips up to `count` bytes; returns how many were skipped (fewer only at the end of the stream).
    func skip(_ count: Int64) throws(WebDatasetError) -> Int64
    /// Releases the underlying resource. Reading afterwards is an error. Calling it twice is harmless.
    func close()
}

extension ByteStream {
    /// Skips by reading into a scratch buffer (streams that cannot seek).
    public func skip(_ count: Int64) throws(WebDatasetError) -> Int64 {
        try skipByReading(count)
    }

    /// Reads and discards up to `count` bytes; returns how many were discarded.
    public func skipByReading(_ count: Int64) throws(WebDatasetError) -> Int64 {
        guard count > 0 else { return 0 }
        let scratchSize = Int(min(count, 1 << 18))
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: scratchSize, alignment: 16)
        defer { scratch.deallocate() }
        var skipped: Int64 = 0
        while skipped < count {
            let want = Int(min(Int64(scratchSize), count - skipped))
            let got = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<want]))
            if got == 0 { break }
            skipped += Int64(got)
        }
        return skipped
    }
}

/// A local file, read with `read(2)` straight into the reader's buffers (`posix_fadvise` sequential).
public final class FileByteStream: ByteStream {
    public let name: String
    public let totalSize: Int64?
    private var descriptor: Int32
    private let ownsDescriptor: Bool
    private let seekable: Bool
    private var position: Int64 = 0

    /// Opens `path` for reading.
    /// - Throws: `WebDatasetError` naming the path when it cannot be opened or is a directory.
    public init(path: String) throws(WebDatasetError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw WebDatasetError(.unreadable, shard: path, reason: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = systemClose(fd)
            throw WebDatasetError(.unreadable, shard: path, reason: "cannot stat: \(reason)")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            _ = systemClose(fd)
            throw WebDatasetError(.unreadable, shard: path, reason: "is a directory, not a tar file")
        }
        name = path
        descriptor = fd
        ownsDescriptor = true
        seekable = kind == S_IFREG
        totalSize = kind == S_IFREG ? Int64(info.st_size) : nil
        #if canImport(Glibc)
        if seekable { _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL)) }
        #endif
    }

    /// Wraps an open descriptor (e.g. standard input); `close()` does not close it unless `ownsDescriptor`.
    public init(descriptor: Int32, name: String, ownsDescriptor: Bool = false) {
        self.name = name
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        var info = stat()
        let regular = fstat(descriptor, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        seekable = false
        totalSize = regular ? Int64(info.st_size) - Int64(lseek(descriptor, 0, SEEK_CUR)) : nil
    }

    deinit { close() }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int {
        guard descriptor >= 0 else { throw WebDatasetError(.closed, shard: name, offset: position, reason: "read after close") }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let got = systemRead(descriptor, base, buffer.count)
            if got >= 0 {
                position += Int64(got)
                return got
            }
            if errno == EINTR { continue }
            throw WebDatasetError(.unreadable, shard: name, offset: position, reason: "read failed: \(String(cString: strerror(errno)))")
        }
    }

    public func skip(_ count: Int64) throws(WebDatasetError) -> Int64 {
        guard count > 0 else { return 0 }
        guard seekable, let totalSize else {
            // Pipes and terminals: read and discard.
            return try skipByReading(count)
        }
        let step = min(count, max(0, totalSize - position))
        if step > 0 {
            guard lseek(descriptor, off_t(step), SEEK_CUR) >= 0 else {
                throw WebDatasetError(.unreadable, shard: name, offset: position, reason: "seek failed: \(String(cString: strerror(errno)))")
            }
            position += step
        }
        return step
    }

    public func close() {
        if descriptor >= 0, ownsDescriptor { _ = systemClose(descriptor) }
        descriptor = -1
    }
}

/// Standard input (`-` in a shard list), read in large chunks; never closed by the reader.
public final class StandardInputByteStream: ByteStream {
    private let file = FileByteStream(descriptor: 0, name: "-")
    /// Standard input of this process.
    public init() {}
    public var name: String { file.name }
    public var totalSize: Int64? { file.totalSize }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int {
        try file.read(into: buffer)
    }
    public func close() {}
}

/// An archive held in memory (tests, archives built on the fly).
public final class MemoryByteStream: ByteStream {
    public let name: String
    private let bytes: [UInt8]
    private var position = 0
    /// Largest chunk one `read` returns (to exercise short reads in tests); `Int.max` by default.
    public var maxReadSize: Int

    /// Serves `bytes`; `name` is what errors call it.
    public init(_ bytes: [UInt8], name: String = "<memory>", maxReadSize: Int = .max) {
        self.bytes = bytes
        self.name = name
        self.maxReadSize = max(1, maxReadSize)
    }

    public var totalSize: Int64? { Int64(bytes.count) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(WebDatasetError) -> Int {
        let count = min(buffer.count, bytes.count - position, maxReadSize)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + position, byteCount: count)
        }
        position += count
        return count
    }

    public func skip(_ count: Int64) throws(WebDatasetError) -> Int64 {
        let step = Int(min(max(0, count), Int64(bytes.count - position)))
        position += step
        return Int64(step)
    }

    public func close() {}
}
