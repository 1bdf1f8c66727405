// Grouping tar members into samples as webdataset's `tarfile_to_samples` does (webdataset 1.0.2,
// `tariterators.py`: `tar_file_iterator` + `group_by_keys`), and `TarShardSource`, the `SampleSource` the
// pipeline reads real shards through.
//
// Behaviour, member by member:
// * only regular files take part (directories, links, devices are passed over and counted);
// * metadata names are skipped without reading them: a name without "/" that starts and ends with "__", or whose
//   first path component is "__…__" (webdataset's `skip_meta`);
// * the name is split as `base_plus_ext` does: key = the path up to the first dot of the basename, field = the
//   rest; a name that does not split (no dot in the basename) is skipped;
// * the field is lower-cased (`group_by_keys(lcase=True)`, webdataset's default; the key never is);
// * a key different from the current sample's starts a new sample (only consecutive members group: a key that
//   comes back later makes a second sample, as in webdataset);
// * a field repeated within one sample is an error (webdataset raises ValueError "duplicate file name"); under
//   `ShardErrorPolicy.skip` it ends the shard like any other error.
//
// Errors. `.stop`: the shard's iterator ends with the error (the samples before it were delivered, the last
// of them as soon as a member of another key had begun, even when that member's data was cut; the sample
// being assembled is dropped: a cut inside a header leaves unknown whether more of its members followed). `.skip`: the shard ends at the first error, without an error element; what was
// lost is recorded in the source's `ShardReadLog` (and written to standard error unless disabled): the sample
// being assembled, the unread bytes and an estimate of the samples in them. webdataset's handlers differ here:
// with `warn_and_continue` a broken shard's partial sample is kept and may be merged into the next shard's
// first sample; this reader never yields a sample it could not finish.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// Splits a member name into sample key and field as webdataset's `base_plus_ext`
/// (`^((?:.*/|)[^.]+)[.]([^/]*)$`): `dir.v1/abc.gen_0.jpg` → (`dir.v1/abc`, `gen_0.jpg`). Nil when the basename
/// has no dot. A basename starting with a dot takes the directory as key when the last directory name has no
/// dot (`d/.x` → (`d/`, `x`)), as the regular expression does.
public func splitSampleName(_ name: String) -> (key: Substring, field: Substring)? {
    let utf8 = name.utf8
    let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
    let lastSlash = utf8.lastIndex(of: slash)
    let baseStart = lastSlash.map { utf8.index(after: $0) } ?? utf8.startIndex
    guard let firstDot = utf8[baseStart...].firstIndex(of: dot) else { return nil }
    let fieldStart = utf8.index(after: firstDot)
    if firstDot != baseStart {
        return (name[..<firstDot], name[fieldStart...])
    }
    guard let lastSlash else { return nil }
    let previousSlash = utf8[..<lastSlash].lastIndex(of: slash)
    let segmentStart = previousSlash.map { utf8.index(after: $0) } ?? utf8.startIndex
    if utf8[segmentStart..<lastSlash].contains(dot) { return nil }
    return (name[...lastSlash], name[fieldStart...])
}

/// True for the names webdataset's `tar_file_iterator` skips as metadata: no "/" and starting and ending with
/// "__", or a first path component of at least four characters starting and ending with "__".
public func isWebDatasetMetaName(_ name: String) -> Bool {
    let utf8 = name.utf8
    guard utf8.starts(with: "__".utf8) else { return false }
    if let slash = utf8.firstIndex(of: UInt8(ascii: "/")) {
        let first = utf8[..<slash]
        return first.count >= 4 && first.reversed().starts(with: "__".utf8)
    }
    return utf8.reversed().starts(with: "__".utf8)
}

/// What happens when a shard cannot be read to its end.
public enum ShardErrorPolicy: Sendable, Hashable {
    /// The shard's sample stream ends with the error.
    case stop
    /// The shard ends at the first error without an error element; the loss is recorded in ``ShardReadLog``.
    case skip
}

