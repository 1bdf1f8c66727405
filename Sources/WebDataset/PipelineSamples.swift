/// The samples of a stream of shards, read through a `SampleSource` shard after shard (webdataset's
/// `tarfile_to_samples`). A shard whose source ends with `.failure`:
///   * `ErrorPolicy.stop`: counted (`shardsFailed`) and thrown (`WebDatasetError`, naming the shard);
///   * `ErrorPolicy.skip`: counted, its message kept, and reading goes on with the next shard. The samples
///     it yielded before the error have been delivered. More than `maxConsecutiveFailures` failed shards
///     in a row without a sample in between throws the last error anyway (a resampled, endless stream of
///     unreadable shards would otherwise spin forever).
/// With a `sampleLimit` (from `ShardSplit`, `.truncate` / `.pad`) the pass ends after that many samples.
public struct SampleReader<Shards: PipelineSequence>: PipelineSequence where Shards.Element == String {
    public let shards: Shards
    public let source: any SampleSource
    public let policy: ErrorPolicy
    public let report: PipelineReport
    public let sampleLimit: Int?
    public let maxConsecutiveFailures: Int

    public init(shards: Shards, source: any SampleSource, report: PipelineReport, onError policy: ErrorPolicy = .stop,
                sampleLimit: Int? = nil, maxConsecutiveFailures: Int = 100) {
        self.shards = shards; self.source = source; self.policy = policy; self.report = report
        self.sampleLimit = sampleLimit; self.maxConsecutiveFailures = max(1, maxConsecutiveFailures)
    }

    public func makeIterator() -> Iterator { Iterator(reader: self, shardIterator: shards.makeIterator()) }

    public struct Iterator: PipelineIterator {
        let reader: SampleReader
        var shardIterator: Shards.Iterator
        var current: AnyIterator<Result<Sample, WebDatasetError>>?
        var delivered = 0
        var consecutiveFailures = 0
        var finished = false

        public mutating func next() throws -> Sample? {
            guard !finished else { return nil }
            if let limit = reader.sampleLimit, delivered >= limit { return finish() }
            while true {
                if current == nil {
                    let shard: String?
                    do { shard = try shardIterator.next() } catch { finished = true; throw error }
                    guard let shard else { return finish() }
                    reader.report.update { $0.shardsOpened += 1 }
                    current = reader.source.samples(of: shard)
                }
                switch current!.next() {
                case nil:
                    current = nil
                    reader.report.update { $0.shardsCompleted += 1 }
                case .success(let sample):
                    delivered += 1
                    consecutiveFailures = 0
                    reader.report.update { $0.samplesRead += 1 }
                    return sample
                case .failure(let error):
                    current = nil
                    consecutiveFailures += 1
                    reader.report.recordError(error.description) { $0.shardsFailed += 1 }
                    if reader.policy == .stop || consecutiveFailures >= reader.maxConsecutiveFailures {
                        finished = true
                        throw error
                    }
                }
            }
        }

        private mutating func finish() -> Sample? {
            finished = true
            current = nil
            return nil
        }
    }
}

extension PipelineSequence where Element == String {
    /// The samples of these shards, read through `source` (see `SampleReader`).
    public func samples(from source: any SampleSource, report: PipelineReport,
                        onError policy: ErrorPolicy = .stop) -> SampleReader<Self> {
        SampleReader(shards: self, source: source, report: report, onError: policy)
    }
}

extension ShardSplit {
    /// The samples of this slot's shards, read through `source`; stops at `sampleLimit` when it is set
    /// (`.truncate` / `.pad`).
    public func samples(from source: any SampleSource, report: PipelineReport,
                        onError policy: ErrorPolicy = .stop) -> SampleReader<ShardSplit> {
        SampleReader(shards: self, source: source, report: report, onError: policy, sampleLimit: sampleLimit)
    }
}
