import Foundation

/// Whether `finalize()` was called; operations after it throw.
final class FinalizeState: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    /// Throws `.finalized` once `finalize(rank:)` has run.
    func check(_ operation: String, rank: Int) throws {
        if lock.withLock({ done }) { throw CollectiveError.finalized(operation: operation, rank: rank) }
    }

    /// Marks the end; a second call throws `.finalized`.
    func finalize(rank: Int) throws {
        let wasDone = lock.withLock { () -> Bool in defer { done = true }; return done }
        if wasDone { throw CollectiveError.finalized(operation: "finalize", rank: rank) }
    }
}

/// Throws unless `root` names a rank.
func checkRoot(_ root: Int, operation: String, rank: Int, size: Int) throws {
    guard (0..<size).contains(root) else {
        throw CollectiveError.invalidArgument(operation: operation, rank: rank, reason: "root \(root) is not a rank (0 ..< \(size))")
    }
}

/// Throws unless `element` is Float or Double, the types MPI reduces.
func checkScalar<Element: CollectiveScalar>(_ element: Element.Type, _ operation: String, rank: Int) throws {
    guard element == Float.self || element == Double.self else {
        throw CollectiveError.invalidArgument(operation: operation, rank: rank, reason: "element type \(element) is neither Float nor Double")
    }
}
