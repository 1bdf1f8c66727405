// The D3 record as this project stores it (docs/upstream.md, Download layout): one WebDataset sample per record,
// keyed `{prefix}__{split}__{id}`, with the fields `caption.txt`, `gen_0.EXT` … `gen_3.EXT`, `real.EXT`, `url.txt`
// (upstream's shards may also hold `json`). Shard creation writes these names, evaluation and training read them
// through `D3Field`.

import Imaging
import WebDataset

/// What a field of a D3 sample holds, from its name: the first component (`gen_2` of `gen_2.png`), compared
/// without regard to case, as webdataset splits member names.
package enum D3Field: Sendable, Equatable {
    /// The record's real image (`real.EXT`).
    case real
    /// Generator `K`'s image (`gen_K.EXT`).
    case generated(Int)
    /// The prompt (`caption.txt`).
    case caption
    /// Where the real image came from (`url.txt`).
    case url
    /// Upstream's metadata (`json`).
    case json
    /// Any other name.
    case other

    /// Generated images per record in the D3 download (`gen_0` … `gen_3`).
    package static let generatorCount = 4
    /// The sample-key prefix D3's shards use (`elsa_v2-0000.tar`, keys `elsa_v2__train__…`).
    package static let defaultPrefix = "elsa_v2"

    /// The field a member name (`gen_2.png`, `caption.txt`, `json`) stands for.
    package init(fieldName: String) {
        let parts = fieldName.split(separator: ".", omittingEmptySubsequences: false)
        let first = parts[0].lowercased()
        if first == "real" { self = .real }
        else if first.hasPrefix("gen_"), let k = Int(first.dropFirst(4)), k >= 0 { self = .generated(k) }
        else if first == "caption" { self = .caption }
        else if first == "url" { self = .url }
        else if first == "json" { self = .json }
        else { self = .other }
    }

    /// Whether the field is an image (real or generated): a name with an extension after `real` or `gen_K`.
    package static func isImage(fieldName: String) -> Bool {
        guard fieldName.contains(".") else { return false }
        switch D3Field(fieldName: fieldName) {
        case .real, .generated: return true
        default: return false
        }
    }

    /// The name this project writes for the field, with `ext` for images (`gen_2.png`, `real.jpg`, `caption.txt`).
    package func name(extension ext: String = "") -> String {
        switch self {
        case .real: return "real." + ext
        case let .generated(k): return "gen_\(k)." + ext
        case .caption: return "caption.txt"
        case .url: return "url.txt"
        case .json: return "json"
        case .other: return ext
        }
    }

    /// The sample key of record `id` of `split`: `{prefix}__{split}__{id}`.
    package static func sampleKey(prefix: String = defaultPrefix, split: String, id: String) -> String {
        "\(prefix)__\(split)__\(id)"
    }
}

/// What an image is in an evaluation of D3 records: the record's real image, or generator `K`'s.
package enum D3Role: Sendable, Equatable {
    case real
    case fake(generator: Int)

    /// The role of an image field (`real.EXT`, `gen_K.EXT`); nil for any other field.
    package init?(fieldName: String) {
        guard D3Field.isImage(fieldName: fieldName) else { return nil }
        switch D3Field(fieldName: fieldName) {
        case .real: self = .real
        case let .generated(k): self = .fake(generator: k)
        default: return nil
        }
    }
}

/// One D3 record decoded: the real image and its generated ones (gen_0, gen_1, ... in order).
package struct DecodedRecord: Sendable {
    package var key: String
    package var real: RGBImage
    package var fakes: [RGBImage]
}

/// Why a D3 sample cannot be used for training.
package enum D3RecordError: Error, CustomStringConvertible, Sendable {
    /// The sample has no `real.*` image.
    case noReal(shard: String, key: String)
    /// The sample has no `gen_0.*` image.
    case noGenerated(shard: String, key: String)
    /// An image did not decode.
    case undecodable(ImageError)

    package var description: String {
        switch self {
        case let .noReal(shard, key): return "\(shard)#\(key): no real.* field"
        case let .noGenerated(shard, key): return "\(shard)#\(key): no gen_0.* field"
        case let .undecodable(error): return "\(error)"
        }
    }
}

/// Decodes a D3 sample (`real.*`, `gen_0.*` … `gen_K.*`, generators counted from 0 while they follow on); a
/// failure names the sample and what is missing or broken.
package func decodeRecord(_ sample: Sample) -> Result<DecodedRecord, D3RecordError> {
    func field(_ wanted: D3Field) -> (name: String, bytes: [UInt8])? {
        sample.fields.first { $0.name.contains(".") && D3Field(fieldName: $0.name) == wanted }
    }
    guard let real = field(.real) else { return .failure(.noReal(shard: sample.shard, key: sample.key)) }
    var fakes: [(name: String, bytes: [UInt8])] = []
    while let f = field(.generated(fakes.count)) { fakes.append(f) }
    if fakes.isEmpty { return .failure(.noGenerated(shard: sample.shard, key: sample.key)) }
    do throws(ImageError) {
        func decode(_ f: (name: String, bytes: [UInt8])) throws(ImageError) -> RGBImage {
            try decodeImage(f.bytes, name: "\(sample.shard)#\(sample.key).\(f.name)")
        }
        let realImage = try decode(real)
        var images: [RGBImage] = []
        for f in fakes { images.append(try decode(f)) }
        return .success(DecodedRecord(key: sample.key, real: realImage, fakes: images))
    } catch {
        return .failure(.undecodable(error))
    }
}
