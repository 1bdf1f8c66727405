/// One WebDataset sample: the tar members that share a key, in archive order.
///
/// A member `dir/elsa_v2__train__123.gen_0.jpg` belongs to the sample with key `dir/elsa_v2__train__123`
/// (the path up to the first dot of its basename, as webdataset's `base_plus_ext`) and is its field
/// `gen_0.jpg` (the rest).
public struct Sample: Sendable, Equatable {
    /// `__key__`.
    public var key: String
    /// Where the sample came from (shard path or URL), webdataset's `__url__`.
    public var shard: String
    /// Fields in archive order: name (e.g. "gen_0.jpg") and raw bytes.
    public var fields: [(name: String, bytes: [UInt8])]

    public init(key: String, shard: String, fields: [(name: String, bytes: [UInt8])]) {
        self.key = key; self.shard = shard; self.fields = fields
    }

    /// The bytes of field `name`, if present.
    public subscript(field name: String) -> [UInt8]? { fields.first { $0.name == name }?.bytes }

    public static func == (a: Sample, b: Sample) -> Bool {
        a.key == b.key && a.shard == b.shard && a.fields.count == b.fields.count
            && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.bytes == $1.bytes }
    }
}

/// Opens a shard and yields its samples in order. The pipeline is written against this, so tests can feed
/// it synthetic shards; the tar reader is the real implementation.
public protocol SampleSource: Sendable {
    /// The samples of `shard` in archive order. A shard that cannot be read ends with an error element.
    func samples(of shard: String) -> AnyIterator<Result<Sample, WebDatasetError>>
}

/// Why a shard, a member or a sample could not be read or written; names the shard and the byte offset, and
/// says which kind of failure it is, so a caller can act on the difference (retry a transfer, skip a corrupt
/// shard, fix a specification).
public struct WebDatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kinds of failure.
    public enum Kind: String, Sendable, Equatable {
        /// A shard specification, list file, writer pattern or option that cannot be used.
        case specification
        /// A local file or folder that cannot be opened, examined or read.
        case unreadable
        /// An HTTP(S) transfer that failed (status, connection, deadline, size).
        case http
        /// The archive ends before a header, a member or its padding is complete.
        case truncated
        /// A header that is not tar, fails its checksum or holds invalid fields; a sample with a repeated field.
        case corrupt
        /// Valid tar the reader does not take (sparse members, gzip-compressed shards).
        case unsupported
        /// A member extraction refuses (a path leaving the folder, a link, a special file).
        case unsafeMember
        /// A sample whose fields cannot be decoded, re-encoded or written, or a record that is incomplete.
        case sample
        /// An output shard or folder that cannot be created or written.
        case writeFailed
        /// A reader or writer used after it was closed or finished.
        case closed
    }

    public var kind: Kind
    public var shard: String
    /// Byte offset in the shard where the problem was found, when known.
    public var offset: Int64?
    public var reason: String

    public init(_ kind: Kind, shard: String, offset: Int64? = nil, reason: String) {
        self.kind = kind; self.shard = shard; self.offset = offset; self.reason = reason
    }

    public var description: String {
        if let offset { return "\(shard) at byte \(offset): \(reason)" }
        return "\(shard): \(reason)"
    }
}