/// How ``TarShardSource`` and ``ShardSampleReader`` turn members into samples.
public struct ShardReadOptions: Sendable {
    /// Lower-case field names (webdataset's default, `lcase=True`).
    public var lowercaseFields = true
    /// Skip webdataset metadata members (`__key__`-style names).
    public var skipMetaMembers = true
    /// Keep only the fields this returns true for (after lower-casing); others are skipped without being read,
    /// like webdataset's `select_files`. A sample none of whose fields is kept does not appear.
    public var selectField: (@Sendable (String) -> Bool)?
    /// What a broken shard does to the stream (see ``ShardErrorPolicy``).
    public var errorPolicy: ShardErrorPolicy = .stop
    /// Under `.skip`, log one warning per broken shard (`deepfake.webdataset`; the report records it either way).
    public var warnOnSkip = true
    /// HTTP(S) shards.
    public var http = HTTPStreamOptions()
    /// Bytes per read from the shard.
    public var bufferSize = 1 << 18

    /// Options with webdataset's defaults unless given.
    public init(lowercaseFields: Bool = true, errorPolicy: ShardErrorPolicy = .stop,
                selectField: (@Sendable (String) -> Bool)? = nil) {
        self.lowercaseFields = lowercaseFields
        self.errorPolicy = errorPolicy
        self.selectField = selectField
    }
}

/// The outcome of reading one shard.
public struct ShardReport: Sendable, Equatable, CustomStringConvertible {
    /// The shard's name as given.
    public var shard: String
    /// Samples delivered.
    public var samples = 0
    /// Regular members read (or skipped by selection).
    public var members = 0
    /// Non-regular entries passed over (directories, links, devices, FIFOs, unknown types).
    public var skippedEntries = 0
    /// Regular members in no sample: metadata names, names without a key/field split, unselected fields.
    public var skippedMembers = 0
    /// Why the shard ended early (nil when it was read to its end).
    public var error: WebDatasetError?
    /// Samples known to be lost: the one being assembled when the error came (0 or 1).
    public var droppedSamples = 0
    /// Bytes of the shard consumed.
    public var bytesRead: Int64 = 0
    /// Bytes after the error, when the shard's size is known.
    public var bytesUnread: Int64?

    /// An empty report for `shard`.
    public init(shard: String) { self.shard = shard }

    /// Samples lost to the error: the dropped one plus the unread bytes divided by the average bytes per sample
    /// seen so far. Nil when the shard's size is unknown or no sample was complete before the error.
    public var estimatedLostSamples: Int? {
        guard error != nil else { return 0 }
        guard let bytesUnread, samples > 0, bytesRead > 0 else { return nil }
        let perSample = Double(bytesRead) / Double(samples)
        return droppedSamples + Int((Double(bytesUnread) / perSample).rounded())
    }

    public var description: String {
        guard let error else { return "\(shard): \(samples) samples" }
        var text = "\(shard): stopped after \(samples) samples: \(error.reason)"
        if let offset = error.offset { text += " (byte \(offset))" }
        text += "; lost: \(droppedSamples) partial sample(s)"
        if let bytesUnread { text += ", \(bytesUnread) unread bytes" }
        if let estimate = estimatedLostSamples { text += ", about \(estimate) samples in all" }
        return text
    }
}

/// A thread-safe record of the shards a ``TarShardSource`` read: totals and the reports of the shards that
/// ended with an error.
public final class ShardReadLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _completed = 0
    private var _samples = 0
    private var _failures: [ShardReport] = []

    /// An empty log.
    public init() {}

    /// Shards read to their end.
    public var completedShards: Int { lock.withLock { _completed } }
    /// Samples delivered, all shards together.
    public var samples: Int { lock.withLock { _samples } }
    /// Reports of the shards that ended with an error, in the order they ended.
    public var failures: [ShardReport] { lock.withLock { _failures } }
    /// Samples known to be lost (partial samples dropped at errors).
    public var droppedSamples: Int { lock.withLock { _failures.reduce(0) { $0 + $1.droppedSamples } } }
    /// Known and estimated lost samples; shards whose loss cannot be estimated count their dropped samples only.
    public var estimatedLostSamples: Int {
        lock.withLock { _failures.reduce(0) { $0 + ($1.estimatedLostSamples ?? $1.droppedSamples) } }
    }

    func record(_ report: ShardReport) {
        lock.withLock {
            _samples += report.samples
            if report.error == nil { _completed += 1 } else { _failures.append(report) }
        }
    }
}

