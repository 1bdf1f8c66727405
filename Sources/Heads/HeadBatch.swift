import Tensor

extension Head {
    /// The head's verdicts on a batch of embeddings, spread over `threads` cores (k-NN through one matrix
    /// product for the whole batch; the others image by image). Equal to calling `predict` on each.
    public func predict(batch: [[Float]], threads: Int) -> [HeadOutput] {
        if case let .knn(knn) = self { return knn.predict(batch: batch, threads: threads) }
        var out = [HeadOutput](repeating: HeadOutput(isFake: false, score: 0, decision: nil), count: batch.count)
        out.withUnsafeMutableBufferPointer { buffer in
            let buffer = UncheckedSendable(buffer)
            parallelFor(batch.count, threads: threads) { i in buffer.value[i] = predict(batch[i]) }
        }
        return out
    }
}
