import Heads

extension Detector {
    /// Runs the backbone once per unique image of `dataset` and every head on each embedding, then scores
    /// each pair × head. `progress(done)` is called after each image.
    public func evaluate(_ dataset: EvaluationDataset, settings: [String: String] = [:], versions: [String: String] = [:],
                         progress: (Int) -> Void = { _ in }) -> EvaluationReport {
        var outputs = [[HeadOutput?]](repeating: [HeadOutput?](repeating: nil, count: dataset.paths.count), count: heads.count)
        var errors: [String: String] = [:]
        var index = 0
        run(dataset.inputItems) { result in
            switch result.outputs {
            case let .success(perHead):
                for h in perHead.indices { outputs[h][index] = perHead[h] }
            case let .failure(failure):
                errors[result.path] = failure.description
            }
            index += 1
            progress(index)
        }
        let inputs = heads.indices.map { h in
            HeadEvaluationInput(name: heads[h].kind.rawValue, kind: heads[h].head.kind, outputs: outputs[h])
        }
        return EvaluationReport(dataset: dataset, heads: inputs, imageErrors: errors, settings: settings, versions: versions)
    }
}