/// Reads the samples of one tar archive.
///
/// ```swift
/// let reader = try ShardSampleReader(shard: "d3-0000.tar")
/// while let sample = try reader.next() { print(sample.key, sample.fields.map(\.name)) }
/// print(reader.report)
/// ```
public final class ShardSampleReader {
    /// The name samples carry as `shard`.
    public let shard: String
    /// Grouping and error options.
    public let options: ShardReadOptions
    /// Counters so far; final after `next()` returned nil or threw.
    public private(set) var report: ShardReport

    private let tar: TarReader
    private var current: Sample?
    private var currentFields = Set<String>()
    private var pendingError: WebDatasetError?
    private var done = false

    /// Reads from an open tar reader; `shard` becomes each sample's `shard` (webdataset's `__url__`).
    public init(tar: TarReader, shard: String? = nil, options: ShardReadOptions = .init()) {
        self.tar = tar
        self.shard = shard ?? tar.shard
        self.options = options
        report = ShardReport(shard: self.shard)
    }

    /// Opens `shard`: a local path, `file://`, `http(s)://` URL or `-` for standard input.
    public convenience init(shard: String, options: ShardReadOptions = .init()) throws(WebDatasetError) {
        let stream = try openShardStream(shard, http: options.http)
        self.init(tar: TarReader(stream: stream, shard: shard, bufferSize: options.bufferSize), shard: shard,
                  options: options)
    }

    /// The next complete sample; nil at the end of the shard. Errors are thrown once; afterwards nil is returned.
    public func next() throws(WebDatasetError) -> Sample? {
        if done { return nil }
        if let error = pendingError {
            pendingError = nil
            finish(error: error)
            throw error
        }
        do throws(WebDatasetError) {
            while true {
                let next: TarHeader?
                do throws(WebDatasetError) {
                    next = try tar.nextHeader()
                } catch {
                    // The archive ends inside the data of a member whose header was read: when that member starts
                    // another sample, the one being assembled is complete and comes out before the error.
                    guard let finished = current, let name = tar.truncatedMemberName,
                          !(options.skipMetaMembers && isWebDatasetMetaName(name)),
                          let (keyPart, _) = splitSampleName(name), !finished.key.utf8.elementsEqual(keyPart.utf8)
                    else { throw error }
                    current = Sample(key: String(keyPart), shard: shard, fields: [])  // the sample that was cut
                    pendingError = error
                    report.samples += 1
                    return finished
                }
                guard let header = next else {
                    let last = current
                    current = nil
                    if last != nil { report.samples += 1 }
                    finish(error: nil)
                    return last
                }
                report.members += 1
                if options.skipMetaMembers && isWebDatasetMetaName(header.name) {
                    report.skippedMembers += 1
                    continue
                }
                guard let (keyPart, fieldPart) = splitSampleName(header.name) else {
                    report.skippedMembers += 1
                    continue
                }
                let field = options.lowercaseFields ? lowercased(fieldPart) : String(fieldPart)
                if let select = options.selectField, !select(field) {
                    report.skippedMembers += 1
                    continue
                }
                if let sample = current, sample.key.utf8.elementsEqual(keyPart.utf8) {
                    if currentFields.contains(field) {
                        throw WebDatasetError(.corrupt, shard: shard, offset: header.headerOffset,
                                              reason: "duplicate field '\(field)' in sample '\(sample.key)' "
                                                + "(member '\(header.name)')")
                    }
                    let bytes = try tar.readData()
                    current!.fields.append((name: field, bytes: bytes))
                    currentFields.insert(field)
                    continue
                }
                // A new key: the previous sample is complete.
                let finished = current
                current = Sample(key: String(keyPart), shard: shard, fields: [])
                currentFields.removeAll(keepingCapacity: true)
                do throws(WebDatasetError) {
                    let bytes = try tar.readData()
                    current!.fields.append((name: field, bytes: bytes))
                    currentFields.insert(field)
                } catch {
                    guard finished != nil else { throw error }
                    pendingError = error
                }
                if let finished {
                    report.samples += 1
                    return finished
                }
            }
        } catch {
            finish(error: error)
            throw error
        }
    }

