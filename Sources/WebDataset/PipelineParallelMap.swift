import Foundation

/// A transform (decode, augment …) applied to every element, on `threads` background threads, with
/// back-pressure: at most `maxInFlight` elements are taken from upstream and not yet handed to the
/// consumer (queued, being transformed, or transformed and waiting). Upstream is pulled on the consumer's
/// thread, inside `next()`; only the transform runs in the background.
///
/// * `ordered` (default): elements come out in upstream order, so the output is the same for every thread
///   count (and equals a serial map). Unordered hands out whatever finished first (lowest position among
///   the finished ones): faster when transform times vary, not reproducible.
/// * `threads == 0`: the transform runs inline on the consumer's thread (a plain serial map).
/// * Transform errors: `ErrorPolicy.stop` throws the error at its position in the stream (earlier elements
///   are delivered first) and counts it in `samplesFailed`; `.skip` counts it in `samplesSkipped`, keeps
///   the message and goes on. A `compactMap` transform returning nil drops the element (`samplesFiltered`).
///   An upstream error is thrown after the elements taken before it have been delivered.
/// * Threads start at the first `next()`, and stop (after finishing the transform they are running) when
///   the stream ends, when it throws, on `cancel()`, or when the iterator is released: a consumer that
///   stops early only has to drop the iterator. `PipelineDiagnostics.liveMapThreads` counts them.
public struct ParallelMap<Upstream: PipelineSequence, Output: Sendable>: PipelineSequence
where Upstream.Element: Sendable {
    public let upstream: Upstream
    public let threads: Int
    public let maxInFlight: Int
    public let ordered: Bool
    public let policy: ErrorPolicy
    public let report: PipelineReport?
    public let transform: @Sendable (Upstream.Element) throws -> Output?

    public init(_ upstream: Upstream, threads: Int, maxInFlight: Int? = nil, ordered: Bool = true,
                onError policy: ErrorPolicy = .stop, report: PipelineReport? = nil,
                transform: @escaping @Sendable (Upstream.Element) throws -> Output?) {
        precondition(threads >= 0, "threads must not be negative")
        precondition(maxInFlight.map { $0 >= 1 } ?? true, "maxInFlight must be at least 1")
        precondition(policy == .stop || report != nil, "ErrorPolicy.skip needs a PipelineReport to count skips in")
        self.upstream = upstream
        self.threads = threads
        self.maxInFlight = maxInFlight ?? max(1, 4 * threads)
        self.ordered = ordered
        self.policy = policy
        self.report = report
        self.transform = transform
    }

    public func makeIterator() -> Iterator { Iterator(core: ParallelMapCore(stage: self)) }

    public struct Iterator: PipelineIterator {
        let core: ParallelMapCore<Upstream, Output>
        public mutating func next() throws -> Output? { try core.next() }
        /// Stops the background threads now; later `next()` calls return nil.
        public mutating func cancel() { core.cancel() }
    }
}

extension PipelineSequence where Element: Sendable {
    /// `transform` on `threads` background threads (0: inline), at most `inFlight` elements in flight
    /// (default 4 × threads), in upstream order unless `ordered` is false. See `ParallelMap`.
    public func map<T: Sendable>(threads: Int = 0, inFlight: Int? = nil, ordered: Bool = true,
                                 onError policy: ErrorPolicy = .stop, report: PipelineReport? = nil,
                                 _ transform: @escaping @Sendable (Element) throws -> T) -> ParallelMap<Self, T> {
        ParallelMap(self, threads: threads, maxInFlight: inFlight, ordered: ordered, onError: policy, report: report,
                    transform: { x -> T? in try transform(x) })
    }

    /// As `map`, dropping the elements for which `transform` returns nil (webdataset's `select` + `map`).
    public func compactMap<T: Sendable>(threads: Int = 0, inFlight: Int? = nil, ordered: Bool = true,
                                        onError policy: ErrorPolicy = .stop, report: PipelineReport? = nil,
                                        _ transform: @escaping @Sendable (Element) throws -> T?) -> ParallelMap<Self, T> {
        ParallelMap(self, threads: threads, maxInFlight: inFlight, ordered: ordered, onError: policy, report: report,
                    transform: transform)
    }
}

/// Process-wide counters for tests and diagnostics.
public enum PipelineDiagnostics {
    /// Background map threads started and not yet exited, over all pipelines of the process.
    public static var liveMapThreads: Int { liveMapThreadCounter.value }
}

final class LockedCounter: @unchecked Sendable {
    // @unchecked Sendable: `count` is only touched while holding `lock`.
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
    func add(_ d: Int) { lock.lock(); count += d; lock.unlock() }
}

let liveMapThreadCounter = LockedCounter()

