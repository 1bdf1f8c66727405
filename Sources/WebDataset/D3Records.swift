import Foundation

/// One record of the D3 download layout (docs/upstream.md, Download layout): `{id}_gen{0..3}.{ext}`, `{id}_real.{ext}`,
/// `{id}_prompt.txt`, `{id}_url.txt`, found at any folder depth.
public struct D3RecordFiles: Sendable, Equatable {
    public var id: String
    public var generated: [Int: String] = [:]
    public var real: String?
    public var prompt: String?
    public var url: String?

    /// The parts a complete record lacks (empty when complete).
    public var missing: [String] {
        var out: [String] = []
        for k in 0..<4 where generated[k] == nil { out.append("gen\(k)") }
        if real == nil { out.append("real") }
        if prompt == nil { out.append("prompt.txt") }
        if url == nil { out.append("url.txt") }
        return out
    }
}

/// Scans `root` recursively for D3 record files, grouped by id, sorted by id.
public func scanD3Records(root: String) throws -> [D3RecordFiles] {
    let fm = FileManager.default
    guard let walker = fm.enumerator(atPath: root) else {
        throw WebDatasetError(shard: root, reason: "cannot read the folder")
    }
    var records: [String: D3RecordFiles] = [:]
    while let relative = walker.nextObject() as? String {
        let name = (relative as NSString).lastPathComponent
        guard !name.hasPrefix("."), let underscore = name.lastIndex(of: "_") else { continue }
        let id = String(name[..<underscore])
        let rest = name[name.index(after: underscore)...]
        let path = root + "/" + relative
        var record = records[id] ?? D3RecordFiles(id: id)
        if rest.hasPrefix("gen"), let dot = rest.firstIndex(of: "."), let k = Int(rest[rest.index(rest.startIndex, offsetBy: 3)..<dot]), (0..<4).contains(k) {
            record.generated[k] = path
        } else if rest.hasPrefix("real.") {
            record.real = path
        } else if rest == "prompt.txt" {
            record.prompt = path
        } else if rest == "url.txt" {
            record.url = path
        } else {
            continue
        }
        records[id] = record
    }
    return records.values.sorted { $0.id < $1.id }
}

extension D3RecordFiles {
    /// The WebDataset sample upstream's wds_creation writes for this record (key `{prefix}__{split}__{id}`,
    /// fields `caption.txt`, `gen_0.{ext}` … `gen_3.{ext}`, `real.{ext}`, `url.txt`), with the image bytes as
    /// they are on disk (no re-encoding). Throws for an incomplete record or an unreadable file.
    public func sample(prefix: String = "elsa_v2", split: String) throws -> Sample {
        let lacking = missing
        guard lacking.isEmpty else { throw WebDatasetError(shard: id, reason: "incomplete record: missing " + lacking.joined(separator: ", ")) }
        func read(_ path: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: path) else { throw WebDatasetError(shard: path, reason: "cannot read the file") }
            return [UInt8](data)
        }
        func ext(_ path: String) -> String { (path as NSString).pathExtension.lowercased() }
        var fields: [(name: String, bytes: [UInt8])] = [("caption.txt", try read(prompt!))]
        for k in 0..<4 { fields.append(("gen_\(k).\(ext(generated[k]!))", try read(generated[k]!))) }
        fields.append(("real.\(ext(real!))", try read(real!)))
        fields.append(("url.txt", try read(url!)))
        return Sample(key: "\(prefix)__\(split)__\(id)", shard: "", fields: fields)
    }
}
