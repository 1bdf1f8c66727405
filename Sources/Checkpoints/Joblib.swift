import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// joblib files (`joblib.dump`): a pickle stream in which every numpy array is a `NumpyArrayWrapper` record
/// followed by the array's raw bytes (see `Pickle`), optionally compressed as a whole.
///
/// joblib picks the decompressor from the first bytes, and so does this reader:
/// `x` (0x78) a raw zlib stream (`compress=3` or `('zlib', n)`, joblib ≥ 0.10; several concatenated streams
/// are read in turn), `1f 8b` gzip, `ZF` the pre-0.10 container ("ZF", the decompressed length in hex padded
/// to 19 characters, then zlib data), `BZ` bz2, `fd 37 7a 58 5a` xz, `5d 00` lzma, `04 22 4d 18` lz4. zlib, gzip
/// and ZF are read; the others are refused with `PickleError.unsupported`. Anything else is an uncompressed
/// pickle, including plain `pickle.dump` files.
public enum Joblib {
    /// The compression a joblib file uses, from its first bytes.
    public enum Compression: String, Sendable, Equatable {
        case none, zlib, gzip, bz2, lzma, xz, lz4
        /// joblib < 0.10's "ZF" zlib container.
        case zfile
    }

    /// Default cap on the decompressed size (a guard against decompression bombs): 1 GiB, far above
    /// CoDE's released heads (the largest, the k-NN head, is 37 MB).
    public static let defaultMaxDecompressedBytes = 1 << 30

    /// zlib's largest compression ratio is about 1032:1; a stream cannot inflate to more than this many
    /// bytes per input byte (plus a little), so a ZF header declaring more is refused before anything is
    /// allocated, and the output buffer never starts larger than the input can fill.
    static let maxInflateRatio = 1100

