import DeepfakeCore

extension EmbeddingResult {
    /// `{"path": ..., "embedding": [...]}` or `{"path": ..., "error": "..."}`.
    public var jsonLine: String {
        switch embedding {
        case let .success(values): return "{\"path\": \(JSONText.string(path)), \"embedding\": \(JSONText.array(values))}"
        case let .failure(failure): return "{\"path\": \(JSONText.string(path)), \"error\": \(JSONText.string(failure.description))}"
        }
    }
}
