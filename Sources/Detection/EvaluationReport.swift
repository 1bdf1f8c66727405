import DeepfakeCore
import Foundation
import Heads

/// One head's outputs on an `EvaluationDataset`.
public struct HeadEvaluationInput: Sendable {
    /// The name shown in reports (e.g. `linear`, or a file name for a custom head).
    public var name: String
    /// The head's kind (`Head.kind`): decides how the output becomes a fake score.
    public var kind: HeadKind
    /// One output per `EvaluationDataset.paths` entry, same order; nil where the image had no embedding
    /// (it is then left out of every metric and counted as failed).
    public var outputs: [HeadOutput?]

    /// A head's name, kind and outputs.
    public init(name: String, kind: HeadKind, outputs: [HeadOutput?]) {
        self.name = name; self.kind = kind; self.outputs = outputs
    }
}

/// The evaluation of one head on one pair.
public struct PairHeadResult: Sendable {
    /// The pair's key.
    public let pair: String
    /// The head's name.
    public let head: String
    /// The head's kind.
    public let headKind: HeadKind
    /// Scored reals (failed ones excluded).
    public let realCount: Int
    /// Scored fakes (failed ones excluded).
    public let fakeCount: Int
    /// Reals of the pair that had no output.
    public let failedReal: Int
    /// Fakes of the pair that had no output.
    public let failedFake: Int
    /// Upstream's r_acc, f_acc, acc at the head's decision.
    public let upstream: UpstreamAccuracies
    /// All metrics, curves included.
    public let metrics: MetricSummary
    /// The scored samples, reals then fakes, with their index into `EvaluationDataset.paths`.
    public let samples: [(index: Int, sample: ScoredSample)]

    /// Upstream's `acc0.txt` line for this result (see `UpstreamAccuracies.acc0Line`).
    public var acc0Line: String { upstream.acc0Line(key: pair) }
}

/// Results of every head on every pair, with the report writers `deepfake evaluate` uses.
///
/// Usage:
/// ```swift
/// let pairs = try D3Layout.discover(root: "d3_test").pairs
/// let dataset = try EvaluationDataset(pairs: pairs)
/// // embed dataset.paths once, run each head on each embedding (nil where embedding failed)
/// let report = EvaluationReport(dataset: dataset,
///                               heads: [HeadEvaluationInput(name: "linear", kind: .linear, outputs: outputs)],
///                               imageErrors: errors, settings: ["batch_size": "32"], versions: ["deepfake": "1.0"])
/// print(report.markdownTable())
/// try report.writeJSON(to: "out/evaluation.json")
/// try report.writeScoresCSV(to: "out/scores.csv")
/// try report.writeAcc0(to: "out/acc0.txt", head: "linear")
/// let plots = try report.writePlots(directory: "out")
/// ```
public struct EvaluationReport: Sendable {
    /// The pairs and their images.
    public let dataset: EvaluationDataset
    /// The heads' outputs.
    public let heads: [HeadEvaluationInput]
    /// One per head × pair, head-major (all pairs of the first head, then the next head).
    public let results: [PairHeadResult]
    /// Why images failed, by path (written to the JSON and CSV).
    public let imageErrors: [String: String]
    /// Free-form settings recorded in the JSON (e.g. model, preprocessing, batch size).
    public let settings: [String: String]
    /// Versions recorded in the JSON (e.g. deepfake, model revision).
    public let versions: [String: String]

