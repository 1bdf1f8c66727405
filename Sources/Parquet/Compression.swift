import CSnappy
import CZlib
import CZstd
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decompresses pages into one reused buffer (per column chunk read), so that reading a column costs one
/// allocation of its largest page rather than one per page.
final class PageDecompressor {
    private var buffer: UnsafeMutableRawPointer?
    private var capacity = 0
    /// The size of the reused buffer.
    var bufferBytes: Int { capacity }
    private var zstd: OpaquePointer?

    deinit {
        free(buffer)
        if let zstd { ZSTD_freeDCtx(zstd) }
    }

    /// Checks, before anything is allocated, that `declared` bytes can come out of `compressed` with
    /// `codec`: what the stream itself says (snappy's length preamble, zstd's frame content size) must agree,
    /// and no codec expands beyond its format's ratio (so a small file cannot ask for a large buffer).
    static func checkDeclaredSize(_ codec: CompressionCodec, compressed: UnsafeRawBufferPointer, declared: Int) throws(DecodeFailure) {
        let n = compressed.count
        switch codec {
        case .uncompressed:
            guard declared == n else {
                throw .malformed("uncompressed page stores \(n) bytes but declares \(declared)")
            }
        case .snappy:
            var length = 0
            guard let base = compressed.baseAddress,
                  snappy_uncompressed_length(base.assumingMemoryBound(to: CChar.self), n, &length) == SNAPPY_OK else {
                throw .malformed("snappy stream has no valid length preamble")
            }
            guard length == declared else {
                throw .malformed("snappy stream holds \(length) bytes, the page header declares \(declared)")
            }
        case .zstd:
            guard let base = compressed.baseAddress else { throw .malformed("empty zstd stream") }
            let contentSize = ZSTD_getFrameContentSize(base, n)
            if contentSize == zstdContentSizeError { throw .malformed("not a zstd frame") }
            if contentSize != zstdContentSizeUnknown && contentSize != UInt64(declared) {
                throw .malformed("zstd frame holds \(contentSize) bytes, the page header declares \(declared)")
            }
            // A 4-byte RLE block yields at most 128 KiB.
            try checkRatio(declared, n, 32_768, codec)
        case .gzip:
            try checkRatio(declared, n, 1_032, codec) // deflate's largest expansion
        default:
            throw .unsupported("compression codec \(codec) (supported: UNCOMPRESSED, SNAPPY, GZIP, ZSTD)")
        }
    }

    private static func checkRatio(_ declared: Int, _ compressed: Int, _ ratio: Int, _ codec: CompressionCodec) throws(DecodeFailure) {
        let (bound, overflow) = compressed.multipliedReportingOverflow(by: ratio)
        guard overflow || declared <= bound + (1 << 17) else {
            throw .malformed("\(codec) page of \(compressed) bytes cannot expand to the declared \(declared) bytes")
        }
    }

    /// Decompresses `compressed` into the reused buffer; the result is exactly `size` bytes (checked with
    /// `checkDeclaredSize` beforehand), else it throws. The result is valid until the next call.
    func decompress(_ codec: CompressionCodec, _ compressed: UnsafeRawBufferPointer, size: Int) throws(DecodeFailure) -> UnsafeRawBufferPointer {
        let out = try reserve(size)
        guard let src = compressed.baseAddress else { throw .malformed("empty \(codec) stream") }
        switch codec {
        case .snappy:
            var length = size
            let status = snappy_uncompress(src.assumingMemoryBound(to: CChar.self), compressed.count,
                                           out.assumingMemoryBound(to: CChar.self), &length)
            guard status == SNAPPY_OK, length == size else {
                throw .malformed("snappy data is corrupt or does not decompress to the declared \(size) bytes")
            }
        case .zstd:
            if zstd == nil { zstd = ZSTD_createDCtx() }
            guard let zstd else { throw .limit("cannot create a zstd context") }
            let result = ZSTD_decompressDCtx(zstd, out, max(size, 1), src, compressed.count)
            if ZSTD_isError(result) != 0 {
                throw .malformed("zstd data is corrupt or larger than the declared \(size) bytes: \(String(cString: ZSTD_getErrorName(result)))")
            }
            guard result == size else { throw .malformed("zstd data decompresses to \(result) bytes, \(size) declared") }
        case .gzip:
            try inflateGzip(compressed, into: out, size: size)
        default:
            throw .unsupported("compression codec \(codec)")
        }
        return UnsafeRawBufferPointer(start: out, count: size)
    }

    private func reserve(_ size: Int) throws(DecodeFailure) -> UnsafeMutableRawPointer {
        if let buffer, capacity >= max(size, 1) { return buffer }
        free(buffer)
        buffer = malloc(max(size, 1))
        capacity = buffer == nil ? 0 : max(size, 1)
        guard let buffer else { throw .limit("cannot allocate \(size) bytes for a page") }
        return buffer
    }

    /// Inflates gzip (or zlib) members until the input ends; more output than `size` is an error.
    private func inflateGzip(_ compressed: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, size: Int) throws(DecodeFailure) {
        guard let src = compressed.baseAddress, compressed.count <= Int(UInt32.max), size <= Int(UInt32.max) else {
            throw .malformed("gzip page too large or empty")
        }
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .limit("zlib could not be initialised")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: src.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(compressed.count)
        stream.next_out = out.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(size)
        while true {
            let rc = CZlib.inflate(&stream, Z_FINISH)
            switch rc {
            case Z_STREAM_END:
                if stream.avail_in == 0 {
                    guard stream.avail_out == 0 else {
                        throw .malformed("gzip data decompresses to \(size - Int(stream.avail_out)) bytes, \(size) declared")
                    }
                    return
                }
                guard inflateReset(&stream) == Z_OK else { throw .malformed("gzip member reset failed") }
            case Z_BUF_ERROR where stream.avail_out == 0:
                throw .malformed("gzip data expands past the declared \(size) bytes")
            case Z_BUF_ERROR:
                throw .malformed("gzip data ends early")
            case Z_OK:
                continue
            default:
                throw .malformed("gzip data is corrupt: " + (stream.msg.map { String(cString: $0) } ?? "zlib error \(rc)"))
            }
        }
    }
}

// ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are expression macros Swift does not import.
private let zstdContentSizeUnknown = UInt64.max
private let zstdContentSizeError = UInt64.max - 1
