import D3
import Heads

extension InputItem {
    /// The D3 role of a shard member's image field (`real.EXT`, `gen_K.EXT`); nil for a file, an unreadable shard
    /// or any other field.
    var d3Role: D3Role? {
        guard case let .shardMember(_, _, field) = origin else { return nil }
        return D3Role(fieldName: field)
    }
}

extension Detector {
    /// Evaluates D3 records stored as WebDataset shards (`deepfake shards create`'s layout: `real.EXT` and
    /// `gen_0.EXT` … `gen_3.EXT` per record): every record's real image against each generator's images, one
    /// pair per generator keyed as upstream keys a D3 subset (`D3Layout.key(subset:generator:)`, e.g.
    /// `no_augm_gen0_and_real`, `no_augm_gen_1`). The shards are read once, as a stream: memory holds the
    /// item names and head outputs, never the images. Image fields with other names are reported in the
    /// warnings and left out; an unreadable shard or image is an error of the report, as with folders.
    public func evaluateShards(_ specs: [String], subset: String = "shards", settings: [String: String] = [:],
                               versions: [String: String] = [:], progress: (Int) -> Void = { _ in }) -> EvaluationReport {
        var otherFields = 0, otherExample = ""
        var rolesByPath: [String: D3Role] = [:]
        let items = inputStream(specs).lazy.filter { item in
            guard let role = item.d3Role else {
                if item.error != nil { return true }  // kept for its error report
                otherFields += 1
                if otherExample.isEmpty { otherExample = item.path }
                return false
            }
            rolesByPath[item.path] = role
            return true
        }
        let scored = score(items, progress: progress)
        let roles = scored.paths.map { rolesByPath[$0] }
        let reals = roles.indices.filter { roles[$0] == .real }
        var generators: [Int: [Int]] = [:]
        for (i, role) in roles.enumerated() { if case let .fake(k)? = role { generators[k, default: []].append(i) } }
        let source = specs.joined(separator: " ")
        let pairs = generators.keys.sorted().map { k in
            EvaluationDataset.Pair(key: D3Layout.key(subset: subset, generator: k), realFolder: source + " real",
                                   fakeFolder: source + " gen_\(k)", realIndices: reals, fakeIndices: generators[k]!)
        }
        var warnings: [String] = []
        if otherFields > 0 {
            warnings.append("\(otherFields) image fields are neither real nor gen_K and were left out (e.g. \(otherExample))")
        }
        if reals.isEmpty { warnings.append("\(source): no real images found") }
        if pairs.isEmpty { warnings.append("\(source): no gen_K images found") }
        return report(EvaluationDataset(pairs: pairs, paths: scored.paths, warnings: warnings), scored,
                      settings: settings, versions: versions)
    }
}
