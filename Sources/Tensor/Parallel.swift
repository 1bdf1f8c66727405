import CKernels
import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many cores compute kernels may use. Thread counts are configuration, never global state.
public struct ComputeOptions: Sendable, Equatable {
    /// Worker threads for the model's kernels (≥ 1).
    public var threads: Int

    /// `threads` defaults to the number of online cores.
    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? ComputeOptions.onlineCores)
    }

    /// Cores the operating system reports online.
    public static var onlineCores: Int {
        #if canImport(Glibc) || canImport(Darwin)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }
}

/// Runs `body(i)` for every `i` in `0..<count`, spread over at most `threads` workers.
/// With one thread or one item it runs inline on the caller's thread.
@inlinable
public func parallelFor(_ count: Int, threads: Int, _ body: (Int) -> Void) {
    if count <= 0 { return }
    if threads <= 1 || count == 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let shared = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { shared.value($0) }
    }
}

/// Splits `0..<total` into `parts` contiguous, nearly equal ranges (the first ones one longer).
@inlinable
public func chunkRange(_ index: Int, of parts: Int, total: Int) -> Range<Int> {
    let base = total / parts, extra = total % parts
    let start = index * base + min(index, extra)
    return start..<(start + base + (index < extra ? 1 : 0))
}

/// Carries a value the caller guarantees is used safely across threads (disjoint writes per index).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}

/// A team of threads that run one body together, rank by rank, and can meet at barriers: the caller is
/// rank 0 and the other ranks are dedicated threads, so all ranks are live at once. Use it for work split
/// into a few long-lived parts that must synchronise (a transformer layer by layer); `parallelFor` is for
/// independent items.
public struct WorkerTeam: @unchecked Sendable {
    @usableFromInline let handle: OpaquePointer

    /// The process-wide team of `size` ranks (made on first use, kept for the life of the process).
    public static func shared(size: Int) -> WorkerTeam { WorkerTeam(handle: dfk_team_shared(Int32(max(1, size)))) }

    /// Ranks in the team (fewer than asked only if the system refused threads).
    public var size: Int { Int(dfk_team_size(handle)) }

    /// Runs `body(rank)` on every rank; returns when all are done. Runs on one team are serialised.
    /// `body` must not start another run on the same team.
    public func run(_ body: (_ rank: Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            var box = body
            withUnsafeMutablePointer(to: &box) { pointer in
                dfk_team_run(handle, { context, rank in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(rank))
                }, pointer)
            }
        }
    }

    /// Inside `run`: waits until every rank has called `barrier` as many times.
    @inlinable
    public func barrier() { dfk_team_barrier(handle) }
}

/// Runs `body` with a borrowed buffer of at least `count` floats (contents undefined) from a process-wide
/// pool, so hot paths reuse their workspace across calls instead of allocating it each time.
public func withScratch<R>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    guard let buffer = dfk_scratch_acquire(count) else { fatalError("out of memory: \(count) floats of scratch") }
    defer { dfk_scratch_release(buffer) }
    return try body(buffer)
}
