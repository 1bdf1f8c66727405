import ArgumentParser
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func printError(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}

/// Draws a download progress line on stderr (only on a terminal) from the Hub client's callbacks.
struct DownloadProgress {
    let callback: @Sendable (String, Int64, Int64) -> Void = { path, done, total in
        guard isatty(2) == 1 else { return }
        let mb = { (b: Int64) in String(format: "%.1f", Double(b) / 1_048_576) }
        let pct = total > 0 ? Int(100 * done / total) : 0
        let end = total > 0 && done >= total ? "\n" : ""
        FileHandle.standardError.write("\r\u{1B}[Kdownloading \(path): \(mb(done))/\(mb(total)) MB \(pct)%\(end)".data(using: .utf8)!)
    }
}

/// The level the command line logs at: `warning` unless `--verbose` (info) or `--debug` (debug) is given.
enum LogVerbosity {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = Logger.Level.warning

    static var level: Logger.Level {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}

/// The libraries' log lines on stderr, one per line: `warning: MESSAGE` (and `error:`) as the commands' own
/// warnings read, `info LABEL: MESSAGE` / `debug LABEL: MESSAGE` below that; at `LogVerbosity.level` and above.
struct StderrLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level {
        get { LogVerbosity.level }
        set { LogVerbosity.level = newValue }
    }

    init(label: String) { self.label = label }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level
        let prefix = level >= .warning ? "\(level == .critical ? "error" : level.rawValue): " : "\(level.rawValue) \(label): "
        printError(prefix + event.message.description)
    }
}

/// `--verbose` and `--debug`, on every command: how much of the libraries' log reaches stderr.
struct LoggingOptions: ParsableArguments {
    @Flag(help: "Also log what the libraries do: retries, resumed downloads, cache hits, skipped inputs.")
    var verbose = false

    @Flag(help: "Log everything, debugging details included.")
    var debug = false

    func validate() throws {
        LogVerbosity.level = debug ? .debug : verbose ? .info : .warning
    }
}
