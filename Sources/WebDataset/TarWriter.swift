// A deterministic tar writer whose headers are those of Python's tarfile (the module webdataset's TarWriter
// uses, always in tarfile's default PAX format): same field encodings, same PAX record order and layout, same GNU long-name headers, same end-of-archive
// padding to 10,240-byte records. With equal options the bytes equal tarfile's.
//
// A file is written to `path.tmp` (DeepfakeCore's `AtomicFile`: created afresh, flushed to disk) and renamed to
// `path` by `finish()`, so a shard path never names a half-written archive.

import DeepfakeCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How member headers are written.
public enum TarFormat: Sendable, Hashable {
    /// POSIX.1-2001: ustar headers, preceded by a PAX `x` header when a value does not fit (names or link targets
    /// over 100 bytes, non-ASCII names, sizes of 8 GiB or more, fractional or out-of-range times, large ids).
    /// Python's `tarfile.PAX_FORMAT` (its default).
    case pax
    /// GNU: long names and link targets in `././@LongLink` (`L`/`K`) headers, large numbers in base-256.
    /// Python's `tarfile.GNU_FORMAT`.
    case gnu
    /// Plain ustar: long names split into prefix/name at a slash, anything that does not fit is an error.
    /// Python's `tarfile.USTAR_FORMAT`. (webdataset 1.0.2's `TarWriter` takes a `format` argument defaulting to
    /// ustar but never hands it to tarfile, so what it writes is always PAX.)
    case ustar
}

/// Header values and layout for ``TarWriter``. The defaults make byte-identical output from run to run and are
/// webdataset's `TarWriter` defaults (mode 0o444, owner "bigdata") with a fixed time instead of the clock.
public struct TarWriterOptions: Sendable, Hashable {
    /// Header layout (PAX by default, as tarfile and webdataset).
    public var format: TarFormat = .pax
    /// Modification time of every member, seconds since the epoch. A fractional value is stored in a PAX `mtime`
    /// record (PAX format), rounded half-to-even in the ustar field, as tarfile does with a float time.
    public var mtime: Double = 0
    /// Permission bits of every member (webdataset: 0o444).
    public var mode: UInt32 = 0o444
    /// Owner id of every member.
    public var uid: Int = 0
    /// Group id of every member.
    public var gid: Int = 0
    /// Owner name of every member (webdataset: "bigdata").
    public var uname: String = "bigdata"
    /// Group name of every member (webdataset: "bigdata").
    public var gname: String = "bigdata"

    /// Options with the given values; the defaults are deterministic and webdataset's.
    public init(format: TarFormat = .pax, mtime: Double = 0, mode: UInt32 = 0o444, uid: Int = 0, gid: Int = 0,
                uname: String = "bigdata", gname: String = "bigdata") {
        self.format = format; self.mtime = mtime; self.mode = mode; self.uid = uid; self.gid = gid
        self.uname = uname; self.gname = gname
    }
}

/// Kinds of entries ``TarWriter/addEntry(name:type:linkName:bytes:mtime:mode:metadata:)`` writes.
public enum TarEntryType: Sendable, Hashable {
    case regularFile, hardLink, symbolicLink, directory
    /// Any other typeflag byte (written as is, with `bytes` as data).
    case other(UInt8)

    var flag: UInt8 {
        switch self {
        case .regularFile: return UInt8(ascii: "0")
        case .hardLink: return UInt8(ascii: "1")
        case .symbolicLink: return UInt8(ascii: "2")
        case .directory: return UInt8(ascii: "5")
        case .other(let flag): return flag
        }
    }
}

/// Writes tar archives to a file (through `path.tmp`, renamed on ``finish()``) or to memory.
///
/// ```swift
/// let writer = try TarWriter(path: "out/shard-000000.tar")
/// try writer.write(Sample(key: "a/0001", shard: "", fields: [("jpg", jpegBytes), ("cls", Array("3".utf8))]))
/// try writer.finish()
/// ```
public final class TarWriter {
    /// Header values and layout.
    public let options: TarWriterOptions
    /// The final path (nil for an in-memory archive).
    public let path: String?
    /// Bytes written so far (headers, data and padding).
    public private(set) var bytesWritten: Int64 = 0
    /// Samples written with ``write(_:)``.
    public private(set) var sampleCount = 0

    private var file: AtomicFile?
    private var pending: [UInt8] = []
    private var memory: [UInt8] = []
    private var finished = false
    private let flushThreshold = 1 << 20

