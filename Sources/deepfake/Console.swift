import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func printError(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
/// Result lines go to stdout through `printLine`, which keeps the bar below them.
struct ProgressBar {
    let total: Int
    let label: String
    private(set) var done = 0
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled: Bool

    init(total: Int, label: String) {
        self.total = total
        self.label = label
        enabled = isatty(2) == 1 && total != 1
    }

    mutating func advance(by n: Int = 1) {
        done += n
        let now = Date()
        if enabled && (now.timeIntervalSince(lastDraw) > 0.1 || done == total) {
            lastDraw = now
            draw(now)
        }
    }

    func printLine(_ line: String) {
        if enabled { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        print(line)
        fflush(nil)
        if enabled { draw(Date()) }
    }

    func finish() {
        if enabled { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }

    private func draw(_ now: Date) {
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let text: String
        if total > 0 {
            let width = 30
            let filled = width * min(done, total) / total
            let eta = rate > 0 ? Int(Double(total - done) / rate) : 0
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            text = "\r\u{1B}[K\(label) \(bar) \(done)/\(total)  " + String(format: "%.1f", rate) + " img/s  ETA \(eta)s"
        } else {
            text = "\r\u{1B}[K\(label) \(done) images  " + String(format: "%.1f", rate) + " img/s"
        }
        FileHandle.standardError.write(text.data(using: .utf8)!)
    }
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
