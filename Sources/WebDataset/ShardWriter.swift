// Writing a stream of samples into numbered shards, as webdataset's `ShardWriter`: a pattern such as
// `out/d3-%06d.tar`, a new shard once the current one holds `maxCount` samples or `maxSize` payload bytes.

import Imaging

/// What happens to image fields when a sample is written.
public enum ImageFieldPolicy: Sendable, Hashable {
    /// Bytes are stored as given.
    case passThrough
    /// Every `.jpg`/`.jpeg` field is decoded and re-encoded as JPEG at `jpegQuality`, every `.png` field as PNG
    /// (as webdataset's encoder writes PIL images: JPEG at quality 100 by default); other fields are stored as given.
    case reencode(jpegQuality: Int)
}

/// Settings for ``ShardWriter``.
public struct ShardWriterOptions: Sendable, Hashable {
    /// Samples per shard (webdataset's `maxcount`, default 100,000).
    public var maxCount: Int = 100_000
    /// Payload bytes per shard (webdataset's `maxsize`, default 3e9): the sum of the fields' sizes, headers not
    /// counted.
    public var maxSize: Int64 = 3_000_000_000
    /// webdataset starts a new shard once the current one has *reached* `maxCount` or `maxSize`, so a shard may
    /// exceed `maxSize` by its last sample. When true, a shard is also closed before a sample that would take it
    /// past `maxSize` (a single oversized sample still gets a shard of its own).
    public var rotateBeforeExceedingSize = false
    /// Number of the first shard.
    public var startShard: Int = 0
    /// Header values of every shard.
    public var tar = TarWriterOptions()
    /// Image fields passed through or re-encoded.
    public var images = ImageFieldPolicy.passThrough

    /// Options with webdataset's defaults unless given.
    public init(maxCount: Int = 100_000, maxSize: Int64 = 3_000_000_000, startShard: Int = 0,
                tar: TarWriterOptions = .init(), images: ImageFieldPolicy = .passThrough,
                rotateBeforeExceedingSize: Bool = false) {
        self.maxCount = maxCount; self.maxSize = maxSize; self.startShard = startShard; self.tar = tar
        self.images = images; self.rotateBeforeExceedingSize = rotateBeforeExceedingSize
    }
}

/// Writes samples into shards named by a printf-style pattern (`%d`, `%06d`, `%%`).
///
/// ```swift
/// let writer = try ShardWriter(pattern: "out/d3-%06d.tar", options: ShardWriterOptions(maxCount: 5000))
/// for sample in samples { try writer.write(sample) }
/// let shards = try writer.close()   // ["out/d3-000000.tar", …]
/// ```
/// Like webdataset's, the first shard is opened at once, so closing a writer that got no sample leaves one
/// empty (valid) shard. Each shard appears under its name only when complete (written as `NAME.tmp`, renamed).
public final class ShardWriter {
    /// The shard name pattern.
    public let pattern: String
    /// Rotation limits, header values, image policy.
    public let options: ShardWriterOptions
    /// Finished shards, in order.
    public private(set) var shards: [String] = []
    /// Samples written, all shards together.
    public private(set) var totalSamples = 0

    private var writer: TarWriter?
    private var shardNumber: Int
    private var count = 0
    private var size: Int64 = 0
    private var closed = false

    /// Checks the pattern and opens the first shard.
    public init(pattern: String, options: ShardWriterOptions = .init()) throws(WebDatasetError) {
        _ = try ShardWriter.format(pattern, 0)
        guard options.maxCount > 0, options.maxSize > 0 else {
            throw WebDatasetError(.specification, shard: pattern, reason: "maxCount and maxSize must be positive")
        }
        self.pattern = pattern
        self.options = options
        shardNumber = options.startShard
        try nextShard()
    }

    deinit { writer?.abandon() }