    /// Creates `path.tmp` (replacing a stale one); ``finish()`` renames it to `path`.
    public init(path: String, options: TarWriterOptions = .init()) throws(WebDatasetError) {
        self.options = options
        self.path = path
        let temporary = path + ".tmp"
        do throws(FileError) {
            file = try AtomicFile(path: path, temporaryPath: temporary, mode: 0o644)
        } catch {
            let prefix = "cannot create: "
            let reason = error.reason.hasPrefix(prefix) ? String(error.reason.dropFirst(prefix.count)) : error.reason
            throw WebDatasetError(.writeFailed, shard: path, reason: "cannot create \(temporary): \(reason)")
        }
        pending.reserveCapacity(flushThreshold + 4096)
    }

    /// An archive built in memory; read it with ``archiveBytes`` after ``finish()``.
    public init(options: TarWriterOptions = .init()) {
        self.options = options
        self.path = nil
    }

    deinit { abandon() }

    /// The finished in-memory archive (empty for file writers or before ``finish()``).
    public var archiveBytes: [UInt8] { finished && path == nil ? memory : [] }

    private var errorName: String { path ?? "<memory>" }

    // MARK: - Samples

    /// Writes `sample`'s fields as members `KEY.FIELD`, in ascending field-name order (webdataset's `TarWriter`
    /// sorts the sample's keys), and returns the number of payload bytes written (what webdataset's `ShardWriter`
    /// counts toward `maxsize`).
    ///
    /// Refused, because the archive would not read back as the same sample: an empty key, a key whose last path
    /// component contains a dot, a key component `..`/`.`, a field containing `/`, duplicate field names.
    @discardableResult
    public func write(_ sample: Sample) throws(WebDatasetError) -> Int {
        try validate(sample)
        let order = sample.fields.indices.sorted { a, b in
            sample.fields[a].name.utf8.lexicographicallyPrecedes(sample.fields[b].name.utf8)
        }
        var total = 0
        for index in order {
            let field = sample.fields[index]
            try addFile(name: sample.key + "." + field.name, bytes: field.bytes)
            total += field.bytes.count
        }
        sampleCount += 1
        return total
    }

    private func validate(_ sample: Sample) throws(WebDatasetError) {
        func refuse(_ reason: String) -> WebDatasetError {
            WebDatasetError(.sample, shard: errorName, offset: bytesWritten, reason: "sample '\(sample.key)': \(reason)")
        }
        guard !sample.key.isEmpty else { throw refuse("empty key") }
        let components = sample.key.split(separator: "/", omittingEmptySubsequences: false)
        if let last = components.last, last.contains(".") || last.isEmpty {
            throw refuse("the key's last path component must be non-empty and contain no '.' (it would not read back as the same key)")
        }
        if components.contains(where: { $0 == ".." || $0 == "." }) { throw refuse("'.' or '..' in the key") }
        if sample.key.utf8.contains(0) { throw refuse("NUL in the key") }
        var seen = Set<String>()
        for field in sample.fields {
            if field.name.contains("/") { throw refuse("field '\(field.name)' contains '/'") }
            if field.name.utf8.contains(0) { throw refuse("field '\(field.name)' contains NUL") }
            if !seen.insert(field.name).inserted { throw refuse("duplicate field '\(field.name)'") }
        }
    }

    // MARK: - Members

    /// Adds a regular file.
    public func addFile(name: String, bytes: [UInt8], mtime: Double? = nil, mode: UInt32? = nil,
                        metadata: [String: String] = [:]) throws(WebDatasetError) {
        try addEntry(name: name, type: .regularFile, bytes: bytes, mtime: mtime, mode: mode, metadata: metadata)
    }

    /// Adds any entry. `metadata` becomes PAX records (PAX format only; sorted by keyword, before the records
    /// the writer needs, as tarfile places a member's own `pax_headers` first).
    public func addEntry(name: String, type: TarEntryType, linkName: String = "", bytes: [UInt8] = [],
                         mtime: Double? = nil, mode: UInt32? = nil,
                         metadata: [String: String] = [:]) throws(WebDatasetError) {
        guard !finished else {
            throw WebDatasetError(.closed, shard: errorName, offset: bytesWritten, reason: "archive already finished")
        }
        var entryName = name
        if case .directory = type, !entryName.hasSuffix("/") { entryName += "/" }
        let info = TarEntryInfo(name: entryName, linkName: linkName, size: Int64(bytes.count),
                             mtime: mtime ?? options.mtime, mode: (mode ?? options.mode) & 0o7777,
                             uid: Int64(options.uid), gid: Int64(options.gid), uname: options.uname,
                             gname: options.gname, typeFlag: type.flag, metadata: metadata)
        let header: [UInt8]
        do throws(HeaderError) {
            header = try makeHeaders(info)
        } catch {
            throw WebDatasetError(.sample, shard: errorName, offset: bytesWritten, reason: "member '\(name)': \(error.reason)")
        }
        try emit(header)
        if !bytes.isEmpty {
            try emit(bytes)
            let pad = (512 - bytes.count % 512) % 512
            if pad > 0 { try emit(zeros: pad) }
        }
    }

