// The memory the decoders may hold at once, shared by every decode that uses the same budget: each decode
// estimates its peak from the image header (its pixel buffers and the RGB result) and takes that many bytes
// before allocating anything, waiting while other decodes hold too much. One decode that needs more than the
// whole budget is refused at once (never a wait that cannot end).

import Foundation

/// A budget of bytes for pixel buffers, shared by concurrent decodes: a counting semaphore in bytes.
///
/// Give the same budget (in ``DecodeOptions/memoryBudget``) to every decode that runs at once; then the pixel
/// memory they hold together stays within ``bytes`` (plus the encoded inputs, and the libraries' small
/// per-decode state). ``shared`` is the process-wide default.
public final class DecodeMemoryBudget: @unchecked Sendable {
    /// The default size: 1 GiB.
    public static let defaultBytes = 1 << 30

    /// The process-wide budget of ``defaultBytes`` that ``DecodeOptions`` uses unless told otherwise.
    public static let shared = DecodeMemoryBudget(bytes: defaultBytes)

    /// The most bytes the decodes using this budget hold at once.
    public let bytes: Int

    private let condition = NSCondition()
    private var held = 0
    private var highest = 0

    /// A budget of `bytes` (at least 0).
    public init(bytes: Int) { self.bytes = max(0, bytes) }

    /// The most bytes held at once so far.
    public var peak: Int {
        condition.lock()
        defer { condition.unlock() }
        return highest
    }

    /// Takes `count` bytes, waiting until the others hold little enough; false at once when `count` is more than
    /// the whole budget.
    func acquire(_ count: Int) -> Bool {
        guard count <= bytes else { return false }
        condition.lock()
        defer { condition.unlock() }
        while held > bytes - count { condition.wait() }
        held += count
        highest = max(highest, held)
        return true
    }

    /// Gives back `count` bytes taken by ``acquire(_:)``.
    func release(_ count: Int) {
        guard count > 0 else { return }
        condition.lock()
        held -= count
        condition.broadcast()
        condition.unlock()
    }
}

/// The bytes one decode holds from its budget, given back when the decode ends.
final class MemoryReservation {
    let budget: DecodeMemoryBudget?
    /// Added to every estimate: the copy of the center-crop window made after a full decode.
    let extra: Int
    private(set) var held = 0

    init(budget: DecodeMemoryBudget?, extra: Int) {
        self.budget = budget
        self.extra = extra
    }

    /// Takes `bytes` + ``extra`` from the budget (once per decode); the total taken, or nil when it is more
    /// than the whole budget.
    func take(_ bytes: Int) -> Int? {
        let (total, overflow) = bytes.addingReportingOverflow(extra)
        let needed = overflow ? Int.max : total
        guard let budget else { return needed }
        precondition(held == 0, "one reservation per decode")
        guard budget.acquire(needed) else { return nil }
        held = needed
        return needed
    }

    func release() {
        budget?.release(held)
        held = 0
    }
}

/// `a * b * c` (sizes from a file header), or `Int.max` when it overflows: an estimate that can never fit.
func bytesFor(_ a: Int, _ b: Int, _ c: Int = 1) -> Int {
    let (ab, o1) = a.multipliedReportingOverflow(by: b)
    let (abc, o2) = ab.multipliedReportingOverflow(by: c)
    return o1 || o2 || a < 0 || b < 0 || c < 0 ? Int.max : abc
}

/// The sum of estimates, or `Int.max` when it overflows.
func bytesTotal(_ terms: Int...) -> Int {
    var total = 0
    for term in terms {
        let (sum, overflow) = total.addingReportingOverflow(term)
        if overflow { return Int.max }
        total = sum
    }
    return total
}