    private func finish(error: WebDatasetError?) {
        done = true
        report.skippedEntries = tar.skippedEntries
        report.bytesRead = tar.offset
        if let error {
            report.error = error
            report.droppedSamples = current == nil ? 0 : 1
            current = nil
            if let total = tar.totalSize { report.bytesUnread = max(0, total - tar.offset) }
        }
        tar.close()
    }
}

/// Lower-cases a field name; ASCII-only names (the usual case) without going through Foundation.
private func lowercased(_ text: Substring) -> String {
    if text.utf8.allSatisfy({ $0 < 0x80 }) {
        if !text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return String(text) }
        return String(decoding: text.utf8.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
    return text.lowercased()
}

/// Opens the byte stream for a shard name: `-` is standard input, `http://`/`https://` a streamed download,
/// `file://` and anything else a local path.
public func openShardStream(_ shard: String, http: HTTPStreamOptions = .init()) throws(WebDatasetError) -> any ByteStream {
    switch try ShardSpec.location(of: shard) {
    case .standardInput: return StandardInputByteStream()
    case .file(let path): return try FileByteStream(path: path)
    case .url(let url): return try HTTPByteStream(url: url, name: shard, options: http)
    }
}

/// The `SampleSource` for real shards: local files, `http(s)://` URLs and `-` (standard input).
///
/// ```swift
/// let source = TarShardSource(options: ShardReadOptions(errorPolicy: .skip))
/// for result in source.samples(of: "/data/elsa_v2-0000.tar") { let sample = try result.get(); … }
/// print(source.log.failures)
/// ```
public struct TarShardSource: SampleSource {
    /// Grouping, error policy and HTTP options for every shard.
    public var options: ShardReadOptions
    /// Shards read and shards that failed; shared by copies of this source.
    public let log: ShardReadLog

    /// A source with its own log unless one is shared.
    public init(options: ShardReadOptions = .init(), log: ShardReadLog = ShardReadLog()) {
        self.options = options
        self.log = log
    }

    /// Opens `shard` lazily (on the first `next()`) and yields its samples; see ``ShardErrorPolicy`` for how
    /// errors end the stream.
    public func samples(of shard: String) -> AnyIterator<Result<Sample, WebDatasetError>> {
        let options = self.options
        let log = self.log
        var reader: ShardSampleReader?
        var ended = false
        return AnyIterator {
            if ended { return nil }
            do throws(WebDatasetError) {
                if reader == nil { reader = try ShardSampleReader(shard: shard, options: options) }
                if let sample = try reader!.next() { return .success(sample) }
                ended = true
                log.record(reader!.report)
                return nil
            } catch {
                ended = true
                var report = reader?.report ?? ShardReport(shard: shard)
                if report.error == nil { report.error = error }
                log.record(report)
                if options.errorPolicy == .stop { return .failure(error) }
                if options.warnOnSkip { shardLogger.warning("skipped the rest of shard \(report)") }
                return nil
            }
        }
    }
}

/// The shard readers' log (`deepfake.webdataset`): shards skipped under `ShardErrorPolicy.skip`.
let shardLogger = Logger(label: "deepfake.webdataset")