    // MARK: - Finishing

    /// Writes the end-of-archive marker (two zero blocks) and pads the archive to a multiple of 10,240 bytes
    /// (tarfile's record size); for a file, flushes, syncs and renames `path.tmp` to `path`.
    public func finish() throws(WebDatasetError) {
        guard !finished else { return }
        try emit(zeros: 1024)
        let remainder = Int(bytesWritten % 10240)
        if remainder > 0 { try emit(zeros: 10240 - remainder) }
        finished = true
        guard let path else { return }
        try flush()
        guard let file else { throw WebDatasetError(.closed, shard: path, reason: "writer closed") }
        self.file = nil
        do throws(FileError) {
            try file.commit()
        } catch {
            throw WebDatasetError(.writeFailed, shard: path, reason: error.reason)
        }
    }

    /// Stops writing and removes `path.tmp` (nothing happens to `path`). Called when a writer is dropped unfinished.
    public func abandon() {
        file?.abandon()
        file = nil
        finished = true
        pending = []
    }

    // MARK: - Output

    private func emit(_ bytes: [UInt8]) throws(WebDatasetError) {
        bytesWritten += Int64(bytes.count)
        if path == nil {
            memory.append(contentsOf: bytes)
            return
        }
        if bytes.count >= flushThreshold {
            try flush()
            try writeAll(bytes)
            return
        }
        pending.append(contentsOf: bytes)
        if pending.count >= flushThreshold { try flush() }
    }

    private func emit(zeros count: Int) throws(WebDatasetError) {
        bytesWritten += Int64(count)
        if path == nil {
            memory.append(contentsOf: repeatElement(0, count: count))
        } else {
            pending.append(contentsOf: repeatElement(0, count: count))
            if pending.count >= flushThreshold { try flush() }
        }
    }

    private func flush() throws(WebDatasetError) {
        guard !pending.isEmpty else { return }
        try writeAll(pending)
        pending.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: [UInt8]) throws(WebDatasetError) {
        guard let file else {
            throw WebDatasetError(.closed, shard: errorName, offset: bytesWritten, reason: "writer closed")
        }
        do throws(FileError) {
            try file.write(bytes)
        } catch {
            abandon()
            throw WebDatasetError(.writeFailed, shard: errorName, offset: bytesWritten, reason: error.reason)
        }
    }

    // MARK: - Headers (tarfile's encodings)


    private static let posixMagic: [UInt8] = Array("ustar".utf8) + [0] + Array("00".utf8)
    private static let gnuMagic: [UInt8] = Array("ustar  ".utf8) + [0]

    private func makeHeaders(_ info: TarEntryInfo) throws(HeaderError) -> [UInt8] {
        switch options.format {
        case .pax: return try paxHeaders(info)
        case .gnu: return try gnuHeaders(info)
        case .ustar: return try ustarHeader(info)
        }
    }

    /// tarfile's `round()` of a float time: half to even.
    private static func integralTime(_ time: Double) -> (value: Int64, isFractional: Bool) {
        let rounded = time.rounded(.toNearestOrEven)
        guard rounded.isFinite, abs(rounded) < 9.2e18 else { return (0, true) }
        return (Int64(rounded), rounded != time)
    }