/// The consumer-side state of one `ParallelMap` iterator (owned by the consumer's thread, never shared).
final class ParallelMapCore<Upstream: PipelineSequence, Output: Sendable> where Upstream.Element: Sendable {
    typealias Input = Upstream.Element
    private var upstream: Upstream.Iterator
    private let threads: Int
    private let maxInFlight: Int
    private let ordered: Bool
    private let policy: ErrorPolicy
    private let report: PipelineReport?
    private let transform: @Sendable (Input) throws -> Output?
    private var work: MapWork<Input, Output>?
    private var submitted = 0
    private var delivered = 0
    private var upstreamDone = false
    private var upstreamError: (any Error)?
    private var finished = false

    init(stage: ParallelMap<Upstream, Output>) {
        upstream = stage.upstream.makeIterator()
        threads = stage.threads; maxInFlight = stage.maxInFlight; ordered = stage.ordered
        policy = stage.policy; report = stage.report; transform = stage.transform
    }

    deinit { work?.stop() }

    func cancel() {
        finished = true
        work?.stop()
        work = nil
    }

    func next() throws -> Output? {
        guard !finished else { return nil }
        if threads == 0 { return try nextInline() }
        while true {
            fill()
            if delivered == submitted {  // nothing in flight and upstream exhausted
                cancel()
                if let e = upstreamError { upstreamError = nil; throw e }
                return nil
            }
            let result = work!.take(ordered ? delivered : nil)
            delivered += 1
            if let out = try handle(result) { return out }
        }
    }

    private func nextInline() throws -> Output? {
        while true {
            let x: Input?
            do { x = try upstream.next() } catch { finished = true; throw error }
            guard let x else { finished = true; return nil }
            if let out = try handle(Result { try transform(x) }) { return out }
        }
    }

    /// Takes elements from upstream until `maxInFlight` are in flight or upstream is exhausted.
    private func fill() {
        while !upstreamDone && submitted - delivered < maxInFlight {
            do {
                guard let x = try upstream.next() else { upstreamDone = true; break }
                if work == nil { work = MapWork(threads: min(threads, maxInFlight), transform: transform) }
                work!.submit(submitted, x)
                submitted += 1
            } catch {
                upstreamDone = true
                upstreamError = error
            }
        }
    }

    /// The element to return, or nil to go on with the next one; throws under `.stop`.
    private func handle(_ result: Result<Output?, any Error>) throws -> Output? {
        switch result {
        case .success(let value?):
            return value
        case .success(nil):
            report?.update { $0.samplesFiltered += 1 }
            return nil
        case .failure(let error):
            if policy == .stop {
                report?.recordError("transform: \(error)") { $0.samplesFailed += 1 }
                cancel()
                throw error
            }
            report?.recordError("transform (skipped): \(error)") { $0.samplesSkipped += 1 }
            return nil
        }
    }
}

/// The part of a parallel map its worker threads share with the consumer.
final class MapWork<Input: Sendable, Output: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `jobs`, `jobHead`, `results` and `stopping` are only read or written while
    // `condition` is locked; `transform` is @Sendable and immutable.
    private let condition = NSCondition()
    private let transform: @Sendable (Input) throws -> Output?
    private var jobs: [(position: Int, input: Input)] = []
    private var jobHead = 0
    private var results: [Int: Result<Output?, any Error>] = [:]
    private var stopping = false

    init(threads: Int, transform: @escaping @Sendable (Input) throws -> Output?) {
        self.transform = transform
        for _ in 0..<threads {
            liveMapThreadCounter.add(1)  // before start, so the counter never reads 0 while one is starting
            let thread = Thread { [self] in
                self.run()
                liveMapThreadCounter.add(-1)
            }
            thread.name = "webdataset.map"
            thread.start()
        }
    }

    func submit(_ position: Int, _ input: Input) {
        condition.lock()
        jobs.append((position, input))
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the result at `position`, or (nil) for the finished result at the lowest position.
    func take(_ position: Int?) -> Result<Output?, any Error> {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let position {
                if let r = results.removeValue(forKey: position) { return r }
            } else if let first = results.keys.min() {
                return results.removeValue(forKey: first)!
            }
            condition.wait()
        }
    }

    /// Asks the threads to exit once their current transform is done; drops queued work.
    func stop() {
        condition.lock()
        stopping = true
        jobs.removeAll()
        jobHead = 0
        results.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            while jobHead == jobs.count && !stopping { condition.wait() }
            if stopping { break }
            let job = jobs[jobHead]
            jobHead += 1
            if jobHead >= 64 && 2 * jobHead >= jobs.count {
                jobs.removeFirst(jobHead)
                jobHead = 0
            }
            condition.unlock()
            let result = Result { try transform(job.input) }
            condition.lock()
            if !stopping { results[job.position] = result }
            condition.broadcast()
        }
        condition.unlock()
    }
}
