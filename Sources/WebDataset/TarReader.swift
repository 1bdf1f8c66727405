// A streaming tar reader: POSIX ustar, PAX extended headers (`x` per member, `g` global), GNU long names and
// links (`L`/`K`), old GNU and v7 headers, base-256 numbers, signed and unsigned header checksums.
//
// The reader keeps one reusable buffer: headers (and small members) arrive through it in reads of at least 64 KiB
// and are parsed in place; a member's bytes are copied once into the array handed to the caller, and whatever
// of them is not already buffered is read from the stream straight into that array. Nothing else is allocated
// per member but its name. Which entries carry data follows Python's tarfile: regular files and unknown types do, links,
// directories, devices and FIFOs do not (whatever their size field says).
//
// Strictness differs from tarfile on purpose: a bad checksum or a short header after the first member ends
// tarfile's iteration silently, here it is an error naming the shard and the offset. The end of the archive is
// the first all-zero header block (tarfile does not look at the second one either) or the end of the stream
// right after a member's padding.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The header of a regular tar member, after PAX and GNU extensions are applied.
public struct TarHeader: Sendable, Equatable {
    /// Member path (PAX `path`, else GNU long name, else ustar prefix + "/" + name).
    public var name: String
    /// Data size in bytes (PAX `size` when present).
    public var size: Int
    /// Modification time in seconds since the epoch; PAX `mtime` keeps its fraction.
    public var mtime: Double
    /// Permission bits as stored (e.g. 0o444 for webdataset's writer).
    public var mode: UInt32
    /// Owner id (PAX `uid` when present).
    public var uid: Int
    /// Group id (PAX `gid` when present).
    public var gid: Int
    /// Owner name (PAX `uname` when present).
    public var uname: String
    /// Group name (PAX `gname` when present).
    public var gname: String
    /// The typeflag byte: `0` (ASCII 0x30), NUL (old files) or `7` (contiguous file) for members.
    public var typeFlag: UInt8
    /// Link target (PAX `linkpath`, GNU long link, or the ustar field); empty for regular files.
    public var linkName: String
    /// PAX records other than path, linkpath, size, mtime, uid, gid, uname and gname (global ones included,
    /// overridden by the member's own), as strings.
    public var metadata: [String: String]
    /// Offset of the member's first header block (its PAX/GNU extension headers included).
    public var headerOffset: Int64
    /// Offset of the member's first data byte.
    public var dataOffset: Int64

    /// A header with the given values (the reader makes them; tests and tools may too).
    public init(name: String, size: Int, mtime: Double = 0, mode: UInt32 = 0o644, uid: Int = 0, gid: Int = 0,
                uname: String = "", gname: String = "", typeFlag: UInt8 = 0x30, linkName: String = "",
                metadata: [String: String] = [:], headerOffset: Int64 = 0, dataOffset: Int64 = 512) {
        self.name = name; self.size = size; self.mtime = mtime; self.mode = mode; self.uid = uid; self.gid = gid
        self.uname = uname; self.gname = gname; self.typeFlag = typeFlag; self.linkName = linkName
        self.metadata = metadata; self.headerOffset = headerOffset; self.dataOffset = dataOffset
    }
}

/// A regular tar member: its header and its bytes.
public struct TarMember: Sendable, Equatable {
    /// Name, size, times, owner, PAX metadata and offsets.
    public var header: TarHeader
    /// The member's data (`header.size` bytes).
    public var bytes: [UInt8]
    /// Pairs a header with its data.
    public init(header: TarHeader, bytes: [UInt8]) { self.header = header; self.bytes = bytes }
    /// `header.name`.
    public var name: String { header.name }
    /// `header.size`.
    public var size: Int { header.size }
    /// `header.mtime`.
    public var mtime: Double { header.mtime }
    /// `header.mode`.
    public var mode: UInt32 { header.mode }
    /// `header.metadata`: PAX records beyond the standard fields.
    public var metadata: [String: String] { header.metadata }
}

