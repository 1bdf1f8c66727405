import Detection
import Foundation
import Heads
import XCTest
#if canImport(FoundationXML)
import FoundationXML
#endif

final class EvaluationTests: XCTestCase {
    /// (correct, total, str(round(correct/total*100, 2))) as Python 3.11 prints it.
    let pythonRounds: [(Int, Int, String)] = [
        (39, 40, "97.5"), (1, 1, "100.0"), (0, 5, "0.0"), (1, 8, "12.5"), (7, 8, "87.5"), (1, 3, "33.33"), (2, 3, "66.67"),
        (881, 1000, "88.1"), (8812, 10000, "88.12"), (1, 800, "0.12"), (3, 800, "0.38"), (5, 800, "0.62"), (1, 400, "0.25"),
        (1, 16, "6.25"), (1, 32, "3.12"), (3, 64, "4.69"), (11, 160, "6.88"), (7, 800, "0.88"), (23, 160, "14.37"),
        (29, 800, "3.62"), (138, 960, "14.37"), (2471, 10612, "23.28"), (10664, 12938, "82.42"), (148, 1583, "9.35"),
        (3084, 17560, "17.56"), (9548, 11983, "79.68"), (1863, 1901, "98.0"), (7035, 16628, "42.31"), (176, 1229, "14.32"),
        (6851, 14210, "48.21"), (985, 2290, "43.01"), (2257, 2973, "75.92"), (968, 13911, "6.96"),
    ]

    func testPythonRoundingAndPrinting() {
        for (k, n, expected) in pythonRounds {
            XCTAssertEqual(pythonRoundedString(Double(k) / Double(n) * 100, digits: 2), expected, "\(k)/\(n)")
        }
        XCTAssertEqual(pythonRoundedString(2.5, digits: 0), "2.0")
        XCTAssertEqual(pythonRoundedString(3.5, digits: 0), "4.0")
        XCTAssertEqual(pythonRoundedString(-0.125, digits: 2), "-0.12")
        XCTAssertEqual(pythonRoundedString(.nan, digits: 2), "nan")
        XCTAssertEqual(pythonRound(0.0001, digits: 3), 0)
    }

    func testAcc0LineFormat() {
        let acc = UpstreamAccuracies(realAccuracy: 0.975, fakeAccuracy: 1, accuracy: 0.88125)
        XCTAssertEqual(acc.acc0Line(key: "augm_gen_1"), "augm_gen_1: 97.5  100.0  88.12\n")
        var samples = (0..<40).map { ScoredSample(isFake: false, score: 0, predictedFake: $0 == 0) }
        samples += (0..<40).map { _ in ScoredSample(isFake: true, score: 1, predictedFake: true) }
        let upstream = UpstreamAccuracies(samples)
        XCTAssertEqual(upstream.realAccuracy, 0.975)
        XCTAssertEqual(upstream.fakeAccuracy, 1)
        XCTAssertEqual(upstream.accuracy, 79.0 / 80.0)
        XCTAssertEqual(upstream.acc0Line(key: "no_augm_gen0_and_real"), "no_augm_gen0_and_real: 97.5  100.0  98.75\n")
        XCTAssertEqual(UpstreamAccuracies([]).acc0Line(key: "k"), "k: nan  nan  nan\n")
    }

