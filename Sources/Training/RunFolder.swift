// A training run's folder and its bookkeeping: state.json (what a resume needs), summary.csv (one row per
// validation), train.log, the checkpoints and the release. Every file a resume reads is replaced in one step,
// so a kill at any moment leaves the earlier, complete version.

import Checkpoints
import DeepfakeCore
import Foundation
import Heads
import ViT

/// What `state.json` records: enough to resume. It is written after each epoch's checkpoint and summary row,
/// and after the untrained model's validation (then with `last` nil: a resume starts again from the initial
/// weights, which derive from the seed).
struct RunState: Codable {
    var epochsDone: Int
    var last: String?
    var best: String?
    var bestMetric: Double
    var badEpochs: Int
    var stopped: Bool
    /// Whether the untrained model's validation is in summary.csv (nil in runs from before it existed).
    var initialValidated: Bool?
    /// The thread count the run computes with: gradients are summed per thread, so a resume keeps it to
    /// stay bit for bit (nil in runs from before it was recorded).
    var threads: Int?
    /// Shards the data keys name that were missing when the run (or its last resume) started and were left out
    /// under `on-error: skip`, as `LIST line N: FILE` or `'PATTERN': FILE` (nil: none).
    var missingShards: [String]?
    /// Training records left out of their step because an image did not decode, all epochs recorded so far
    /// (nil: none).
    var recordsLeftOut: Int?
}

/// The files of one run under its `--output` folder.
struct RunFolder {
    let path: String
    /// How many epoch checkpoints to keep besides `last` and `best`.
    let keepCheckpoints: Int

    var statePath: String { path + "/state.json" }
    var checkpoints: String { path + "/checkpoints" }
    var logPath: String { path + "/train.log" }
    var summaryPath: String { path + "/summary.csv" }

    /// The checkpoint folder name of `epoch` (`epoch-0007`).
    static func checkpointName(epoch: Int) -> String { String(format: "epoch-%04d", epoch) }

    // MARK: state.json

    /// The run's `state.json`, nil when there is none. A file that cannot be read, is not the JSON `writeState`
    /// writes, or holds values no run writes is refused with its path, what is wrong and what to do.
    func readState() throws -> RunState? {
        let fm = FileManager.default
        guard fm.fileExists(atPath: statePath) else { return nil }
        let advice = "the run cannot be resumed from it. Restore the file, or delete it to start the run again in this "
            + "folder (its checkpoints are then replaced), or choose another --output"
        let data: Data
        do { data = Data(try readSmallFile(statePath, limit: 1 << 20)) } catch { throw TrainingError.runFolder("\(error); \(advice)") }
        let state: RunState
        do { state = try JSONDecoder().decode(RunState.self, from: data) } catch {
            throw TrainingError.runFolder("\(statePath) is corrupt (\(Self.describe(error))); \(advice)")
        }
        func corrupt(_ reason: String) -> TrainingError { TrainingError.runFolder("\(statePath) is corrupt (\(reason)); \(advice)") }
        if state.epochsDone < 0 { throw corrupt("epochsDone is \(state.epochsDone)") }
        if state.badEpochs < 0 { throw corrupt("badEpochs is \(state.badEpochs)") }
        if !state.bestMetric.isFinite { throw corrupt("bestMetric is \(state.bestMetric)") }
        if let threads = state.threads, !(1...1024).contains(threads) { throw corrupt("threads is \(threads)") }
        if state.epochsDone > 0, state.last == nil { throw corrupt("\(state.epochsDone) epochs done but no last checkpoint") }
        for (key, name) in [("last", state.last), ("best", state.best)] {
            guard let name else { continue }
            guard name.hasPrefix("epoch-"), name.count > 6, name.dropFirst(6).allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw corrupt("\(key) is '\(name)', not a checkpoint name such as epoch-0007")
            }
            guard fm.fileExists(atPath: checkpoints + "/" + name) else {
                throw corrupt("\(key) names \(checkpoints)/\(name), which does not exist")
            }
        }
        return state
    }

    /// A decoding error in one line: what is wrong and at which key.
    private static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String { path.isEmpty ? "" : " at '\(path.map(\.stringValue).joined(separator: "."))'" }
        switch error as? DecodingError {
        case let .dataCorrupted(c)?: return "not valid JSON" + at(c.codingPath) + ": " + c.debugDescription
        case let .keyNotFound(key, c)?: return "no '\(key.stringValue)'" + at(c.codingPath)
        case let .typeMismatch(_, c)?, let .valueNotFound(_, c)?: return c.debugDescription + at(c.codingPath)
        default: return "\(error)"
        }
    }

    /// Replaces `state.json` in one step.
    func writeState(_ state: RunState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(statePath, bytes: [UInt8](try encoder.encode(state)))
    }

    // MARK: checkpoints and release

    /// Writes `checkpoints/<name>/` (config.json, model.safetensors, optimizer.safetensors, heads/) in a temporary
    /// folder that then replaces it in one step (`replaceFolderAtomically`): a kill at any moment leaves the earlier
    /// checkpoints intact, and a checkpoint written again (a resume redoing an unrecorded epoch) is never missing.
    func saveCheckpoint(name: String, config: ViTConfig, weights: ViTWeights, optimizer: AdamW, heads: [FittedHead]) throws {
        let fm = FileManager.default
        let final = checkpoints + "/" + name, temporary = final + ".tmp"
        try? fm.removeItem(atPath: temporary)
        try config.writeHuggingFaceFolder(temporary, weights: weights)
        try optimizer.saveState(to: temporary + "/optimizer.safetensors")
        try fm.createDirectory(atPath: temporary + "/heads", withIntermediateDirectories: true)
        for fitted in heads { try HeadStore.save(fitted.head, to: temporary + "/" + fitted.kind.nativeFile) }
        try replaceFolderAtomically(final, with: temporary)
    }

    /// Keeps the newest `keepCheckpoints` epoch folders plus `keeping` (last and best).
    func pruneCheckpoints(keeping: [String]) throws {
        let fm = FileManager.default
        let names = (try fm.contentsOfDirectory(atPath: checkpoints)).filter { $0.hasPrefix("epoch-") && !$0.contains(".tmp") }.sorted()
        for name in names.dropLast(keepCheckpoints) where !keeping.contains(name) {
            try fm.removeItem(atPath: checkpoints + "/" + name)
        }
    }

    /// On resume: removes what a killed process can leave half-written (`checkpoints/*.tmp`, `release.tmp`,
    /// the atomic writer's `*.tmp-<pid>` files). None of it is ever read; the work is redone.
    func removeLeftovers() {
        let fm = FileManager.default
        for dir in [path, checkpoints] {
            for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".tmp") || name.contains(".tmp-") {
                try? fm.removeItem(atPath: dir + "/" + name)
            }
        }
    }

    /// `release/`: the checkpoint `best`'s backbone and heads, the folder `deepfake detect --model` and
    /// `transformers.ViTModel.from_pretrained` load; copied to `release.tmp`, which then replaces it in one step.
    /// Returns the release folder.
    func writeRelease(from best: String) throws -> String {
        let fm = FileManager.default
        let release = path + "/release", temporary = release + ".tmp"
        try? fm.removeItem(atPath: temporary)
        try fm.copyItem(atPath: checkpoints + "/" + best, toPath: temporary)
        try? fm.removeItem(atPath: temporary + "/optimizer.safetensors")
        try replaceFolderAtomically(release, with: temporary)
        return release
    }
}