/// Reads the regular members of a tar archive in order, from any ``ByteStream``.
///
/// ```swift
/// let reader = try TarReader(path: "shard-000000.tar")
/// while let member = try reader.next() { print(member.name, member.bytes.count) }
/// ```
/// `nextHeader()` followed by `readData()` or `skipData()` lets a caller skip members without reading them
/// into memory. Errors are ``WebDatasetError``s naming the shard and the byte offset; after an error every call
/// throws it again.
public final class TarReader {
    /// How errors name the archive.
    public let shard: String
    /// Non-member entries passed over so far: directories, hard and symbolic links, devices, FIFOs, unknown types.
    public private(set) var skippedEntries = 0
    /// Regular members returned so far.
    public private(set) var memberCount = 0
    /// Total size of the archive when the stream knows it.
    public var totalSize: Int64? { stream.totalSize }
    /// Offset of the next byte the reader will consume.
    public var offset: Int64 { bufferOrigin + Int64(start) }
    /// True once the end of the archive has been reached.
    public var isFinished: Bool { if case .finished = state { return true } else { return false } }
    /// The name of the regular member whose header was read but whose data the archive is too short to hold,
    /// when that is why the last ``nextHeader()`` threw; nil otherwise. It tells a reader grouping members into
    /// samples which sample the missing bytes belonged to.
    public private(set) var truncatedMemberName: String?

    private enum State { case betweenMembers, inMember, finished, failed(WebDatasetError) }

    private let stream: any ByteStream
    private let buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private let readAhead: Int
    private var start = 0
    private var end = 0
    private var bufferOrigin: Int64 = 0
    private var state = State.betweenMembers
    private var pendingData = 0
    private var pendingPadding = 0
    private var currentName = ""
    private var global = PaxValues()

    /// Largest PAX or GNU long-name payload accepted (a corrupt size must not allocate gigabytes).
    static let maxExtensionSize = 1 << 24

