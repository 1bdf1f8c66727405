import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar on standard error, drawn only when standard error is a terminal (never into a log
/// or a pipe): label, bar, count, rate, time left and an optional detail, redrawn at most ten times a second.
/// Result lines go to standard output through `printLine`, which keeps the bar below them.
///
/// `advance` measures the rate and the time left itself; `update` takes them from the caller (the trainer,
/// whose steps hold many images).
package struct ProgressBar {
    /// The count at which the work is done; 0 when unknown (then no bar and no time left are shown).
    package let total: Int
    /// What is counted, before the bar (`detect`, `epoch 3/150`).
    package let label: String
    /// The unit of the rate (`img` gives `img/s`).
    package let unit: String
    /// Whether anything is drawn.
    package let enabled: Bool
    /// The count so far.
    package private(set) var done = 0
    private let width: Int
    private let start = Date()
    private var lastDraw = Date.distantPast

    /// A bar for `total` items (0: unknown). `enabled` defaults to: standard error is a terminal and the work is
    /// not a single item.
    package init(total: Int, label: String, unit: String = "img", width: Int = 30, enabled: Bool? = nil) {
        self.total = total
        self.label = label
        self.unit = unit
        self.width = width
        self.enabled = enabled ?? (isatty(2) == 1 && total != 1)
    }

    /// Counts `n` more items and redraws (rate and time left from the time since the bar was made).
    package mutating func advance(by n: Int = 1) {
        done += n
        let now = Date()
        guard enabled, now.timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let left = rate > 0 && total > 0 ? Double(total - done) / rate : nil
        draw(Self.render(label: label, done: done, total: total, width: width, rate: rate, unit: unit, secondsLeft: left))
    }

    /// Sets the count, with the rate and the time left as the caller measures them, and `detail` after them;
    /// redraws (always when `done` reaches `total`).
    package mutating func update(done: Int, rate: Double, secondsLeft: Double?, detail: String = "") {
        self.done = done
        let now = Date()
        guard enabled, now.timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = now
        draw(Self.render(label: label, done: done, total: total, width: width, rate: rate, unit: unit,
                         secondsLeft: secondsLeft, detail: detail))
    }

    /// Prints `line` on standard output above the bar.
    package func printLine(_ line: String) {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        print(line)
        fflush(nil)
        if enabled { redraw() }
    }

    /// Ends the bar's line (the last drawing stays on screen).
    package func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func redraw() {
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        draw(Self.render(label: label, done: done, total: total, width: width, rate: rate, unit: unit,
                         secondsLeft: rate > 0 && total > 0 ? Double(total - done) / rate : nil))
    }

    private func draw(_ text: String) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
    }

    /// The bar's text: `LABEL ██████······ DONE/TOTAL  RATE UNIT/s  ETA 1m05s DETAIL`; with an unknown total,
    /// `LABEL DONE UNIT  RATE UNIT/s DETAIL`.
    package static func render(label: String, done: Int, total: Int, width: Int = 30, rate: Double, unit: String,
                              secondsLeft: Double?, detail: String = "") -> String {
        let speed = String(format: "%.1f", rate) + " \(unit)/s"
        guard total > 0 else { return "\(label) \(done) \(unit)  \(speed)" + detail }
        let filled = width * min(max(done, 0), total) / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        return "\(label) \(bar) \(done)/\(total)  \(speed)" + (secondsLeft.map { "  ETA \(duration($0))" } ?? "") + detail
    }

    /// `1h02m`, `3m05s` or `42s`.
    package static func duration(_ seconds: Double) -> String {
        let s = seconds.isFinite ? Int(min(max(seconds, 0), 1e9).rounded()) : 0
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}
