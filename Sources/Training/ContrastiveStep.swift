import Tensor
import ViT

/// One CoDE gradient computation (docs/upstream.md, Batch assembly and Loss terms): the two forwards, the loss, and one
/// backward through both, with the parameter gradients summed as PyTorch accumulates them over two
/// `model()` calls in one `loss.backward()`. No optimiser step.
///
/// Memory: by default both forwards keep their activations (`ViTActivations.byteCount`; ViT-Tiny: 24.4 MB
/// per image, 6.2 GB for 32 records = 256 images; 6.7 GB peak resident for the whole step). With
/// `microBatch` set, the embeddings come first from the inference forward (no cache); then chunks of at
/// most `microBatch` images are forwarded again with caching and back-propagated one at a time: one extra
/// forward per image (about +30% time), activations for one chunk only.
/// Both modes give the same loss and gradients up to float rounding of the gradient sums.
package struct ContrastiveStep: Sendable {
    package var loss: CoDELoss
    package var options: ComputeOptions
    /// Images per recomputed forward/backward chunk; nil keeps both whole forwards' activations.
    package var microBatch: Int?
    /// Buffers reused from step to step (activation caches, scratch); nil allocates afresh every step.
    /// Reuse saves the page faults of touching new memory (~40% of the training forward's time here); the
    /// workspace keeps the step's peak memory until it is released (`ViTWorkspace.clear()`).
    package var workspace: ViTWorkspace?

    /// `workspace` defaults to a new one owned by this step (and by its copies).
    package init(loss: CoDELoss = .init(), options: ComputeOptions = .init(), microBatch: Int? = nil,
                workspace: ViTWorkspace? = ViTWorkspace()) {
        precondition(microBatch.map { $0 > 0 } ?? true, "microBatch must be positive")
        self.loss = loss
        self.options = options
        self.microBatch = microBatch
        self.workspace = workspace
    }

    package struct Result: Sendable {
        /// Loss value, L_real, L_fake and d(loss)/d(embeddings).
        package var loss: CoDELoss.Result<Float>
        /// d(loss)/d(parameter) for every parameter (zeros for q/k/v biases the config does not have).
        package var gradients: ViTWeights
        /// The CLS embeddings [8, B, D] in `ViewGroup` order (augmented views unpermuted).
        package var embeddings: [Float]
    }

    /// `first` holds cat[real, fake, augmentedReal, augmentedFake] and `second` cat[globalReal, localReal,
    /// globalFake, localFake]: 4·records normalized CHW images each, every group in record order (the
    /// permutation is applied to the embeddings, not to these images).
    package func run(model: VisionTransformer, first: UnsafeBufferPointer<Float>, second: UnsafeBufferPointer<Float>,
                    records: Int, permutation: AugmentationPermutation) -> Result {
        let per = 4 * records * model.inputCount
        precondition(first.count == per && second.count == per, "each forward takes 4·\(records) images (\(per) floats)")
        let d = model.config.hiddenSize
        var gradients = ViTWeights.zeros(config: model.config)
        if let chunk = microBatch {
            let z1 = model.embed(pixels: first, batch: 4 * records, options: options).data
            let z2 = model.embed(pixels: second, batch: 4 * records, options: options).data
            let embeddings = z1 + z2
            let value = loss.evaluate(embeddings: embeddings, records: records, width: d, permutation: permutation)
            for (index, input) in [first, second].enumerated() {
                var start = 0
                while start < 4 * records {
                    let n = min(chunk, 4 * records - start)
                    let images = UnsafeBufferPointer(rebasing: input[(start * model.inputCount)..<((start + n) * model.inputCount)])
                    let pass = model.trainingForward(pixels: images, batch: n, options: options, workspace: workspace)
                    let offset = (index * 4 * records + start) * d
                    value.gradient[offset..<(offset + n * d)].withUnsafeBufferPointer {
                        model.backward(pass.activations, embeddingGradient: $0, into: &gradients, options: options, workspace: workspace)
                    }
                    start += n
                }
            }
            return Result(loss: value, gradients: gradients, embeddings: embeddings)
        }
        let pass1 = model.trainingForward(pixels: first, batch: 4 * records, options: options, workspace: workspace)
        var pass2: ViTTrainingPass? = model.trainingForward(pixels: second, batch: 4 * records, options: options, workspace: workspace)
        let embeddings = pass1.embedding.data + pass2!.embedding.data
        let value = loss.evaluate(embeddings: embeddings, records: records, width: d, permutation: permutation)
        let half = 4 * records * d
        value.gradient[half...].withUnsafeBufferPointer {
            model.backward(pass2!.activations, embeddingGradient: $0, into: &gradients, options: options, workspace: workspace)
        }
        pass2 = nil  // release the second cache (back to the workspace) before the first backward
        value.gradient[..<half].withUnsafeBufferPointer {
            model.backward(pass1.activations, embeddingGradient: $0, into: &gradients, options: options, workspace: workspace)
        }
        return Result(loss: value, gradients: gradients, embeddings: embeddings)
    }
}