    /// A dataset of two pairs sharing one real folder, with scores for a linear and an SVM head.
    func makeReport(in root: URL) throws -> EvaluationReport {
        let fm = FileManager.default
        for (folder, names) in [("real", ["r1.png", "r2.JPG", "r3.webp", "r,4.png"]), ("gen_a", ["a1.png", "a2.png"]), ("gen_b", ["b1.gif", "b2.tiff", "b3.jpeg"])] {
            try fm.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
            for n in names { try Data([0]).write(to: root.appendingPathComponent(folder).appendingPathComponent(n)) }
        }
        let pairs = [EvaluationPair(key: "a", real: root.appendingPathComponent("real").path, fake: root.appendingPathComponent("gen_a").path),
                     EvaluationPair(key: "b", real: root.appendingPathComponent("real").path + "/", fake: root.appendingPathComponent("gen_b").path)]
        let dataset = try EvaluationDataset(pairs: pairs)
        XCTAssertEqual(dataset.paths.count, 9)
        var linear: [HeadOutput?] = [], svm: [HeadOutput?] = []
        for (i, path) in dataset.paths.enumerated() {
            let fake = !path.contains("/real/")
            if path.hasSuffix("b3.jpeg") { linear.append(nil); svm.append(nil); continue }  // "failed" image
            let p = fake ? 0.6 + Double(i) * 0.03 : 0.1 + Double(i) * 0.12
            linear.append(HeadOutput(isFake: p > 0.5, score: p, decision: log(p / (1 - p))))
            let d = fake ? -0.1 * Double(i) : 0.2 - 0.1 * Double(i)
            svm.append(HeadOutput(isFake: d <= 0, score: d, decision: d))
        }
        return EvaluationReport(dataset: dataset,
                                heads: [HeadEvaluationInput(name: "linear", kind: .linear, outputs: linear),
                                        HeadEvaluationInput(name: "svm", kind: .svm, outputs: svm)],
                                imageErrors: [dataset.paths.first { $0.hasSuffix("b3.jpeg") }!: "cannot decode"],
                                settings: ["batch_size": "32"], versions: ["deepfake": "test"])
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("eval-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testReportResultsPerPairAndHead() throws {
        let report = try makeReport(in: temporaryFolder())
        XCTAssertEqual(report.results.map { "\($0.head)/\($0.pair)" }, ["linear/a", "linear/b", "svm/a", "svm/b"])
        let b = report.results[1]
        XCTAssertEqual(b.realCount, 4)
        XCTAssertEqual(b.fakeCount, 2)
        XCTAssertEqual(b.failedFake, 1)
        XCTAssertEqual(b.failedReal, 0)
        // Scores passed through the orientation: the SVM's fake score is -decision.
        let svmA = report.results[2]
        for (index, sample) in svmA.samples {
            XCTAssertEqual(sample.score, -(report.heads[1].outputs[index]!.decision!))
        }
        XCTAssertEqual(svmA.metrics.rocAUC.value, Metrics.rocAUC(svmA.samples.map(\.sample)).value)
        XCTAssertEqual(report.acc0Text(head: "svm").split(separator: "\n").count, 2)
    }

    func testMarkdownTable() throws {
        let table = try makeReport(in: temporaryFolder()).markdownTable()
        let lines = table.split(separator: "\n")
        XCTAssertEqual(lines.count, 2 + 4)
        XCTAssertTrue(lines[0].hasPrefix("| pair"))
        for column in ["n_real", "n_fake", "r_acc", "f_acc", "acc", "bal_acc", "AP", "AUC", "best-thr acc (thr)", "TPR@1%FPR", "TPR@5%FPR"] {
            XCTAssertTrue(lines[0].contains(column), column)
        }
        XCTAssertTrue(lines[1].hasPrefix("|--") || lines[1].hasPrefix("| --"))
        let cells = lines[2].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(cells[0], "a")
        XCTAssertEqual(cells[1], "linear")
        XCTAssertEqual(cells[2], "4")
        XCTAssertEqual(cells[3], "2")
        XCTAssertTrue(cells[4].range(of: #"^\d+\.\d\d$"#, options: .regularExpression) != nil, cells[4])
    }

    func testJSONIsCompleteAndParses() throws {
        let folder = try temporaryFolder()
        let report = try makeReport(in: folder)
        let path = folder.appendingPathComponent("evaluation.json").path
        try report.writeJSON(to: path)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        XCTAssertEqual(root["format"] as? String, "deepfake-evaluation")
        XCTAssertEqual((root["versions"] as? [String: String])?["deepfake"], "test")
        XCTAssertEqual((root["settings"] as? [String: String])?["batch_size"], "32")
        XCTAssertEqual((root["failed_images"] as? [[String: Any]])?.count, 1)
        XCTAssertEqual((root["pairs"] as? [[String: Any]])?.map { $0["key"] as! String }, ["a", "b"])
        let results = try XCTUnwrap(root["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 4)
        let first = results[0]
        let metrics = try XCTUnwrap(first["metrics"] as? [String: Any])
        XCTAssertEqual((metrics["roc_auc"] as? NSNumber)?.doubleValue, report.results[0].metrics.rocAUC.value)
        XCTAssertEqual((metrics["average_precision"] as? NSNumber)?.doubleValue, report.results[0].metrics.averagePrecision.value)
        let roc = try XCTUnwrap(first["roc_curve"] as? [String: Any])
        let thresholds = try XCTUnwrap(roc["thresholds"] as? [Any])
        XCTAssertTrue(thresholds[0] is NSNull, "the +inf threshold is null")
        XCTAssertEqual((roc["fpr"] as? [NSNumber])?.count, report.results[0].metrics.roc.value?.falsePositiveRates.count)
        XCTAssertNotNil(first["pr_curve"] as? [String: Any])
        let upstream = try XCTUnwrap(first["upstream"] as? [String: Any])
        XCTAssertEqual(upstream["acc0_line"] as? String, String(report.results[0].acc0Line.dropLast()))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp-\(getpid())"))
    }

    func testScoresCSVHasOneRowPerImagePerPairPerHead() throws {
        let folder = try temporaryFolder()
        let report = try makeReport(in: folder)
        let path = folder.appendingPathComponent("scores.csv").path
        try report.writeScoresCSV(to: path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let rows = parseCSV(text)
        XCTAssertEqual(rows[0], ["pair", "path", "label", "head", "score", "decision", "predicted", "fake_score", "error"])
        // pair a: 4 real + 2 fake; pair b: 4 real + 3 fake; two heads.
        XCTAssertEqual(rows.count - 1, 2 * (6 + 7))
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.count == 9 })
        let comma = try XCTUnwrap(rows.first { $0[1].hasSuffix("r,4.png") && $0[3] == "svm" })
        XCTAssertEqual(comma[2], "real")
        XCTAssertEqual(Double(comma[7]), -Double(comma[5])!)
        let failed = rows.filter { $0[1].hasSuffix("b3.jpeg") }
        XCTAssertEqual(failed.count, 2)
        XCTAssertEqual(failed[0][4], "")
        XCTAssertEqual(failed[0][8], "cannot decode")
        let linearA = rows.filter { $0[0] == "a" && $0[3] == "linear" }
        XCTAssertEqual(linearA.map { $0[2] }, ["real", "real", "real", "real", "fake", "fake"])
    }

    func testAcc0FileAndPlotsAreWritten() throws {
        let folder = try temporaryFolder()
        let report = try makeReport(in: folder)
        let acc0 = folder.appendingPathComponent("acc0.txt").path
        try report.writeAcc0(to: acc0, head: "linear")
        try report.writeAcc0(to: acc0, head: "linear", append: true)
        let lines = try String(contentsOfFile: acc0, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines[0].range(of: #"^a: [0-9.]+  [0-9.]+  [0-9.]+$"#, options: .regularExpression) != nil, String(lines[0]))
        let written = try report.writePlots(directory: folder.appendingPathComponent("plots").path)
        XCTAssertEqual(written.map { ($0 as NSString).lastPathComponent }, ["roc_linear.svg", "pr_linear.svg", "roc_svm.svg", "pr_svm.svg"])
        for path in written {
            let svg = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(svg.hasPrefix("<svg"))
            XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2, path)
            XCTAssertTrue(svg.contains("a (A"), path)  // legend entry with AUC/AP
            XCTAssertNoThrow(try XMLDocument(data: Data(svg.utf8)), path)
        }
    }

    func testPlotWithoutCurvesSaysSo() {
        let svg = PlotSVG.roc(curves: [], title: "ROC — x & y")
        XCTAssertTrue(svg.contains("no curve"))
        XCTAssertTrue(svg.contains("x &amp; y"))
    }
}

/// RFC 4180 CSV rows.
func parseCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
    var chars = Array(text), i = 0
    while i < chars.count {
        let c = chars[i]
        if quoted {
            if c == "\"" {
                if i + 1 < chars.count && chars[i + 1] == "\"" { field.append("\""); i += 1 } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" { quoted = true }
        else if c == "," { row.append(field); field = "" }
        else if c == "\n" { row.append(field); rows.append(row); row = []; field = "" }
        else { field.append(c) }
        i += 1
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    chars = []
    return rows
}
