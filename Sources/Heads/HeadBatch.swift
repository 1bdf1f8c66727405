import Tensor

extension Head {
    /// The head's verdicts on a batch of embeddings, spread over `threads` cores.
    public func predict(batch: [[Float]], threads: Int) -> [HeadOutput] {
        var out = [HeadOutput](repeating: HeadOutput(isFake: false, score: 0, decision: nil), count: batch.count)
        out.withUnsafeMutableBufferPointer { buffer in
            let buffer = UncheckedSendable(buffer)
            parallelFor(batch.count, threads: threads) { i in buffer.value[i] = predict(batch[i]) }
        }
        return out
    }
}