    /// `pattern` with its one integer conversion applied, as Python's `pattern % number`.
    public static func format(_ pattern: String, _ number: Int) throws(WebDatasetError) -> String {
        var out = ""
        var conversions = 0
        var index = pattern.startIndex
        while index < pattern.endIndex {
            let character = pattern[index]
            guard character == "%" else { out.append(character); index = pattern.index(after: index); continue }
            var cursor = pattern.index(after: index)
            guard cursor < pattern.endIndex else {
                throw WebDatasetError(.specification, shard: pattern, reason: "shard pattern ends with a lone '%'")
            }
            if pattern[cursor] == "%" { out.append("%"); index = pattern.index(after: cursor); continue }
            var zero = false
            if pattern[cursor] == "0" { zero = true; cursor = pattern.index(after: cursor) }
            var width = 0
            while cursor < pattern.endIndex, let digit = pattern[cursor].wholeNumberValue, pattern[cursor].isASCII {
                width = width * 10 + digit
                cursor = pattern.index(after: cursor)
            }
            guard cursor < pattern.endIndex, pattern[cursor] == "d" || pattern[cursor] == "i" else {
                throw WebDatasetError(.specification, shard: pattern, reason: "shard pattern: only %d, %0Nd, %Nd and %% are supported")
            }
            let digits = String(number.magnitude)
            let sign = number < 0 ? "-" : ""
            let pad = max(0, width - digits.count - sign.count)
            out += zero ? sign + String(repeating: "0", count: pad) + digits
                        : String(repeating: " ", count: pad) + sign + digits
            conversions += 1
            index = pattern.index(after: cursor)
        }
        guard conversions == 1 else {
            throw WebDatasetError(.specification, shard: pattern, reason: "shard pattern needs exactly one %d-style conversion (found \(conversions))")
        }
        return out
    }

    /// Writes one sample, starting a new shard first when the current one is full.
    public func write(_ sample: Sample) throws(WebDatasetError) {
        guard !closed else { throw WebDatasetError(.closed, shard: pattern, reason: "shard writer closed") }
        let prepared = try prepare(sample)
        var needsRotation = count >= options.maxCount || size >= options.maxSize
        if options.rotateBeforeExceedingSize && count > 0 {
            let payload = prepared.fields.reduce(Int64(0)) { $0 + Int64($1.bytes.count) }
            if size + payload > options.maxSize { needsRotation = true }
        }
        if writer == nil || needsRotation { try nextShard() }
        let written = try writer!.write(prepared)
        count += 1
        totalSamples += 1
        size += Int64(written)
    }

    /// Finishes the current shard and returns every shard written.
    @discardableResult
    public func close() throws(WebDatasetError) -> [String] {
        if !closed {
            closed = true
            try finishCurrent()
        }
        return shards
    }

    private func finishCurrent() throws(WebDatasetError) {
        guard let current = writer else { return }
        writer = nil
        try current.finish()
        if let path = current.path { shards.append(path) }
    }

    private func nextShard() throws(WebDatasetError) {
        try finishCurrent()
        let path = try ShardWriter.format(pattern, shardNumber)
        shardNumber += 1
        writer = try TarWriter(path: path, options: options.tar)
        count = 0
        size = 0
    }

    private func prepare(_ sample: Sample) throws(WebDatasetError) -> Sample {
        guard case .reencode(let quality) = options.images else { return sample }
        var out = sample
        for index in out.fields.indices {
            let field = out.fields[index].name
            let ext = field.split(separator: ".").last.map { $0.lowercased() } ?? ""
            guard ext == "jpg" || ext == "jpeg" || ext == "png" else { continue }
            let name = "\(sample.shard)#\(sample.key).\(field)"
            do throws(ImageError) {
                let image = try decodeImage(out.fields[index].bytes, name: name)
                out.fields[index].bytes = ext == "png" ? try encodePNG(image) : try encodeJPEG(image, quality: quality)
            } catch {
                throw WebDatasetError(.sample, shard: writer?.path ?? pattern, reason: "re-encoding \(name): \(error.description)")
            }
        }
        return out
    }
}
