import Heads

extension Detector {
    /// Runs the backbone once per unique image of `dataset` and every head on each embedding, then scores
    /// each pair × head. `progress(done)` is called after each image.
    public func evaluate(_ dataset: EvaluationDataset, settings: [String: String] = [:], versions: [String: String] = [:],
                         progress: (Int) -> Void = { _ in }) -> EvaluationReport {
        let scored = score(dataset.inputItems, progress: progress)
        return report(dataset, scored, settings: settings, versions: versions)
    }

    /// Every item through the backbone and every head, in input order: the items' paths, each head's
    /// outputs (nil where the item failed) and the failures by path.
    func score<S: Sequence>(_ items: S, progress: (Int) -> Void) -> ScoredItems where S.Element == InputItem {
        var scored = ScoredItems(outputs: heads.map { _ in [] })
        run(items) { result in
            scored.paths.append(result.path)
            switch result.outputs {
            case let .success(perHead):
                for h in perHead.indices { scored.outputs[h].append(perHead[h]) }
            case let .failure(failure):
                for h in scored.outputs.indices { scored.outputs[h].append(nil) }
                scored.errors[result.path] = failure.description
            }
            progress(scored.paths.count)
        }
        return scored
    }

    /// The report over `dataset` (whose `paths` are the scored items, in order).
    func report(_ dataset: EvaluationDataset, _ scored: ScoredItems, settings: [String: String],
                versions: [String: String]) -> EvaluationReport {
        let inputs = heads.indices.map { h in
            HeadEvaluationInput(name: heads[h].kind.rawValue, kind: heads[h].head.kind, outputs: scored.outputs[h])
        }
        return EvaluationReport(dataset: dataset, heads: inputs, imageErrors: scored.errors, settings: settings, versions: versions)
    }
}

/// What `Detector.score` returns.
struct ScoredItems {
    var paths: [String] = []
    var outputs: [[HeadOutput?]]
    var errors: [String: String] = [:]
}
