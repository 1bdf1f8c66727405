import Heads

/// What a D3 shard member is in an evaluation: the record's real image, a generator's image, or neither.
enum ShardEvaluationRole: Equatable {
    case real
    case generated(Int)
    /// An unreadable shard or an image field that is neither `real` nor `gen_K`: kept for its error report.
    case other

    /// From an item name `SHARD#KEY.FIELD` (`inputStream`'s naming), e.g. `…#0001.gen_2.png` → generated(2).
    /// As webdataset splits a member name: the field starts after the first dot of the name's last path
    /// component; its own first component (`gen_2` of `gen_2.png`) names it.
    init(itemPath: String) {
        guard let hash = itemPath.lastIndex(of: "#") else { self = .other; return }
        let member = itemPath[itemPath.index(after: hash)...]
        let base = member.split(separator: "/", omittingEmptySubsequences: false).last ?? member
        let parts = base.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { self = .other; return }
        let field = parts[1].lowercased()
        if field == "real" { self = .real }
        else if field.hasPrefix("gen_"), let k = Int(field.dropFirst(4)), k >= 0 { self = .generated(k) }
        else { self = .other }
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
        let items = inputStream(specs).lazy.filter { item in
            let role = ShardEvaluationRole(itemPath: item.path)
            if role == .other && item.error == nil {
                otherFields += 1
                if otherExample.isEmpty { otherExample = item.path }
                return false
            }
            return true
        }
        let scored = score(items, progress: progress)
        let roles = scored.paths.map(ShardEvaluationRole.init(itemPath:))
        let reals = roles.indices.filter { roles[$0] == .real }
        var generators: [Int: [Int]] = [:]
        for (i, role) in roles.enumerated() { if case let .generated(k) = role { generators[k, default: []].append(i) } }
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
