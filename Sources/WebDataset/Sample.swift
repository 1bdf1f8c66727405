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

/// Why a shard, a member or a sample could not be read or written; names the shard and the byte offset.
public struct WebDatasetError: Error, Sendable, Equatable, CustomStringConvertible {
    public var shard: String
    /// Byte offset in the shard where the problem was found, when known.
    public var offset: Int64?
    public var reason: String

    public init(shard: String, offset: Int64? = nil, reason: String) {
        self.shard = shard; self.offset = offset; self.reason = reason
    }

    public var description: String {
        if let offset { return "\(shard) at byte \(offset): \(reason)" }
        return "\(shard): \(reason)"
    }
}