    /// Scores every head on every pair of `dataset`; each head's `outputs` must have one entry per
    /// `dataset.paths` element.
    public init(dataset: EvaluationDataset, heads: [HeadEvaluationInput], imageErrors: [String: String] = [:],
                settings: [String: String] = [:], versions: [String: String] = [:]) {
        for head in heads {
            precondition(head.outputs.count == dataset.paths.count,
                         "head \(head.name): \(head.outputs.count) outputs for \(dataset.paths.count) images")
        }
        var results: [PairHeadResult] = []
        for head in heads {
            for pair in dataset.pairs {
                var samples: [(index: Int, sample: ScoredSample)] = []
                var failedReal = 0, failedFake = 0
                for (index, isFake) in pair.labelledIndices {
                    guard let output = head.outputs[index] else {
                        if isFake { failedFake += 1 } else { failedReal += 1 }
                        continue
                    }
                    samples.append((index, ScoredSample(isFake: isFake, output: output, headKind: head.kind)))
                }
                let scored = samples.map(\.sample)
                let metrics = MetricSummary(scored)
                results.append(PairHeadResult(pair: pair.key, head: head.name, headKind: head.kind,
                                              realCount: metrics.realCount, fakeCount: metrics.fakeCount,
                                              failedReal: failedReal, failedFake: failedFake,
                                              upstream: UpstreamAccuracies(scored), metrics: metrics, samples: samples))
            }
        }
        self.dataset = dataset; self.heads = heads; self.results = results
        self.imageErrors = imageErrors; self.settings = settings; self.versions = versions
    }

    /// The results of one head, in pair order.
    public func results(head: String) -> [PairHeadResult] { results.filter { $0.head == head } }

    // MARK: Markdown