    /// Reads from `stream`; `shard` names the archive in errors (defaults to the stream's name).
    /// - Parameter bufferSize: bytes pulled from the stream per read (at least 64 KiB).
    public init(stream: any ByteStream, shard: String? = nil, bufferSize: Int = 1 << 18) {
        self.stream = stream
        self.shard = shard ?? stream.name
        capacity = max(bufferSize, 1 << 16)
        readAhead = min(capacity, 1 << 16)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    /// Opens the local file `path`.
    public convenience init(path: String, bufferSize: Int = 1 << 18) throws(WebDatasetError) {
        self.init(stream: try FileByteStream(path: path), bufferSize: bufferSize)
    }

    /// Reads an archive held in memory.
    public convenience init(bytes: [UInt8], name: String = "<memory>") {
        self.init(stream: MemoryByteStream(bytes, name: name))
    }

    deinit {
        buffer.deallocate()
        stream.close()
    }

    /// Closes the underlying stream; later calls fail.
    public func close() {
        stream.close()
        if case .failed = state { return }
        state = .failed(WebDatasetError(.closed, shard: shard, offset: offset, reason: "reader closed"))
    }

    /// The next regular member, bytes included; nil at the end of the archive.
    public func next() throws(WebDatasetError) -> TarMember? {
        guard let header = try nextHeader() else { return nil }
        return TarMember(header: header, bytes: try readData())
    }

    // MARK: - Headers

    /// Advances to the next regular member and returns its header; its data is read with ``readData()`` or
    /// skipped with ``skipData()`` (or skipped automatically by the next call). Nil at the end of the archive.
    public func nextHeader() throws(WebDatasetError) -> TarHeader? {
        switch state {
        case .failed(let error): throw error
        case .finished: return nil
        case .inMember: try skipData()
        case .betweenMembers: break
        }
        truncatedMemberName = nil
        do throws(WebDatasetError) {
            return try readHeader()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private func fail(_ kind: WebDatasetError.Kind, _ reason: String, at position: Int64? = nil) -> WebDatasetError {
        WebDatasetError(kind, shard: shard, offset: position ?? offset, reason: reason)
    }

    private func readHeader() throws(WebDatasetError) -> TarHeader? {
        var local = PaxValues()
        var hasLocal = false
        var longName: String?
        var longLink: String?
        var firstHeaderOffset: Int64?
        var extensionKind = ""

        while true {
            let blockOffset = offset
            let available = try fill(512)
            if available == 0 {
                if firstHeaderOffset != nil {
                    throw fail(.truncated, "truncated archive: it ends after a \(extensionKind) header, before the member it describes")
                }
                state = .finished
                return nil
            }
            if available < 512 {
                throw fail(.truncated, "truncated header: the archive ends \(available) bytes into a 512-byte header block",
                           at: blockOffset)
            }
            let block = UnsafeRawBufferPointer(start: buffer + start, count: 512)
            if isZeroBlock(block) {
                if firstHeaderOffset != nil {
                    throw fail(.corrupt, "corrupt archive: end-of-archive block right after a \(extensionKind) header", at: blockOffset)
                }
                start += 512
                state = .finished
                return nil
            }
            try verifyChecksum(block, at: blockOffset)
            let typeFlag = block[156]
            let rawSize = Int(try number(block, 124, 12, "size", at: blockOffset))
            guard rawSize >= 0 else { throw fail(.corrupt, "negative size \(rawSize) in header", at: blockOffset) }
            if firstHeaderOffset == nil { firstHeaderOffset = blockOffset }

            switch typeFlag {
            case UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "g"):
                let isGlobal = typeFlag == UInt8(ascii: "g")
                extensionKind = isGlobal ? "PAX global" : "PAX extended"
                start += 512
                let payloadOffset = offset
                try withExtensionPayload(size: rawSize, kind: extensionKind) { (payload) throws(WebDatasetError) in
                    if isGlobal {
                        try parsePax(payload, into: &global, at: payloadOffset)
                    } else {
                        try parsePax(payload, into: &local, at: payloadOffset)
                        hasLocal = true
                    }
                }
                if isGlobal {
                    // A global header describes no member of its own: the next header starts afresh.
                    if !hasLocal && longName == nil && longLink == nil { firstHeaderOffset = nil }
                }
                continue
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                let isName = typeFlag == UInt8(ascii: "L")
                extensionKind = isName ? "GNU long name" : "GNU long link"
                start += 512
                var text = ""
                try withExtensionPayload(size: rawSize, kind: extensionKind) { payload in
                    text = cString(payload)
                }
                if isName { longName = text } else { longLink = text }
                continue
            case UInt8(ascii: "S"):
                throw fail(.unsupported, "GNU sparse member: sparse files are not supported", at: blockOffset)
            default:
                break
            }

            // A real entry: combine the ustar fields with the extensions that preceded it.
            var pax = global
            if hasLocal { pax.overlay(local) }
            if pax.sparse { throw fail(.unsupported, "PAX sparse member: sparse files are not supported", at: blockOffset) }
            let isPosix = block[257] == UInt8(ascii: "u") && block[258] == UInt8(ascii: "s") && block[259] == UInt8(ascii: "t")
                && block[260] == UInt8(ascii: "a") && block[261] == UInt8(ascii: "r") && block[262] == 0
            var name: String
            if let path = pax.path {
                name = path
            } else if let longName {
                name = longName
            } else {
                name = cString(UnsafeRawBufferPointer(rebasing: block[0..<100]))
                if isPosix && block[345] != 0 {
                    name = cString(UnsafeRawBufferPointer(rebasing: block[345..<500])) + "/" + name
                }
            }
            var size = rawSize
            if let paxSize = pax.size { size = paxSize }
            start += 512
            let dataOffset = offset

            let isRegular = typeFlag == UInt8(ascii: "0") || typeFlag == 0 || typeFlag == UInt8(ascii: "7")
            let isOldDirectory = typeFlag == 0 && name.utf8.last == UInt8(ascii: "/")
            if !isRegular || isOldDirectory {
                skippedEntries += 1
                // tarfile skips data only for the types it does not know; links, directories, devices and FIFOs
                // have none whatever their size field says.
                let hasNoData = typeFlag >= UInt8(ascii: "1") && typeFlag <= UInt8(ascii: "6")
                if !hasNoData && !isOldDirectory {
                    try checkFits(size, name: name, dataOffset: dataOffset, headerOffset: blockOffset)
                    try discard(Int64(size) + Int64(padding(size)), name: name)
                }
                local = PaxValues(); hasLocal = false; longName = nil; longLink = nil; firstHeaderOffset = nil
                continue
            }
            do throws(WebDatasetError) {
                try checkFits(size, name: name, dataOffset: dataOffset, headerOffset: firstHeaderOffset ?? blockOffset)
            } catch {
                truncatedMemberName = name
                throw error
            }

            let mode = try number(block, 100, 8, "mode", at: blockOffset)
            var mtime = Double(try number(block, 136, 12, "mtime", at: blockOffset))
            if let paxTime = pax.mtime { mtime = paxTime }
            var uid = try number(block, 108, 8, "uid", at: blockOffset)
            if let paxUID = pax.uid { uid = paxUID }
            var gid = try number(block, 116, 8, "gid", at: blockOffset)
            if let paxGID = pax.gid { gid = paxGID }
            let linkName = pax.linkPath ?? longLink ?? cString(UnsafeRawBufferPointer(rebasing: block[157..<257]))
            let uname = pax.uname ?? cString(UnsafeRawBufferPointer(rebasing: block[265..<297]))
            let gname = pax.gname ?? cString(UnsafeRawBufferPointer(rebasing: block[297..<329]))

            pendingData = size
            pendingPadding = padding(size)
            currentName = name
            state = .inMember
            memberCount += 1
            return TarHeader(name: name, size: size, mtime: mtime, mode: UInt32(truncatingIfNeeded: mode),
                             uid: Int(uid), gid: Int(gid), uname: uname, gname: gname, typeFlag: typeFlag,
                             linkName: linkName, metadata: pax.rest, headerOffset: firstHeaderOffset ?? blockOffset,
                             dataOffset: dataOffset)
        }
    }

    /// Refuses a size that cannot fit in what is left of a stream of known length.
    private func checkFits(_ size: Int, name: String, dataOffset: Int64, headerOffset: Int64) throws(WebDatasetError) {
        guard let total = stream.totalSize else { return }
        let remaining = total - dataOffset
        if Int64(size) > remaining {
            throw fail(.truncated, "truncated archive: member '\(name)' (header at byte \(headerOffset)) declares \(size) bytes "
                       + "but only \(max(0, remaining)) remain", at: max(dataOffset, total))
        }
    }

    /// Runs `body` on an extension header's payload (size bytes), in the buffer when it fits, and consumes the
    /// payload and its padding.
    private func withExtensionPayload(
        size: Int, kind: String, _ body: (UnsafeRawBufferPointer) throws(WebDatasetError) -> Void
    ) throws(WebDatasetError) {
        guard size <= TarReader.maxExtensionSize else {
            throw fail(.corrupt, "\(kind) header of \(size) bytes (more than \(TarReader.maxExtensionSize) accepted)")
        }
        let padded = size + padding(size)
        if padded <= capacity {
            let available = try fill(padded)
            guard available >= padded else {
                throw fail(.truncated, "truncated archive: \(kind) header data ends after \(available) of \(padded) bytes",
                           at: offset + Int64(available))
            }
            try body(UnsafeRawBufferPointer(start: buffer + start, count: size))
            start += padded
        } else {
            let payload = try readBytes(size, what: "\(kind) header data")
            try consumePadding(padding(size), what: "\(kind) header")
            let result: Result<Void, WebDatasetError> = payload.withUnsafeBytes { raw in
                do throws(WebDatasetError) { try body(raw); return .success(()) } catch { return .failure(error) }
            }
            try result.get()
        }
    }

    // MARK: - Data

    /// Reads the current member's bytes (once; a second call is an error).
    public func readData() throws(WebDatasetError) -> [UInt8] {
        switch state {
        case .failed(let error): throw error
        case .inMember: break
        default: throw fail(.closed, "readData() called with no member pending")
        }
        do throws(WebDatasetError) {
            let bytes = try readBytes(pendingData, what: "member '\(currentName)'")
            try consumePadding(pendingPadding, what: "member '\(currentName)'")
            pendingData = 0; pendingPadding = 0
            state = .betweenMembers
            return bytes
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Passes over the current member's bytes without keeping them.
    public func skipData() throws(WebDatasetError) {
        switch state {
        case .failed(let error): throw error
        case .inMember: break
        default: return
        }
        do throws(WebDatasetError) {
            try discard(Int64(pendingData) + Int64(pendingPadding), name: currentName)
            pendingData = 0; pendingPadding = 0
            state = .betweenMembers
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Reads exactly `count` bytes into a new array: first what is buffered, then straight from the stream.
    private func readBytes(_ count: Int, what: String) throws(WebDatasetError) -> [UInt8] {
        if count == 0 { return [] }
        if stream.totalSize == nil && count > 1 << 26 {
            return try readBytesGrowing(count, what: what)
        }
        var failure: WebDatasetError?
        let startOffset = offset
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { destination, initialized in
            let target = UnsafeMutableRawPointer(destination.baseAddress!)
            var filled = min(end - start, count)
            target.copyMemory(from: buffer + start, byteCount: filled)
            start += filled
            if filled < count {
                // The buffer is empty: read the rest directly, keeping offsets in step.
                bufferOrigin += Int64(start)
                start = 0; end = 0
                while filled < count {
                    do throws(WebDatasetError) {
                        let got = try stream.read(into: UnsafeMutableRawBufferPointer(start: target + filled,
                                                                                      count: count - filled))
                        if got == 0 { break }
                        filled += got
                        bufferOrigin += Int64(got)
                    } catch {
                        failure = error
                        break
                    }
                }
            }
            initialized = filled
        }
        if let failure { throw failure }
        if bytes.count < count {
            throw fail(.truncated, "truncated archive: \(what) (data at byte \(startOffset)) ends after \(bytes.count) of "
                       + "\(count) bytes")
        }
        return bytes
    }

    /// Reads a large member of a stream of unknown length in chunks, so a corrupt size fails at the end of the
    /// stream instead of allocating the declared size up front.
    private func readBytesGrowing(_ count: Int, what: String) throws(WebDatasetError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1 << 26)
        let startOffset = offset
        while bytes.count < count {
            let available = try fill(min(capacity, count - bytes.count))
            if available == 0 { break }
            let take = min(available, count - bytes.count)
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer + start, count: take))
            start += take
        }
        if bytes.count < count {
            throw fail(.truncated, "truncated archive: \(what) (data at byte \(startOffset)) ends after \(bytes.count) of "
                       + "\(count) bytes")
        }
        return bytes
    }

    private func consumePadding(_ count: Int, what: String) throws(WebDatasetError) {
        guard count > 0 else { return }
        let available = try fill(count)
        guard available >= count else {
            throw fail(.truncated, "truncated archive: the archive ends inside the padding after \(what)",
                       at: offset + Int64(available))
        }
        start += count
    }

    private func discard(_ count: Int64, name: String) throws(WebDatasetError) {
        let buffered = Int(min(Int64(end - start), count))
        start += buffered
        var remaining = count - Int64(buffered)
        if remaining > 0 {
            bufferOrigin += Int64(start)
            start = 0; end = 0
            let skipped = try stream.skip(remaining)
            bufferOrigin += skipped
            remaining -= skipped
            if remaining > 0 {
                throw fail(.truncated, "truncated archive: the archive ends inside member '\(name)' (\(remaining) bytes missing)")
            }
        }
    }

    // MARK: - Buffer

    /// Makes at least `count` (≤ capacity) bytes available at `start` if the stream has them; returns how many are.
    private func fill(_ count: Int) throws(WebDatasetError) -> Int {
        if end - start >= count { return end - start }
        if start > 0 {
            let live = end - start
            if live > 0 { buffer.copyMemory(from: buffer + start, byteCount: live) }
            bufferOrigin += Int64(start)
            start = 0
            end = live
        }
        while end < count {
            // Read ahead a little, not a whole buffer: a large member's data is then mostly read straight into
            // its own array (one copy) instead of through the buffer (two).
            let want = min(capacity - end, max(count - end, readAhead))
            let got = try stream.read(into: UnsafeMutableRawBufferPointer(start: buffer + end, count: want))
            if got == 0 { break }
            end += got
        }
        return end
    }

    // MARK: - Field parsing

    private func isZeroBlock(_ block: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < 512 {
            if block.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        return true
    }

    private func verifyChecksum(_ block: UnsafeRawBufferPointer, at position: Int64) throws(WebDatasetError) {
        let stored: Int64
        do throws(NumberFieldError) {
            stored = try parseNumber(UnsafeRawBufferPointer(rebasing: block[148..<156]))
        } catch {
            throw checksumError(block, detail: "unreadable checksum field", at: position)
        }
        var unsigned = 0, signed = 0
        for index in 0..<512 where index < 148 || index >= 156 {
            let byte = block[index]
            unsigned += Int(byte)
            signed += Int(Int8(bitPattern: byte))
        }
        unsigned += 256  // the checksum field counts as eight spaces
        signed += 256
        if stored != Int64(unsigned) && stored != Int64(signed) {
            throw checksumError(block, detail: "header checksum mismatch (stored \(stored), computed \(unsigned))",
                                at: position)
        }
    }

    private func checksumError(_ block: UnsafeRawBufferPointer, detail: String, at position: Int64) -> WebDatasetError {
        if position == 0 {
            if block[0] == 0x1F && block[1] == 0x8B {
                return fail(.unsupported, "gzip-compressed data: compressed shards are not supported (decompress to .tar)", at: 0)
            }
            return fail(.corrupt, "not a tar archive: \(detail) in the first header", at: 0)
        }
        return fail(.corrupt, "corrupt header: \(detail)", at: position)
    }

    private func number(_ block: UnsafeRawBufferPointer, _ from: Int, _ length: Int, _ field: String,
                        at position: Int64) throws(WebDatasetError) -> Int64 {
        do throws(NumberFieldError) {
            return try parseNumber(UnsafeRawBufferPointer(rebasing: block[from..<(from + length)]))
        } catch {
            throw fail(.corrupt, "corrupt header: invalid \(field) field", at: position)
        }
    }
}

private func padding(_ size: Int) -> Int { (512 - size % 512) % 512 }

struct NumberFieldError: Error {}

/// A numeric header field: octal digits (NUL/space terminated, surrounding whitespace allowed, empty = 0) or
/// GNU base-256 (first byte 0x80 for positive, 0xFF for negative values).
func parseNumber(_ field: UnsafeRawBufferPointer) throws(NumberFieldError) -> Int64 {
    guard let first = field.first else { return 0 }
    if first == 0x80 {
        var value: Int64 = 0
        for byte in field.dropFirst() {
            guard value <= (Int64.max >> 8) else { throw NumberFieldError() }
            value = value << 8 | Int64(byte)
        }
        return value
    }
    if first == 0xFF {
        // Negative: the whole field is a two's complement number whose leading 0xFF extends the sign.
        var value: Int64 = -1
        for byte in field.dropFirst() {
            guard value >= (Int64.min >> 8) else { throw NumberFieldError() }
            value = value << 8 | Int64(byte)
        }
        return value
    }
    var value: Int64 = 0
    var index = 0
    let count = field.firstIndex(of: 0) ?? field.count
    while index < count, isSpace(field[index]) { index += 1 }
    var last = count
    while last > index, isSpace(field[last - 1]) { last -= 1 }
    while index < last {
        let byte = field[index]
        guard byte >= 0x30 && byte <= 0x37 else { throw NumberFieldError() }
        if value > (Int64.max >> 3) { throw NumberFieldError() }
        value = value << 3 | Int64(byte - 0x30)
        index += 1
    }
    return value
}

@inline(__always) private func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
}

/// The text up to the first NUL, decoded as UTF-8 (invalid sequences replaced).
func cString(_ field: UnsafeRawBufferPointer) -> String {
    let count = field.firstIndex(of: 0) ?? field.count
    return String(decoding: UnsafeRawBufferPointer(rebasing: field[0..<count]), as: UTF8.self)
}

// MARK: - PAX records

/// The PAX keywords the reader applies, plus everything else as strings.
struct PaxValues {
    var path: String?
    var linkPath: String?
    var size: Int?
    var mtime: Double?
    var uid: Int64?
    var gid: Int64?
    var uname: String?
    var gname: String?
    var sparse = false
    var rest: [String: String] = [:]

    mutating func overlay(_ other: PaxValues) {
        if let v = other.path { path = v }
        if let v = other.linkPath { linkPath = v }
        if let v = other.size { size = v }
        if let v = other.mtime { mtime = v }
        if let v = other.uid { uid = v }
        if let v = other.gid { gid = v }
        if let v = other.uname { uname = v }
        if let v = other.gname { gname = v }
        if other.sparse { sparse = true }
        for (key, value) in other.rest { rest[key] = value }
    }
}

extension TarReader {
    /// Parses "LEN KEYWORD=VALUE\n" records (LEN counts the whole record) into `values`.
    fileprivate func parsePax(_ payload: UnsafeRawBufferPointer, into values: inout PaxValues,
                              at position: Int64) throws(WebDatasetError) {
        var index = 0
        let count = payload.count
        while index < count {
            // Trailing NULs after the last record are tolerated (some writers pad the payload).
            if payload[index] == 0 { break }
            let recordStart = index
            var length = 0
            while index < count, payload[index] >= 0x30, payload[index] <= 0x39 {
                length = length * 10 + Int(payload[index] - 0x30)
                if length > count { break }
                index += 1
            }
            guard index < count, payload[index] == 0x20, length > 0, index > recordStart,
                  recordStart + length <= count, payload[recordStart + length - 1] == 0x0A else {
                throw WebDatasetError(.corrupt, shard: shard, offset: position + Int64(recordStart),
                                      reason: "corrupt PAX header: malformed record")
            }
            let keywordStart = index + 1
            let recordEnd = recordStart + length - 1  // the newline
            var equals = keywordStart
            while equals < recordEnd, payload[equals] != UInt8(ascii: "=") { equals += 1 }
            guard equals < recordEnd, equals > keywordStart else {
                throw WebDatasetError(.corrupt, shard: shard, offset: position + Int64(recordStart),
                                      reason: "corrupt PAX header: record without keyword=value")
            }
            let keyword = UnsafeRawBufferPointer(rebasing: payload[keywordStart..<equals])
            let value = UnsafeRawBufferPointer(rebasing: payload[(equals + 1)..<recordEnd])
            try apply(keyword: keyword, value: value, to: &values, at: position + Int64(recordStart))
            index = recordStart + length
        }
    }

    private func apply(keyword: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, to values: inout PaxValues,
                       at position: Int64) throws(WebDatasetError) {
        func text() -> String { String(decoding: value, as: UTF8.self) }
        func integer(_ name: String) throws(WebDatasetError) -> Int64 {
            guard let number = parseDecimal(value) else {
                throw WebDatasetError(.corrupt, shard: shard, offset: position,
                                      reason: "corrupt PAX header: \(name)=\(text()) is not an integer")
            }
            return number
        }
        switch keyword.count {
        case 4 where equal(keyword, "path"):
            // tarfile strips trailing slashes from PAX paths.
            var path = text()
            while path.count > 1, path.hasSuffix("/") { path.removeLast() }
            values.path = path
        case 4 where equal(keyword, "size"):
            let size = try integer("size")
            guard size >= 0, size <= Int64(Int.max) else {
                throw WebDatasetError(.corrupt, shard: shard, offset: position, reason: "corrupt PAX header: size \(size)")
            }
            values.size = Int(size)
        case 5 where equal(keyword, "mtime"):
            guard let time = parseDouble(value) else {
                throw WebDatasetError(.corrupt, shard: shard, offset: position,
                                      reason: "corrupt PAX header: mtime=\(text()) is not a number")
            }
            values.mtime = time
        case 3 where equal(keyword, "uid"): values.uid = try integer("uid")
        case 3 where equal(keyword, "gid"): values.gid = try integer("gid")
        case 5 where equal(keyword, "uname"): values.uname = text()
        case 5 where equal(keyword, "gname"): values.gname = text()
        case 8 where equal(keyword, "linkpath"): values.linkPath = text()
        default:
            let key = String(decoding: keyword, as: UTF8.self)
            if key.hasPrefix("GNU.sparse.") { values.sparse = true }
            values.rest[key] = text()
        }
    }
}

private func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
    guard bytes.count == text.utf8CodeUnitCount else { return false }
    return memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0
}

/// A decimal integer with optional surrounding spaces and sign (Python's `int()` for PAX numbers).
private func parseDecimal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    var index = 0, last = bytes.count
    while index < last, isSpace(bytes[index]) { index += 1 }
    while last > index, isSpace(bytes[last - 1]) { last -= 1 }
    var negative = false
    if index < last, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
        negative = bytes[index] == UInt8(ascii: "-"); index += 1
    }
    guard index < last else { return nil }
    var value: Int64 = 0
    while index < last {
        let byte = bytes[index]
        guard byte >= 0x30, byte <= 0x39 else { return nil }
        let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times.addingReportingOverflow(Int64(byte - 0x30))
        if overflow1 || overflow2 { return nil }
        value = sum
        index += 1
    }
    return negative ? -value : value
}

/// A decimal floating-point value (PAX times such as "1751300504.9412212"), parsed by strtod without allocating.
private func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
    guard bytes.count > 0, bytes.count < 64 else { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text -> Double? in
        for index in 0..<bytes.count {
            let byte = bytes[index]
            // Digits, sign, point, exponent only: no "inf", "nan" or hex forms.
            guard (byte >= 0x30 && byte <= 0x39) || byte == 0x2E || byte == 0x2D || byte == 0x2B
                || byte == 0x65 || byte == 0x45 else { return nil }
            text[index] = CChar(bitPattern: byte)
        }
        text[bytes.count] = 0
        var endPointer: UnsafeMutablePointer<CChar>?
        let value = strtod(text.baseAddress!, &endPointer)
        guard let endPointer, endPointer == text.baseAddress! + bytes.count else { return nil }
        return value
    }
}