    private func paxHeaders(_ info: TarEntryInfo) throws(HeaderError) -> [UInt8] {
        var records: [(String, String)] = info.metadata.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { ($0.key, $0.value) }
        let explicit = Set(info.metadata.keys)
        var fields = HeaderFields(info: info, magic: TarWriter.posixMagic)
        // Strings: non-ASCII or longer than the field go to PAX; the ustar field keeps an ASCII rendering.
        for (value, keyword, length, path) in [(info.name, "path", 100, \HeaderFields.name),
                                                (info.linkName, "linkpath", 100, \HeaderFields.linkName),
                                                (info.uname, "uname", 32, \HeaderFields.uname),
                                                (info.gname, "gname", 32, \HeaderFields.gname)] {
            if explicit.contains(keyword) { continue }
            let ascii = value.unicodeScalars.allSatisfy { $0.isASCII }
            if !ascii {
                records.append((keyword, value))
                fields[keyPath: path] = asciiReplacing(value)
            } else if value.utf8.count > length {
                records.append((keyword, value))
            }
        }
        // Numbers: out of range → 0 in the header and the exact value in PAX; a fractional time → rounded in
        // the header, exact in PAX.
        let limits: [(String, Int)] = [("uid", 8), ("gid", 8), ("size", 12), ("mtime", 12)]
        for (keyword, digits) in limits {
            var needsPax = false
            var text = ""
            switch keyword {
            case "uid":
                if !(0..<octalLimit(digits)).contains(info.uid) { fields.uid = 0; needsPax = true; text = String(info.uid) }
            case "gid":
                if !(0..<octalLimit(digits)).contains(info.gid) { fields.gid = 0; needsPax = true; text = String(info.gid) }
            case "size":
                if !(0..<octalLimit(digits)).contains(info.size) { fields.size = 0; needsPax = true; text = String(info.size) }
            default:
                let (integral, fractional) = TarWriter.integralTime(info.mtime)
                text = fractional ? pythonFloatText(info.mtime) : String(integral)
                if !(0..<octalLimit(digits)).contains(integral) {
                    fields.mtime = 0; needsPax = true
                } else {
                    fields.mtime = integral
                    needsPax = fractional
                }
            }
            if needsPax && !explicit.contains(keyword) { records.append((keyword, text)) }
        }
        var out: [UInt8] = []
        if !records.isEmpty {
            out += try extensionHeader(name: "././@PaxHeader", typeFlag: UInt8(ascii: "x"),
                                       payload: paxPayload(records), magic: TarWriter.posixMagic)
        }
        out += try fields.block(numbers: .octal)
        return out
    }

    private func gnuHeaders(_ info: TarEntryInfo) throws(HeaderError) -> [UInt8] {
        var out: [UInt8] = []
        if info.linkName.utf8.count > 100 {
            out += try extensionHeader(name: "././@LongLink", typeFlag: UInt8(ascii: "K"),
                                       payload: Array(info.linkName.utf8) + [0], magic: TarWriter.gnuMagic)
        }
        if info.name.utf8.count > 100 {
            out += try extensionHeader(name: "././@LongLink", typeFlag: UInt8(ascii: "L"),
                                       payload: Array(info.name.utf8) + [0], magic: TarWriter.gnuMagic)
        }
        var fields = HeaderFields(info: info, magic: TarWriter.gnuMagic)
        fields.mtime = TarWriter.integralTime(info.mtime).value
        out += try fields.block(numbers: .gnu)
        return out
    }

    private func ustarHeader(_ info: TarEntryInfo) throws(HeaderError) -> [UInt8] {
        var fields = HeaderFields(info: info, magic: TarWriter.posixMagic)
        if info.linkName.utf8.count > 100 { throw HeaderError(reason: "link target longer than 100 bytes (ustar)") }
        if info.name.utf8.count > 100 {
            // The shortest prefix (split at a slash) with prefix ≤ 155 and name ≤ 100 bytes.
            let components = info.name.split(separator: "/", omittingEmptySubsequences: false)
            var split: (String, String)?
            for cut in 1..<max(1, components.count) {
                let prefix = components[..<cut].joined(separator: "/")
                let rest = components[cut...].joined(separator: "/")
                if prefix.utf8.count <= 155 && rest.utf8.count <= 100 { split = (prefix, rest); break }
            }
            guard let (prefix, rest) = split else { throw HeaderError(reason: "name is too long for ustar") }
            fields.prefix = prefix
            fields.name = rest
        }
        fields.mtime = TarWriter.integralTime(info.mtime).value
        return try fields.block(numbers: .octal)
    }

    private func extensionHeader(name: String, typeFlag: UInt8, payload: [UInt8],
                                 magic: [UInt8]) throws(HeaderError) -> [UInt8] {
        var fields = HeaderFields(name: name, magic: magic)
        fields.typeFlag = typeFlag
        fields.size = Int64(payload.count)
        var out = try fields.block(numbers: .octal)
        out += payload
        let pad = (512 - payload.count % 512) % 512
        out += repeatElement(0, count: pad)
        return out
    }