    /// Detects the compression from the first bytes, as joblib does.
    public static func compression(of bytes: UnsafeRawBufferPointer) -> Compression {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.count >= prefix.count && zip(bytes, prefix).allSatisfy { $0 == $1 } }
        if starts([0x5A, 0x46]) { return .zfile }
        if starts([0x78]) { return .zlib }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts([0x42, 0x5A]) { return .bz2 }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A]) { return .xz }
        if starts([0x5D, 0x00]) { return .lzma }
        if starts([0x04, 0x22, 0x4D, 0x18]) { return .lz4 }
        return .none
    }

    /// Loads a joblib (or plain pickle) file. Errors carry the path.
    public static func load(path: String, limits: PickleLimits = PickleLimits(),
                            maxDecompressedBytes: Int = defaultMaxDecompressedBytes) throws(PickleError) -> PickleValue {
        let file: MappedFile
        do { file = try MappedFile(path: path) } catch { throw .io(path: path, reason: error.description) }
        do {
            return try withExtendedLifetime(file) { () throws(PickleError) -> PickleValue in
                try load(file.bytes, limits: limits, maxDecompressedBytes: maxDecompressedBytes)
            }
        } catch {
            throw .inFile(path: path, error: error)
        }
    }

    /// Loads joblib (or plain pickle) bytes.
    public static func load(bytes: [UInt8], limits: PickleLimits = PickleLimits(),
                            maxDecompressedBytes: Int = defaultMaxDecompressedBytes) throws(PickleError) -> PickleValue {
        do {
            return try bytes.withUnsafeBytes { (raw) throws(PickleError) -> PickleValue in
                try load(raw, limits: limits, maxDecompressedBytes: maxDecompressedBytes)
            }
        } catch let error as PickleError {
            throw error
        } catch {
            throw .malformed(offset: 0, reason: "\(error)")
        }
    }

    /// Loads joblib (or plain pickle) bytes from memory that stays valid during the call.
    public static func load(_ raw: UnsafeRawBufferPointer, limits: PickleLimits = PickleLimits(),
                            maxDecompressedBytes: Int = defaultMaxDecompressedBytes) throws(PickleError) -> PickleValue {
        let value = try withDecompressed(raw, maxBytes: maxDecompressedBytes) { (inflated) throws(PickleError) -> PickleValue in
            try Pickle.load(inflated, limits: limits)
        }
        if let value { return value }
        return try Pickle.load(raw, limits: limits)
    }

    /// The decompressed stream of a compressed joblib file, or nil when `raw` is not compressed.
    public static func decompress(_ raw: UnsafeRawBufferPointer, maxBytes: Int = defaultMaxDecompressedBytes) throws(PickleError) -> [UInt8]? {
        try withDecompressed(raw, maxBytes: maxBytes) { (inflated) throws(PickleError) -> [UInt8] in Array(inflated) }
    }

    /// Calls `body` with the decompressed stream of a compressed joblib file (valid during the call only);
    /// nil without calling it when `raw` is not compressed.
    static func withDecompressed<T>(_ raw: UnsafeRawBufferPointer, maxBytes: Int,
                                    _ body: (UnsafeRawBufferPointer) throws(PickleError) -> T) throws(PickleError) -> T? {
        switch compression(of: raw) {
        case .none: return nil
        case .zlib: return try inflate(raw, windowBits: 15, expected: nil, maxBytes: maxBytes, body)
        case .gzip: return try inflate(raw, windowBits: 31, expected: nil, maxBytes: maxBytes, body)
        case .zfile:
            // "ZF" + hex length left-justified to 19 characters (+ one space in files from Python 2 joblib ≤ 0.8.4).
            let headerLength = 2 + 19
            guard raw.count > headerLength else { throw .truncated(offset: raw.count, reason: "ZF header") }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: raw[2..<headerLength]), as: UTF8.self)
                .filter { $0 != " " }
            let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
            guard let length = Int(digits, radix: 16), length >= 0 else {
                throw .malformed(offset: 2, reason: "ZF header length '\(text)'")
            }
            guard length <= maxBytes else { throw .limitExceeded(offset: 2, reason: "ZF file declares \(length) bytes, over the \(maxBytes)-byte limit") }
            let start = raw[headerLength] == 0x20 ? headerLength + 1 : headerLength
            let compressed = raw.count - start
            guard length <= compressed * maxInflateRatio + (1 << 16) else {  // (compressed is at most the file's size: no overflow)
                throw .malformed(offset: 2, reason: "ZF header declares \(length) bytes, more than \(compressed) bytes of zlib data can hold")
            }
            return try inflate(UnsafeRawBufferPointer(rebasing: raw[start...]), windowBits: 15, expected: length, maxBytes: maxBytes) {
                (out) throws(PickleError) -> T in
                guard out.count == length else {
                    throw .malformed(offset: start, reason: "ZF data inflates to \(out.count) bytes, header says \(length)")
                }
                return try body(out)
            }
        case let other:
            throw .unsupported(offset: 0, reason: "\(other.rawValue)-compressed joblib file (only zlib and gzip are read); re-save it with joblib.dump(..., compress=('zlib', 3)) or uncompressed")
        }
    }

    /// Inflates one or more concatenated zlib (windowBits 15) or gzip (31) streams, at most `maxBytes`, and
    /// calls `body` with the result (valid during the call only).
    static func inflate<T>(_ input: UnsafeRawBufferPointer, windowBits: Int32, expected: Int?, maxBytes: Int,
                           _ body: (UnsafeRawBufferPointer) throws(PickleError) -> T) throws(PickleError) -> T {
        guard let inBase = input.baseAddress, input.count > 0 else { throw .truncated(offset: 0, reason: "empty compressed stream") }
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .unsupported(offset: nil, reason: "zlib could not be initialised")
        }
        defer { inflateEnd(&stream) }

        // Output grows by doubling in a malloc'd buffer (no zero fill), copied into an array once at the end.
        let (bound, overflow) = input.count.multipliedReportingOverflow(by: maxInflateRatio)
        let fillable = overflow ? Int.max : bound
        var capacity = min(maxBytes, max(min(expected ?? 0, fillable), min(input.count * 2, 1 << 30), 1 << 16))
        guard var out = malloc(max(capacity, 1)) else { throw .limitExceeded(offset: 0, reason: "cannot allocate \(capacity) bytes") }
        defer { free(out) }
        var produced = 0
        var consumed = 0
        while true {
            if produced == capacity {
                guard capacity < maxBytes else {
                    throw .limitExceeded(offset: consumed, reason: "decompressed data exceeds \(maxBytes) bytes")
                }
                let grown = min(maxBytes, capacity * 2)
                guard let bigger = realloc(out, grown) else { throw .limitExceeded(offset: consumed, reason: "cannot allocate \(grown) bytes") }
                out = bigger
                capacity = grown
            }
            let chunkIn = min(input.count - consumed, Int(UInt32.max >> 1))
            let chunkOut = min(capacity - produced, Int(UInt32.max >> 1))
            stream.next_in = UnsafeMutablePointer(mutating: (inBase + consumed).assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(chunkIn)
            stream.next_out = (out + produced).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(chunkOut)
            let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
            consumed += chunkIn - Int(stream.avail_in)
            produced += chunkOut - Int(stream.avail_out)
            switch rc {
            case Z_STREAM_END:
                if consumed == input.count {
                    return try body(UnsafeRawBufferPointer(start: out, count: produced))
                }
                // Another stream follows (joblib reads concatenated streams in turn).
                guard inflateReset(&stream) == Z_OK else { throw .malformed(offset: consumed, reason: "zlib reset failed") }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                if consumed == input.count { throw .truncated(offset: consumed, reason: "compressed stream ends early") }
                continue
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw .malformed(offset: consumed, reason: "compressed data is corrupt: \(message)")
            }
        }
    }
}
