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