    /// A Markdown table, one row per pair × head: counts, upstream's r_acc/f_acc/acc, balanced accuracy,
    /// AP, ROC-AUC, best-threshold accuracy (with its threshold on the fake score), TPR at 1% and 5% FPR.
    /// Rates are percentages with 2 decimals; `n/a` marks an undefined value (e.g. a class absent).
    public func markdownTable() -> String {
        let header = ["pair", "head", "n_real", "n_fake", "r_acc", "f_acc", "acc", "bal_acc", "AP", "AUC",
                      "best-thr acc (thr)", "TPR@1%FPR", "TPR@5%FPR"]
        var rows: [[String]] = []
        for r in results {
            let m = r.metrics
            let best = m.bestThreshold.value.map { "\(percent($0.accuracy)) (\(formatThreshold($0.threshold)))" } ?? "n/a"
            rows.append([r.pair, r.head, "\(r.realCount)", "\(r.fakeCount)",
                         percent(r.upstream.realAccuracy), percent(r.upstream.fakeAccuracy), percent(r.upstream.accuracy),
                         percent(m.balancedAccuracy.value), percent(m.averagePrecision.value), percent(m.rocAUC.value), best,
                         percent(m.tprAt1PercentFPR.value?.truePositiveRate), percent(m.tprAt5PercentFPR.value?.truePositiveRate)])
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        let numeric = Set(2..<header.count)
        func line(_ cells: [String]) -> String {
            "| " + cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return numeric.contains(i) ? pad + c : c + pad
            }.joined(separator: " | ") + " |"
        }
        var out = line(header) + "\n"
        out += "|" + widths.indices.map { i in
            numeric.contains(i) ? " " + String(repeating: "-", count: widths[i] - 1) + ": " : " " + String(repeating: "-", count: widths[i]) + " "
        }.joined(separator: "|") + "|\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }

    // MARK: upstream acc0.txt

    /// Upstream's `acc0.txt` lines of one head, in pair order.
    public func acc0Text(head: String) -> String {
        results(head: head).map(\.acc0Line).joined()
    }

    /// Writes `acc0Text(head:)` to `path` atomically; with `append`, after the file's current content
    /// (upstream appends one run after another).
    public func writeAcc0(to path: String, head: String, append: Bool = false) throws {
        var text = ""
        if append, let data = FileManager.default.contents(atPath: path) { text = String(decoding: data, as: UTF8.self) }
        text += acc0Text(head: head)
        try writeEvaluationText(text, to: path)
    }

    // MARK: JSON

    /// The whole evaluation as JSON (UTF-8, pretty-printed): versions, settings, warnings, failed images,
    /// pairs (folders, counts) and, per pair × head, counts, upstream accuracies and `acc0` line, every
    /// metric (with the reason where undefined), the ROC curve (`drop_intermediate=True`) and the
    /// precision–recall curve. Rates are fractions (0…1), not percentages. Non-finite numbers (the +∞
    /// threshold that opens every ROC curve and the best threshold when it calls everything real) are
    /// written as null.
    public func jsonText() -> String {
        var root: [(String, JSONValue)] = [
            ("format", .string("deepfake-evaluation")),
            ("format_version", .int(1)),
            ("versions", .object(versions.keys.sorted().map { ($0, .string(versions[$0]!)) })),
            ("settings", .object(settings.keys.sorted().map { ($0, .string(settings[$0]!)) })),
            ("image_count", .int(dataset.paths.count)),
            ("warnings", .array(dataset.warnings.map(JSONValue.string))),
            ("failed_images", .array(imageErrors.keys.sorted().map { .object([("path", .string($0)), ("error", .string(imageErrors[$0]!))]) })),
        ]
        root.append(("pairs", .array(dataset.pairs.map { p in
            .object([("key", .string(p.key)), ("real_folder", .string(p.realFolder)), ("fake_folder", .string(p.fakeFolder)),
                     ("n_real", .int(p.realIndices.count)), ("n_fake", .int(p.fakeIndices.count))])
        })))
        root.append(("heads", .array(heads.map { .object([("name", .string($0.name)), ("kind", .string($0.kind.rawValue)),
                                                          ("score", .string($0.kind == .svm ? "-decision" : "score"))]) })))
        root.append(("results", .array(results.map(resultJSON))))
        return JSONValue.object(root).render() + "\n"
    }

    /// Writes `jsonText()` to `path` atomically (temporary file, then rename).
    public func writeJSON(to path: String) throws {
        try writeEvaluationText(jsonText(), to: path)
    }

    private func resultJSON(_ r: PairHeadResult) -> JSONValue {
        let m = r.metrics
        var undefined: [(String, JSONValue)] = []
        func metric(_ name: String, _ v: MetricResult<Double>) -> (String, JSONValue) {
            if let reason = v.undefinedReason { undefined.append((name, .string(reason))) }
            return (name, .number(v.value))
        }
        func point(_ name: String, _ v: MetricResult<OperatingPoint>) -> (String, JSONValue) {
            if let reason = v.undefinedReason { undefined.append((name, .string(reason))) }
            return (name, v.value.map { .object([("tpr", .number($0.truePositiveRate)), ("fpr", .number($0.falsePositiveRate)),
                                                 ("threshold", .number($0.threshold))]) } ?? .null)
        }
        var metrics = [metric("accuracy", m.accuracy), metric("real_accuracy", m.realAccuracy), metric("fake_accuracy", m.fakeAccuracy),
                       metric("balanced_accuracy", m.balancedAccuracy), metric("average_precision", m.averagePrecision),
                       metric("roc_auc", m.rocAUC)]
        if let reason = m.bestThreshold.undefinedReason { undefined.append(("best_threshold", .string(reason))) }
        metrics.append(("best_threshold", m.bestThreshold.value.map {
            .object([("accuracy", .number($0.accuracy)), ("threshold", .number($0.threshold)), ("rule", .string("fake if score >= threshold"))])
        } ?? .null))
        metrics.append(point("tpr_at_fpr_1pct", m.tprAt1PercentFPR))
        metrics.append(point("tpr_at_fpr_5pct", m.tprAt5PercentFPR))
        let up = r.upstream
        return .object([
            ("pair", .string(r.pair)), ("head", .string(r.head)), ("head_kind", .string(r.headKind.rawValue)),
            ("n_real", .int(r.realCount)), ("n_fake", .int(r.fakeCount)),
            ("n_failed_real", .int(r.failedReal)), ("n_failed_fake", .int(r.failedFake)),
            ("upstream", .object([("r_acc", .number(up.realAccuracy)), ("f_acc", .number(up.fakeAccuracy)),
                                  ("acc", .number(up.accuracy)), ("acc0_line", .string(String(r.acc0Line.dropLast())))])),
            ("metrics", .object(metrics)),
            ("undefined", .object(undefined)),
            ("roc_curve", m.roc.value.map { .object([("fpr", .numbers($0.falsePositiveRates)), ("tpr", .numbers($0.truePositiveRates)),
                                                     ("thresholds", .numbers($0.thresholds))]) } ?? .null),
            ("pr_curve", m.precisionRecall.value.map { .object([("precision", .numbers($0.precision)), ("recall", .numbers($0.recall)),
                                                                ("thresholds", .numbers($0.thresholds))]) } ?? .null),
        ])
    }

    // MARK: CSV

    /// Writes one CSV row per image per pair per head (head-major, then pair order, reals then fakes) to
    /// `path` atomically. Columns: `pair,path,label,head,score,decision,predicted,fake_score,error` —
    /// label/predicted are `real`/`fake`; score and decision are the head's raw `HeadOutput` values
    /// (decision empty for k-NN); fake_score is the oriented score the metrics use (−decision for the
    /// SVM); an image without output has empty score columns and its error. RFC 4180 quoting.
    public func writeScoresCSV(to path: String) throws {
        try writeFileAtomically(path, error: { $0 }) { (append: ([UInt8]) throws(FileError) -> Void) throws(FileError) in
            try append(Array("pair,path,label,head,score,decision,predicted,fake_score,error\n".utf8))
            for head in heads {
                for pair in dataset.pairs {
                    var chunk = ""
                    for (index, isFake) in pair.labelledIndices {
                        let path = dataset.paths[index]
                        var fields = [pair.key, path, isFake ? "fake" : "real", head.name]
                        if let o = head.outputs[index] {
                            fields += [CSV.number(o.score), o.decision.map(CSV.number) ?? "", o.isFake ? "fake" : "real",
                                       CSV.number(o.fakeScore(headKind: head.kind)), ""]
                        } else {
                            fields += ["", "", "", "", imageErrors[path] ?? "no output"]
                        }
                        chunk += CSV.row(fields) + "\n"
                        if chunk.utf8.count > 1 << 16 { try append(Array(chunk.utf8)); chunk = "" }
                    }
                    try append(Array(chunk.utf8))
                }
            }
        }
    }

    // MARK: plots

    /// Writes `roc_{head}.svg` and `pr_{head}.svg` for every head into `directory` (created if needed;
    /// characters other than letters, digits, `-`, `_`, `.` in the head name become `_`). Returns the paths.
    public func writePlots(directory: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var written: [String] = []
        for head in heads {
            let safe = String(head.name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" })
            for (name, svg) in [("roc", rocPlotSVG(head: head.name)), ("pr", precisionRecallPlotSVG(head: head.name))] {
                let path = D3Layout.join(directory, "\(name)_\(safe).svg")
                try writeEvaluationText(svg, to: path)
                written.append(path)
            }
        }
        return written
    }

    /// The ROC plot of one head: one curve per pair with its AUC in the legend, mean AUC in the title.
    public func rocPlotSVG(head: String) -> String {
        let rs = results(head: head)
        let curves = rs.compactMap { r in r.metrics.roc.value.map { (label: r.pair, curve: $0, auc: r.metrics.rocAUC.value ?? .nan) } }
        return PlotSVG.roc(curves: curves, title: "ROC — \(head) head")
    }

    /// The precision–recall plot of one head: one curve per pair with its AP, mean AP in the title.
    public func precisionRecallPlotSVG(head: String) -> String {
        let rs = results(head: head)
        let curves = rs.compactMap { r in
            r.metrics.precisionRecall.value.map { (label: r.pair, curve: $0, averagePrecision: r.metrics.averagePrecision.value ?? .nan) }
        }
        return PlotSVG.precisionRecall(curves: curves, title: "Precision–recall — \(head) head")
    }
}

// MARK: helpers

func writeEvaluationText(_ text: String, to path: String) throws {
    try writeFileAtomically(path, bytes: Array(text.utf8))
}

private func percent(_ v: Double?) -> String {
    guard let v, v.isFinite else { return "n/a" }
    return String(format: "%.2f", v * 100)
}

private func formatThreshold(_ t: Double) -> String {
    if t.isInfinite { return t > 0 ? "+inf" : "-inf" }
    return String(format: "%.4g", t)
}

