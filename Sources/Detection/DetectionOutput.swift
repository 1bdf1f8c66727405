import DeepfakeCore
import Foundation
import Heads

/// One image's verdict from one head, ready to print.
public struct DetectionRow: Sendable {
    public let path: String
    /// "real" or "fake"; nil when the image failed.
    public let label: String?
    public let score: Double?
    public let decision: Double?
    public let error: String?

    public init(_ result: DetectionResult, head index: Int, kind: HeadKind, rule: DecisionRule) {
        path = result.path
        switch result.outputs {
        case let .success(outputs):
            let o = outputs[index]
            label = rule.isFake(o, kind: kind) ? "fake" : "real"
            score = o.score
            decision = o.decision
            error = nil
        case let .failure(f):
            label = nil; score = nil; decision = nil
            error = f.description
        }
    }

    /// `{"path", "label", "score"[, "decision"]}` or `{"path", "error"}`.
    public var jsonLine: String {
        var fields = ["\"path\": \(JSONText.string(path))"]
        if let error {
            fields.append("\"error\": \(JSONText.string(error))")
        } else {
            fields.append("\"label\": \(JSONText.string(label!))")
            fields.append("\"score\": \(JSONText.number(score!))")
            if let decision { fields.append("\"decision\": \(JSONText.number(decision))") }
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// The CSV header matching `csvLine`.
    public static let csvHeader = "path,label,score,decision,error"

    /// One RFC 4180 row on one line: path,label,score,decision,error. Control characters in the path and the
    /// error are escaped (`CSV.singleLine`), so a file name holding a line break cannot split or forge a row.
    public var csvLine: String {
        [CSV.field(CSV.singleLine(path)), label ?? "", score.map { "\($0)" } ?? "", decision.map { "\($0)" } ?? "",
         CSV.field(CSV.singleLine(error ?? ""))]
            .joined(separator: ",")
    }

    /// A fixed-width line for people: label, score, path (or the error), control characters escaped.
    public var tableLine: String {
        if let error { return "ERROR  \(String(repeating: " ", count: 10))  \(CSV.singleLine(error))" }
        let s = String(format: "%10.4f", score!)
        return (label == "fake" ? "FAKE " : "real ") + "  \(s)  \(CSV.singleLine(path))"
    }
}
