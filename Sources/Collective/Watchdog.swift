import Foundation

/// A deadline around blocking operations: `guarding` runs an operation, and if it has not returned within
/// `timeout`, a thread of the watchdog calls `expire` with a message naming the operation (`expire` ends the
/// job: a rank stuck in a collective cannot be woken up otherwise).
final class Watchdog: @unchecked Sendable {
    let timeout: Duration
    private let expire: @Sendable (String) -> Void
    private let condition = NSCondition()
    /// The guarded operation and when it must end, nil between operations.
    private var current: (operation: String, deadline: Date)?

    init(timeout: Duration, expire: @escaping @Sendable (String) -> Void) {
        self.timeout = timeout
        self.expire = expire
        let thread = Thread { self.watch() }  // the watchdog lives as long as the process
        thread.name = "collective watchdog"
        thread.start()
    }

    /// Runs `body` under the deadline; `operation` names it in the message.
    func guarding<R>(_ operation: String, _ body: () throws -> R) rethrows -> R {
        let (seconds, attoseconds) = timeout.components
        let deadline = Date(timeIntervalSinceNow: Double(seconds) + Double(attoseconds) * 1e-18)
        condition.withLock {
            current = (operation, deadline)
            condition.signal()
        }
        defer { condition.withLock { current = nil } }
        return try body()
    }

    private func watch() {
        condition.lock()
        while true {
            guard let (operation, deadline) = current else {
                condition.wait()
                continue
            }
            if condition.wait(until: deadline) { continue }
            // Timed out: fire only if the same operation is still running past its deadline.
            guard let still = current, still.operation == operation, still.deadline == deadline, Date() >= deadline else { continue }
            condition.unlock()
            expire(operation)
            return
        }
    }
}
