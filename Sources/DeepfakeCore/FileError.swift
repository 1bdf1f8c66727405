/// A file that could not be read, written or moved: the path and what went wrong (the system's words where it
/// gave some). Modules turn it into their own error types, keeping `reason` as it is.
package struct FileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file concerned.
    package var path: String
    /// What went wrong, e.g. `cannot create: Permission denied`.
    package var reason: String
    /// The system's error number, when a system call failed.
    package var errorNumber: Int32?

    /// An error about `path`.
    package init(path: String, reason: String, errorNumber: Int32? = nil) {
        self.path = path
        self.reason = reason
        self.errorNumber = errorNumber
    }

    package var description: String { "\(path): \(reason)" }
}