/// `train.log`, opened once for the run: each line is appended and passed on to the caller's log.
final class RunLog {
    private let handle: FileHandle?
    private let forward: (String) -> Void

    /// Opens (creating when missing) the log at `path`.
    init(path: String, forward: @escaping (String) -> Void) throws {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path), !fm.createFile(atPath: path, contents: nil) {
            throw TrainingError.runFolder("\(path): cannot create the run's log")
        }
        handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
        self.forward = forward
    }

    deinit { try? handle?.close() }

    /// Appends `line` to the file and passes it on.
    func note(_ line: String) {
        forward(line)
        handle?.write(Data((line + "\n").utf8))
    }
}

/// `summary.csv`: a header, then one row per validation (the untrained model's with epoch −1 and empty lr and
/// train_loss), appended as each is measured.
package final class SummaryWriter {
    package static let header = "epoch,lr,train_loss,eval_accuracy,linear_clean,knn_clean,svm_clean,linear_transf,knn_transf,svm_transf"
    /// The heads in the columns' order.
    static let columns: [HeadKind] = [.linear, .knn, .svm]

    private let handle: FileHandle

    /// Opens the summary at `path` for the rows from epoch `next` on. Rows of that or a later epoch (a killed
    /// process appended them before state.json recorded them; the resumed run recomputes them identically) and a
    /// last row cut short are dropped: the file is rewritten once, atomically, with the header and the rows kept.
    package init(path: String, next: Int) throws {
        let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let complete = old.hasSuffix("\n") ? old : String(old[..<(old.lastIndex(of: "\n").map { old.index(after: $0) } ?? old.startIndex)])
        let kept = complete.split(separator: "\n").filter { row in
            guard let epoch = Int(row.prefix { $0 != "," }) else { return true }  // the header
            return epoch < next
        }
        let rows = kept.isEmpty ? [Substring(Self.header)] : kept
        try writeFileAtomically(path, bytes: Array(rows.map { $0 + "\n" }.joined().utf8))
        guard let handle = FileHandle(forWritingAtPath: path) else { throw TrainingError.runFolder("\(path): cannot open the run's summary") }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    deinit { try? handle.close() }

    /// Appends `s`'s row and flushes it to disk (before the state that records it is written).
    package func append(_ s: EpochSummary) throws {
        func v(_ x: Double?) -> String { x.map { String(format: "%.6f", $0) } ?? "" }
        func plain(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
        let fields: [String] = ["\(s.epoch)", plain(s.learningRate), plain(s.trainLoss), v(s.selectionMetric)]
            + Self.columns.map { v(s.cleanAccuracy[$0]) } + Self.columns.map { v(s.transformedAccuracy[$0]) }
        let line = fields.joined(separator: ",") + "\n"
        try handle.write(contentsOf: Data(line.utf8))
        try handle.synchronize()
    }
}