    /// "LEN KEYWORD=VALUE\n" records, LEN counting itself.
    private func paxPayload(_ records: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (keyword, value) in records {
            let base = keyword.utf8.count + value.utf8.count + 3
            var length = 0
            var guess = 0
            while true {
                length = base + String(guess).utf8.count
                if length == guess { break }
                guess = length
            }
            out += Array("\(length) \(keyword)=\(value)\n".utf8)
        }
        return out
    }
}

private func octalLimit(_ digits: Int) -> Int64 { Int64(1) << (3 * (digits - 1)) }

/// tarfile's ASCII rendering of a string that needs a PAX record: every non-ASCII character becomes "?".
private func asciiReplacing(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map { $0.isASCII ? $0 : "?" }))
}

/// Python's `str(float)` for the values a time takes (shortest round-trip digits; Swift's description agrees
/// with Python's repr for finite values in the range of times).
private func pythonFloatText(_ value: Double) -> String {
    "\(value)"
}

private struct TarEntryInfo {
    var name: String
    var linkName: String
    var size: Int64
    var mtime: Double
    var mode: UInt32
    var uid: Int64
    var gid: Int64
    var uname: String
    var gname: String
    var typeFlag: UInt8
    var metadata: [String: String]
}


private struct HeaderError: Error { var reason: String }

/// The fields of one 512-byte header block, encoded as tarfile's `_create_header` does.
private struct HeaderFields {
    enum Numbers { case octal, gnu }

    var name: String
    var mode: Int64 = 0
    var uid: Int64 = 0
    var gid: Int64 = 0
    var size: Int64 = 0
    var mtime: Int64 = 0
    var typeFlag: UInt8 = UInt8(ascii: "0")
    var linkName = ""
    var magic: [UInt8]
    var uname = ""
    var gname = ""
    var prefix = ""

    init(name: String, magic: [UInt8]) {
        self.name = name
        self.magic = magic
    }

    init(info: TarEntryInfo, magic: [UInt8]) {
        self.name = info.name
        self.magic = magic
        mode = Int64(info.mode)
        uid = info.uid
        gid = info.gid
        size = info.size
        typeFlag = info.typeFlag
        linkName = info.linkName
        uname = info.uname
        gname = info.gname
    }

    /// The 512-byte block with its checksum ("%06o\0" followed by the space left from the blank field).
    func block(numbers: Numbers) throws(HeaderError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 512)
        func text(_ value: String, _ offset: Int, _ length: Int) {
            // Truncated to the field, NUL padded (tarfile's stn).
            for (index, byte) in value.utf8.prefix(length).enumerated() { out[offset + index] = byte }
        }
        func number(_ value: Int64, _ offset: Int, _ digits: Int, _ field: String) throws(HeaderError) {
            if value >= 0 && value < octalLimit(digits) {
                var remaining = value
                for index in stride(from: digits - 2, through: 0, by: -1) {
                    out[offset + index] = UInt8(ascii: "0") + UInt8(remaining & 7)
                    remaining >>= 3
                }
                out[offset + digits - 1] = 0
                return
            }
            guard numbers == .gnu else { throw HeaderError(reason: "\(field) \(value) does not fit the header") }
            // Base-256: 0x80 (positive) or 0xFF (negative) then digits-1 big-endian bytes of two's complement.
            out[offset] = value >= 0 ? 0x80 : 0xFF
            var remaining = value
            for index in stride(from: digits - 1, through: 1, by: -1) {
                out[offset + index] = UInt8(truncatingIfNeeded: remaining)
                remaining >>= 8
            }
        }
        text(name, 0, 100)
        try number(mode & 0o7777, 100, 8, "mode")
        try number(uid, 108, 8, "uid")
        try number(gid, 116, 8, "gid")
        try number(size, 124, 12, "size")
        try number(mtime, 136, 12, "mtime")
        for index in 148..<156 { out[index] = 0x20 }
        out[156] = typeFlag
        text(linkName, 157, 100)
        for (index, byte) in magic.enumerated() { out[257 + index] = byte }
        text(uname, 265, 32)
        text(gname, 297, 32)
        // devmajor/devminor stay NUL-filled for anything but device entries (which this writer does not make).
        text(prefix, 345, 155)
        let checksum = out.reduce(0) { $0 + Int($1) }
        var remaining = checksum
        for index in stride(from: 153, through: 148, by: -1) {
            out[index] = UInt8(ascii: "0") + UInt8(remaining & 7)
            remaining >>= 3
        }
        out[154] = 0
        return out
    }
}
