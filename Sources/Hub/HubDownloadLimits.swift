import Foundation

/// Bounds on what one file may cost, whatever the server says. The defaults suit the Hugging Face Hub on any link
/// faster than `minimumRate`; tests shrink them.
///
/// - A file's time budget covers its metadata request, its download, every retry and their pauses. It starts
///   at `deadlineFloor` and, once the size is known, becomes `deadline(forSize:)`. Past it the download stops with
///   `HubError.deadlineExceeded`; what arrived is kept and the next run resumes it.
/// - `.json` files (config.json, preprocessor_config.json, ...) are small metadata: one announced larger than
///   `jsonFileLimit` is refused before any byte is downloaded (`HubError.fileTooLarge`).
/// - Each request follows at most `maxRedirects` redirects (`HubError.tooManyRedirects`).
public struct HubDownloadLimits: Sendable, Equatable {
    /// The default `jsonFileLimit`: 16 MiB, far above any model configuration.
    public static let defaultJSONFileLimit: Int64 = 16 << 20

    /// The largest `.json` file accepted, in bytes.
    public var jsonFileLimit: Int64
    /// The least time one file gets, in seconds (default 600: ten minutes).
    public var deadlineFloor: TimeInterval
    /// The slowest average rate, in bytes per second, a download may keep once its budget exceeds the floor
    /// (default 100 000: 100 kB/s).
    public var minimumRate: Double
    /// Redirects followed per request (default 10).
    public var maxRedirects: Int

    /// Limits with the given values; negative ones count as 0, and a rate that is not positive and finite as the
    /// default.
    public init(
        jsonFileLimit: Int64 = defaultJSONFileLimit, deadlineFloor: TimeInterval = 600, minimumRate: Double = 100_000,
        maxRedirects: Int = 10
    ) {
        self.jsonFileLimit = max(0, jsonFileLimit)
        self.deadlineFloor = deadlineFloor.isNaN ? 0 : max(0, deadlineFloor)
        self.minimumRate = minimumRate > 0 && minimumRate.isFinite ? minimumRate : 100_000
        self.maxRedirects = max(0, maxRedirects)
    }

    /// Seconds one file of `size` bytes may take: `max(deadlineFloor, size / minimumRate)`.
    public func deadline(forSize size: Int64) -> TimeInterval {
        max(deadlineFloor, Double(max(0, size)) / minimumRate)
    }

    /// Whether `path` (a file in a repository) is capped by `jsonFileLimit`.
    func isCapped(_ path: String) -> Bool {
        path.lowercased().hasSuffix(".json")
    }
}
